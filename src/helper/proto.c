/* proto.c - line, policy and socketmap protocols over any byte stream. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"

enum { SM_LEN, SM_DATA, SM_COMMA };

static const char *const kind_names[] = {
	[PROTO_LINE] = "line",
	[PROTO_POLICY] = "policy",
	[PROTO_SOCKETMAP] = "socketmap",
};

const char *
proto_name(enum proto_kind kind)
{
	return kind_names[kind];
}

int
proto_parse_kind(const char *s, size_t n, enum proto_kind *kind)
{
	for (size_t i = 0; i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
		if (strlen(kind_names[i]) == n && memcmp(s, kind_names[i], n) == 0) {
			*kind = (enum proto_kind)i;
			return 0;
		}
	}
	return -1;
}

static void
reset_request(struct proto *p)
{
	p->nattrs = 0;
	p->have_client = 0;
	p->client[0] = '\0';
	p->client_too_long = 0;
	p->bad = NULL;
}

void
proto_init(struct proto *p, enum proto_kind kind, const struct proto_opts *opts,
    struct reader *rd, proto_out_fn out, void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->opts = opts;
	p->rd = rd;
	p->out = out;
	p->ctx = ctx;
	p->sm_state = SM_LEN;
	if (kind == PROTO_SOCKETMAP)
		p->sm_buf = xmalloc(SOCKETMAP_MAX + 1);
	reset_request(p);
}

void
proto_free(struct proto *p)
{
	free(p->sm_buf);
	p->sm_buf = NULL;
}

static void
emit(struct proto *p, const char *s)
{
	p->out(p->ctx, s, strlen(s));
}

/* Warnings about what clients send, at most PROTO_WARN_PER_S a second:
 * a client flooding malformed requests must not fill the log. What was
 * left out is counted in the next warning logged. */
void
proto_warn(const char *fmt, ...)
{
	static time_t second;
	static unsigned long in_second, suppressed;
	time_t now = time(NULL);
	char text[600];
	va_list ap;

	if (now != second) {
		second = now;
		in_second = 0;
	}
	if (++in_second > PROTO_WARN_PER_S) {
		suppressed++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (suppressed > 0)
		log_warn("%s (and %lu more warnings about clients not logged)",
		    text, suppressed);
	else
		log_warn("%s", text);
	suppressed = 0;
}

/* 1 live, 0 not (or not an address), -1 table unavailable. */
static int
lookup(struct proto *p, const char *text, size_t n)
{
	char key[ADDR_TEXT_MAX];

	if (reader_key(text, n, key) < 0)
		return 0;
	return reader_live(p->rd, key, time(NULL));
}

/* ---- line ---- */

static int
is_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void
line_request(struct proto *p)
{
	const char *s = p->line;
	size_t n = p->n;

	p->requests++;
	if (p->overlong) {
		emit(p, "error line too long\n");
		return;
	}
	while (n > 0 && is_blank((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && is_blank((unsigned char)s[n - 1]))
		n--;
	switch (lookup(p, s, n)) {
	case 1:
		emit(p, "yes\n");
		break;
	case 0:
		emit(p, "no\n");
		break;
	default:
		emit(p, "error relay table unavailable\n");
		break;
	}
}

/* ---- policy ---- */

#define NAME_IS(lit) (nlen == sizeof(lit) - 1 && memcmp(s, lit, nlen) == 0)

static void
policy_attribute(struct proto *p)
{
	const char *s = p->line, *eq, *v;
	size_t n = p->n, nlen, vlen;

	if (p->bad != NULL)
		return;		/* skip to the end of this request */
	if (++p->nattrs > POLICY_ATTRS_MAX) {
		p->bad = "too many attributes";
		return;
	}
	if (p->overlong) {
		p->bad = "attribute line too long";
		return;
	}
	if ((eq = memchr(s, '=', n)) == NULL) {
		p->bad = "line without '='";
		return;
	}
	if (eq == s) {
		p->bad = "attribute without a name";
		return;
	}
	nlen = (size_t)(eq - s);
	v = eq + 1;
	vlen = n - nlen - 1;
	if (NAME_IS("client_address")) {
		if (p->have_client) {
			p->bad = "client_address given twice";
			return;
		}
		p->have_client = 1;
		if (vlen >= sizeof(p->client)) {
			p->client_too_long = 1;
		} else {
			memcpy(p->client, v, vlen);
			p->client[vlen] = '\0';
		}
	} else if (NAME_IS("request")) {
		if (vlen != 19 || memcmp(v, "smtpd_access_policy", 19) != 0)
			p->bad = "request is not smtpd_access_policy";
	}
}

/* When there is no sure answer, DEFER_IF_REJECT: authsink is a whitelist,
 * so a client that the later restrictions would reject (it wants to
 * relay) is told to retry, while mail that needs no relay permission goes
 * through. DEFER_IF_PERMIT, meant for blacklists, would instead turn an
 * unreadable table into 554 bounces for relaying users. */
static void
policy_request(struct proto *p)
{
	char reply[1200];

	p->requests++;
	if (p->bad == NULL && p->nattrs == 0)
		p->bad = "empty request";
	if (p->bad == NULL && !p->have_client)
		p->bad = "no client_address attribute";
	if (p->bad != NULL) {
		proto_warn("malformed policy request: %s", p->bad);
		snprintf(reply, sizeof(reply), "action=DEFER_IF_REJECT authsink: "
		    "malformed policy request (%s)\n\n", p->bad);
	} else {
		int rc = p->client_too_long ? 0 :
		    lookup(p, p->client, strlen(p->client));

		if (rc > 0)
			snprintf(reply, sizeof(reply), "action=%s\n\n",
			    p->opts->action);
		else if (rc == 0)
			snprintf(reply, sizeof(reply), "action=DUNNO\n\n");
		else
			snprintf(reply, sizeof(reply), "action=DEFER_IF_REJECT "
			    "authsink: relay table unavailable\n\n");
		log_debug("policy client_address=%s: %s", p->client,
		    rc > 0 ? "live" : rc == 0 ? "not live" : "table unavailable");
	}
	emit(p, reply);
	reset_request(p);
}

static void
policy_line(struct proto *p)
{
	if (p->n > 0 && p->line[p->n - 1] == '\r')
		p->n--;
	if (p->n == 0 && !p->overlong)
		policy_request(p);
	else
		policy_attribute(p);
}

/* Line assembly for line and policy: lines longer than the limit are
 * cut and flagged, never buffered. */
static int
feed_lines(struct proto *p, const char *buf, size_t n)
{
	size_t max = p->kind == PROTO_LINE ? PROTO_LINE_MAX : POLICY_LINE_MAX;

	while (n > 0) {
		const char *nl = memchr(buf, '\n', n);
		size_t take = nl ? (size_t)(nl - buf) : n;
		size_t room = max - p->n;

		if (take > room) {
			p->overlong = 1;
			memcpy(p->line + p->n, buf, room);
			p->n = max;
		} else {
			memcpy(p->line + p->n, buf, take);
			p->n += take;
		}
		if (nl == NULL)
			break;
		p->line[p->n] = '\0';
		if (p->kind == PROTO_LINE)
			line_request(p);
		else
			policy_line(p);
		p->n = 0;
		p->overlong = 0;
		buf = nl + 1;
		n -= take + 1;
	}
	return 0;
}

/* ---- socketmap ---- */

static void
netstring(struct proto *p, const char *fmt, const char *arg)
{
	char text[SOCKETMAP_MAX + 64], out[SOCKETMAP_MAX + 80];
	int n = snprintf(text, sizeof(text), fmt, arg);

	if (n < 0 || (size_t)n >= sizeof(text))
		n = snprintf(text, sizeof(text), "PERM reply too long");
	snprintf(out, sizeof(out), "%d:%s,", n, text);
	emit(p, out);
}

static int
socketmap_error(struct proto *p, const char *why)
{
	proto_warn("malformed socketmap request: %s; closing", why);
	netstring(p, "PERM %s", why);
	return -1;
}

static void
socketmap_request(struct proto *p)
{
	const char *s = p->sm_buf, *sp;
	size_t n = p->sm_len;

	p->requests++;
	sp = memchr(s, ' ', n);
	if (sp == NULL || sp == s) {
		proto_warn("malformed socketmap request: not \"NAME KEY\"");
		netstring(p, "PERM %s", "malformed request, expected NAME KEY");
		return;
	}
	switch (lookup(p, sp + 1, n - (size_t)(sp + 1 - s))) {
	case 1:
		netstring(p, "OK %s", p->opts->value);
		break;
	case 0:
		netstring(p, "NOTFOUND %s", "");
		break;
	default:
		netstring(p, "TEMP %s", "relay table unavailable");
		break;
	}
}

static int
feed_socketmap(struct proto *p, const char *buf, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)buf[i];

		switch (p->sm_state) {
		case SM_LEN:
			if (c >= '0' && c <= '9') {
				if (p->sm_digits > 0 && p->sm_len == 0)
					return socketmap_error(p, "malformed netstring length");
				p->sm_len = p->sm_len * 10 + (c - '0');
				if (++p->sm_digits > 5 || p->sm_len > SOCKETMAP_MAX)
					return socketmap_error(p, "request longer than 10000 bytes");
			} else if (c == ':' && p->sm_digits > 0) {
				p->sm_got = 0;
				p->sm_state = p->sm_len > 0 ? SM_DATA : SM_COMMA;
			} else {
				return socketmap_error(p, "malformed netstring");
			}
			i++;
			break;
		case SM_DATA: {
			size_t take = p->sm_len - p->sm_got;

			if (take > n - i)
				take = n - i;
			memcpy(p->sm_buf + p->sm_got, buf + i, take);
			p->sm_got += take;
			i += take;
			if (p->sm_got == p->sm_len)
				p->sm_state = SM_COMMA;
			break;
		}
		case SM_COMMA:
			if (c != ',')
				return socketmap_error(p, "netstring without its ','");
			p->sm_buf[p->sm_len] = '\0';
			socketmap_request(p);
			p->sm_state = SM_LEN;
			p->sm_len = p->sm_digits = 0;
			i++;
			break;
		}
	}
	return 0;
}

int
proto_feed(struct proto *p, const char *buf, size_t n)
{
	if (p->kind == PROTO_SOCKETMAP)
		return feed_socketmap(p, buf, n);
	return feed_lines(p, buf, n);
}

void
proto_eof(struct proto *p)
{
	/* Exim's ${readsocket} may send an address without a newline and
	 * shut down its side: that is a complete request. */
	if (p->kind == PROTO_LINE && (p->n > 0 || p->overlong)) {
		p->line[p->n] = '\0';
		line_request(p);
		p->n = 0;
	}
}

/* ---- stdin/stdout ---- */

struct stdio_out {
	int failed;
};

static void
stdio_write(void *ctx, const char *s, size_t n)
{
	struct stdio_out *o = ctx;

	while (n > 0 && !o->failed) {
		ssize_t w = write(STDOUT_FILENO, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			o->failed = 1;
			break;
		}
		s += w;
		n -= (size_t)w;
	}
}

int
proto_stdio(enum proto_kind kind, struct helper *h, const struct proto_opts *opts)
{
	struct stdio_out o = { 0 };
	struct reader rd;
	struct proto p;
	char buf[16384];
	int rc = EXIT_YES;

	signal(SIGPIPE, SIG_IGN);
	reader_init(&rd, h->table);
	proto_init(&p, kind, opts, &rd, stdio_write, &o);
	for (;;) {
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		int r = poll(&pfd, 1, PROTO_IDLE_TIMEOUT * 1000);
		ssize_t n;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			log_err("poll: %s", strerror(errno));
			rc = EXIT_ERROR;
			break;
		}
		if (r == 0) {
			log_info("%s: idle for %ds, closing", proto_name(kind),
			    PROTO_IDLE_TIMEOUT);
			break;
		}
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			log_err("read: %s", strerror(errno));
			rc = EXIT_ERROR;
			break;
		}
		if (n == 0) {
			proto_eof(&p);
			break;
		}
		if (proto_feed(&p, buf, (size_t)n) < 0)
			break;
		if (o.failed)
			break;
	}
	proto_free(&p);
	reader_close(&rd);
	return rc;
}
