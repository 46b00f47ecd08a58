/* cmd_socketmap.c - authsink socketmap: the netstring socketmap protocol
 * (Postfix socketmap_table(5), Sendmail K socket) on stdin/stdout. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

int
cmd_socketmap(struct helper *h, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "value", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	struct proto_opts opts = { .action = "OK", .value = "OK" };
	int ch;

	log_open("authsink", isatty(STDERR_FILENO), 0);
	optind = 0;
	while ((ch = getopt_long(argc + 1, argv - 1, "+o:", lo, NULL)) != -1) {
		switch (ch) {
		case 'o':
			opts.value = optarg;
			if (!proto_text_ok(optarg))
				return fail("--value: one line of at most 1000 "
				    "characters, e.g. OK or RELAY");
			break;
		default:
			return fail("usage: authsink socketmap [--value VALUE]");
		}
	}
	if (optind != argc + 1)
		return fail("usage: authsink socketmap [--value VALUE]");
	return proto_stdio(PROTO_SOCKETMAP, h, &opts);
}
