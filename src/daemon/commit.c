/* commit.c - group commit of table events, and the expiry sweep.
 *
 * Events queue in memory; one tdb transaction writes them all. A commit
 * starts as soon as the loop has drained what the sockets had ready, but
 * never sooner after the previous one than that one took: under light
 * load a login is visible within milliseconds, under heavy load batches
 * grow so commits take at most about half the time. commit-interval is
 * the upper bound either way. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "exporter.h"

static void
commit_timer_cb(uv_timer_t *t)
{
	commit_now(t->data);
}

static void
sweep_timer_cb(uv_timer_t *t)
{
	sweep_now(t->data);
}

void
commit_init(struct daemon *d)
{
	d->pending = xcalloc(PENDING_MAX, sizeof(*d->pending));
	uv_timer_init(d->loop, &d->commit_timer);
	d->commit_timer.data = d;
	uv_timer_init(d->loop, &d->sweep_timer);
	d->sweep_timer.data = d;
	uv_timer_start(&d->sweep_timer, sweep_timer_cb,
	    (uint64_t)d->cfg.sweep_interval * 1000,
	    (uint64_t)d->cfg.sweep_interval * 1000);
	export_update(d);
}

static void
schedule_commit(struct daemon *d)
{
	uint64_t now = uv_now(d->loop);
	uint64_t ready = d->last_commit_end + d->last_commit_cost;
	uint64_t delay = ready > now ? ready - now : 0;

	if (delay > (uint64_t)d->cfg.commit_interval_ms)
		delay = d->cfg.commit_interval_ms;
	/* A zero timeout runs on the next loop turn, after pending I/O. */
	uv_timer_start(&d->commit_timer, commit_timer_cb, delay, 0);
}

/* 0 queued (or committed), -1 dropped: the queue was full and the
 * commit that would have emptied it failed. */
int
commit_queue(struct daemon *d, const struct relay_event *ev)
{
	if (ev->action == RULE_REVOKE)
		d->n.revoked++;
	else if (ev->action == RULE_ALLOW)
		d->n.granted++;
	d->pending[d->npending++] = *ev;
	if (d->npending == PENDING_MAX)
		return commit_now(d) < 0 && d->npending < PENDING_MAX ? -1 : 0;
	if (d->npending == 1)
		schedule_commit(d);
	return 0;
}

/* Close `n` sessions of `addr`; when none is left open, its ttl counts
 * from the close. */
static int
close_sessions(struct relay_table *t, const char *addr, unsigned long n,
    long long when, long ttl)
{
	struct relay_entry e;

	if (relay_get(t, addr, &e) != 1)
		return 0;	/* gone (revoked, swept) or unreadable */
	if (e.open > n) {
		e.open -= n;
		return relay_put(t, &e);	/* others still open */
	}
	e.open = 0;
	e.expires = (e.last > when ? e.last : when) + ttl;
	return relay_put(t, &e);
}

/* A logout closes the session its key names, whatever its address;
 * without a key (rules without `session`), the address's own. An
 * unknown key closes nothing: it may be a session that was never open
 * here, and guessing could cut another client's. */
static int
apply_logout(struct relay_table *t, const struct relay_event *ev)
{
	struct relay_session s;
	int have;

	if (ev->session[0] == '\0')
		return close_sessions(t, ev->addr, 1, ev->when, ev->ttl);
	if ((have = relay_session_get(t, ev->session, &s)) <= 0)
		return have;
	if (--s.open > 0 ? relay_session_put(t, ev->session, &s) < 0 :
	    relay_session_del(t, ev->session) < 0)
		return -1;
	return close_sessions(t, s.addr, 1, ev->when, ev->ttl);
}

/* Record the session a login opens. A key that still names another
 * address (a pid reused after its logout was lost) ends those sessions
 * first. */
static int
open_session(struct relay_table *t, const struct relay_event *ev,
    long long expires)
{
	struct relay_session s;
	int have = relay_session_get(t, ev->session, &s);

	if (have < 0)
		return -1;
	if (have && strcmp(s.addr, ev->addr) != 0) {
		if (close_sessions(t, s.addr, s.open, ev->when, ev->ttl) < 0)
			return -1;
		have = 0;
	}
	if (!have) {
		memset(&s, 0, sizeof(s));
		str_copy(s.addr, ev->addr, sizeof(s.addr));
	}
	s.open++;
	if (expires > s.expires)
		s.expires = expires;
	return relay_session_put(t, ev->session, &s);
}

/* Merge one event into what the table holds for its address. A login
 * with a session key opens a session: the address stays allowed while any
 * is open, up to max-session, and its ttl counts from the last close. */
static int
apply_event(struct relay_table *t, const struct relay_event *ev)
{
	struct relay_entry e;
	long long when = (long long)ev->when;
	int session = ev->session[0] != '\0';
	long long expires = when + (session ? ev->max_session : ev->ttl);
	int have;

	if (ev->action == RULE_REVOKE)
		return relay_del(t, ev->addr) < 0 ? -1 : 0;
	if (ev->action == RULE_LOGOUT)
		return apply_logout(t, ev);
	if (session && open_session(t, ev, expires) < 0)
		return -1;
	have = relay_get(t, ev->addr, &e);
	if (have != 1) {	/* absent, or unreadable: start over */
		memset(&e, 0, sizeof(e));
		str_copy(e.addr, ev->addr, sizeof(e.addr));
		e.first = when;
	} else if (e.expires <= when) {
		e.open = 0;	/* lapsed (max-session): its sessions are over */
	}
	if (expires > e.expires)
		e.expires = expires;
	if (when > e.last)
		e.last = when;
	if (session)
		e.open++;
	e.count++;
	str_copy(e.user, ev->user, sizeof(e.user));
	str_copy(e.rule, ev->rule, sizeof(e.rule));
	return relay_put(t, &e);
}

static void
publish_counters(struct daemon *d)
{
	char v[512];

	snprintf(v, sizeof(v), "updated=%lld received=%llu malformed=%llu "
	    "refused=%llu matched=%llu granted=%llu revoked=%llu swept=%llu",
	    (long long)time(NULL), d->n.received, d->n.malformed, d->n.refused,
	    d->n.matched, d->n.granted, d->n.revoked, d->n.swept);
	relay_meta_put(d->table, "!stats", v);
}

/* Move a corrupt table aside, with what can be read of it copied into a
 * fresh file at the same path: relaying keeps working for everyone whose
 * entry survived. */
static void
rescue_table(struct daemon *d)
{
	const char *path = d->cfg.table;
	char fresh[4096], aside[4096];
	struct relay_table *dst;
	struct errbuf err;
	long n = -1;

	snprintf(fresh, sizeof(fresh), "%s.rescue", path);
	snprintf(aside, sizeof(aside), "%s.corrupt.%lld", path, (long long)time(NULL));
	unlink(fresh);
	if ((dst = relay_open(fresh, RELAY_WRITE, d->cfg.sync, &err)) == NULL) {
		log_err("cannot rescue corrupt %s: %s", path, err.text);
		return;
	}
	if (relay_begin(dst) == 0) {
		n = relay_rescue(d->table, dst);
		if (n < 0 || relay_commit(dst) < 0) {
			relay_cancel(dst);
			n = -1;
		}
	}
	relay_close(dst);
	if (n < 0 || rename(path, aside) < 0 || rename(fresh, path) < 0) {
		log_err("cannot rescue corrupt %s: %s", path, strerror(errno));
		unlink(fresh);
		return;
	}
	log_err("relay table %s was corrupt: %ld entries rescued, the damaged "
	    "file is %s", path, n, aside);
}

/* The file was removed, replaced or damaged behind our back: open it
 * again (tdb creates a missing one) so logins keep arriving. Returns 0
 * when the open table is usable. */
static int
table_recover(struct daemon *d, int corrupt)
{
	struct relay_table *t;
	struct errbuf err;

	if (corrupt || relay_corrupt(d->table))
		rescue_table(d);
	else if (!relay_replaced(d->table))
		return 0;
	if ((t = relay_open(d->cfg.table, RELAY_WRITE, d->cfg.sync, &err)) == NULL) {
		log_err("%s", err.text);
		return -1;
	}
	relay_close(d->table);
	d->table = t;
	d->n.reopened++;
	log_warn("relay table %s reopened", d->cfg.table);
	return 0;
}

int
commit_now(struct daemon *d)
{
	uint64_t start;
	size_t i;

	uv_timer_stop(&d->commit_timer);
	if (d->npending == 0)
		return 0;
	uv_update_time(d->loop);
	start = uv_now(d->loop);
	errno = 0;
	if (table_recover(d, 0) < 0)
		goto fail;
	if (relay_begin(d->table) < 0)
		goto fail;
	for (i = 0; i < d->npending; i++)
		if (apply_event(d->table, &d->pending[i]) < 0)
			goto fail_cancel;
	publish_counters(d);
	if (relay_commit(d->table) < 0)
		goto fail;
	d->n.commits++;
	if (d->failing > 0)
		log_info("relay table %s writable again after %lu failed commits",
		    d->cfg.table, d->failing);
	d->failing = 0;
	log_debug("committed %zu event(s)", d->npending);
	d->npending = 0;
	uv_update_time(d->loop);
	d->last_commit_end = uv_now(d->loop);
	d->last_commit_cost = d->last_commit_end - start;
	export_update(d);
	listeners_committed(d);
	return 0;
fail_cancel: {
	int saved = errno;
	relay_cancel(d->table);
	errno = saved;
}
fail:
	/* Keep the events and retry later: a full disk may clear up. Log
	 * the first failure of a streak and then every 100th, not 10/s. */
	d->n.commit_errors++;
	if (d->failing++ % 100 == 0)
		log_err("cannot commit %zu event(s) to %s: %s%s; retrying",
		    d->npending, d->cfg.table,
		    errno ? strerror(errno) : relay_strerror(d->table),
		    relay_corrupt(d->table) ? " (corrupt)" : "");
	uv_timer_start(&d->commit_timer, commit_timer_cb,
	    (uint64_t)d->cfg.commit_interval_ms, 0);
	if (d->npending == PENDING_MAX)
		d->npending--;	/* bounded: the newest event is lost */
	return -1;
}

void
sweep_now(struct daemon *d)
{
	long n;

	commit_now(d);
	/* Sweeping reads every record anyway: check the whole file first. */
	if (table_recover(d, relay_check(d->table) < 0) < 0)
		return;
	if (relay_begin(d->table) < 0) {
		log_err("sweep of %s failed: %s", relay_path(d->table),
		    relay_strerror(d->table));
		return;
	}
	n = relay_sweep(d->table, time(NULL));
	if (n < 0 || relay_commit(d->table) < 0) {
		if (n < 0)
			relay_cancel(d->table);
		log_err("sweep of %s failed: %s", relay_path(d->table),
		    relay_strerror(d->table));
		return;
	}
	d->n.swept += n;
	export_update(d);
	if (n > 0)
		log_debug("swept %ld expired entr%s", n, n == 1 ? "y" : "ies");
}

void
commit_close(struct daemon *d)
{
	commit_now(d);
	uv_close((uv_handle_t *)&d->commit_timer, NULL);
	uv_close((uv_handle_t *)&d->sweep_timer, NULL);
}
