/* correlate.h - join an address line and a login line of one process.
 *
 * Some servers log the client address and the successful login in two
 * messages (a "connect from IP" line, then "user X logged in"). A rule
 * with `action = remember` matches the first; a rule with `correlate =
 * NAME` matches the second and takes its address from the last line of
 * rule NAME logged by the same process: same syslog HOSTNAME, APP-NAME
 * and PROCID, within CORRELATE_WINDOW seconds (with `key = N` in both
 * rules: the same HOSTNAME and captured key instead). A remembered
 * address is used once; the process's next remember line replaces it.
 *
 * The store is a fixed array (CORRELATE_SLOTS entries, about 0.6 MiB):
 * when full, the oldest entries in a key's probe window are dropped, so
 * hostile input costs no memory and at worst loses a pairing (fail
 * closed: no relay). Rule names are kept as text, so remembered lines
 * survive a reload of the rule set. */
#ifndef AUTHSINK_CORRELATE_H
#define AUTHSINK_CORRELATE_H

#include <time.h>
#include "rules.h"
#include "syslog.h"

#define CORRELATE_WINDOW 600	/* seconds from address line to login */
#define CORRELATE_SLOTS 1024

struct correlator;

struct correlator *correlator_new(void);
void correlator_free(struct correlator *c);

enum correlate_result {
	CORRELATE_NONE,		/* an ordinary rule: use *m as it is */
	CORRELATE_REMEMBERED,	/* a remember line: stored, grants nothing */
	CORRELATE_PAIRED,	/* m->address now holds the remembered one */
	CORRELATE_UNPAIRED,	/* no address line of that process: nothing */
};

/* Call after a rule matched msg and filled *m. `when` is the message's
 * time (the caller decides whether to trust it): lines are paired when
 * their times differ by at most CORRELATE_WINDOW. A message without
 * PROCID can neither be remembered nor paired. */
enum correlate_result correlate_apply(struct correlator *c,
    const struct syslog_msg *msg, time_t when, struct rule_match *m);

const char *correlate_result_str(enum correlate_result r);

#endif
