/* authsink_dlfunc.c - Exim ${dlfunc} module: may this client relay?
 *
 *   ${dlfunc{/usr/local/lib/authsink/authsink_dlfunc.so}{authsink_check}\
 *           {/var/lib/authsink/relay.tdb}{$sender_host_address}}
 *
 * expands to "yes" when the address has a live entry in the authsink relay
 * table (its expires= is still in the future) and to "no" otherwise,
 * including for an empty or unparseable address. A third, optional
 * argument is the lock timeout in milliseconds (default 1000).
 * authsink_user takes the same arguments and expands to the user name that
 * opened the address (empty when there is none), for log_message and
 * headers.
 *
 * When the table cannot be read (missing, not a tdb, a torn value, or the
 * lock timeout passed), the expansion fails, non-forced. In an ACL
 * `condition` that makes Exim answer with a temporary error (defer), so
 * mail is retried, never relayed on a guess. (A *forced* failure would make
 * Exim ignore the condition, i.e. treat it as true, so this module never
 * returns FAIL_FORCED.)
 *
 * Locking. A tdb opened O_RDONLY normally takes no locks at all (tdb forces
 * TDB_NOLOCK), which has two consequences while authsinkd commits a batch:
 * tdb_open() fails outright (it finds the commit's recovery record live and
 * may not run recovery read-only), and a lookup can see a hash chain half
 * rewritten. Under a stream of logins the daemon commits back to back, so
 * both happen often (t/peer-readers.t shows it). So this module:
 *   - opens read-only (Exim needs only read permission on the file) and
 *     retries a failed open every 2 ms until the lock timeout, unless the
 *     file is missing or unreadable;
 *   - turns fcntl locking back on (read locks are allowed on a read-only
 *     descriptor) and takes the key's chain read lock with
 *     tdb_chainlock_read_nonblock(), retried every 2 ms until the same
 *     deadline, then reads the value under that lock: a committing writer
 *     holds the write lock over all chains, so the value is a committed one.
 * authsinkd holds its write lock only while it commits (milliseconds), so
 * the timeout is reached only when the daemon is stuck (stopped, disk
 * hung) or the file is not a tdb; Exim then defers instead of hanging.
 * No signals or alarm() are used: Exim owns those.
 *
 * The table is opened and closed per call: lookups are a few microseconds,
 * a replaced table file is seen at once, and no descriptor leaks into the
 * processes Exim forks.
 *
 * Build: contrib/exim/Makefile (needs exim4-dev for local_scan.h and
 * libtdb-dev). It links the table format and address code of authsink
 * itself (src/lib/relay.c, addr.c, util.c), compiled -fPIC with hidden
 * visibility, so only the two entry points are exported to Exim. */
#define DLFUNC_IMPL
#include <local_scan.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tdb.h>

#include "addr.h"
#include "relay.h"

#define EXPORT __attribute__((visibility("default")))
#define DEFAULT_TIMEOUT_MS 1000
#define RETRY_NS (2 * 1000 * 1000)

enum result { R_LIVE, R_ABSENT, R_ERROR };

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
pause_briefly(void)
{
	struct timespec pause = { 0, RETRY_NS };

	nanosleep(&pause, NULL);
}

static void
set_error(uschar **yield, const char *what, const char *path, const char *why)
{
	*yield = string_sprintf("authsink: %s %s: %s", what, path, why);
}

/* Look argv[1] up in table argv[0]. */
static enum result
lookup(int argc, uschar *argv[], uschar **yield, struct relay_entry *e)
{
	const char *path, *text;
	long timeout = DEFAULT_TIMEOUT_MS;
	struct addr a;
	char key[ADDR_TEXT_MAX];
	struct tdb_context *tdb;
	TDB_DATA k, v;
	long long deadline;
	enum result r;

	if (argc < 2 || argc > 3) {
		*yield = string_copy(US"authsink: usage: {TABLE}{ADDRESS}[{TIMEOUT_MS}]");
		return R_ERROR;
	}
	path = (const char *)argv[0];
	text = (const char *)argv[1];
	if (argc == 3) {
		char *end;
		errno = 0;
		timeout = strtol((const char *)argv[2], &end, 10);
		if (errno || end == (char *)argv[2] || *end || timeout < 0 ||
		    timeout > 60000) {
			*yield = string_sprintf("authsink: bad lock timeout \"%s\" "
			    "(milliseconds, 0..60000)", argv[2]);
			return R_ERROR;
		}
	}
	/* No address (a local submission) or not one: not relayable by us. */
	if (addr_parse(text, strlen(text), &a) < 0)
		return R_ABSENT;
	addr_format(&a, key);	/* canonical, IPv4-mapped folded to IPv4 */

	deadline = now_ms() + timeout;
	while ((tdb = tdb_open(path, 0, TDB_DEFAULT, O_RDONLY | O_CLOEXEC, 0)) == NULL) {
		int e = errno;
		if (e == ENOENT || e == EACCES || e == ENOTDIR || e == ELOOP ||
		    now_ms() >= deadline) {
			set_error(yield, "cannot open relay table", path,
			    e ? strerror(e) : "not a tdb file, or a commit "
			    "did not finish (is authsinkd stuck?)");
			return R_ERROR;
		}
		pause_briefly();
	}
	tdb_remove_flags(tdb, TDB_NOLOCK);

	k.dptr = (unsigned char *)key;
	k.dsize = strlen(key);
	while (tdb_chainlock_read_nonblock(tdb, k) != 0) {
		if (tdb_error(tdb) != TDB_ERR_LOCK || now_ms() >= deadline) {
			set_error(yield, "cannot lock relay table", path,
			    tdb_error(tdb) == TDB_ERR_LOCK ?
			    "lock timeout (is authsinkd stuck?)" : tdb_errorstr(tdb));
			tdb_close(tdb);
			return R_ERROR;
		}
		pause_briefly();
	}
	v = tdb_fetch(tdb, k);
	if (v.dptr == NULL) {
		if (tdb_error(tdb) == TDB_ERR_NOEXIST) {
			r = R_ABSENT;
		} else {
			set_error(yield, "cannot read relay table", path,
			    tdb_errorstr(tdb));
			r = R_ERROR;
		}
	} else {
		if (relay_value_parse((const char *)v.dptr, v.dsize, e) < 0) {
			set_error(yield, "unreadable entry in relay table", path, key);
			r = R_ERROR;
		} else {
			/* Expired entries are absent, whether swept yet or not:
			 * a stopped daemon never extends relaying. */
			r = e->expires > (long long)time(NULL) ? R_LIVE : R_ABSENT;
		}
		free(v.dptr);
	}
	tdb_chainunlock_read(tdb, k);
	tdb_close(tdb);
	return r;
}

EXPORT int
authsink_check(uschar **yield, int argc, uschar *argv[])
{
	struct relay_entry e;

	switch (lookup(argc, argv, yield, &e)) {
	case R_LIVE:
		*yield = string_copy(US"yes");
		return OK;
	case R_ABSENT:
		*yield = string_copy(US"no");
		return OK;
	default:
		return FAIL;
	}
}

EXPORT int
authsink_user(uschar **yield, int argc, uschar *argv[])
{
	struct relay_entry e;

	switch (lookup(argc, argv, yield, &e)) {
	case R_LIVE:
		*yield = string_copy(US e.user);
		return OK;
	case R_ABSENT:
		*yield = string_copy(US"");
		return OK;
	default:
		return FAIL;
	}
}
