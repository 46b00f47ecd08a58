/* relp.h - the server side of RELP, the Reliable Event Logging Protocol
 * that rsyslog's omrelp speaks (librelp's doc/relp.html).
 *
 * A frame is "TXNR SP COMMAND SP DATALEN [SP DATA] LF"; the client sends
 * "open", "syslog" (one message per frame) and "close", and keeps each
 * message until the server answers "TXNR rsp 6 200 OK": what was not
 * acknowledged when a connection breaks is sent again. The parser owns
 * one buffer of max_message bytes; longer data is cut and flagged. */
#ifndef AUTHSINK_RELP_H
#define AUTHSINK_RELP_H

#include <stddef.h>

#define RELP_CMD_MAX 32
/* librelp's own limit is 128 KiB by default; far beyond, a frame is
 * hostile or garbage and ends the session. */
#define RELP_DATALEN_MAX (16UL << 20)

typedef void (*relp_frame_fn)(void *arg, unsigned long txnr, const char *cmd,
    const char *data, size_t len, int truncated);

enum relp_state { RELP_TXNR, RELP_CMD, RELP_DATALEN, RELP_DATA, RELP_TRAILER };

struct relp_parser {
	enum relp_state state;
	unsigned long txnr;
	int digits;
	char cmd[RELP_CMD_MAX + 1];
	size_t cmdlen;
	unsigned long datalen, want;
	char *buf;
	size_t cap, len;
	int truncated;
	relp_frame_fn frame;
	void *arg;
};

void relp_init(struct relp_parser *p, size_t max_message, relp_frame_fn frame,
    void *arg);
void relp_free(struct relp_parser *p);
/* Feed bytes. Returns 0, or -1 when the stream is not RELP (the caller
 * closes the connection); frames before the error were delivered. */
int relp_feed(struct relp_parser *p, const char *data, size_t n);
/* Inside a frame (for the stall timer)? */
int relp_in_frame(const struct relp_parser *p);

/* The response frame for TXNR, e.g. "7 rsp 6 200 OK\n", into buf (at
 * least 32 + len bytes). Returns its length. */
size_t relp_response(char *buf, unsigned long txnr, const char *text, size_t len);

#endif
