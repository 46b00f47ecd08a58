/* helper.h - authsink(1): commands share how they find the table. */
#ifndef AUTHSINK_HELPER_H
#define AUTHSINK_HELPER_H

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

/* Error line on stderr, "authsink: ...". Returns EXIT_ERROR. */
int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Address argument to canonical key text; -1 (and message) if invalid. */
int canonical_arg(const char *arg, char out[ADDR_TEXT_MAX]);
struct relay_table *open_table(struct helper *h, enum relay_mode mode);

#endif
