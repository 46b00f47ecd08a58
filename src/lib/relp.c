/* relp.c - RELP frames, server side: see relp.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relp.h"
#include "util.h"

/* TXNR and DATALEN have at most 9 digits (librelp's relpframe.c). */
#define RELP_DIGITS_MAX 9

void
relp_init(struct relp_parser *p, size_t max_message, relp_frame_fn frame, void *arg)
{
	memset(p, 0, sizeof(*p));
	p->cap = max_message;
	p->buf = xmalloc(max_message);
	p->frame = frame;
	p->arg = arg;
	p->state = RELP_TXNR;
}

void
relp_free(struct relp_parser *p)
{
	free(p->buf);
	p->buf = NULL;
}

int
relp_in_frame(const struct relp_parser *p)
{
	return p->state != RELP_TXNR || p->digits > 0;
}

static void
deliver(struct relp_parser *p)
{
	p->cmd[p->cmdlen] = '\0';
	p->frame(p->arg, p->txnr, p->cmd, p->buf, p->len, p->truncated);
	p->state = RELP_TXNR;
	p->txnr = 0;
	p->digits = 0;
	p->cmdlen = 0;
	p->datalen = 0;
	p->len = 0;
	p->truncated = 0;
}

int
relp_feed(struct relp_parser *p, const char *data, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)data[i];

		switch (p->state) {
		case RELP_TXNR:
		case RELP_DATALEN: {
			unsigned long *v = p->state == RELP_TXNR ? &p->txnr : &p->datalen;
			if (c >= '0' && c <= '9') {
				if (++p->digits > RELP_DIGITS_MAX)
					return -1;
				*v = *v * 10 + (c - '0');
				i++;
				break;
			}
			if (p->digits == 0)
				return -1;
			if (p->state == RELP_TXNR) {
				if (c != ' ')
					return -1;
				p->state = RELP_CMD;
				i++;
				break;
			}
			/* after DATALEN: SP DATA when there is data, else LF */
			if (p->datalen > RELP_DATALEN_MAX)
				return -1;
			if (p->datalen == 0) {
				p->state = RELP_TRAILER;
				break;	/* the LF is checked there */
			}
			if (c != ' ')
				return -1;
			p->want = p->datalen;
			p->state = RELP_DATA;
			i++;
			break;
		}
		case RELP_CMD:
			if (c == ' ') {
				if (p->cmdlen == 0)
					return -1;
				p->state = RELP_DATALEN;
				p->digits = 0;
				i++;
				break;
			}
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) ||
			    p->cmdlen == RELP_CMD_MAX)
				return -1;
			p->cmd[p->cmdlen++] = (char)c;
			i++;
			break;
		case RELP_DATA: {
			size_t take = n - i < p->want ? n - i : (size_t)p->want;
			size_t room = p->cap - p->len;
			size_t keep = take < room ? take : room;

			memcpy(p->buf + p->len, data + i, keep);
			p->len += keep;
			if (keep < take)
				p->truncated = 1;
			p->want -= take;
			i += take;
			if (p->want == 0)
				p->state = RELP_TRAILER;
			break;
		}
		case RELP_TRAILER:
			if (c != '\n')
				return -1;
			i++;
			deliver(p);
			break;
		}
	}
	return 0;
}

size_t
relp_response(char *buf, unsigned long txnr, const char *text, size_t len)
{
	int n = sprintf(buf, "%lu rsp %zu%s", txnr, len, len ? " " : "");

	memcpy(buf + n, text, len);
	buf[n + len] = '\n';
	return (size_t)n + len + 1;
}
