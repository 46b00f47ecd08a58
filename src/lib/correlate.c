/* correlate.c - join an address line and a login line of one process
 * (see correlate.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "correlate.h"
#include "util.h"

/* HOSTNAME (255) NUL APP-NAME (48) NUL PROCID (128) of RFC 5424; a longer
 * RFC 3164 key is not correlated. */
#define KEY_MAX 448
#define RULE_NAME_SIZE 64
#define PROBES 8

struct entry {
	time_t when;
	int used;
	uint64_t hash;
	size_t keylen;
	char key[KEY_MAX];
	char rule[RULE_NAME_SIZE];
	char address[RULE_ADDR_MAX];
};

struct correlator {
	struct entry slot[CORRELATE_SLOTS];
};

struct correlator *
correlator_new(void)
{
	return xcalloc(1, sizeof(struct correlator));
}

void
correlator_free(struct correlator *c)
{
	free(c);
}

const char *
correlate_result_str(enum correlate_result r)
{
	switch (r) {
	case CORRELATE_NONE:		return "not correlated";
	case CORRELATE_REMEMBERED:	return "remembered";
	case CORRELATE_PAIRED:		return "paired";
	case CORRELATE_UNPAIRED:	return "no address line from this process";
	}
	return "?";
}

static int
append(char *key, size_t *len, const struct slice *s)
{
	if (*len + s->n + 1 > KEY_MAX)
		return -1;
	if (s->n > 0)
		memcpy(key + *len, s->p, s->n);
	*len += s->n;
	key[(*len)++] = '\0';
	return 0;
}

/* What ties the two lines: the process a message comes from, or with
 * `key = N` the host and the captured key. -1 when there is none (no
 * PROCID, an empty key) or it is too long. The two forms cannot collide:
 * a process key has three fields, a captured one two. */
static int
pairing_key(const struct syslog_msg *msg, const struct rule_match *m,
    char key[KEY_MAX], size_t *len, uint64_t *hash)
{
	*len = 0;
	if (m->has_pair_key) {
		struct slice k = { m->pair_key, strlen(m->pair_key) };
		if (k.n == 0 || append(key, len, &msg->hostname) < 0 ||
		    append(key, len, &k) < 0)
			return -1;
	} else if (msg->procid.n == 0 || append(key, len, &msg->hostname) < 0 ||
	    append(key, len, &msg->app_name) < 0 ||
	    append(key, len, &msg->procid) < 0) {
		return -1;
	}
	*hash = fnv1a(key, *len);
	return 0;
}

static int
expired(const struct entry *e, time_t when)
{
	return !e->used || e->when > when + CORRELATE_WINDOW ||
	    when > e->when + CORRELATE_WINDOW;
}

/* The entry of this key, or NULL. */
static struct entry *
lookup(struct correlator *c, const char *key, size_t len, uint64_t hash)
{
	for (size_t i = 0; i < PROBES; i++) {
		struct entry *e = &c->slot[(hash + i) % CORRELATE_SLOTS];

		if (e->used && e->hash == hash && e->keylen == len &&
		    memcmp(e->key, key, len) == 0)
			return e;
	}
	return NULL;
}

/* Where a new key goes: a free or expired slot, else the oldest. */
static struct entry *
victim(struct correlator *c, uint64_t hash, time_t when)
{
	struct entry *oldest = NULL;

	for (size_t i = 0; i < PROBES; i++) {
		struct entry *e = &c->slot[(hash + i) % CORRELATE_SLOTS];

		if (expired(e, when))
			return e;
		if (oldest == NULL || e->when < oldest->when)
			oldest = e;
	}
	return oldest;
}

static enum correlate_result
remember(struct correlator *c, const struct syslog_msg *msg, time_t when,
    const struct rule_match *m)
{
	char key[KEY_MAX];
	size_t len;
	uint64_t hash;
	struct entry *e;

	if (pairing_key(msg, m, key, &len, &hash) < 0)
		return CORRELATE_REMEMBERED;	/* nothing to pair it with */
	e = lookup(c, key, len, hash);
	if (e == NULL)
		e = victim(c, hash, when);
	e->used = 1;
	e->when = when;
	e->hash = hash;
	e->keylen = len;
	memcpy(e->key, key, len);
	str_copy(e->rule, rule_name(m->rule), sizeof(e->rule));
	str_copy(e->address, m->address, sizeof(e->address));
	return CORRELATE_REMEMBERED;
}

static enum correlate_result
pair(struct correlator *c, const struct syslog_msg *msg, time_t when,
    struct rule_match *m)
{
	char key[KEY_MAX];
	size_t len;
	uint64_t hash;
	struct entry *e;

	if (pairing_key(msg, m, key, &len, &hash) < 0)
		return CORRELATE_UNPAIRED;
	e = lookup(c, key, len, hash);
	if (e == NULL || strcmp(e->rule, m->correlate) != 0)
		return CORRELATE_UNPAIRED;
	if (expired(e, when)) {
		e->used = 0;
		return CORRELATE_UNPAIRED;
	}
	/* Used once: a later login of a reused pid needs its own line. */
	str_copy(m->address, e->address, sizeof(m->address));
	e->used = 0;
	return CORRELATE_PAIRED;
}

enum correlate_result
correlate_apply(struct correlator *c, const struct syslog_msg *msg,
    time_t when, struct rule_match *m)
{
	if (m->action == RULE_REMEMBER)
		return remember(c, msg, when, m);
	if (m->correlate != NULL)
		return pair(c, msg, when, m);
	return CORRELATE_NONE;
}
