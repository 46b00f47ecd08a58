/* cmd_export.c - authsink export: the live addresses as a text file,
 * replaced atomically, for Exim lsearch/iplsearch, Sendmail F classes
 * and Postfix texthash:/cidr:/mynetworks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "export.h"
#include "helper.h"

#define EXPORT_USAGE "usage: authsink export [--format plain|exim|postfix|mynetworks|sendmail] FILE|-"

int
cmd_export(struct helper *h, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "format", required_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	enum export_format fmt = EXPORT_PLAIN;
	struct relay_table *t;
	struct errbuf err;
	const char *path;
	char *text;
	size_t len;
	long n;
	int ch, rc = EXIT_YES;

	optind = 0;
	while ((ch = getopt_long(argc + 1, argv - 1, "+F:", lo, NULL)) != -1) {
		switch (ch) {
		case 'F':
			if (export_format_parse(optarg, &fmt) < 0)
				return fail("unknown export format \"%s\" (plain, "
				    "exim, postfix, mynetworks or sendmail)", optarg);
			break;
		default:
			return fail(EXPORT_USAGE);
		}
	}
	if (optind != argc)
		return fail(EXPORT_USAGE);
	path = argv[optind - 1];
	if (strcmp(path, "-") != 0 && path[0] == '\0')
		return fail(EXPORT_USAGE);
	if ((t = open_table(h, RELAY_READ)) == NULL)
		return EXIT_ERROR;
	n = relay_export_text(t, time(NULL), fmt, &text, &len, &err);
	relay_close(t);
	if (n < 0)
		return fail("%s", err.text);
	if (strcmp(path, "-") == 0) {
		if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0)
			rc = fail("cannot write to standard output");
	} else if (export_write_file(path, text, len, &err) < 0) {
		rc = fail("%s", err.text);
	}
	free(text);
	return rc;
}
