/* fuzz-prefilter.c - libFuzzer target for rules_literal(), the prefilter.
 *
 * Input: an ERE up to the first LF, then a text. For every pattern the
 * rule loader accepts (asked with the pattern in a rule file of its own,
 * so that what it refuses before TRE sees it is never compiled here:
 * patterns that crash or exhaust TRE), if TRE finds a match in the text,
 * the literal that rules_literal() extracts must lie inside that match: a
 * prefilter that is not, would make authsinkd miss logins its rules
 * describe. Bounded repetitions are kept few and small so that TRE's
 * compile stays cheap. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <tre/tre.h>

#include "memfile.h"
#include "rules.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	memfile_open("authsink-fuzz-prefilter.rules");
	return 0;
}

/* Would the rule loader take this pattern? It refuses, before TRE sees
 * them, patterns that crash or exhaust TRE (pattern_problem in rules.c):
 * ask it, with exactly this pattern in a rule of its own. Not wrapped in
 * a group for `address`: "(P)" can be safe when P is not. With
 * P = a(?#\)\\)b(?#c  the ')' added ends the second comment, and "\\)"
 * is inside the group, but alone P makes TRE loop (found by this target).
 * A rule the loader refuses for its address group only has had its
 * pattern accepted. */
static int
is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

static int
loader_accepts(const char *pat)
{
	char rule[400];
	int n = snprintf(rule, sizeof(rule), "[p]\nprogram = x\nmatch = %s\n"
	    "address = 1\n", pat);
	const char *paths[1] = { memfile_path };
	struct rule_set *rs;
	struct errbuf err;

	if (n < 0 || (size_t)n >= sizeof(rule))
		abort();
	memfile_write(rule, (size_t)n);
	err.text[0] = '\0';
	if (rules_load_files(paths, 1, &rs, &err) < 0)
		return strstr(err.text, "bad `match` pattern") == NULL &&
		    strstr(err.text, "address") != NULL;
	rules_free(rs);
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *lf = memchr(data, '\n', size);
	char pat[257], lit[300];
	size_t pn, ln, braces = 0;
	regex_t re;
	regmatch_t pm[1];

	if (lf == NULL || (pn = (size_t)(lf - data)) >= sizeof(pat))
		return 0;
	memcpy(pat, data, pn);
	pat[pn] = '\0';
	if (memchr(pat, '\0', pn) != NULL)
		return 0;
	/* the loader trims a `match` value: it would see another pattern */
	if (pn == 0 || is_blank(pat[0]) || is_blank(pat[pn - 1]))
		return 0;
	for (size_t i = 0; i < pn; i++) {
		if (pat[i] == '{')
			braces++;
		/* no bound above 99, at most two of them */
		if (i + 2 < pn && pat[i] >= '0' && pat[i] <= '9' &&
		    pat[i + 1] >= '0' && pat[i + 1] <= '9' &&
		    pat[i + 2] >= '0' && pat[i + 2] <= '9')
			return 0;
	}
	if (braces > 2 || !loader_accepts(pat))
		return 0;
	if (tre_regcomp(&re, pat, REG_EXTENDED) != REG_OK)
		return 0;
	ln = rules_literal(pat, lit, sizeof(lit));
	if (ln >= sizeof(lit))
		abort();	/* at most the pattern's own length */
	if (lit[ln] != '\0' || strlen(lit) != ln)
		abort();
	if (!tre_have_backrefs(&re) && !tre_have_approx(&re) && ln > 0) {
		const char *text = (const char *)lf + 1;
		size_t tn = size - pn - 1;

		if (tre_regnexec(&re, text, tn, 1, pm, 0) == REG_OK &&
		    pm[0].rm_so >= 0 &&
		    memmem(text + pm[0].rm_so, (size_t)(pm[0].rm_eo - pm[0].rm_so),
		    lit, ln) == NULL) {
			fprintf(stderr, "fuzz-prefilter: /%s/ matches \"%.*s\" "
			    "but its prefilter \"%s\" is not in the match\n",
			    pat, (int)(pm[0].rm_eo - pm[0].rm_so),
			    text + pm[0].rm_so, lit);
			abort();
		}
	}
	tre_regfree(&re);
	return 0;
}
