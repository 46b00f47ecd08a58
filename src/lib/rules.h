/* rules.h - rule files: which log lines are logins, and what they grant.
 *
 * A rule set is loaded from *.rules files (stanzas, see authsink.rules(5)),
 * compiled with TRE, and is immutable afterwards, so the daemon can swap
 * a new set in on SIGHUP and drop the old one. */
#ifndef AUTHSINK_RULES_H
#define AUTHSINK_RULES_H

#include <stddef.h>
#include "syslog.h"
#include "util.h"

#define RULE_USER_MAX 256	/* longer user names are truncated */
#define RULE_ADDR_MAX 64	/* longer address captures never match */

/* REMEMBER: the line holds an address but no login; it waits for a later
 * line of the same process from a rule with `correlate` (correlate.h). */
enum rule_action { RULE_ALLOW = 0, RULE_LOGOUT, RULE_REVOKE, RULE_REMEMBER };

struct rule;			/* opaque */
struct rule_set;		/* opaque */

struct rule_match {
	const struct rule *rule;
	enum rule_action action;
	long ttl;		/* seconds; 0 = use the configured default */
	char user[RULE_USER_MAX];	/* "" when the rule has no user group */
	char address[RULE_ADDR_MAX];	/* the captured text, not yet validated */
	char session[RULE_USER_MAX];	/* "" when the rule has no session key */
	int session_pid;	/* session is APP[PID] (`session = pid`) */
	/* `key = N` (remember and correlate rules): the captured text that
	 * pairs the two lines instead of the process. */
	int has_pair_key;
	char pair_key[RULE_USER_MAX];
	/* `correlate = NAME`: address is "" and must come from NAME's line
	 * (correlate_apply()); NULL for every other rule. */
	const char *correlate;
};

/* 1 when *m is a logout that names only its session: it needs no
 * address, the session record holds it. */
static inline int
rule_match_by_session(const struct rule_match *m)
{
	return m->action == RULE_LOGOUT && m->address[0] == '\0' &&
	    m->session[0] != '\0';
}

/* Why a message did not match a given rule (for `authsink test`). */
enum rule_miss {
	RULE_MISS_NONE = 0,	/* it matched */
	RULE_MISS_PROGRAM,	/* app-name not in `program` */
	RULE_MISS_HOST,		/* hostname not in `host` */
	RULE_MISS_REQUIRE,	/* required SD parameter absent */
	RULE_MISS_PREFILTER,	/* literal substring absent */
	RULE_MISS_REGEX,	/* regex did not match */
	RULE_MISS_CAPTURE,	/* a capture group was empty or too long */
};

/* Load every *.rules file in `dir`, in name order. On error returns -1 and
 * err names "file:line: what is wrong"; nothing is leaked. Files whose name
 * starts with '.' are skipped. A missing or unreadable directory is an
 * error naming it; an empty one gives an empty set (rules_count() 0): the
 * caller decides whether that is acceptable. */
int rules_load_dir(const char *dir, struct rule_set **out, struct errbuf *err);
/* Load the given files, in order. */
int rules_load_files(const char *const *paths, size_t npaths,
    struct rule_set **out, struct errbuf *err);
void rules_free(struct rule_set *rs);

/* First rule (in load order) that matches; returns 1 and fills *m, or 0. */
int rules_match(const struct rule_set *rs, const struct syslog_msg *msg,
    struct rule_match *m);

/* Introspection, for counters, `authsink test` and the shipped-rule tests. */
size_t rules_count(const struct rule_set *rs);
const struct rule *rules_get(const struct rule_set *rs, size_t i);
size_t rule_index(const struct rule *r);		/* position in its set */
const char *rule_name(const struct rule *r);	/* stanza name */
const char *rule_file(const struct rule *r);	/* file it came from */
int rule_line(const struct rule *r);		/* line of its [name] */
const char *rule_prefilter(const struct rule *r);	/* "" if none */
const char *rule_pattern(const struct rule *r);	/* the `match` ERE */
enum rule_action rule_action(const struct rule *r);
const char *rule_action_name(enum rule_action a);	/* "allow", ... */
const char *rule_correlate(const struct rule *r);	/* NULL if none */

/* Try one rule; returns RULE_MISS_NONE and fills *m when it matches
 * (*m is left alone on a miss). The checks run in the order of enum
 * rule_miss; the pattern sees msg->msg only. */
enum rule_miss rule_try(const struct rule *r, const struct syslog_msg *msg,
    struct rule_match *m);
const char *rule_miss_str(enum rule_miss why);

/* The longest literal string every match of the POSIX ERE `pattern` must
 * contain (the prefilter of a rule), "" when none is certain. Copies it,
 * truncated and NUL-terminated, to out[0..outsize) and returns its full
 * length. For tests and `authsink test`. */
size_t rules_literal(const char *pattern, char *out, size_t outsize);

#endif
