/* ingest.c - one message: parse, match a rule, turn it into a table event. */
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "listen.h"
#include "syslog.h"

int
peer_allowed(const struct daemon *d, const struct listener *l,
    const struct sockaddr *sa)
{
	struct addr a;

	if (addr_from_sockaddr(sa, &a) < 0)
		return 0;
	/* A listener's own allow-from= is exact; the global one adds to
	 * loopback. */
	if (l->spec->has_allow)
		return cidr_list_contains(&l->spec->allow, &a);
	return addr_is_loopback(&a) || cidr_list_contains(&d->cfg.allow_from, &a);
}

/* The captured text becomes a key only if it is an address a client
 * could really have. */
static int
acceptable_address(struct daemon *d, const char *text, char out[ADDR_TEXT_MAX])
{
	struct addr a;

	if (addr_parse(text, strlen(text), &a) < 0) {
		d->n.bad_address++;
		log_debug("ignoring \"%s\": not an IP address", text);
		return 0;
	}
	if (addr_is_bogus(&a) || cidr_list_contains(&d->cfg.never_relay, &a) ||
	    (!d->cfg.relay_private && addr_is_private(&a))) {
		d->n.never_relay++;
		log_debug("ignoring %s: never relayed", text);
		return 0;
	}
	addr_format(&a, out);
	return 1;
}

/* Expiry counts from the message's own time, never from the future, so a
 * login replayed from a queue after its ttl grants nothing. */
static time_t
event_time(const struct daemon *d, const struct syslog_msg *m, time_t now)
{
	if (!d->cfg.trust_timestamps || !m->has_time || m->time > now)
		return now;
	return m->time;
}

/* Session keys are per sending host: "HOST <TEXT>" for a captured key,
 * "HOST APP[PID]" for a process; the two forms cannot collide. */
static void
session_name(const struct syslog_msg *m, const struct rule_match *match,
    char out[RELAY_SESSION_KEY_MAX])
{
	out[0] = '\0';
	if (match->session[0] != '\0')
		snprintf(out, RELAY_SESSION_KEY_MAX,
		    match->session_pid ? "%.*s %s" : "%.*s <%s>",
		    m->hostname.n ? (int)m->hostname.n : 1,
		    m->hostname.n ? m->hostname.p : "-", match->session);
}

int
ingest_message(struct daemon *d, const char *buf, size_t len, int truncated)
{
	struct syslog_msg m;
	struct rule_match match;
	struct relay_event ev;
	time_t now = time(NULL);
	enum syslog_status st;

	d->n.received++;
	if (truncated)
		d->n.truncated++;
	st = syslog_parse(buf, len, now, &m);
	if (st != SYSLOG_OK) {
		d->n.malformed++;
		log_debug("dropped malformed message: %s", syslog_status_str(st));
		return 0;
	}
	if (d->rules == NULL || !rules_match(d->rules, &m, &match))
		return 0;
	d->n.matched++;
	d->rule_hits[rule_index(match.rule)]++;
	switch (correlate_apply(d->correlator, &m, event_time(d, &m, now), &match)) {
	case CORRELATE_REMEMBERED:
		d->n.remembered++;
		return 0;
	case CORRELATE_UNPAIRED:
		d->n.unpaired++;
		log_debug("rule %s: no address line from this process",
		    rule_name(match.rule));
		return 0;
	case CORRELATE_NONE:
	case CORRELATE_PAIRED:
		break;
	}
	memset(&ev, 0, sizeof(ev));
	ev.action = match.action;
	session_name(&m, &match, ev.session);
	if (!rule_match_by_session(&match) &&
	    !acceptable_address(d, match.address, ev.addr))
		return 0;
	ev.ttl = match.ttl > 0 ? match.ttl : d->cfg.ttl;
	ev.max_session = d->cfg.max_session;
	ev.when = event_time(d, &m, now);
	if (ev.action == RULE_ALLOW &&
	    ev.when + (ev.session[0] ? ev.max_session : ev.ttl) <= now) {
		d->n.stale++;
		log_debug("ignoring login of %s: older than its ttl", ev.addr);
		return 0;
	}
	str_copy(ev.user, match.user, sizeof(ev.user));
	str_copy(ev.rule, rule_name(match.rule), sizeof(ev.rule));
	log_debug("rule %s: %s %s user=%s", ev.rule,
	    rule_action_name(ev.action), ev.addr, ev.user);
	return commit_queue(d, &ev);
}
