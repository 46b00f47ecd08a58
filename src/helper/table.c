/* table.c - authsink commands that read or edit the relay table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helper.h"

int
cmd_check(struct helper *h, int argc, char **argv)
{
	char key[ADDR_TEXT_MAX];
	struct relay_entry e;
	struct relay_table *t;
	int rc;

	if (argc != 1)
		return fail("usage: authsink check ADDR");
	if (canonical_arg(argv[0], key) < 0)
		return EXIT_ERROR;
	if ((t = open_table(h, RELAY_READ)) == NULL)
		return EXIT_ERROR;
	rc = relay_lookup_live(t, key, time(NULL), &e);
	if (rc < 0)
		fail("cannot read %s from %s: %s", key, h->table, relay_strerror(t));
	relay_close(t);
	return rc < 0 ? EXIT_ERROR : rc ? EXIT_YES : EXIT_NO;
}

struct list_state {
	time_t now;
	int json;
	int n;
};

static void
json_string(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static int
list_one(const struct relay_entry *e, void *arg)
{
	struct list_state *st = arg;
	char when[32];
	time_t exp = (time_t)e->expires;

	if (e->expires <= (long long)st->now)
		return 0;
	if (st->json) {
		printf("%s{\"address\":", st->n ? "," : "");
		json_string(e->addr);
		printf(",\"user\":");
		json_string(e->user);
		printf(",\"rule\":");
		json_string(e->rule);
		printf(",\"expires\":%lld,\"first\":%lld,\"last\":%lld,"
		    "\"count\":%lu,\"open\":%lu}",
		    e->expires, e->first, e->last, e->count, e->open);
	} else {
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&exp));
		printf("%-39s %-20s %-20s %s\n", e->addr, e->user[0] ? e->user : "-",
		    e->rule, when);
	}
	st->n++;
	return 0;
}

int
cmd_list(struct helper *h, int argc, char **argv)
{
	struct list_state st = { .now = time(NULL) };
	struct relay_table *t;
	long rc;

	if (argc == 1 && strcmp(argv[0], "--json") == 0)
		st.json = 1;
	else if (argc != 0)
		return fail("usage: authsink list [--json]");
	if ((t = open_table(h, RELAY_READ)) == NULL)
		return EXIT_ERROR;
	if (st.json)
		putchar('[');
	else
		printf("%-39s %-20s %-20s %s\n", "ADDRESS", "USER", "RULE", "EXPIRES");
	rc = relay_each(t, list_one, &st);
	if (st.json)
		printf("]\n");
	if (rc < 0)
		fail("cannot read %s: %s", h->table, relay_strerror(t));
	relay_close(t);
	return rc < 0 ? EXIT_ERROR : EXIT_YES;
}

/* Run fn inside one transaction of a writable table. */
static int
edit(struct helper *h, int (*fn)(struct relay_table *, void *), void *arg)
{
	struct relay_table *t = open_table(h, RELAY_WRITE);
	int rc;

	if (t == NULL)
		return -1;
	if (relay_begin(t) < 0) {
		fail("cannot lock %s: %s", h->table, relay_strerror(t));
		relay_close(t);
		return -1;
	}
	rc = fn(t, arg);
	if (rc < 0) {
		fail("cannot update %s: %s", h->table, relay_strerror(t));
		relay_cancel(t);
	} else if (relay_commit(t) < 0) {
		fail("cannot commit to %s: %s", h->table, relay_strerror(t));
		rc = -1;
	}
	relay_close(t);
	return rc;
}

static int
add_fn(struct relay_table *t, void *arg)
{
	struct relay_entry *e = arg, old;

	if (relay_get(t, e->addr, &old) == 1) {
		e->first = old.first;
		e->count = old.count + 1;
	}
	return relay_put(t, e);
}

int
cmd_add(struct helper *h, int argc, char **argv)
{
	struct relay_entry e = { 0 };
	long ttl = h->cfg.ttl;
	time_t now = time(NULL);

	if (argc < 1)
		return fail("usage: authsink add ADDR [--ttl DURATION] [--user NAME]");
	if (canonical_arg(argv[0], e.addr) < 0)
		return EXIT_ERROR;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--ttl") == 0 && i + 1 < argc) {
			if (parse_duration(argv[++i], &ttl) < 0 || ttl < 1)
				return fail("\"%s\" is not a duration (e.g. 90, 30m, 2h)",
				    argv[i]);
		} else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc) {
			str_copy(e.user, argv[++i], sizeof(e.user));
		} else {
			return fail("unexpected argument \"%s\"", argv[i]);
		}
	}
	e.first = e.last = now;
	e.expires = (long long)now + ttl;
	e.count = 1;
	str_copy(e.rule, "manual", sizeof(e.rule));
	return edit(h, add_fn, &e) < 0 ? EXIT_ERROR : EXIT_YES;
}

static int
del_fn(struct relay_table *t, void *arg)
{
	return relay_del(t, arg);
}

int
cmd_del(struct helper *h, int argc, char **argv)
{
	char key[ADDR_TEXT_MAX];
	int rc;

	if (argc != 1)
		return fail("usage: authsink del ADDR");
	if (canonical_arg(argv[0], key) < 0)
		return EXIT_ERROR;
	rc = edit(h, del_fn, key);
	return rc < 0 ? EXIT_ERROR : rc == 1 ? EXIT_YES : EXIT_NO;
}

static int
purge_fn(struct relay_table *t, void *arg)
{
	long n = relay_sweep(t, time(NULL));

	*(long *)arg = n;
	return n < 0 ? -1 : 0;
}

int
cmd_purge(struct helper *h, int argc, char **argv)
{
	long n = 0;

	(void)argv;
	if (argc != 0)
		return fail("usage: authsink purge");
	if (edit(h, purge_fn, &n) < 0)
		return EXIT_ERROR;
	printf("%ld expired entr%s removed\n", n, n == 1 ? "y" : "ies");
	return EXIT_YES;
}

struct stats_state {
	time_t now;
	long live, expired;
};

static int
stats_one(const struct relay_entry *e, void *arg)
{
	struct stats_state *st = arg;

	if (e->expires > (long long)st->now)
		st->live++;
	else
		st->expired++;
	return 0;
}

int
cmd_stats(struct helper *h, int argc, char **argv)
{
	struct stats_state st = { .now = time(NULL) };
	struct relay_table *t;
	char daemon[512] = "";
	int json = argc == 1 && strcmp(argv[0], "--json") == 0;

	if (argc != 0 && !json)
		return fail("usage: authsink stats [--json]");
	if ((t = open_table(h, RELAY_READ)) == NULL)
		return EXIT_ERROR;
	if (relay_each(t, stats_one, &st) < 0) {
		fail("cannot read %s: %s", h->table, relay_strerror(t));
		relay_close(t);
		return EXIT_ERROR;
	}
	relay_meta_get(t, "!stats", daemon, sizeof(daemon));
	relay_close(t);
	if (json) {
		printf("{\"table\":");
		json_string(h->table);
		printf(",\"live\":%ld,\"expired\":%ld", st.live, st.expired);
		/* The daemon publishes name=number pairs. */
		for (char *tok = strtok(daemon, " "); tok; tok = strtok(NULL, " ")) {
			char *eq = strchr(tok, '=');
			if (eq && eq[1] && strspn(eq + 1, "0123456789") == strlen(eq + 1)) {
				*eq = '\0';
				printf(",\"%s\":%s", tok, eq + 1);
			}
		}
		printf("}\n");
	} else {
		printf("table %s\nlive %ld\nexpired %ld\n", h->table, st.live, st.expired);
		for (char *tok = strtok(daemon, " "); tok; tok = strtok(NULL, " ")) {
			char *eq = strchr(tok, '=');
			if (eq) {
				*eq = '\0';
				printf("%s %s\n", tok, eq + 1);
			}
		}
	}
	return EXIT_YES;
}
