/* frame.h - split a syslog byte stream into messages (RFC 6587).
 *
 * Each frame is either octet-counted ("LEN SP MSG") or terminated by LF,
 * decided by its first byte, as rsyslog does. The framer owns one fixed
 * buffer of max_message bytes: a hostile length is never allocated, a
 * longer message is cut to max_message and the rest skipped. */
#ifndef AUTHSINK_FRAME_H
#define AUTHSINK_FRAME_H

#include <stddef.h>

typedef void (*frame_emit_fn)(void *arg, const char *msg, size_t len,
    int truncated);

enum frame_state { FRAME_START, FRAME_LEN, FRAME_COUNTED, FRAME_LINE,
	FRAME_SKIP_COUNTED, FRAME_SKIP_LINE };

struct framer {
	enum frame_state state;
	char *buf;
	size_t cap;		/* max_message */
	size_t len;		/* bytes in buf */
	unsigned long long want;	/* octet-counted: bytes still to come */
	int len_digits;
	int truncated;
	frame_emit_fn emit;
	void *arg;
};

void framer_init(struct framer *f, size_t max_message, frame_emit_fn emit,
    void *arg);
void framer_free(struct framer *f);
/* Feed bytes. Returns 0, or -1 on a framing error that makes the rest of
 * the stream meaningless (bad octet count): the caller closes it. */
int framer_feed(struct framer *f, const char *data, size_t n);
/* End of stream: an unterminated LF frame is delivered (as rsyslog does);
 * an incomplete counted frame is dropped. Returns 1 if data was dropped. */
int framer_finish(struct framer *f);

#endif
