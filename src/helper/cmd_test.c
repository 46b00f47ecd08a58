/* cmd_test.c - authsink test: run rules over log lines and say, line by
 * line, which rule matched (user, address, whether the address would be
 * accepted) or why none did; then counts per rule. In the spirit of
 * fail2ban-regex: how an administrator writes a rule for a new server.
 *
 * Output, one line per input line (blank lines are skipped), N being the
 * line number (FILE:N with several -f files):
 *   N: match RULE action=allow user=U address=A ok
 *   N: match RULE action=allow user=U address=A ignored (REASON)
 *   N: match RULE action=remember address=A remembered
 *   N: match RULE action=allow user=U address=A correlate=RULE2 ok
 *   N: nomatch
 *   N: malformed (REASON)
 * With -v, indented detail lines follow ("N:   ..."): the parsed fields,
 * and for every rule that did not match, why. Then summary lines that
 * start with "--". User names and captures are printed with bytes that
 * are not visible ASCII (and '%') %-encoded, as the table stores them.
 * Lines are correlated (correlate.h) across all input, in order, by the
 * message's own time. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "correlate.h"
#include "helper.h"
#include "rules.h"
#include "syslog.h"

#define TEST_USAGE "usage: authsink test [-qv] [-f LOGFILE]... [-p PROGRAM] [RULES...]"

struct test_state {
	struct helper *h;
	struct rule_set *rs;
	struct correlator *corr;
	unsigned long *hits;
	const char *program;	/* -p: lines are bare messages of it */
	int verbose, quiet, multi;
	unsigned long lines, matched, ignored, nomatch, malformed;
};

static void
put_enc_n(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c > 0x20 && c < 0x7f && c != '%')
			putchar(c);
		else
			printf("%%%02X", c);
	}
}

static void
put_enc(const char *s)
{
	if (*s == '\0')
		putchar('-');
	else
		put_enc_n(s, strlen(s));
}

/* Verbose detail: readable, control characters as \xNN. */
static void
put_slice(const char *name, const struct slice *s)
{
	printf(" %s=", name);
	if (s->p == NULL || s->n == 0) {
		putchar('-');
		return;
	}
	for (size_t i = 0; i < s->n; i++) {
		unsigned char c = (unsigned char)s->p[i];
		if (c < 0x20 || c == 0x7f || c == '\\')
			printf("\\x%02X", c);
		else
			putchar(c);
	}
}

/* NULL if the daemon would record `text`, else why not. */
static const char *
address_verdict(const struct helper *h, const char *text, char out[ADDR_TEXT_MAX])
{
	struct addr a;

	if (addr_parse(text, strlen(text), &a) < 0)
		return "not an IP address";
	addr_format(&a, out);
	if (addr_is_bogus(&a))
		return "unspecified, multicast, broadcast or reserved address";
	if (cidr_list_contains(&h->cfg.never_relay, &a))
		return "in never-relay";
	if (!h->cfg.relay_private && addr_is_private(&a))
		return "private address and relay-private = no";
	return NULL;
}

static void
prefix(const struct test_state *st, const char *file, unsigned long lineno)
{
	if (st->multi)
		printf("%s:", file);
	printf("%lu:", lineno);
}

static void
test_line(struct test_state *st, const char *file, unsigned long lineno,
    char *line, size_t len, time_t now)
{
	struct syslog_msg m;
	struct rule_match match;
	enum syslog_status status;
	const struct rule *hit = NULL;
	enum correlate_result cr = CORRELATE_NONE;
	const char *why = NULL;
	char canon[ADDR_TEXT_MAX];
	size_t nrules = rules_count(st->rs);

	if (len > (size_t)st->h->cfg.max_message)
		len = (size_t)st->h->cfg.max_message;	/* as the daemon does */
	if (st->program != NULL) {
		memset(&m, 0, sizeof(m));
		m.format = SYSLOG_RFC3164;
		m.pri = 13;
		m.facility = 1;
		m.severity = 5;
		m.time = now;
		m.app_name.p = st->program;
		m.app_name.n = strlen(st->program);
		m.msg.p = line;
		m.msg.n = len;
		status = SYSLOG_OK;
	} else {
		status = syslog_parse(line, len, now, &m);
	}
	st->lines++;
	if (status != SYSLOG_OK) {
		st->malformed++;
		if (!st->quiet) {
			prefix(st, file, lineno);
			printf(" malformed (%s)\n", syslog_status_str(status));
		}
		return;
	}
	for (size_t i = 0; i < nrules; i++) {
		if (rule_try(rules_get(st->rs, i), &m, &match) == RULE_MISS_NONE) {
			hit = match.rule;
			st->hits[i]++;
			break;
		}
	}
	if (hit == NULL) {
		st->nomatch++;
	} else {
		st->matched++;
		cr = correlate_apply(st->corr, &m, m.time, &match);
		if (cr == CORRELATE_UNPAIRED)
			why = correlate_result_str(cr);
		else if (rule_match_by_session(&match))
			strcpy(canon, "-");
		else if (cr != CORRELATE_REMEMBERED)
			why = address_verdict(st->h, match.address, canon);
		if (why != NULL)
			st->ignored++;
	}
	if (st->quiet)
		return;
	prefix(st, file, lineno);
	if (hit == NULL) {
		printf(" nomatch\n");
	} else if (cr == CORRELATE_REMEMBERED) {
		printf(" match %s action=remember address=", rule_name(hit));
		put_enc(match.address);
		printf(" remembered\n");
	} else {
		printf(" match %s action=%s user=", rule_name(hit),
		    rule_action_name(match.action));
		put_enc(match.user);
		printf(" address=");
		if (why == NULL)
			fputs(canon, stdout);
		else
			put_enc(match.address);
		if (match.session[0]) {
			printf(" session=");
			put_enc(match.session);
		}
		if (match.ttl > 0)
			printf(" ttl=%ld", match.ttl);
		if (match.correlate != NULL)
			printf(" correlate=%s", match.correlate);
		if (why == NULL)
			printf(" ok\n");
		else
			printf(" ignored (%s)\n", why);
	}
	if (!st->verbose)
		return;
	prefix(st, file, lineno);
	printf("   format=RFC%s", m.format == SYSLOG_RFC5424 ? "5424" : "3164");
	put_slice("host", &m.hostname);
	put_slice("program", &m.app_name);
	put_slice("pid", &m.procid);
	if (m.has_time) {
		char when[40];
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S%z", localtime(&m.time));
		printf(" time=%s", when);
	} else {
		printf(" time=-");
	}
	putchar('\n');
	prefix(st, file, lineno);
	printf("  ");
	put_slice("msg", &m.msg);
	putchar('\n');
	for (size_t i = 0; i < nrules; i++) {
		const struct rule *r = rules_get(st->rs, i);
		struct rule_match scratch;
		enum rule_miss why;

		if (r == hit)
			break;
		why = rule_try(r, &m, &scratch);
		prefix(st, file, lineno);
		printf("   - %s (%s:%d): %s", rule_name(r), rule_file(r),
		    rule_line(r), rule_miss_str(why));
		if (why == RULE_MISS_PREFILTER)
			printf(" (\"%s\")", rule_prefilter(r));
		putchar('\n');
	}
}

static int
test_stream(struct test_state *st, FILE *f, const char *file)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned long lineno = 0;

	while ((n = getline(&line, &cap, f)) >= 0) {
		size_t len = (size_t)n, i;

		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		for (i = 0; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
			;
		if (i == len)
			continue;
		test_line(st, file, lineno, line, len, time(NULL));
	}
	free(line);
	if (ferror(f))
		return fail("cannot read %s: %s", file, strerror(errno));
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Add `arg` (a *.rules file, or a directory of them) to the list. */
static int
add_rules_arg(const char *arg, char ***paths, size_t *n)
{
	struct stat sb;
	DIR *d;
	struct dirent *de;
	size_t first = *n;

	if (stat(arg, &sb) < 0) {
		fail("rules %s: %s", arg, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		*paths = xrealloc(*paths, (*n + 1) * sizeof(**paths));
		(*paths)[(*n)++] = xstrdup(arg);
		return 0;
	}
	if ((d = opendir(arg)) == NULL) {
		fail("rules directory %s: %s", arg, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len <= 6 ||
		    strcmp(de->d_name + len - 6, ".rules") != 0)
			continue;
		*paths = xrealloc(*paths, (*n + 1) * sizeof(**paths));
		(*paths)[*n] = xmalloc(strlen(arg) + len + 2);
		sprintf((*paths)[*n], "%s/%s", arg, de->d_name);
		(*n)++;
	}
	closedir(d);
	if (*n > first)
		qsort(*paths + first, *n - first, sizeof(**paths), cmp_str);
	return 0;
}

int
cmd_test(struct helper *h, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "program", required_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct test_state st = { .h = h };
	const char **logs = NULL;
	char **paths = NULL;
	size_t nlogs = 0, npaths = 0, nrules;
	struct errbuf err;
	int ch, rc = EXIT_ERROR;

	optind = 0;
	while ((ch = getopt_long(argc + 1, argv - 1, "f:p:qv", lo, NULL)) != -1) {
		switch (ch) {
		case 'f':
			logs = xrealloc(logs, (nlogs + 1) * sizeof(*logs));
			logs[nlogs++] = optarg;
			break;
		case 'p':
			st.program = optarg;
			break;
		case 'q':
			st.quiet = 1;
			break;
		case 'v':
			st.verbose = 1;
			break;
		default:
			free(logs);
			return fail(TEST_USAGE);
		}
	}
	for (int i = optind - 1; i < argc; i++)
		if (add_rules_arg(argv[i], &paths, &npaths) < 0)
			goto out;
	if (optind - 1 == argc && add_rules_arg(h->cfg.rules_dir, &paths, &npaths) < 0)
		goto out;
	if (npaths == 0) {
		fail("no *.rules files found");
		goto out;
	}
	if (rules_load_files((const char *const *)paths, npaths, &st.rs, &err) < 0) {
		fail("%s", err.text);
		goto out;
	}
	nrules = rules_count(st.rs);
	st.hits = xcalloc(nrules + 1, sizeof(*st.hits));
	st.corr = correlator_new();
	st.multi = nlogs > 1;
	if (nlogs == 0) {
		if (test_stream(&st, stdin, "-") < 0)
			goto out;
	}
	for (size_t i = 0; i < nlogs; i++) {
		FILE *f = strcmp(logs[i], "-") == 0 ? stdin : fopen(logs[i], "r");
		int r;

		if (f == NULL) {
			fail("cannot open %s: %s", logs[i], strerror(errno));
			goto out;
		}
		r = test_stream(&st, f, logs[i]);
		if (f != stdin)
			fclose(f);
		if (r < 0)
			goto out;
	}
	printf("-- %lu line%s: %lu matched (%lu with an ignored address), "
	    "%lu no match, %lu malformed\n", st.lines, st.lines == 1 ? "" : "s",
	    st.matched, st.ignored, st.nomatch, st.malformed);
	for (size_t i = 0; i < nrules; i++) {
		const struct rule *r = rules_get(st.rs, i);
		printf("-- rule %s: %lu (%s:%d)\n", rule_name(r), st.hits[i],
		    rule_file(r), rule_line(r));
	}
	rc = st.matched > 0 ? EXIT_YES : EXIT_NO;
out:
	fflush(stdout);
	rules_free(st.rs);
	correlator_free(st.corr);
	free(st.hits);
	for (size_t i = 0; i < npaths; i++)
		free(paths[i]);
	free(paths);
	free(logs);
	return rc;
}
