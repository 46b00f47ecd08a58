/* daemon.h - authsinkd's shared state: one loop, one table, one rule set. */
#ifndef AUTHSINK_DAEMON_H
#define AUTHSINK_DAEMON_H

#include <time.h>
#include <uv.h>

#include "addr.h"
#include "config.h"
#include "correlate.h"
#include "relay.h"
#include "rules.h"

struct counters {
	unsigned long long received;	/* messages handed to ingest */
	unsigned long long truncated;	/* longer than max-message */
	unsigned long long malformed;	/* unparseable, dropped */
	unsigned long long refused;	/* peer not allowed */
	unsigned long long matched;	/* a rule matched */
	unsigned long long bad_address;	/* captured text not an address */
	unsigned long long never_relay;	/* never-relay, bogus or private */
	unsigned long long stale;	/* older than its ttl when it arrived */
	unsigned long long remembered;	/* address lines kept for correlate */
	unsigned long long unpaired;	/* correlate lines without one */
	unsigned long long granted;	/* allow events queued */
	unsigned long long revoked;
	unsigned long long commits;
	unsigned long long commit_errors;
	unsigned long long swept;
	unsigned long long framing_errors;
	unsigned long long stalled;	/* streams closed inside a frame */
	unsigned long long reopened;	/* table removed, replaced or corrupt */
};

/* One table change waiting for the next commit. */
struct relay_event {
	enum rule_action action;
	char addr[ADDR_TEXT_MAX];
	char user[RULE_USER_MAX];
	char rule[RELAY_RULE_MAX];
	time_t when;		/* event time: message time clamped to now */
	long ttl;
	char session[RELAY_SESSION_KEY_MAX];	/* "HOST KEY", "" for none */
	long max_session;
};

#define PENDING_MAX 4096	/* commit early rather than grow without bound */

struct daemon {
	uv_loop_t *loop;
	struct config cfg;
	struct rule_set *rules;
	unsigned long long *rule_hits;	/* per rule of `rules` */
	struct correlator *correlator;	/* kept across reloads */
	struct relay_table *table;
	struct counters n;

	struct relay_event *pending;
	size_t npending;
	uv_timer_t commit_timer;
	uv_timer_t sweep_timer;
	uint64_t last_commit_end;	/* uv_now() ms */
	uint64_t last_commit_cost;	/* ms */
	unsigned long failing;		/* commits failed in a row */

	struct listener *listeners;	/* linked list */
	int foreground;
	int stopping;
};

/* ingest.c */
/* 0, or -1 when the event it caused was dropped (commits failing with the
 * queue full): a RELP client must then not be told it was taken. */
int ingest_message(struct daemon *d, const char *buf, size_t len, int truncated);
int peer_allowed(const struct daemon *d, const struct listener *l,
    const struct sockaddr *sa);

/* commit.c */
void commit_init(struct daemon *d);
int commit_queue(struct daemon *d, const struct relay_event *ev);
int commit_now(struct daemon *d);
void sweep_now(struct daemon *d);
void commit_close(struct daemon *d);

/* listen.c */
int listeners_open(struct daemon *d, struct errbuf *err);
void listeners_close(struct daemon *d);
/* After a commit: answer the RELP messages it made durable. */
void listeners_committed(struct daemon *d);

/* dump.c */
int dump_state(struct daemon *d);

#endif
