/* cmd_policy.c - authsink policy: Postfix SMTP access policy delegation
 * on stdin/stdout, for spawn(8), inetd and systemd Accept=yes. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

/* Replies are one line: no control characters, bounded. */
int
proto_text_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 1000)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

int
cmd_policy(struct helper *h, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "action", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct proto_opts opts = { .action = "OK", .value = "OK" };
	int ch;

	/* stderr may be the client's socket (spawn, inetd): log to syslog
	 * unless a person is watching. */
	log_open("authsink", isatty(STDERR_FILENO), 0);
	optind = 0;
	while ((ch = getopt_long(argc + 1, argv - 1, "+a:", lo, NULL)) != -1) {
		switch (ch) {
		case 'a':
			opts.action = optarg;
			if (!proto_text_ok(optarg))
				return fail("--action: one line of at most 1000 "
				    "characters, e.g. OK or PREPEND X-Relay: yes");
			break;
		default:
			return fail("usage: authsink policy [--action ACTION]");
		}
	}
	if (optind != argc + 1)
		return fail("usage: authsink policy [--action ACTION]");
	return proto_stdio(PROTO_POLICY, h, &opts);
}
