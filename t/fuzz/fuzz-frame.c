/* fuzz-frame.c - libFuzzer target for the RFC 6587 framer (src/lib/frame.c).
 *
 * Input: byte 0 picks max_message (tiny buffers reach the truncation
 * paths), bytes 1-4 seed the chunking, the rest is the stream. The stream
 * is framed three ways: by a reference model written from frame.h, fed
 * whole, and fed in pseudo-random chunks (as TCP may deliver it). All three
 * must emit the same messages with the same truncation flags, and agree on
 * framing errors and on what framer_finish() reports. The stream is
 * libFuzzer's exactly sized heap copy and every emitted message is copied
 * out, so ASan sees any read past the stream or past what the framer
 * owns. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

#define MAX_OUT 4096

struct out {
	size_t n;			/* messages */
	size_t len[MAX_OUT];
	int trunc[MAX_OUT];
	size_t off[MAX_OUT];		/* where in text[] */
	unsigned char *text;		/* all messages, back to back */
	size_t used, cap;
	int error;			/* framer_feed returned -1 */
	int dropped;			/* framer_finish returned 1 */
	const struct framer *f;
};

static void
out_reset(struct out *o)
{
	o->n = 0;
	o->used = 0;
	o->error = 0;
	o->dropped = 0;
	o->f = NULL;
}

static void
emit(void *arg, const char *msg, size_t len, int truncated)
{
	struct out *o = arg;

	if (o->f != NULL) {
		/* The message must lie in the framer's own buffer. */
		if (len > o->f->cap || msg < o->f->buf ||
		    msg + len > o->f->buf + o->f->cap)
			__builtin_trap();
	}
	if (o->n == MAX_OUT)
		return;		/* still counted by the caller's checks below */
	if (o->used + len > o->cap) {
		o->cap = 2 * (o->used + len) + 4096;
		o->text = realloc(o->text, o->cap);
	}
	memcpy(o->text + o->used, msg, len);	/* ASan: msg[0..len) readable */
	o->off[o->n] = o->used;
	o->used += len;
	o->len[o->n] = len;
	o->trunc[o->n] = truncated ? 1 : 0;
	o->n++;
}

/* The contract of frame.h, written independently of frame.c. */
static void
reference(const unsigned char *s, size_t n, size_t cap, struct out *o)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];

		if (c == '\n' || c == '\0' || c == '\r') {
			i++;
			continue;
		}
		if (c >= '1' && c <= '9') {
			unsigned long long want = 0;
			int digits = 0;

			while (i < n && s[i] >= '0' && s[i] <= '9') {
				if (++digits > 9) {
					o->error = 1;
					return;
				}
				want = want * 10 + (s[i] - '0');
				i++;
			}
			if (i == n) {		/* stream ends inside the length */
				o->dropped = 1;
				return;
			}
			if (s[i] != ' ') {
				o->error = 1;
				return;
			}
			i++;
			if (n - i < want) {	/* incomplete counted frame */
				o->dropped = 1;
				return;
			}
			emit(o, (const char *)s + i, want < cap ? want : cap,
			    want > cap);
			i += want;
			continue;
		}
		const unsigned char *lf = memchr(s + i, '\n', n - i);
		size_t end = lf ? (size_t)(lf - s) : n;
		size_t len = end - i;

		emit(o, (const char *)s + i, len < cap ? len : cap, len > cap);
		i = lf ? end + 1 : n;
	}
}

static uint32_t
rnd(uint32_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

static void
run_framer(const unsigned char *s, size_t n, size_t cap, uint32_t seed,
    int chunked, struct out *o)
{
	struct framer f;
	size_t i = 0;

	framer_init(&f, cap, emit, o);
	o->f = &f;
	while (i < n) {
		size_t k = n - i;

		if (chunked) {
			uint32_t r = rnd(&seed);
			/* mostly tiny chunks, sometimes a big one */
			k = (r & 7) ? 1 + (r >> 8) % 8 : 1 + (r >> 8) % 600;
			if (k > n - i)
				k = n - i;
		}
		int rc = framer_feed(&f, (const char *)s + i, k);
		if (rc < 0) {
			o->error = 1;
			break;
		}
		i += k;
	}
	if (!o->error)
		o->dropped = framer_finish(&f);
	o->f = NULL;
	framer_free(&f);
}

static void
same(const struct out *a, const struct out *b, const char *what)
{
	int bad = a->n != b->n || a->error != b->error ||
	    (!a->error && a->dropped != b->dropped);

	for (size_t i = 0; !bad && i < a->n; i++)
		bad = a->len[i] != b->len[i] || a->trunc[i] != b->trunc[i] ||
		    memcmp(a->text + a->off[i], b->text + b->off[i],
		    a->len[i]) != 0;
	if (!bad)
		return;
	fprintf(stderr, "fuzz-frame: %s differs from the reference: "
	    "messages %zu vs %zu, error %d vs %d, dropped %d vs %d\n", what,
	    a->n, b->n, a->error, b->error, a->dropped, b->dropped);
	for (size_t i = 0; i < a->n || i < b->n; i++)
		fprintf(stderr, "  #%zu: ref len %zu trunc %d | got len %zu trunc %d\n",
		    i, i < a->n ? a->len[i] : 0, i < a->n ? a->trunc[i] : -1,
		    i < b->n ? b->len[i] : 0, i < b->n ? b->trunc[i] : -1);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t caps[] = { 1, 2, 3, 5, 8, 16, 64, 480, 8192 };
	static struct out ref, whole, chunks;
	size_t cap;
	uint32_t seed;

	if (size < 5)
		return 0;
	cap = caps[data[0] % (sizeof(caps) / sizeof(caps[0]))];
	seed = (uint32_t)data[1] | (uint32_t)data[2] << 8 |
	    (uint32_t)data[3] << 16 | (uint32_t)data[4] << 24;
	if (seed == 0)
		seed = 0x9e3779b9;
	data += 5;
	size -= 5;

	out_reset(&ref);
	out_reset(&whole);
	out_reset(&chunks);
	reference(data, size, cap, &ref);
	run_framer(data, size, cap, seed, 0, &whole);
	run_framer(data, size, cap, seed, 1, &chunks);
	if (ref.n < MAX_OUT) {
		same(&ref, &whole, "one framer_feed call");
		same(&ref, &chunks, "chunked framer_feed calls");
	}
	return 0;
}
