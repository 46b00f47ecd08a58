/* proto.h - the MTA-facing protocols, as byte-stream state machines that
 * the stdin/stdout commands (policy, socketmap) and `serve` share.
 *
 *  line       one address per line -> "yes" | "no" | "error REASON"
 *  policy     Postfix SMTP access policy delegation: name=value lines,
 *             an empty line ends a request -> "action=...", empty line
 *  socketmap  netstrings "NAME KEY" -> "OK VALUE" | "NOTFOUND " |
 *             "TEMP REASON" | "PERM REASON"
 *
 * Input never drives allocation: lines and netstrings are bounded, and
 * anything longer is answered with an error. */
#ifndef AUTHSINK_PROTO_H
#define AUTHSINK_PROTO_H

#include <stddef.h>
#include "helper.h"

#define PROTO_LINE_MAX 512		/* line protocol: one address */
#define POLICY_LINE_MAX 8192		/* one attribute line */
#define POLICY_ATTRS_MAX 256		/* attributes per request */
#define SOCKETMAP_MAX 10000		/* netstring payload */
#define PROTO_IDLE_TIMEOUT 600		/* seconds without a byte: close */
#define PROTO_WARN_PER_S 10		/* warnings about clients per second */

enum proto_kind { PROTO_LINE, PROTO_POLICY, PROTO_SOCKETMAP };

struct proto_opts {
	const char *action;	/* policy reply for a live client, "OK" */
	const char *value;	/* socketmap value for a live key, "OK" */
};

typedef void (*proto_out_fn)(void *ctx, const char *p, size_t n);

struct proto {
	enum proto_kind kind;
	const struct proto_opts *opts;
	struct reader *rd;
	proto_out_fn out;
	void *ctx;

	/* line and policy: the current line */
	char line[POLICY_LINE_MAX + 1];
	size_t n;
	int overlong;

	/* policy: the current request */
	int nattrs;
	int have_client;
	char client[ADDR_TEXT_MAX + 2];
	int client_too_long;
	const char *bad;		/* why the request is malformed */

	/* socketmap: netstring state */
	int sm_state;
	size_t sm_len, sm_got, sm_digits;
	char *sm_buf;

	unsigned long requests;
};

void proto_init(struct proto *p, enum proto_kind kind,
    const struct proto_opts *opts, struct reader *rd, proto_out_fn out,
    void *ctx);
void proto_free(struct proto *p);
/* Feed input bytes; replies go to `out`. Returns 0 to read on, -1 when
 * the connection must be closed (after what was already sent). */
int proto_feed(struct proto *p, const char *buf, size_t n);
/* The peer finished sending: answer a last unterminated line. */
void proto_eof(struct proto *p);

/* log_warn() for what clients do wrong, rate-limited: at most
 * PROTO_WARN_PER_S a second, the rest counted in the next one. */
void proto_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* An --action/--value text: one line, 1..1000 visible characters. */
int proto_text_ok(const char *s);

const char *proto_name(enum proto_kind kind);
int proto_parse_kind(const char *s, size_t n, enum proto_kind *kind);

/* stdin/stdout service loop for `policy` and `socketmap` (spawn(8),
 * inetd, systemd Accept=yes). Returns the exit status. */
int proto_stdio(enum proto_kind kind, struct helper *h,
    const struct proto_opts *opts);

#endif
