/* relay.h - the relay table: a tdb file of addresses allowed to relay.
 *
 * Key: canonical address text, no NUL. Value: one ASCII line
 * "expires=N first=N last=N count=N [open=N] user=U rule=R". Keys starting with
 * '!' are metadata. Readers treat an entry whose expires has passed as
 * absent, so a stopped daemon never extends relaying. */
#ifndef AUTHSINK_RELAY_H
#define AUTHSINK_RELAY_H

#include <stddef.h>
#include <time.h>
#include "addr.h"
#include "util.h"

#define RELAY_FORMAT_VERSION "1"
#define RELAY_USER_MAX 256
#define RELAY_RULE_MAX 64
#define RELAY_VALUE_MAX 1024

struct relay_entry {
	char addr[ADDR_TEXT_MAX];
	long long expires, first, last;
	unsigned long count;
	unsigned long open;		/* sessions open (session rules) */
	char user[RELAY_USER_MAX];	/* decoded */
	char rule[RELAY_RULE_MAX];
};

struct relay_table;

enum relay_mode { RELAY_READ, RELAY_WRITE };

/* Open (and for RELAY_WRITE create) the table. `sync`: fsync each commit. */
struct relay_table *relay_open(const char *path, enum relay_mode mode,
    int sync, struct errbuf *err);
void relay_close(struct relay_table *t);
/* How long read-only opens and lookups of this process wait for a commit
 * in progress before they fail (ms; default, and with ms < 0: 1000). */
void relay_set_read_wait(int ms);
const char *relay_path(const struct relay_table *t);

/* 1 found (e filled, whatever its expiry), 0 absent, -1 error. */
int relay_get(struct relay_table *t, const char *addr, struct relay_entry *e);
/* Live = found and expires > now. 1 live, 0 not, -1 error (fail closed). */
int relay_lookup_live(struct relay_table *t, const char *addr, time_t now,
    struct relay_entry *e);

/* Writes; callers group them inside relay_begin/relay_commit. */
int relay_begin(struct relay_table *t);
int relay_commit(struct relay_table *t);
void relay_cancel(struct relay_table *t);
int relay_put(struct relay_table *t, const struct relay_entry *e);
int relay_del(struct relay_table *t, const char *addr);	/* 1 deleted, 0 absent */
int relay_meta_put(struct relay_table *t, const char *key, const char *value);
int relay_meta_get(struct relay_table *t, const char *key, char *out, size_t outlen);

/* An open-session record, metadata key "!session HOST KEY": which address
 * the session opened and how many logins with that key are still open.
 * Deleted when they are all closed, swept when `expires` (the last
 * login + max-session) has passed. */
#define RELAY_SESSION_PREFIX "!session "
#define RELAY_SESSION_KEY_MAX 320
struct relay_session {
	char addr[ADDR_TEXT_MAX];
	long long expires;
	unsigned long open;
};

/* 1 found, 0 absent (or unreadable: forgotten), -1 error. */
int relay_session_get(struct relay_table *t, const char *key,
    struct relay_session *s);
int relay_session_put(struct relay_table *t, const char *key,
    const struct relay_session *s);
int relay_session_del(struct relay_table *t, const char *key);

/* Visit every address entry (metadata skipped). Return nonzero from fn to
 * stop. relay_sweep (needs a transaction) deletes instead the entries and
 * session records whose expires <= now; it returns the number of address
 * entries deleted. Returns the number
 * visited (or deleted), -1 on error. */
typedef int (*relay_visit_fn)(const struct relay_entry *e, void *arg);
long relay_each(struct relay_table *t, relay_visit_fn fn, void *arg);
long relay_sweep(struct relay_table *t, time_t now);

/* Value encoding, exposed for tests and for the Exim module. */
int relay_value_format(const struct relay_entry *e, char *out, size_t outlen);
int relay_value_parse(const char *v, size_t n, struct relay_entry *e);

const char *relay_strerror(struct relay_table *t);
/* 1 if the last error was corruption of the file. */
int relay_corrupt(struct relay_table *t);
/* 1 if `path` no longer is the file we have open (removed or replaced). */
int relay_replaced(struct relay_table *t);
/* Full integrity check (tdb_check): 0 ok, -1 corrupt. */
int relay_check(struct relay_table *t);
/* Copy every readable address entry of a damaged `src` into `dst` (inside
 * a transaction of dst); returns the number copied or -1. */
long relay_rescue(struct relay_table *src, struct relay_table *dst);

#endif
