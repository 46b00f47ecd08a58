/* test-rules.c - data-driven tests of the rule engine and the shipped rules.
 *
 * usage: test-rules [--bad DIR] [--prefilter FILE] [--set DIR]...
 *                   RULESDIR DATAFILE...
 *
 * RULESDIR is loaded with rules_load_dir(). Then:
 *  - every rule must be anchored (^...$) and have a literal prefilter of
 *    at least 4 bytes, and the files must have been loaded in strcmp order
 *    of their names;
 *  - every rule must be the expected match of at least one DATAFILE line;
 *  - DATAFILE (t/rules/<server>.txt): '#' lines are comments, blank lines
 *    are ignored; every other line is a log line exactly as a syslog file
 *    holds it, followed by its expectation:
 *        => RULE USER ADDRESS      (USER may hold spaces; "-" for none,
 *                                   ADDRESS "-" for a logout by session)
 *        => none
 *    A match expectation may end in " ;; " and NAME=VALUE words checked
 *    against the match: action=allow|logout|revoke, ttl=SECONDS,
 *    session=TEXT ("-" for none), userlen=N.
 *    The log line goes through the real parser, syslog_parse(), from a heap
 *    copy of exactly its length (so ASan sees any overread), then through
 *    rules_match() and correlate_apply() (one correlator per DATAFILE, by
 *    the line's own time): a remember line expects its own rule and the
 *    address it holds (user "-"), a correlate line the address of its
 *    process's remember line, or none when it has none. For the same line every rule's pattern is also run
 *    without the prefilter: when it matches, the prefilter must be in the
 *    message (the extraction is sound).
 *  - --bad DIR: every *.rules file in DIR starts with "# expect: TEXT";
 *    the shipped files plus that file are loaded together and must fail
 *    with an error containing TEXT (so TEXT names file:line). Then a
 *    missing directory and a file given as directory must fail too.
 *  - --prefilter FILE: pairs of lines, an ERE and `=> "LITERAL"`, checked
 *    against rules_literal().
 *  - --set DIR: a rule set of its own (engine features: host, require,
 *    globs, captures, order); DIR's *.rules are loaded and DIR's *.txt
 *    run against them, in the DATAFILE format.
 * Loading time is printed as a diagnostic only. TAP on stdout. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tre/tre.h>

#include "correlate.h"
#include "rules.h"
#include "syslog.h"
#include "tap.h"

#define MIN_PREFILTER 4

static time_t now_fixed;

/* Per rule of the shipped set: expected matches seen in the data files. */
static size_t *shipped_hits;
static const struct rule_set *shipped_set;

static double
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return (char *)(s ? s + 1 : path);
}

/* Sorted list of the *.rules files in dir, as rules_load_dir picks them. */
static size_t
list_rules(const char *dir, char ***out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;

	*out = NULL;
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len <= 6 ||
		    strcmp(de->d_name + len - 6, ".rules") != 0)
			continue;
		v = realloc(v, (n + 1) * sizeof(*v));
		v[n] = malloc(strlen(dir) + len + 2);
		sprintf(v[n], "%s/%s", dir, de->d_name);
		n++;
	}
	closedir(d);
	for (size_t i = 1; i < n; i++)	/* insertion sort, few files */
		for (size_t j = i; j > 0 && strcmp(v[j - 1], v[j]) > 0; j--) {
			char *t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*out = v;
	return n;
}

static void
free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
chomp(char *s)
{
	size_t n = strlen(s);

	if (n > 0 && s[n - 1] == '\n')
		s[--n] = '\0';
}

/* Compiled copies of every rule's pattern, to run without prefilter. */
static regex_t *
compile_plain(const struct rule_set *rs)
{
	size_t n = rules_count(rs);
	regex_t *plain = calloc(n ? n : 1, sizeof(*plain));

	for (size_t i = 0; i < n; i++) {
		const struct rule *r = rules_get(rs, i);

		ok(rule_index(r) == i && tre_regcomp(&plain[i], rule_pattern(r),
		    REG_EXTENDED) == 0, "rule [%s] index and pattern",
		    rule_name(r));
	}
	return plain;
}

static void
free_plain(const struct rule_set *rs, regex_t *plain)
{
	for (size_t i = 0; i < rules_count(rs); i++)
		tre_regfree(&plain[i]);
	free(plain);
}

static void
check_shipped(const struct rule_set *rs)
{
	size_t n = rules_count(rs);

	for (size_t i = 0; i < n; i++) {
		const struct rule *r = rules_get(rs, i);
		const char *pf = rule_prefilter(r);

		ok(strlen(pf) >= MIN_PREFILTER, "rule [%s] (%s:%d) has a "
		    "prefilter of >= %d bytes: \"%s\"", rule_name(r),
		    rule_file(r), rule_line(r), MIN_PREFILTER, pf);
		const char *pat = rule_pattern(r);
		size_t plen = strlen(pat);
		ok(plen >= 2 && pat[0] == '^' && pat[plen - 1] == '$' &&
		    pat[plen - 2] != '\\', "rule [%s] is anchored at both ends",
		    rule_name(r));
	}
	int ordered = 1;
	for (size_t i = 1; i < n; i++)
		if (strcmp(rule_file(rules_get(rs, i - 1)),
		    rule_file(rules_get(rs, i))) > 0 ||
		    (strcmp(rule_file(rules_get(rs, i - 1)),
		    rule_file(rules_get(rs, i))) == 0 &&
		    rule_line(rules_get(rs, i - 1)) >= rule_line(rules_get(rs, i))))
			ordered = 0;
	ok(ordered, "rules are in load order: files by name, then by line");
}

/* Diagnostics of one data line, printed after its test line. */
static char extra_diag[2048];

static void
diag_add(const char *fmt, const char *a, const char *b, const char *c)
{
	size_t n = strlen(extra_diag);

	snprintf(extra_diag + n, sizeof(extra_diag) - n, fmt, a, b, c);
}

/* Every rule whose regex alone matches the message must have its
 * prefilter in the message. Returns the number of violations. */
static int
check_sound(const struct rule_set *rs, const regex_t *plain,
    const struct syslog_msg *m)
{
	int bad = 0;
	const char *text = m->msg.p ? m->msg.p : "";
	size_t len = m->msg.p ? m->msg.n : 0;

	for (size_t i = 0; i < rules_count(rs); i++) {
		const struct rule *r = rules_get(rs, i);
		const char *pf = rule_prefilter(r);

		if (tre_regnexec(&plain[i], text, len, 0, NULL, 0) != 0)
			continue;
		if (*pf && memmem(text, len, pf, strlen(pf)) == NULL) {
			diag_add("#   rule [%s] matches without its prefilter "
			    "\"%s\"%s\n", rule_name(r), pf, "");
			bad++;
		}
	}
	return bad;
}

/* The " ;; NAME=VALUE ..." part of an expectation; returns 1 if all hold. */
static int
check_extra(const char *extra, const struct rule_match *rm)
{
	char buf[1024], *tok, *save = NULL;
	int good = 1;

	snprintf(buf, sizeof(buf), "%s", extra);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		char *v = strchr(tok, '=');
		char got[300];

		if (v == NULL) {
			diag_add("#   bad check `%s`%s%s\n", tok, "", "");
			good = 0;
			continue;
		}
		*v++ = '\0';
		if (strcmp(tok, "action") == 0)
			snprintf(got, sizeof(got), "%s", rule_action_name(rm->action));
		else if (strcmp(tok, "ttl") == 0)
			snprintf(got, sizeof(got), "%ld", rm->ttl);
		else if (strcmp(tok, "session") == 0)
			snprintf(got, sizeof(got), "%s", rm->session[0] ? rm->session : "-");
		else if (strcmp(tok, "userlen") == 0)
			snprintf(got, sizeof(got), "%zu", strlen(rm->user));
		else {
			diag_add("#   unknown check `%s`%s%s\n", tok, "", "");
			good = 0;
			continue;
		}
		if (strcmp(got, v) != 0) {
			diag_add("#   %s: got \"%s\", want \"%s\"\n", tok, got, v);
			good = 0;
		}
	}
	return good;
}

static void
run_data(const struct rule_set *rs, const regex_t *plain, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *logline = NULL;
	size_t cap = 0;
	struct correlator *corr = correlator_new();
	int lineno = 0, logno = 0, pairs = 0;

	if (f == NULL) {
		ok(0, "open %s: %s", path, strerror(errno));
		return;
	}
	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		chomp(line);
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (strncmp(line, "=>", 2) != 0) {
			if (logline != NULL) {
				ok(0, "%s:%d: log line without `=>` line",
				    path, logno);
				free(logline);
			}
			logline = strdup(line);
			logno = lineno;
			continue;
		}
		if (logline == NULL) {
			ok(0, "%s:%d: `=>` without a log line", path, lineno);
			continue;
		}

		/* expectation */
		char want_rule[128] = "", want_user[1024] = "", want_addr[256] = "";
		int want_none = 0;
		char *e = line + 2, *extra = strstr(line, " ;; ");
		if (extra != NULL) {
			*extra = '\0';
			extra += 4;
		}
		while (*e == ' ')
			e++;
		if (strcmp(e, "none") == 0) {
			want_none = 1;
		} else {
			char *sp1 = strchr(e, ' '), *sp2 = strrchr(e, ' ');
			if (sp1 == NULL || sp1 == sp2) {
				ok(0, "%s:%d: bad expectation `%s` (want `=> RULE "
				    "USER ADDRESS` or `=> none`)", path, lineno, line);
				free(logline);
				logline = NULL;
				continue;
			}
			snprintf(want_rule, sizeof(want_rule), "%.*s",
			    (int)(sp1 - e), e);
			snprintf(want_user, sizeof(want_user), "%.*s",
			    (int)(sp2 - sp1 - 1), sp1 + 1);
			snprintf(want_addr, sizeof(want_addr), "%s", sp2 + 1);
			if (strcmp(want_user, "-") == 0)
				want_user[0] = '\0';
			if (strcmp(want_addr, "-") == 0)
				want_addr[0] = '\0';	/* a logout by session */
		}

		/* parse from an exact-size heap copy */
		size_t len = strlen(logline);
		char *buf = malloc(len ? len : 1);
		memcpy(buf, logline, len);
		struct syslog_msg m;
		struct rule_match rm;
		enum syslog_status st = syslog_parse(buf, len, now_fixed, &m);
		int matched = 0, unsound = 0;
		extra_diag[0] = '\0';
		if (st == SYSLOG_OK) {
			memset(&rm, 0x5a, sizeof(rm));
			matched = rules_match(rs, &m, &rm) &&
			    correlate_apply(corr, &m, m.time, &rm) !=
			    CORRELATE_UNPAIRED;
			unsound = check_sound(rs, plain, &m);
		}
		int good;
		if (want_none)
			good = !matched;
		else
			good = matched && strcmp(rule_name(rm.rule), want_rule) == 0 &&
			    strcmp(rm.user, want_user) == 0 &&
			    strcmp(rm.address, want_addr) == 0 &&
			    (extra == NULL || check_extra(extra, &rm));
		ok(good && !unsound, "%s:%d %s", base_name(path), logno,
		    want_none ? "none" : want_rule);
		fputs(extra_diag, stdout);
		if (!good) {
			if (st != SYSLOG_OK)
				printf("#   syslog_parse: %s\n", syslog_status_str(st));
			else {
				printf("#   parsed: host=\"%.*s\" app=\"%.*s\" "
				    "msg=\"%.*s\"\n", (int)m.hostname.n,
				    m.hostname.p ? m.hostname.p : "",
				    (int)m.app_name.n,
				    m.app_name.p ? m.app_name.p : "",
				    (int)m.msg.n, m.msg.p ? m.msg.p : "");
				for (size_t i = 0; i < rules_count(rs); i++) {
					struct rule_match t;
					enum rule_miss why = rule_try(rules_get(rs, i), &m, &t);
					if (why != RULE_MISS_PROGRAM)
						printf("#   [%s]: %s\n",
						    rule_name(rules_get(rs, i)),
						    rule_miss_str(why));
				}
			}
			if (matched)
				printf("#   got:  %s %s %s\n", rule_name(rm.rule),
				    rm.user[0] ? rm.user : "-",
				    rm.address[0] ? rm.address : "-");
			else
				printf("#   got:  none\n");
			if (want_none)
				printf("#   want: none\n");
			else
				printf("#   want: %s %s %s\n", want_rule,
				    want_user[0] ? want_user : "-",
				    want_addr[0] ? want_addr : "-");
		}
		if (matched && !want_none && good && rs == shipped_set)
			shipped_hits[rule_index(rm.rule)]++;
		if (matched && !want_none && good)
			ok(rm.rule == rules_get(rs, rule_index(rm.rule)) &&
			    rm.action == rule_action(rm.rule) &&
			    strlen(rm.session) < sizeof(rm.session),
			    "%s:%d match fields consistent", base_name(path), logno);
		free(buf);
		free(logline);
		logline = NULL;
		pairs++;
	}
	if (logline != NULL) {
		ok(0, "%s:%d: log line without `=>` line", path, logno);
		free(logline);
	}
	printf("# %s: %d lines checked\n", path, pairs);
	free(line);
	fclose(f);
	correlator_free(corr);
}

static void
run_bad(const char *rulesdir, const char *baddir)
{
	char **shipped, **bad;
	size_t nshipped = list_rules(rulesdir, &shipped);
	size_t nbad = list_rules(baddir, &bad);

	ok(nbad > 0, "%s holds broken rule files", baddir);
	for (size_t i = 0; i < nbad; i++) {
		char expect[512] = "", first[600] = "";
		FILE *f = fopen(bad[i], "r");

		if (f == NULL || fgets(first, sizeof(first), f) == NULL) {
			ok(0, "read %s", bad[i]);
			if (f)
				fclose(f);
			continue;
		}
		fclose(f);
		chomp(first);
		if (strncmp(first, "# expect: ", 10) != 0) {
			ok(0, "%s: first line must be `# expect: TEXT`", bad[i]);
			continue;
		}
		snprintf(expect, sizeof(expect), "%.500s", first + 10);

		const char **paths = calloc(nshipped + 1, sizeof(*paths));
		for (size_t j = 0; j < nshipped; j++)
			paths[j] = shipped[j];
		paths[nshipped] = bad[i];
		struct rule_set *rs = NULL;
		struct errbuf err;
		err.text[0] = '\0';
		int rc = rules_load_files(paths, nshipped + 1, &rs, &err);
		ok(rc < 0 && rs == NULL && strstr(err.text, expect) != NULL,
		    "%s refused: %s", base_name(bad[i]), expect);
		if (!(rc < 0 && strstr(err.text, expect) != NULL))
			printf("#   got: rc=%d \"%s\"\n", rc, rc < 0 ? err.text : "");
		rules_free(rs);
		free(paths);
	}

	/* a directory that does not exist: named, with errno text */
	struct rule_set *rs = NULL;
	struct errbuf err;
	char missing[600];
	snprintf(missing, sizeof(missing), "%s/no-such-dir", baddir);
	int rc = rules_load_dir(missing, &rs, &err);
	ok(rc < 0 && rs == NULL && strstr(err.text, missing) &&
	    strstr(err.text, strerror(ENOENT)),
	    "missing rules directory: %s", rc < 0 ? err.text : "loaded?");
	/* and a file, not a directory */
	rc = rules_load_dir(nbad ? bad[0] : "/dev/null", &rs, &err);
	ok(rc < 0 && strstr(err.text, strerror(ENOTDIR)),
	    "rules directory that is a file: %s", rc < 0 ? err.text : "loaded?");
	free_list(shipped, nshipped);
	free_list(bad, nbad);
}

static void
run_prefilter(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *pat = NULL;
	size_t cap = 0;
	int lineno = 0, patno = 0;

	if (f == NULL) {
		ok(0, "open %s: %s", path, strerror(errno));
		return;
	}
	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		chomp(line);
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (strncmp(line, "=> \"", 4) != 0 || pat == NULL) {
			free(pat);
			pat = strdup(line);
			patno = lineno;
			continue;
		}
		char want[4096], got[4096];
		size_t wl = strlen(line + 4);
		if (wl == 0 || line[4 + wl - 1] != '"') {
			ok(0, "%s:%d: want `=> \"LITERAL\"`", path, lineno);
			continue;
		}
		snprintf(want, sizeof(want), "%.*s", (int)(wl - 1), line + 4);
		size_t n = rules_literal(pat, got, sizeof(got));
		regex_t re;
		int compiles = tre_regcomp(&re, pat, REG_EXTENDED) == 0;
		if (compiles)
			tre_regfree(&re);
		ok(compiles && n == strlen(got) && strcmp(got, want) == 0,
		    "%s:%d prefilter of %s", base_name(path), patno, pat);
		if (strcmp(got, want) != 0)
			printf("#   got \"%s\", want \"%s\"\n", got, want);
		free(pat);
		pat = NULL;
	}
	free(pat);
	free(line);
	fclose(f);
}

/* A rule set of its own: DIR's *.rules, and DIR's *.txt run against it. */
static void
run_set(const char *dir)
{
	struct rule_set *rs = NULL;
	struct errbuf err;
	DIR *d;
	struct dirent *de;
	char **txt = NULL;
	size_t ntxt = 0;

	if (rules_load_dir(dir, &rs, &err) < 0) {
		ok(0, "load %s: %s", dir, err.text);
		return;
	}
	ok(rules_count(rs) > 0, "load %s: %zu rules", dir, rules_count(rs));
	regex_t *plain = compile_plain(rs);
	d = opendir(dir);
	while (d && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > 4 && strcmp(de->d_name + len - 4, ".txt") == 0) {
			txt = realloc(txt, (ntxt + 1) * sizeof(*txt));
			txt[ntxt] = malloc(strlen(dir) + len + 2);
			sprintf(txt[ntxt++], "%s/%s", dir, de->d_name);
		}
	}
	if (d)
		closedir(d);
	ok(ntxt > 0, "%s holds test data", dir);
	for (size_t i = 0; i < ntxt; i++)
		run_data(rs, plain, txt[i]);
	free_list(txt, ntxt);
	free_plain(rs, plain);
	rules_free(rs);
}

int
main(int argc, char **argv)
{
	const char *baddir = NULL, *pfile = NULL, *rulesdir;
	const char *sets[16];
	size_t nsets = 0;
	regex_t *plain;
	struct rule_set *rs = NULL;
	struct errbuf err;
	struct timespec t0;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--bad") == 0 && i + 1 < argc)
			baddir = argv[++i];
		else if (strcmp(argv[i], "--prefilter") == 0 && i + 1 < argc)
			pfile = argv[++i];
		else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc &&
		    nsets < sizeof(sets) / sizeof(sets[0]))
			sets[nsets++] = argv[++i];
		else
			break;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: test-rules [--bad DIR] [--prefilter FILE] "
		    "[--set DIR]... RULESDIR DATAFILE...\n");
		return 2;
	}
	now_fixed = time(NULL);
	rulesdir = argv[i];

	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = rules_load_dir(argv[i], &rs, &err);
	double ms = ms_since(&t0);
	ok(rc == 0 && rules_count(rs) > 0, "load %s: %zu rules", argv[i],
	    rc == 0 ? rules_count(rs) : 0);
	if (rc != 0) {
		printf("#   %s\n", err.text);
		return done_testing();
	}
	printf("# loaded %zu rules in %.3f ms (%.3f ms per rule; budget 1 ms)\n",
	    rules_count(rs), ms, ms / (double)rules_count(rs));

	/* warm: what a reload (SIGHUP) costs */
	struct rule_set *again = NULL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = rules_load_dir(rulesdir, &again, &err);
	ms = ms_since(&t0);
	ok(rc == 0 && rules_count(again) == rules_count(rs),
	    "load %s again", rulesdir);
	printf("# reloaded in %.3f ms (%.3f ms per rule)\n", ms,
	    ms / (double)rules_count(rs));
	rules_free(again);

	check_shipped(rs);
	plain = compile_plain(rs);
	shipped_set = rs;
	shipped_hits = calloc(rules_count(rs) + 1, sizeof(*shipped_hits));
	int ndata = argc - i - 1;
	for (i++; i < argc; i++)
		run_data(rs, plain, argv[i]);
	free_plain(rs, plain);
	/* every shipped rule is proven by at least one expected match */
	for (size_t k = 0; ndata > 0 && k < rules_count(rs); k++)
		ok(shipped_hits[k] > 0, "rule [%s] matches %zu data line(s)",
		    rule_name(rules_get(rs, k)), shipped_hits[k]);
	free(shipped_hits);

	for (size_t k = 0; k < nsets; k++)
		run_set(sets[k]);
	if (pfile)
		run_prefilter(pfile);
	if (baddir)
		run_bad(rulesdir, baddir);

	rules_free(rs);
	return done_testing();
}
