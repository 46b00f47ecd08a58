/* frame.c - RFC 6587 framing, octet-counted or LF, decided per frame. */
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "util.h"

/* 9 digits: nothing legitimate is a gigabyte, and it cannot overflow. */
#define FRAME_LEN_DIGITS_MAX 9

void
framer_init(struct framer *f, size_t max_message, frame_emit_fn emit, void *arg)
{
	memset(f, 0, sizeof(*f));
	f->cap = max_message;
	f->buf = xmalloc(max_message);
	f->emit = emit;
	f->arg = arg;
	f->state = FRAME_START;
}

void
framer_free(struct framer *f)
{
	free(f->buf);
	f->buf = NULL;
}

static void
deliver(struct framer *f)
{
	f->emit(f->arg, f->buf, f->len, f->truncated);
	f->len = 0;
	f->truncated = 0;
	f->state = FRAME_START;
}

/* Append up to n bytes; returns how many were consumed into the buffer. */
static size_t
append(struct framer *f, const char *data, size_t n)
{
	size_t room = f->cap - f->len;
	size_t take = n < room ? n : room;

	memcpy(f->buf + f->len, data, take);
	f->len += take;
	return take;
}

static size_t
feed_counted(struct framer *f, const char *data, size_t n)
{
	size_t take = n < f->want ? n : (size_t)f->want;
	size_t stored = f->state == FRAME_COUNTED ? append(f, data, take) : 0;

	if (stored < take)
		f->truncated = 1;
	f->want -= take;
	if (f->want == 0)
		deliver(f);
	return take;
}

static size_t
feed_line(struct framer *f, const char *data, size_t n)
{
	const char *lf = memchr(data, '\n', n);
	size_t upto = lf ? (size_t)(lf - data) : n;

	/* Truncated only when a byte beyond max_message arrives: a line of
	 * exactly max_message bytes is whole, however the stream is cut. */
	if (f->state == FRAME_LINE && append(f, data, upto) < upto) {
		f->truncated = 1;
		f->state = FRAME_SKIP_LINE;
	}
	if (lf == NULL)
		return n;
	deliver(f);	/* also after skipping: the truncated head goes out */
	return upto + 1;
}

int
framer_feed(struct framer *f, const char *data, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)data[i];

		switch (f->state) {
		case FRAME_START:
			if (c >= '1' && c <= '9') {
				f->state = FRAME_LEN;
				f->want = c - '0';
				f->len_digits = 1;
				i++;
			} else if (c == '\n' || c == '\0' || c == '\r') {
				i++;	/* empty records between frames */
			} else {
				f->state = FRAME_LINE;
			}
			break;
		case FRAME_LEN:
			if (c >= '0' && c <= '9') {
				if (++f->len_digits > FRAME_LEN_DIGITS_MAX)
					return -1;
				f->want = f->want * 10 + (c - '0');
				i++;
			} else if (c == ' ') {
				f->state = FRAME_COUNTED;
				i++;
			} else {
				return -1;
			}
			break;
		case FRAME_COUNTED:
		case FRAME_SKIP_COUNTED:
			i += feed_counted(f, data + i, n - i);
			break;
		case FRAME_LINE:
		case FRAME_SKIP_LINE:
			i += feed_line(f, data + i, n - i);
			break;
		}
		/* Full buffer: the rest of this frame is dropped. (A full LF
		 * frame is handled in feed_line: the LF may be next.) */
		if (f->len == f->cap && f->state == FRAME_COUNTED) {
			f->truncated = 1;
			f->state = FRAME_SKIP_COUNTED;
			if (f->want == 0)
				deliver(f);
		}
	}
	return 0;
}

int
framer_finish(struct framer *f)
{
	int dropped = 0;

	if (f->state == FRAME_LINE || f->state == FRAME_SKIP_LINE) {
		if (f->len > 0)
			deliver(f);
	} else if (f->state != FRAME_START) {
		dropped = 1;
	}
	f->len = 0;
	f->state = FRAME_START;
	return dropped;
}
