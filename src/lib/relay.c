/* relay.c - the tdb relay table: encoding, lookups, grouped writes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tdb.h>
#include <time.h>

#include "relay.h"

/* Big enough for a large site without rehashing; tdb never resizes. */
#define RELAY_HASH_SIZE 10007

/* How long a reader waits for a commit in progress: tdb refuses read-only
 * opens while one is, and chain locks are held during it. authsinkd
 * commits in milliseconds; only a stuck writer makes readers give up
 * (and then they fail temporarily, never open). */
#define RELAY_READ_WAIT_MS 1000
static int read_wait_ms = RELAY_READ_WAIT_MS;

void
relay_set_read_wait(int ms)
{
	read_wait_ms = ms < 0 ? RELAY_READ_WAIT_MS : ms;
}

struct relay_table {
	struct tdb_context *tdb;
	char *path;
	int in_transaction;
	int read_only;		/* reads take chain read locks */
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
pause_2ms(void)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 2000000 };

	nanosleep(&ts, NULL);
}

static TDB_DATA
datum(const char *s, size_t n)
{
	TDB_DATA d = { .dptr = (unsigned char *)s, .dsize = n };
	return d;
}

/* A new table starts with RELAY_RESERVE bytes of free space: a record
 * that size, stored and deleted in the creating transaction. tdb grows
 * its file inside a commit when it runs out, and a kill -9 in such a
 * commit leaves, after recovery, the grown part unlinked, which
 * tdb_check() (tdbtool check) reports as an invalid record though no
 * entry is lost. Room for some 20000 entries makes that rare. */
#define RELAY_RESERVE (4u << 20)

static int
reserve_space(struct relay_table *t)
{
	static const char key[] = "!reserve";
	TDB_DATA k = { .dptr = (unsigned char *)key, .dsize = sizeof(key) - 1 };
	TDB_DATA v = { .dptr = xcalloc(1, RELAY_RESERVE), .dsize = RELAY_RESERVE };
	int rc = tdb_store(t->tdb, k, v, TDB_REPLACE) == 0 &&
	    tdb_delete(t->tdb, k) == 0 ? 0 : -1;

	free(v.dptr);
	return rc;
}

struct relay_table *
relay_open(const char *path, enum relay_mode mode, int sync, struct errbuf *err)
{
	struct relay_table *t;
	int flags = TDB_DEFAULT;
	int oflags = mode == RELAY_WRITE ? O_RDWR | O_CREAT : O_RDONLY;

	/* No TDB_MUTEX_LOCKING: tdbtool and python3-tdb must be able to open
	 * the file with plain fcntl locks while we run. */
	if (!sync)
		flags |= TDB_NOSYNC;
	/* A read-only open fails while a commit is in progress (tdb may not
	 * run recovery read-only): retry for a while, unless the file is
	 * plainly missing or forbidden. */
	long long deadline = now_ms() + read_wait_ms;
	struct tdb_context *tdb;
	for (;;) {
		errno = 0;
		tdb = tdb_open(path, mode == RELAY_WRITE ? RELAY_HASH_SIZE : 0,
		    flags, oflags | O_CLOEXEC, 0644);
		if (tdb != NULL || mode == RELAY_WRITE || errno == ENOENT ||
		    errno == EACCES || errno == ENOTDIR || errno == EISDIR ||
		    now_ms() >= deadline)
			break;
		pause_2ms();
	}
	if (tdb == NULL) {
		errbuf_set(err, "cannot open relay table %s: %s", path,
		    errno ? strerror(errno) : "not a tdb file");
		return NULL;
	}
	t = xcalloc(1, sizeof(*t));
	t->tdb = tdb;
	t->path = xstrdup(path);
	if (mode == RELAY_READ) {
		/* tdb turns fcntl locking off for read-only opens; without it a
		 * lookup can see a hash chain half rewritten by a commit. Read
		 * locks work on a read-only descriptor: turn them back on. */
		tdb_remove_flags(tdb, TDB_NOLOCK);
		t->read_only = 1;
	}
	if (mode == RELAY_WRITE) {
		char v[16];
		if (relay_meta_get(t, "!format", v, sizeof(v)) < 0) {
			if (relay_begin(t) < 0 ||
			    relay_meta_put(t, "!format", RELAY_FORMAT_VERSION) < 0 ||
			    relay_commit(t) < 0) {
				errbuf_set(err, "cannot initialise relay table %s: %s",
				    path, relay_strerror(t));
				relay_close(t);
				return NULL;
			}
			/* Best effort: a table on a small disk works without. */
			if (relay_begin(t) == 0 && (reserve_space(t) < 0 ||
			    relay_commit(t) < 0) && t->in_transaction)
				relay_cancel(t);
		} else if (strcmp(v, RELAY_FORMAT_VERSION) != 0) {
			errbuf_set(err, "relay table %s has format %s, this "
			    "version writes %s: move it away", path, v,
			    RELAY_FORMAT_VERSION);
			relay_close(t);
			return NULL;
		}
	}
	return t;
}

void
relay_close(struct relay_table *t)
{
	if (t == NULL)
		return;
	if (t->in_transaction)
		relay_cancel(t);
	tdb_close(t->tdb);
	free(t->path);
	free(t);
}

const char *
relay_path(const struct relay_table *t)
{
	return t->path;
}

const char *
relay_strerror(struct relay_table *t)
{
	return tdb_errorstr(t->tdb);
}

int
relay_corrupt(struct relay_table *t)
{
	return tdb_error(t->tdb) == TDB_ERR_CORRUPT;
}

int
relay_replaced(struct relay_table *t)
{
	struct stat on_disk, open_file;

	if (stat(t->path, &on_disk) < 0 || fstat(tdb_fd(t->tdb), &open_file) < 0)
		return 1;
	return on_disk.st_ino != open_file.st_ino || on_disk.st_dev != open_file.st_dev;
}

/* User names come from logs: keep the value one line of name=value
 * fields by %-encoding anything that is not visible ASCII, and '%'. */
static size_t
encode_user(const char *in, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
		int plain = *p > 0x20 && *p < 0x7f && *p != '%';
		if (o + (plain ? 1 : 3) >= outlen)
			break;
		if (plain) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
	return o;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void
decode_user(const char *in, size_t n, char *out, size_t outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < outlen; i++) {
		if (in[i] == '%' && i + 2 < n && hexval(in[i + 1]) >= 0 &&
		    hexval(in[i + 2]) >= 0) {
			out[o++] = (char)(hexval(in[i + 1]) * 16 + hexval(in[i + 2]));
			i += 2;
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = '\0';
}

int
relay_value_format(const struct relay_entry *e, char *out, size_t outlen)
{
	char user[RELAY_USER_MAX * 3], open[32] = "";
	int n;

	encode_user(e->user, user, sizeof(user));
	if (e->open > 0)
		snprintf(open, sizeof(open), " open=%lu", e->open);
	n = snprintf(out, outlen, "expires=%lld first=%lld last=%lld count=%lu%s%s%s rule=%s",
	    e->expires, e->first, e->last, e->count, open,
	    user[0] ? " user=" : "", user, e->rule[0] ? e->rule : "-");
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return n;
}

static int
parse_number(const char *s, size_t n, long long *v)
{
	long long x = 0;

	if (n == 0 || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return 0;
}

/* Unknown fields are skipped so later versions can add some; a value
 * without a valid leading expires= is rejected (readers fail closed). */
int
relay_value_parse(const char *v, size_t n, struct relay_entry *e)
{
	size_t i = 0;
	int have_expires = 0;

	memset(e, 0, sizeof(*e));
	while (i < n) {
		size_t start = i, eq, end;
		long long num;

		while (i < n && v[i] != ' ')
			i++;
		end = i++;
		for (eq = start; eq < end && v[eq] != '='; eq++)
			;
		if (eq == end)
			return -1;
		const char *name = v + start, *val = v + eq + 1;
		size_t nlen = eq - start, vlen = end - eq - 1;
#define FIELD(lit) (nlen == sizeof(lit) - 1 && memcmp(name, lit, nlen) == 0)
		if (FIELD("expires")) {
			if (start != 0 || parse_number(val, vlen, &e->expires) < 0)
				return -1;
			have_expires = 1;
		} else if (FIELD("first") && parse_number(val, vlen, &num) == 0) {
			e->first = num;
		} else if (FIELD("last") && parse_number(val, vlen, &num) == 0) {
			e->last = num;
		} else if (FIELD("count") && parse_number(val, vlen, &num) == 0) {
			e->count = (unsigned long)num;
		} else if (FIELD("open") && parse_number(val, vlen, &num) == 0) {
			e->open = (unsigned long)num;
		} else if (FIELD("user")) {
			decode_user(val, vlen, e->user, sizeof(e->user));
		} else if (FIELD("rule")) {
			size_t m = vlen < sizeof(e->rule) - 1 ? vlen : sizeof(e->rule) - 1;
			memcpy(e->rule, val, m);
			e->rule[m] = '\0';
		}
#undef FIELD
	}
	return have_expires ? 0 : -1;
}

/* tdb_fetch, for a read-only table under the key's chain read lock (a
 * commit holds the write lock on all chains, so what we read is committed).
 * *ecode: the tdb error when dptr is NULL. */
static TDB_DATA
fetch(struct relay_table *t, TDB_DATA key, enum TDB_ERROR *ecode)
{
	TDB_DATA v;
	long long deadline;

	if (!t->read_only) {
		v = tdb_fetch(t->tdb, key);
		*ecode = v.dptr ? TDB_SUCCESS : tdb_error(t->tdb);
		return v;
	}
	deadline = now_ms() + read_wait_ms;
	while (tdb_chainlock_read_nonblock(t->tdb, key) != 0) {
		if (now_ms() >= deadline) {
			*ecode = TDB_ERR_LOCK;
			v.dptr = NULL;
			v.dsize = 0;
			return v;
		}
		pause_2ms();
	}
	v = tdb_fetch(t->tdb, key);
	*ecode = v.dptr ? TDB_SUCCESS : tdb_error(t->tdb);
	tdb_chainunlock_read(t->tdb, key);
	return v;
}

int
relay_get(struct relay_table *t, const char *addr, struct relay_entry *e)
{
	enum TDB_ERROR ecode;
	TDB_DATA v = fetch(t, datum(addr, strlen(addr)), &ecode);
	int rc;

	if (v.dptr == NULL)
		return ecode == TDB_ERR_NOEXIST ? 0 : -1;
	rc = relay_value_parse((const char *)v.dptr, v.dsize, e);
	free(v.dptr);
	if (rc < 0)
		return -1;
	str_copy(e->addr, addr, sizeof(e->addr));
	return 1;
}

int
relay_lookup_live(struct relay_table *t, const char *addr, time_t now,
    struct relay_entry *e)
{
	int rc = relay_get(t, addr, e);

	if (rc <= 0)
		return rc;
	return e->expires > (long long)now;
}

int
relay_begin(struct relay_table *t)
{
	if (tdb_transaction_start(t->tdb) != 0)
		return -1;
	t->in_transaction = 1;
	return 0;
}

int
relay_commit(struct relay_table *t)
{
	t->in_transaction = 0;
	return tdb_transaction_commit(t->tdb) == 0 ? 0 : -1;
}

void
relay_cancel(struct relay_table *t)
{
	t->in_transaction = 0;
	tdb_transaction_cancel(t->tdb);
}

int
relay_put(struct relay_table *t, const struct relay_entry *e)
{
	char v[RELAY_VALUE_MAX];
	int n = relay_value_format(e, v, sizeof(v));

	if (n < 0)
		return -1;
	return tdb_store(t->tdb, datum(e->addr, strlen(e->addr)), datum(v, n),
	    TDB_REPLACE) == 0 ? 0 : -1;
}

int
relay_del(struct relay_table *t, const char *addr)
{
	if (tdb_delete(t->tdb, datum(addr, strlen(addr))) == 0)
		return 1;
	return tdb_error(t->tdb) == TDB_ERR_NOEXIST ? 0 : -1;
}

int
relay_meta_put(struct relay_table *t, const char *key, const char *value)
{
	return tdb_store(t->tdb, datum(key, strlen(key)),
	    datum(value, strlen(value)), TDB_REPLACE) == 0 ? 0 : -1;
}

int
relay_meta_get(struct relay_table *t, const char *key, char *out, size_t outlen)
{
	enum TDB_ERROR ecode;
	TDB_DATA v = fetch(t, datum(key, strlen(key)), &ecode);
	size_t n;

	if (v.dptr == NULL)
		return -1;
	n = v.dsize < outlen - 1 ? v.dsize : outlen - 1;
	memcpy(out, v.dptr, n);
	out[n] = '\0';
	free(v.dptr);
	return (int)n;
}

static int
session_datum_key(const char *key, char *buf, size_t bufsize, TDB_DATA *out)
{
	int n = snprintf(buf, bufsize, RELAY_SESSION_PREFIX "%s", key);

	if (n < 0 || (size_t)n >= bufsize)
		return -1;
	*out = datum(buf, (size_t)n);
	return 0;
}

/* "expires=N open=N addr=A" */
static int
session_parse(const char *v, size_t n, struct relay_session *s)
{
	char text[RELAY_VALUE_MAX];
	int used = -1;

	if (n >= sizeof(text))
		return -1;
	memcpy(text, v, n);
	text[n] = '\0';
	if (sscanf(text, "expires=%lld open=%lu addr=%45s%n", &s->expires,
	    &s->open, s->addr, &used) != 3 || used != (int)n)
		return -1;
	return 0;
}

int
relay_session_get(struct relay_table *t, const char *key,
    struct relay_session *s)
{
	char kbuf[sizeof(RELAY_SESSION_PREFIX) + RELAY_SESSION_KEY_MAX];
	enum TDB_ERROR ecode;
	TDB_DATA k, v;
	int rc;

	if (session_datum_key(key, kbuf, sizeof(kbuf), &k) < 0)
		return 0;
	v = fetch(t, k, &ecode);
	if (v.dptr == NULL)
		return ecode == TDB_ERR_NOEXIST ? 0 : -1;
	rc = session_parse((const char *)v.dptr, v.dsize, s) == 0;
	free(v.dptr);
	return rc;
}

int
relay_session_put(struct relay_table *t, const char *key,
    const struct relay_session *s)
{
	char kbuf[sizeof(RELAY_SESSION_PREFIX) + RELAY_SESSION_KEY_MAX];
	char v[RELAY_VALUE_MAX];
	TDB_DATA k;
	int n;

	if (session_datum_key(key, kbuf, sizeof(kbuf), &k) < 0)
		return 0;	/* an absurdly long key: no record, fail closed */
	n = snprintf(v, sizeof(v), "expires=%lld open=%lu addr=%s",
	    s->expires, s->open, s->addr);
	if (n < 0 || (size_t)n >= sizeof(v))
		return -1;
	return tdb_store(t->tdb, k, datum(v, (size_t)n), TDB_REPLACE) == 0 ?
	    0 : -1;
}

int
relay_session_del(struct relay_table *t, const char *key)
{
	char kbuf[sizeof(RELAY_SESSION_PREFIX) + RELAY_SESSION_KEY_MAX];
	TDB_DATA k;

	if (session_datum_key(key, kbuf, sizeof(kbuf), &k) < 0)
		return 0;
	if (tdb_delete(t->tdb, k) == 0)
		return 1;
	return tdb_error(t->tdb) == TDB_ERR_NOEXIST ? 0 : -1;
}

struct each_state {
	relay_visit_fn fn;
	void *arg;
	time_t sweep_before;	/* > 0: delete expired instead of visiting */
	long count;
	int failed;
};

static int
sweep_session(struct tdb_context *tdb, TDB_DATA key, TDB_DATA val,
    struct each_state *st)
{
	struct relay_session s;

	if (session_parse((const char *)val.dptr, val.dsize, &s) == 0 &&
	    s.expires > (long long)st->sweep_before)
		return 0;
	if (tdb_delete(tdb, key) != 0) {
		st->failed = 1;
		return 1;
	}
	return 0;
}

static int
each_cb(struct tdb_context *tdb, TDB_DATA key, TDB_DATA val, void *p)
{
	struct each_state *st = p;
	struct relay_entry e;

	if (st->sweep_before > 0 && key.dsize > strlen(RELAY_SESSION_PREFIX) &&
	    memcmp(key.dptr, RELAY_SESSION_PREFIX,
	    strlen(RELAY_SESSION_PREFIX)) == 0)
		return sweep_session(tdb, key, val, st);
	if (key.dsize == 0 || key.dptr[0] == '!' || key.dsize >= sizeof(e.addr))
		return 0;
	if (relay_value_parse((const char *)val.dptr, val.dsize, &e) < 0)
		e.expires = 0;	/* unreadable: treat as expired */
	memcpy(e.addr, key.dptr, key.dsize);
	e.addr[key.dsize] = '\0';
	if (st->sweep_before > 0) {
		if (e.expires > (long long)st->sweep_before)
			return 0;
		if (tdb_delete(tdb, key) != 0) {
			st->failed = 1;
			return 1;
		}
		st->count++;
		return 0;
	}
	st->count++;
	return st->fn(&e, st->arg);
}

long
relay_each(struct relay_table *t, relay_visit_fn fn, void *arg)
{
	struct each_state st = { .fn = fn, .arg = arg };

	/* tdb_traverse_read takes only read locks: safe beside the daemon. */
	if (tdb_traverse_read(t->tdb, each_cb, &st) < 0)
		return -1;
	return st.count;
}

long
relay_sweep(struct relay_table *t, time_t now)
{
	struct each_state st = { .sweep_before = now };

	if (tdb_traverse(t->tdb, each_cb, &st) < 0 || st.failed)
		return -1;
	return st.count;
}

int
relay_check(struct relay_table *t)
{
	return tdb_check(t->tdb, NULL, NULL) == 0 ? 0 : -1;
}

struct rescue_state {
	struct relay_table *dst;
	long copied;
	int failed;
};

/* tdb_rescue may report a key twice: keep the later expiry. */
static void
rescue_cb(TDB_DATA key, TDB_DATA val, void *p)
{
	struct rescue_state *st = p;
	struct relay_entry e, have;

	if (st->failed || key.dsize == 0 || key.dsize >= sizeof(e.addr) ||
	    key.dptr[0] == '!' ||
	    relay_value_parse((const char *)val.dptr, val.dsize, &e) < 0)
		return;
	memcpy(e.addr, key.dptr, key.dsize);
	e.addr[key.dsize] = '\0';
	if (relay_get(st->dst, e.addr, &have) == 1 && have.expires >= e.expires)
		return;
	if (relay_put(st->dst, &e) < 0)
		st->failed = 1;
	else
		st->copied++;
}

long
relay_rescue(struct relay_table *src, struct relay_table *dst)
{
	struct rescue_state st = { .dst = dst };

	if (tdb_rescue(src->tdb, rescue_cb, &st) != 0 || st.failed)
		return -1;
	return st.copied;
}
