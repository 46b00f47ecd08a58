/* replay.c - the rules path alone: syslog_parse + rules_match over a large
 * generated mail log held in memory, timed in CPU seconds of this thread.
 *
 *   replay [-n LINES] [-l LOGIN_PCT] [-s SECONDS] [-w] RULES_DIR
 *
 * Generates LINES (default 1,000,000) lines of the benchmark mix in the
 * form forwarded messages have ("<22>Mmm dd hh:mm:ss mx1 TAG: MSG") and
 * runs them through the daemon's own parser and rule set, again and again
 * until at least SECONDS (default 3) of CPU time have passed. -w also turns
 * every match into a table key as authsinkd does (addr_parse +
 * addr_format). Prints
 *   lines N matched N cpu S lines_per_cpu_s R
 * The count of matches is checked against the logins generated. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "rules.h"
#include "syslog.h"
#include "mix.h"

static double
cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	size_t nlines = 1000000;
	int login_pct = 5, keys = 0, ch;
	double min_cpu = 3;
	struct rule_set *rs;
	struct errbuf err;
	struct mix mix;

	while ((ch = getopt(argc, argv, "n:l:s:w")) != -1) {
		switch (ch) {
		case 'n': nlines = strtoul(optarg, NULL, 10); break;
		case 'l': login_pct = atoi(optarg); break;
		case 's': min_cpu = atof(optarg); break;
		case 'w': keys = 1; break;
		default: goto usage;
		}
	}
	if (optind != argc - 1 || nlines == 0) {
usage:
		fprintf(stderr, "usage: replay [-n LINES] [-l LOGIN_PCT] [-s SECONDS] [-w] RULES_DIR\n");
		return 2;
	}
	if (rules_load_dir(argv[optind], &rs, &err) < 0) {
		fprintf(stderr, "replay: %s\n", err.text);
		return 2;
	}

	/* The log, in one block: offsets into it, like lines of a file. */
	time_t now = time(NULL);
	char *text = malloc(nlines * 200 + MIX_LINE_MAX), *p = text;
	size_t *off = malloc((nlines + 1) * sizeof(*off)), cap = nlines * 200;
	mix_init(&mix, MIX_WIRE, login_pct, 1);
	for (size_t i = 0; i < nlines; i++) {
		if ((size_t)(p - text) + MIX_LINE_MAX > cap) {
			fprintf(stderr, "replay: lines longer than expected\n");
			return 2;
		}
		off[i] = (size_t)(p - text);
		p += mix_next(&mix, p, now, NULL);
	}
	off[nlines] = (size_t)(p - text);

	unsigned long long lines = 0, matched = 0, malformed = 0, passes = 0;
	double t0 = cpu_s(), t;
	do {
		for (size_t i = 0; i < nlines; i++) {
			struct syslog_msg m;
			struct rule_match rm;

			if (syslog_parse(text + off[i], off[i + 1] - off[i], now, &m)
			    != SYSLOG_OK) {
				malformed++;
				continue;
			}
			if (rules_match(rs, &m, &rm)) {
				matched++;
				if (keys) {
					struct addr a;
					char key[ADDR_TEXT_MAX];
					if (addr_parse(rm.address, strlen(rm.address), &a) == 0)
						addr_format(&a, key);
				}
			}
		}
		lines += nlines;
		passes++;
		t = cpu_s() - t0;
	} while (t < min_cpu);

	printf("lines %llu matched %llu malformed %llu cpu %.3f lines_per_cpu_s %.0f\n",
	    lines, matched, malformed, t, (double)lines / t);
	if (matched != mix.logins * passes) {
		fprintf(stderr, "replay: %llu matches, expected %llu\n", matched,
		    (unsigned long long)(mix.logins * passes));
		return 1;
	}
	mix_free(&mix);
	rules_free(rs);
	free(text);
	free(off);
	return 0;
}
