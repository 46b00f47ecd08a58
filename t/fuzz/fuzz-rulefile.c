/* fuzz-rulefile.c - libFuzzer target for the rule file loader.
 *
 * The input is written to a memfd and loaded with rules_load_files() as
 * /proc/self/fd/N, alone and after the shipped rules.d files (duplicate
 * names, load order). A rejected file must be named as "PATH:LINE: ..."
 * (or "PATH: ..."), with nothing leaked (LeakSanitizer); an accepted set
 * is walked through every accessor and run over the messages given in
 * the input itself: every line "#msg SYSLOG-MESSAGE" (a comment to the
 * loader) is parsed and matched, and for each rule whose prefilter rejects
 * it, the pattern alone must not match either. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <tre/tre.h>

#include "memfile.h"
#include "rules.h"
#include "syslog.h"

#ifndef RULES_DIR
#define RULES_DIR "rules.d"
#endif

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz-rulefile: check failed: %s (line %d)\n", \
	    #cond, __LINE__); abort(); } } while (0)

static const char *paths[32];
static size_t npaths;

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("AUTHSINK_FUZZ_RULES");
	DIR *d;
	struct dirent *de;

	(void)argc;
	(void)argv;
	memfile_open("authsink-fuzz.rules");
	dir = dir ? dir : RULES_DIR;
	if ((d = opendir(dir)) == NULL) {
		perror(dir);
		exit(2);
	}
	while ((de = readdir(d)) != NULL && npaths < 31) {
		size_t n = strlen(de->d_name);
		if (de->d_name[0] == '.' || n <= 6 ||
		    strcmp(de->d_name + n - 6, ".rules") != 0)
			continue;
		char *p = malloc(strlen(dir) + n + 2);
		sprintf(p, "%s/%s", dir, de->d_name);
		paths[npaths++] = p;
	}
	closedir(d);
	qsort(paths, npaths, sizeof(*paths), cmp);
	paths[npaths] = memfile_path;	/* the fuzzed file comes last */
	return 0;
}

static void
check_error(const struct errbuf *err)
{
	size_t pn = strlen(memfile_path);

	CHECK(memchr(err->text, '\0', sizeof(err->text)) != NULL);
	if (strncmp(err->text, memfile_path, pn) != 0 || err->text[pn] != ':') {
		fprintf(stderr, "fuzz-rulefile: error does not name the file: "
		    "\"%s\"\n", err->text);
		abort();
	}
}

static void
run_messages(const struct rule_set *rs, const uint8_t *data, size_t size)
{
	size_t i = 0, n = rules_count(rs);
	int tested = 0;

	while (i < size && tested < 8) {
		const uint8_t *lf = memchr(data + i, '\n', size - i);
		size_t end = lf ? (size_t)(lf - data) : size;

		if (end - i > 5 && memcmp(data + i, "#msg ", 5) == 0) {
			const char *s = (const char *)data + i + 5;
			size_t len = end - i - 5;
			struct syslog_msg msg;
			struct rule_match m;

			tested++;
			if (syslog_parse(s, len, 1795586400, &msg) == SYSLOG_OK) {
				const char *text = msg.msg.p ? msg.msg.p : "";
				size_t tn = msg.msg.p ? msg.msg.n : 0;
				int first = -1;

				while (tn > 0 && (*text == ' ' || *text == '\t')) {
					text++;
					tn--;
				}
				for (size_t r = 0; r < n; r++) {
					const struct rule *ru = rules_get(rs, r);
					struct rule_match one;
					enum rule_miss why = rule_try(ru, &msg, &one);
					if (why == RULE_MISS_NONE && first < 0)
						first = (int)r;
					if (why != RULE_MISS_PREFILTER)
						continue;
					regex_t re;
					regmatch_t pm[1];
					CHECK(tre_regcomp(&re, rule_pattern(ru),
					    REG_EXTENDED) == REG_OK);
					if (tre_regnexec(&re, text, tn, 0, pm, 0) == REG_OK) {
						fprintf(stderr, "fuzz-rulefile: "
						    "prefilter \"%s\" of /%s/ "
						    "rejects a message it matches\n",
						    rule_prefilter(ru),
						    rule_pattern(ru));
						abort();
					}
					tre_regfree(&re);
				}
				int got = rules_match(rs, &msg, &m);
				CHECK(got == (first >= 0));
				if (got && m.correlate != NULL) {
					/* its address comes from another line */
					CHECK(m.rule == rules_get(rs, (size_t)first));
					CHECK(m.address[0] == '\0');
				} else if (got && rule_match_by_session(&m)) {
					/* a logout closing a session by its key */
					CHECK(m.rule == rules_get(rs, (size_t)first));
				} else if (got) {
					CHECK(m.rule == rules_get(rs, (size_t)first));
					CHECK(strlen(m.address) > 0 &&
					    strlen(m.address) < RULE_ADDR_MAX);
					CHECK(memmem(text, tn, m.address,
					    strlen(m.address)) != NULL);
				}
			}
		}
		i = end + 1;
	}
}

static void
walk(const struct rule_set *rs)
{
	for (size_t i = 0; i < rules_count(rs); i++) {
		const struct rule *r = rules_get(rs, i);
		char lit[4200];
		size_t ln;

		CHECK(rule_index(r) == i);
		CHECK(rule_name(r) && rule_name(r)[0]);
		CHECK(rule_file(r) != NULL && rule_line(r) >= 1);
		CHECK(rule_pattern(r) != NULL && rule_prefilter(r) != NULL);
		CHECK(rule_action(r) == RULE_ALLOW ||
		    rule_action(r) == RULE_LOGOUT || rule_action(r) == RULE_REVOKE ||
		    rule_action(r) == RULE_REMEMBER);
		/* a correlate rule names a remember rule of the set */
		if (rule_correlate(r) != NULL) {
			int found = 0;

			CHECK(rule_action(r) != RULE_REMEMBER);
			for (size_t j = 0; j < rules_count(rs); j++)
				found |= strcmp(rule_name(rules_get(rs, j)),
				    rule_correlate(r)) == 0 &&
				    rule_action(rules_get(rs, j)) == RULE_REMEMBER;
			CHECK(found);
		}
		ln = rules_literal(rule_pattern(r), lit, sizeof(lit));
		CHECK(ln == strlen(rule_prefilter(r)));
		CHECK(strcmp(lit, rule_prefilter(r)) == 0);
		CHECK(strstr(rule_pattern(r), "") != NULL);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(rule_name(rules_get(rs, j)), rule_name(r)) != 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rule_set *rs = NULL;
	struct errbuf err;
	const char *alone[1] = { memfile_path };

	memfile_write(data, size);
	memset(err.text, 0, sizeof(err.text));
	if (rules_load_files(alone, 1, &rs, &err) < 0) {
		CHECK(rs == NULL);
		check_error(&err);
		return 0;
	}
	CHECK(rs != NULL);
	walk(rs);
	run_messages(rs, data, size);
	rules_free(rs);

	/* After the shipped files: names must not clash, order is kept. */
	rs = NULL;
	if (rules_load_files(paths, npaths + 1, &rs, &err) < 0) {
		CHECK(rs == NULL);
		check_error(&err);
		return 0;
	}
	walk(rs);
	rules_free(rs);
	return 0;
}
