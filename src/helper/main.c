/* main.c - authsink(1): find the table, dispatch a command. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helper.h"

int
fail(const char *fmt, ...)
{
	va_list ap;

	fputs("authsink: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_ERROR;
}

int
canonical_arg(const char *arg, char out[ADDR_TEXT_MAX])
{
	struct addr a;

	if (addr_parse(arg, strlen(arg), &a) < 0) {
		fail("\"%s\" is not an IPv4 or IPv6 address", arg);
		return -1;
	}
	addr_format(&a, out);
	return 0;
}

struct relay_table *
open_table(struct helper *h, enum relay_mode mode)
{
	struct errbuf err;
	struct relay_table *t;

	/* Never create a table by reading it: a typo must not look empty. */
	if (access(h->table, F_OK) != 0) {
		fail("relay table %s does not exist (is authsinkd running? "
		    "use -t TABLE or -c CONFIG)", h->table);
		return NULL;
	}
	if ((t = relay_open(h->table, mode, 0, &err)) == NULL)
		fail("%s", err.text);
	return t;
}

static const struct command commands[] = {
	{ "check", "ADDR", "may ADDR relay now? (0 yes, 1 no)", cmd_check },
	{ "list", "[--json]", "live entries", cmd_list },
	{ "add", "ADDR [--ttl S] [--user U]", "allow ADDR by hand", cmd_add },
	{ "del", "ADDR", "remove ADDR (1 if it was not there)", cmd_del },
	{ "purge", "", "remove expired entries", cmd_purge },
	{ "stats", "[--json]", "entries and daemon counters", cmd_stats },
	{ "test", "[-qv] [-f LOG] [-p PROG] [RULES...]",
	    "run rules over log lines, show matches and why", cmd_test },
	{ "policy", "[--action ACTION]",
	    "Postfix policy delegation on stdin/stdout", cmd_policy },
	{ "socketmap", "[--value VALUE]",
	    "socketmap protocol (Postfix, Sendmail) on stdin/stdout", cmd_socketmap },
	{ "export", "[--format FMT] FILE|-",
	    "write the live addresses to FILE atomically", cmd_export },
	{ "serve", "[options] KIND:ENDPOINT...",
	    "answer line/policy/socketmap requests on sockets", cmd_serve },
	{ "reload", "", "make authsinkd reload config and rules (SIGHUP)", cmd_reload },
	{ "dump", "", "make authsinkd dump its state (SIGUSR1), show it", cmd_dump },
	{ NULL, NULL, NULL, NULL },
};

static const struct command *
find_command(const char *name)
{
	for (const struct command *c = commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: authsink [-t TABLE] [-c CONFIG] COMMAND [ARGS]\n"
	    "       authsink -h | -V\n\n"
	    "  -t TABLE   relay table (default: the one in CONFIG, else\n"
	    "             %s)\n"
	    "  -c CONFIG  authsinkd's configuration: table, rules-dir, pidfile...\n"
	    "             (default %s, when it exists)\n"
	    "\ncommands:\n", DEFAULT_TABLE, DEFAULT_CONFIG);
	for (const struct command *c = commands; c->name; c++) {
		int n = fprintf(f, "  %s %s", c->name, c->args);
		if (n > 44)
			fprintf(f, "\n%46s%s\n", "", c->help);
		else
			fprintf(f, "%*s%s\n", 46 - n, "", c->help);
	}
	fprintf(f, "\nexit status: 0 yes/done, 1 no, 2 error (see authsink(1))\n");
}

int
main(int argc, char **argv)
{
	struct helper h = { 0 };
	const struct command *cmd;
	const char *table = NULL;
	struct errbuf err;
	int ch, rc;

	while ((ch = getopt(argc, argv, "+t:c:hV")) != -1) {
		switch (ch) {
		case 't': table = optarg; break;
		case 'c': h.config = optarg; break;
		case 'h': usage(stdout); return EXIT_YES;
		case 'V': printf("authsink %s\n", AUTHSINK_VERSION); return EXIT_YES;
		default: usage(stderr); return EXIT_ERROR;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_ERROR;
	}
	if ((cmd = find_command(argv[optind])) == NULL)
		return fail("unknown command \"%s\" (authsink -h lists them)",
		    argv[optind]);
	config_defaults(&h.cfg);
	if (h.config == NULL && table == NULL && access(DEFAULT_CONFIG, R_OK) == 0)
		h.config = DEFAULT_CONFIG;
	if (h.config != NULL && config_load(h.config, &h.cfg, &err) < 0) {
		config_free(&h.cfg);
		return fail("%s", err.text);
	}
	h.table = table ? table : h.cfg.table;
	rc = cmd->run(&h, argc - optind - 1, argv + optind + 1);
	config_free(&h.cfg);
	return rc;
}
