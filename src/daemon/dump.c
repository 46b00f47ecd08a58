/* dump.c - SIGUSR1: state and counters to the dump file and the log. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"

struct live_count {
	time_t now;
	long live;
};

static int
count_live(const struct relay_entry *e, void *arg)
{
	struct live_count *lc = arg;

	if (e->expires > (long long)lc->now)
		lc->live++;
	return 0;
}

static void
write_dump(struct daemon *d, FILE *f)
{
	struct live_count lc = { .now = time(NULL) };
	long total = relay_each(d->table, count_live, &lc);
	const struct counters *n = &d->n;

	fprintf(f, "authsinkd %s pid %ld at %lld\n", AUTHSINK_VERSION,
	    (long)getpid(), (long long)lc.now);
	fprintf(f, "table %s entries %ld live %ld pending %zu\n",
	    relay_path(d->table), total, lc.live, d->npending);
	fprintf(f, "received %llu\ntruncated %llu\nmalformed %llu\nrefused %llu\n"
	    "matched %llu\nbad_address %llu\nnever_relay %llu\nstale %llu\n"
	    "granted %llu\nrevoked %llu\ncommits %llu\ncommit_errors %llu\n"
	    "swept %llu\nframing_errors %llu\nstalled %llu\nreopened %llu\n"
	    "remembered %llu\nunpaired %llu\n",
	    n->received, n->truncated, n->malformed, n->refused, n->matched,
	    n->bad_address, n->never_relay, n->stale, n->granted, n->revoked,
	    n->commits, n->commit_errors, n->swept, n->framing_errors, n->stalled,
	    n->reopened, n->remembered, n->unpaired);
	for (size_t i = 0; d->rules && i < rules_count(d->rules); i++) {
		const struct rule *r = rules_get(d->rules, i);
		fprintf(f, "rule %s %llu\n", rule_name(r), d->rule_hits[i]);
	}
}

int
dump_state(struct daemon *d)
{
	char tmp[4096];
	FILE *f;

	log_info("received %llu, malformed %llu, refused %llu, matched %llu, "
	    "granted %llu, commits %llu", d->n.received, d->n.malformed,
	    d->n.refused, d->n.matched, d->n.granted, d->n.commits);
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", d->cfg.dumpfile) >= (int)sizeof(tmp))
		return -1;
	if ((f = fopen(tmp, "w")) == NULL) {
		log_err("cannot write dump file %s: %s", tmp, strerror(errno));
		return -1;
	}
	write_dump(d, f);
	if (fclose(f) != 0 || rename(tmp, d->cfg.dumpfile) != 0) {
		log_err("cannot write dump file %s: %s", d->cfg.dumpfile,
		    strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}
