/* helper.h - authsink(1): commands share how they find the table. */
#ifndef AUTHSINK_HELPER_H
#define AUTHSINK_HELPER_H

#include <getopt.h>
#include <sys/types.h>
#include <time.h>
#include "config.h"
#include "relay.h"

/* Exit statuses, as greylist(1): 0 yes/ok, 1 no, 2 error. */
enum { EXIT_YES = 0, EXIT_NO = 1, EXIT_ERROR = 2 };

struct helper {
	const char *table;	/* resolved table path */
	const char *config;	/* -c, or NULL */
	struct config cfg;	/* defaults, or -c's contents */
};

struct command {
	const char *name;
	const char *args;
	const char *help;
	int (*run)(struct helper *h, int argc, char **argv);
};

/* table.c */
int cmd_check(struct helper *h, int argc, char **argv);
int cmd_list(struct helper *h, int argc, char **argv);
int cmd_add(struct helper *h, int argc, char **argv);
int cmd_del(struct helper *h, int argc, char **argv);
int cmd_purge(struct helper *h, int argc, char **argv);
int cmd_stats(struct helper *h, int argc, char **argv);

/* cmd_test.c, cmd_policy.c, cmd_socketmap.c, cmd_export.c, cmd_serve.c,
 * cmd_signal.c */
int cmd_test(struct helper *h, int argc, char **argv);
int cmd_policy(struct helper *h, int argc, char **argv);
int cmd_socketmap(struct helper *h, int argc, char **argv);
int cmd_export(struct helper *h, int argc, char **argv);
int cmd_serve(struct helper *h, int argc, char **argv);
int cmd_reload(struct helper *h, int argc, char **argv);
int cmd_dump(struct helper *h, int argc, char **argv);

/* reader.c: the table as long-lived readers keep it. It is reopened when
 * the file at `path` was replaced and retried when it was missing; a
 * lookup that cannot be answered returns -1 (callers fail temporarily,
 * never open). Failures are logged once, not per query. */
struct reader {
	const char *path;
	struct relay_table *t;
	dev_t dev;
	ino_t ino;
	int failing;
	char err[600];
};
void reader_init(struct reader *r, const char *path);
void reader_close(struct reader *r);
/* key: canonical address text. 1 live, 0 not, -1 unavailable. */
int reader_live(struct reader *r, const char *key, time_t now);
/* text[0..n) as an address, to canonical key text. 0 or -1. */
int reader_key(const char *text, size_t n, char out[ADDR_TEXT_MAX]);

/* Subcommands parse their options with getopt_long(argc + 1, argv - 1,
 * ...) after setting optind = 0: argv[-1] is the command name. */

/* Error line on stderr, "authsink: ...". Returns EXIT_ERROR. */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Address argument to canonical key text; -1 (and message) if invalid. */
int canonical_arg(const char *arg, char out[ADDR_TEXT_MAX]);
struct relay_table *open_table(struct helper *h, enum relay_mode mode);

#endif
