/* rules.c - rule files: parse, compile with TRE, match syslog messages.
 *
 * File format (authsink.rules(5)); decisions this parser makes:
 *
 *   # comment                      whole-line comments start with '#'
 *   [rule-name]                    starts a stanza; names are 1-63 of
 *                                  [A-Za-z0-9_.-] and unique in the set
 *   key = value                    inside a stanza; values are trimmed
 *
 * - An inline comment is '#' preceded by whitespace, in every key but
 *   `match`: a `match` value is the whole rest of the line, trimmed, so a
 *   pattern may contain " #" (write [ ] for a trailing space).
 * - Keys: program (required), match (required), address (required unless
 *   correlate), user, session, action, host, ttl, require, correlate,
 *   key.
 *   Each at most once per stanza.
 * - program / host: whitespace-separated words; a word with * ? or [ is an
 *   fnmatch(3) glob, without FNM_PATHNAME (a '*' also matches '/', so
 *   cyrus/imap* covers cyrus/imaps). Program words compare case-sensitively
 *   with the APP-NAME (RFC 3164 tag without [pid]), host words
 *   case-insensitively with the syslog HOSTNAME.
 * - user / address / session: capture group numbers, 1..RULE_GROUP_MAX,
 *   and at most the number of groups in the pattern (re_nsub).
 * - match: POSIX ERE, tre_regcomp(REG_EXTENDED). Back-references and TRE's
 *   approximate matching are refused (slow, and never needed for a log
 *   line), and so is, before TRE sees it, what TRE would crash, loop or
 *   exhaust memory on (pattern_problem()). Run on the MSG part only, with
 *   tre_regnexec (not NUL-terminated).
 * - action: allow (default) | logout | revoke | remember.  ttl:
 *   parse_duration(), > 0.
 * - correlate = NAME: the rule has no address group; its address comes
 *   from the last line of rule [NAME], which must exist (in any file of
 *   the set) and be `action = remember` (see correlate.c).
 * - key = N: in a remember rule and the correlate rules that name it
 *   (both or neither), the capture group that ties the two lines instead
 *   of the process: same HOSTNAME and key text, any APP-NAME and PROCID.
 * - require: structured data that must be present, as
 *       require = SD-ID:PARAM            e.g. origin:ip, meta@32473:pid
 *       require = SD-ID:PARAM=VALUE      ... and its value must be VALUE
 *       require = *:PARAM                PARAM in any SD-ELEMENT
 *   SD-ID and PARAM are RFC 5424 SD-NAMEs (printable US-ASCII but = SP ] ",
 *   at most 32); the SD-ID is everything before the last ':' that precedes
 *   the first '=', so an SD-ID may itself contain '@' or ':'.
 * - Lines are limited to RULE_LINE_MAX bytes; NUL bytes are refused; CR LF
 *   line ends and a UTF-8 BOM at the start of a file are accepted.
 * - rules_load_dir() reads DIR/NAME.rules in strcmp() order of NAME,
 *   skipping names that start with '.' (editor and package leftovers).
 *   An empty directory gives an empty set; the caller decides.
 * - Every error is "FILE:LINE: what", LINE being the offending line or,
 *   for a stanza that lacks a key, its [name] line.
 *
 * Patterns work on bytes: authsinkd runs in the C locale, so TRE compares
 * bytes (a UTF-8 locale would make TRE refuse invalid UTF-8: no match).
 *
 * Prefilter: for every pattern the longest literal string that any match
 * must contain is extracted (rules_literal() below) and checked with
 * memmem() before the regex runs. It is conservative: whatever it does not
 * understand ends a literal run or gives up (empty prefilter).
 *
 * Matching allocates nothing (TRE's parallel matcher works in alloca()
 * space, kept small by pattern_problem()'s limits) and the set is never modified after loading, so one set can be
 * shared, and swapped on SIGHUP. A glob compares a field of at most
 * FIELD_MAX-1 bytes; a longer APP-NAME or HOSTNAME matches no glob. Cost
 * is linear in the message, about a microsecond for a login line; a
 * crafted 8 KiB message that keeps a pattern's states alive can cost some
 * hundreds of microseconds. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <tre/tre.h>

#include "rules.h"

#define RULE_LINE_MAX 4096	/* bytes per line, without the newline */
#define RULE_NAME_MAX 63
#define RULE_GROUP_MAX 32	/* highest usable capture group */
#define RULE_SDNAME_MAX 32	/* RFC 5424 SD-NAME */
#define RULE_SDVALUE_MAX 1024	/* longest `require ...=VALUE` */
#define FIELD_MAX 256		/* app-name/hostname copied for fnmatch */

struct word {
	char *s;
	size_t n;
	int glob;
	/* A glob's longest run of plain characters, which every name it
	 * matches contains (without FNM_CASEFOLD): a memmem() before the
	 * fnmatch(). */
	const char *lit;
	size_t litn;
};

/* Rules by exact program word, so a message is tried only against the
 * rules that name its program, and those with a glob. */
struct program_slot {
	const char *name;	/* NULL: empty slot */
	size_t n;
	size_t *rules;		/* ascending */
	size_t nrules;
};

struct rule {
	size_t index;
	char *name;
	const char *file;	/* owned by the set */
	int line;
	struct word *programs;
	size_t nprograms;
	struct word *hosts;
	size_t nhosts;
	char *pattern;
	regex_t re;
	int compiled;
	size_t nsub;
	int user_group, addr_group, session_group;	/* 0: none */
	int session_pid;	/* `session = pid`: the key is APP-NAME[PROCID] */
	int pair_group;		/* `key = N`: pairs remember/correlate lines */
	int key_line;
	int max_group;
	enum rule_action action;
	long ttl;
	char *req_id;		/* NULL: any SD-ELEMENT */
	char *req_name;		/* NULL: no `require` */
	char *req_value;	/* NULL: presence is enough */
	size_t req_value_len;
	char *prefilter;
	size_t prefilter_len;
	char *correlate;	/* NULL: none */
	int correlate_line;
};

struct rule_set {
	struct rule **rules;
	size_t n, cap;
	char **files;
	size_t nfiles, capfiles;
	struct program_slot *slots;	/* nslots: a power of two */
	size_t nslots;
	size_t *glob_rules;	/* rules with a glob program word, ascending */
	size_t nglob;
};

/* ------------------------------------------------------------------ */
/* Literal prefilter extraction.
 *
 * The pattern is walked as ERE (as TRE parses it with REG_EXTENDED). For
 * each sub-expression we know: whether it always matches one fixed string
 * (`exact`, then `str`), a literal every match starts with (`pre`), one it
 * ends with (`suf`), and the longest literal any match contains (`best`).
 * Concatenation joins A.suf+B.pre; a quantifier with minimum 0 (?, *, {0)
 * makes the atom worthless; alternation gives up on that group. */

struct lit {
	char *p;
	size_t n;
};

struct litinfo {
	int exact;
	struct lit str, pre, suf, best;
};

struct lex {
	const char *p, *end;
	int abort;
	int depth;
};

static void
lit_free(struct lit *l)
{
	free(l->p);
	l->p = NULL;
	l->n = 0;
}

static void
lit_set(struct lit *l, const char *a, size_t an, const char *b, size_t bn)
{
	char *p = xmalloc(an + bn + 1);

	if (an)
		memcpy(p, a, an);
	if (bn)
		memcpy(p + an, b, bn);
	p[an + bn] = '\0';
	free(l->p);
	l->p = p;
	l->n = an + bn;
}

static void
info_free(struct litinfo *i)
{
	lit_free(&i->str);
	lit_free(&i->pre);
	lit_free(&i->suf);
	lit_free(&i->best);
	i->exact = 0;
}

/* An atom that matches something not literal (., [a-z], \w ...). */
static void
info_nonlit(struct litinfo *i)
{
	memset(i, 0, sizeof(*i));
}

static void
info_exact(struct litinfo *i, const char *s, size_t n)
{
	memset(i, 0, sizeof(*i));
	i->exact = 1;
	lit_set(&i->str, s, n, NULL, 0);
	lit_set(&i->best, s, n, NULL, 0);
}

static void
best_of(struct lit *best, const struct lit *cand)
{
	if (cand->n > best->n)
		lit_set(best, cand->p, cand->n, NULL, 0);
}

/* acc = acc followed by b; b is consumed. */
static void
info_concat(struct litinfo *acc, struct litinfo *b)
{
	struct lit mid = { NULL, 0 };

	if (acc->exact && b->exact) {
		lit_set(&acc->str, acc->str.p, acc->str.n, b->str.p, b->str.n);
		lit_set(&acc->best, acc->str.p, acc->str.n, NULL, 0);
	} else if (acc->exact) {
		lit_set(&acc->pre, acc->str.p, acc->str.n, b->pre.p, b->pre.n);
		lit_set(&acc->suf, b->suf.p, b->suf.n, NULL, 0);
		lit_set(&acc->best, b->best.p, b->best.n, NULL, 0);
		best_of(&acc->best, &acc->pre);
		lit_free(&acc->str);
		acc->exact = 0;
	} else if (b->exact) {
		lit_set(&acc->suf, acc->suf.p, acc->suf.n, b->str.p, b->str.n);
		best_of(&acc->best, &acc->suf);
	} else {
		lit_set(&mid, acc->suf.p, acc->suf.n, b->pre.p, b->pre.n);
		best_of(&acc->best, &mid);
		best_of(&acc->best, &b->best);
		lit_set(&acc->suf, b->suf.p, b->suf.n, NULL, 0);
		lit_free(&mid);
	}
	info_free(b);
}

static int
is_quant(const struct lex *lx)
{
	return lx->p < lx->end &&
	    (*lx->p == '*' || *lx->p == '+' || *lx->p == '?' || *lx->p == '{');
}

/* Consume the quantifiers after an atom; returns the minimum repeat count
 * (0 or 1 is all that matters) or -1 when there was no quantifier. */
static int
eat_quantifiers(struct lex *lx)
{
	int min = -1;
	int prev_simple = 0;

	while (is_quant(lx)) {
		char c = *lx->p++;

		if (c == '?' && prev_simple) {
			prev_simple = 0;	/* *? +? ?? : minimal, same count */
			continue;
		}
		if (c == '{') {
			long m = 0;
			int digits = 0;

			while (lx->p < lx->end && isdigit((unsigned char)*lx->p)) {
				if (m < 1000)
					m = m * 10 + (*lx->p - '0');
				lx->p++;
				digits++;
			}
			while (lx->p < lx->end && *lx->p != '}')
				lx->p++;
			if (lx->p >= lx->end) {
				lx->abort = 1;
				return 0;
			}
			lx->p++;
			if (!digits)
				m = 0;
			if (min < 0 || m < min)
				min = m > 1 ? 1 : (int)m;
			prev_simple = 0;
			continue;
		}
		int m = c == '+' ? 1 : 0;
		if (min < 0 || m < min)
			min = m;
		prev_simple = 1;
	}
	return min;
}

static void parse_alt(struct lex *lx, struct litinfo *out);

/* A bracket expression, lx->p just after '['. A bracket that holds one
 * plain character, like [.] or []], is that literal. */
static void
parse_bracket(struct lex *lx, struct litinfo *out)
{
	const char *start;
	int neg = 0;

	info_nonlit(out);
	if (lx->p < lx->end && *lx->p == '^') {
		neg = 1;
		lx->p++;
	}
	start = lx->p;
	if (lx->p < lx->end && *lx->p == ']')
		lx->p++;
	while (lx->p < lx->end && *lx->p != ']') {
		if (*lx->p == '\\') {
			/* POSIX says literal, other engines disagree:
			 * do not guess. */
			lx->abort = 1;
			return;
		}
		if (*lx->p == '[' && lx->p + 1 < lx->end &&
		    (lx->p[1] == ':' || lx->p[1] == '.' || lx->p[1] == '=')) {
			char close = lx->p[1];

			/* TRE ends the name at the first ':' and skips the
			 * byte after it, ']' or not: only "[:name:]" reads
			 * the same both ways. */
			lx->p += 2;
			while (lx->p < lx->end && *lx->p != close)
				lx->p++;
			if (lx->p + 1 >= lx->end || lx->p[1] != ']') {
				lx->abort = 1;
				return;
			}
			lx->p += 2;
			start = NULL;	/* a class: not one literal */
			continue;
		}
		lx->p++;
	}
	if (lx->p >= lx->end) {
		lx->abort = 1;
		return;
	}
	if (!neg && start != NULL && lx->p - start == 1 &&
	    !((unsigned char)*start & 0x80))
		info_exact(out, start, 1);
	lx->p++;		/* ']' */
}

/* One atom and its quantifiers. */
static void
parse_piece(struct lex *lx, struct litinfo *out)
{
	unsigned char c = (unsigned char)*lx->p;
	int min;

	info_nonlit(out);
	switch (c) {
	case '(':
		lx->p++;
		if (lx->p < lx->end && *lx->p == '?') {
			/* TRE extensions (?i) etc. change what follows */
			lx->abort = 1;
			return;
		}
		if (++lx->depth > 64) {
			lx->abort = 1;
			return;
		}
		parse_alt(lx, out);
		lx->depth--;
		if (lx->abort)
			return;
		if (lx->p >= lx->end || *lx->p != ')') {
			lx->abort = 1;
			return;
		}
		lx->p++;
		break;
	case '[':
		lx->p++;
		parse_bracket(lx, out);
		if (lx->abort)
			return;
		break;
	case '\\':
		if (lx->p + 1 >= lx->end) {
			lx->abort = 1;
			return;
		}
		c = (unsigned char)lx->p[1];
		if (c == 'Q') {	/* TRE: literal mode until the end */
			lx->abort = 1;
			return;
		}
		lx->p += 2;
		/* \xHH and \x{H...}: TRE reads up to two hex digits, or up
		 * to the '}', as one byte (found by fuzz-prefilter: "\xA"
		 * gave the prefilter "A") */
		if (c == 'x' && lx->p < lx->end && *lx->p == '{') {
			while (lx->p < lx->end && *lx->p != '}')
				lx->p++;
			if (lx->p >= lx->end) {
				lx->abort = 1;
				return;
			}
			lx->p++;
		} else if (c == 'x') {
			for (int i = 0; i < 2 && lx->p < lx->end &&
			    isxdigit((unsigned char)*lx->p); i++)
				lx->p++;
		}
		/* Letters and digits are classes, assertions, hex escapes or
		 * back-references; \< \> \` \' are assertions elsewhere. Any
		 * other escaped byte is itself. */
		if (c >= 0x80 || isalnum(c) || c == '<' || c == '>' ||
		    c == '`' || c == '\'')
			info_nonlit(out);
		else
			info_exact(out, (const char *)&lx->p[-1], 1);
		break;
	case '^':
	case '$':
		lx->p++;
		info_exact(out, "", 0);	/* zero width */
		break;
	case '.':
		lx->p++;
		break;
	case '*':
	case '+':
	case '?':
	case '{':
		lx->abort = 1;	/* not where an atom can be: do not guess */
		return;
	default:
		lx->p++;
		if (c & 0x80)	/* may be part of a multibyte character */
			break;
		info_exact(out, (const char *)&lx->p[-1], 1);
		break;
	}

	min = eat_quantifiers(lx);
	if (lx->abort || min < 0)
		return;
	if (min == 0) {
		info_free(out);
		info_nonlit(out);
		return;
	}
	if (out->exact) {
		/* X+ starts and ends with X, but is not X */
		lit_set(&out->pre, out->str.p, out->str.n, NULL, 0);
		lit_set(&out->suf, out->str.p, out->str.n, NULL, 0);
		lit_free(&out->str);
		out->exact = 0;
	}
}

static void
parse_seq(struct lex *lx, struct litinfo *out)
{
	struct litinfo piece;

	info_exact(out, "", 0);
	while (!lx->abort && lx->p < lx->end && *lx->p != '|' && *lx->p != ')') {
		parse_piece(lx, &piece);
		info_concat(out, &piece);
	}
}

static void
parse_alt(struct lex *lx, struct litinfo *out)
{
	struct litinfo other;

	parse_seq(lx, out);
	if (lx->abort || lx->p >= lx->end || *lx->p != '|')
		return;
	while (!lx->abort && lx->p < lx->end && *lx->p == '|') {
		lx->p++;
		parse_seq(lx, &other);
		info_free(&other);
	}
	info_free(out);
	info_nonlit(out);
}

size_t
rules_literal(const char *pattern, char *out, size_t outsize)
{
	struct lex lx = { pattern, pattern + strlen(pattern), 0, 0 };
	struct litinfo top;
	size_t n = 0;

	parse_alt(&lx, &top);
	if (lx.p != lx.end)	/* an unbalanced ')' */
		lx.abort = 1;
	if (!lx.abort && top.best.n > 0)
		n = top.best.n;
	if (outsize > 0) {
		size_t k = n < outsize - 1 ? n : outsize - 1;

		if (k)
			memcpy(out, top.best.p, k);
		out[k] = '\0';
	}
	info_free(&top);
	return n;
}

/* ------------------------------------------------------------------ */
/* The set. */

static void
words_free(struct word *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(w[i].s);
	free(w);
}

static void
rule_free(struct rule *r)
{
	if (r == NULL)
		return;
	free(r->name);
	words_free(r->programs, r->nprograms);
	words_free(r->hosts, r->nhosts);
	free(r->pattern);
	if (r->compiled)
		tre_regfree(&r->re);
	free(r->req_id);
	free(r->req_name);
	free(r->req_value);
	free(r->prefilter);
	free(r->correlate);
	free(r);
}

void
rules_free(struct rule_set *rs)
{
	if (rs == NULL)
		return;
	for (size_t i = 0; i < rs->n; i++)
		rule_free(rs->rules[i]);
	free(rs->rules);
	for (size_t i = 0; i < rs->nfiles; i++)
		free(rs->files[i]);
	free(rs->files);
	for (size_t i = 0; i < rs->nslots; i++)
		free(rs->slots[i].rules);
	free(rs->slots);
	free(rs->glob_rules);
	free(rs);
}

size_t
rules_count(const struct rule_set *rs)
{
	return rs ? rs->n : 0;
}

const struct rule *
rules_get(const struct rule_set *rs, size_t i)
{
	return rs && i < rs->n ? rs->rules[i] : NULL;
}

size_t rule_index(const struct rule *r) { return r->index; }
const char *rule_name(const struct rule *r) { return r->name; }
const char *rule_file(const struct rule *r) { return r->file; }
int rule_line(const struct rule *r) { return r->line; }
const char *rule_pattern(const struct rule *r) { return r->pattern; }

const char *
rule_prefilter(const struct rule *r)
{
	return r->prefilter ? r->prefilter : "";
}

enum rule_action
rule_action(const struct rule *r)
{
	return r->action;
}

const char *
rule_action_name(enum rule_action a)
{
	switch (a) {
	case RULE_ALLOW:	return "allow";
	case RULE_LOGOUT:	return "logout";
	case RULE_REVOKE:	return "revoke";
	case RULE_REMEMBER:	return "remember";
	}
	return "?";
}

const char *
rule_correlate(const struct rule *r)
{
	return r->correlate;
}

const char *
rule_miss_str(enum rule_miss why)
{
	switch (why) {
	case RULE_MISS_NONE:		return "matched";
	case RULE_MISS_PROGRAM:		return "program not listed";
	case RULE_MISS_HOST:		return "host not listed";
	case RULE_MISS_REQUIRE:		return "required structured data absent";
	case RULE_MISS_PREFILTER:	return "literal prefilter absent";
	case RULE_MISS_REGEX:		return "pattern did not match";
	case RULE_MISS_CAPTURE:		return "address capture empty or too long";
	}
	return "?";
}

/* ------------------------------------------------------------------ */
/* Matching: no allocation, nothing written outside *m. */

static int
word_match(const struct word *w, size_t nw, const struct slice *s, int fold)
{
	char buf[FIELD_MAX];
	int have_buf = 0;

	if (s->p == NULL || s->n == 0)
		return 0;
	for (size_t i = 0; i < nw; i++) {
		if (!w[i].glob) {
			if (w[i].n != s->n)
				continue;
			if (fold ? strncasecmp(w[i].s, s->p, s->n) == 0 :
			    memcmp(w[i].s, s->p, s->n) == 0)
				return 1;
			continue;
		}
		if (!fold && w[i].litn > 0 &&
		    memmem(s->p, s->n, w[i].lit, w[i].litn) == NULL)
			continue;
		if (!have_buf) {
			/* fnmatch wants a C string; a field with a NUL
			 * or too long for the buffer matches no glob */
			if (s->n >= sizeof(buf) || memchr(s->p, '\0', s->n))
				continue;
			memcpy(buf, s->p, s->n);
			buf[s->n] = '\0';
			have_buf = 1;
		}
		if (fnmatch(w[i].s, buf, fold ? FNM_CASEFOLD : 0) == 0)
			return 1;
	}
	return 0;
}

static size_t
copy_group(char *dst, size_t dstsize, const char *base, const regmatch_t *g)
{
	size_t n;

	if (g->rm_so < 0 || g->rm_eo < g->rm_so) {
		dst[0] = '\0';
		return 0;
	}
	n = (size_t)(g->rm_eo - g->rm_so);
	if (n > dstsize - 1)
		n = dstsize - 1;
	memcpy(dst, base + g->rm_so, n);
	dst[n] = '\0';
	return (size_t)(g->rm_eo - g->rm_so);
}

/* The session key of a match, "" when the rule has none: the captured
 * text, or "APP[PID]" for `session = pid` (a message without PROCID has
 * no session: it counts as a plain login, or a logout by address). */
static void
session_key(const struct rule *r, const struct syslog_msg *msg,
    const char *text, const regmatch_t *pm, struct rule_match *m)
{
	m->session[0] = '\0';
	m->session_pid = r->session_pid;
	if (r->session_pid && msg->procid.n > 0)
		snprintf(m->session, sizeof(m->session), "%.*s[%.*s]",
		    (int)msg->app_name.n, msg->app_name.n ? msg->app_name.p : "",
		    (int)msg->procid.n, msg->procid.p);
	else if (r->session_group > 0)
		copy_group(m->session, sizeof(m->session), text,
		    &pm[r->session_group]);
}

enum rule_miss
rule_try(const struct rule *r, const struct syslog_msg *msg,
    struct rule_match *m)
{
	regmatch_t pm[RULE_GROUP_MAX + 1];
	const char *text = msg->msg.p ? msg->msg.p : "";
	size_t len = msg->msg.p ? msg->msg.n : 0;
	const regmatch_t *a;

	/* rsyslog's RFC 5424 templates put an extra space before MSG; patterns
	 * anchored at ^ must not depend on the forwarder's template. */
	while (len > 0 && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	if (!word_match(r->programs, r->nprograms, &msg->app_name, 0))
		return RULE_MISS_PROGRAM;
	if (r->nhosts > 0 && !word_match(r->hosts, r->nhosts, &msg->hostname, 1))
		return RULE_MISS_HOST;
	if (r->req_name != NULL) {
		if (r->req_value == NULL) {
			if (syslog_sd_param(msg, r->req_id, r->req_name,
			    NULL, 0) < 0)
				return RULE_MISS_REQUIRE;
		} else {
			char val[RULE_SDVALUE_MAX + 1];
			int n = syslog_sd_param(msg, r->req_id, r->req_name,
			    val, sizeof(val));

			if (n < 0 || (size_t)n != r->req_value_len ||
			    memcmp(val, r->req_value, r->req_value_len) != 0)
				return RULE_MISS_REQUIRE;
		}
	}
	if (r->prefilter_len > 0 &&
	    memmem(text, len, r->prefilter, r->prefilter_len) == NULL)
		return RULE_MISS_PREFILTER;
	/* TRE's `$` holds before a NUL byte (it reads NUL as the end of the
	 * string), so "...rip=6.6.6.6\0, lip=..." would end an anchored
	 * pattern early and let text before the NUL pass as the whole line.
	 * No server logs a NUL inside a login line: never a match. */
	if (memchr(text, '\0', len) != NULL)
		return RULE_MISS_REGEX;
	if (tre_regnexec(&r->re, text, len, (size_t)r->max_group + 1, pm, 0)
	    != REG_OK)
		return RULE_MISS_REGEX;

	/* A logout that names neither an address nor a session (`session =
	 * pid` on a message without PROCID, an empty key) closes nothing. */
	if (r->addr_group == 0 && r->correlate == NULL &&
	    (r->session_pid ? msg->procid.n == 0 :
	    pm[r->session_group].rm_so < 0 ||
	    pm[r->session_group].rm_eo <= pm[r->session_group].rm_so))
		return RULE_MISS_CAPTURE;
	if (r->addr_group > 0) {
		a = &pm[r->addr_group];
		if (a->rm_so < 0 || a->rm_eo <= a->rm_so ||
		    (size_t)(a->rm_eo - a->rm_so) > RULE_ADDR_MAX - 1)
			return RULE_MISS_CAPTURE;
		copy_group(m->address, sizeof(m->address), text, a);
	} else {
		m->address[0] = '\0';	/* correlate: from another line */
	}
	if (r->user_group > 0)
		copy_group(m->user, sizeof(m->user), text, &pm[r->user_group]);
	else
		m->user[0] = '\0';
	session_key(r, msg, text, pm, m);
	if (r->pair_group > 0)
		copy_group(m->pair_key, sizeof(m->pair_key), text,
		    &pm[r->pair_group]);
	else
		m->pair_key[0] = '\0';
	m->has_pair_key = r->pair_group > 0;
	m->rule = r;
	m->action = r->action;
	m->ttl = r->ttl;
	m->correlate = r->correlate;
	return RULE_MISS_NONE;
}

/* The slot of program `p`, or the empty slot where it would go. */
static struct program_slot *
program_slot(const struct rule_set *rs, const char *p, size_t n)
{
	size_t i = (size_t)fnv1a(p, n) & (rs->nslots - 1);

	while (rs->slots[i].name != NULL &&
	    (rs->slots[i].n != n || memcmp(rs->slots[i].name, p, n) != 0))
		i = (i + 1) & (rs->nslots - 1);
	return &rs->slots[i];
}

/* Rules in load order, as if each were tried in turn: those naming the
 * program merged with those that have a glob. */
int
rules_match(const struct rule_set *rs, const struct syslog_msg *msg,
    struct rule_match *m)
{
	static const struct program_slot none;
	const struct program_slot *ps = &none;
	size_t i = 0, j = 0;

	if (rs == NULL || msg->app_name.n == 0)
		return 0;
	if (rs->nslots > 0)
		ps = program_slot(rs, msg->app_name.p, msg->app_name.n);
	while (i < ps->nrules || j < rs->nglob) {
		size_t next;

		if (j == rs->nglob || (i < ps->nrules &&
		    ps->rules[i] <= rs->glob_rules[j])) {
			next = ps->rules[i++];
			if (j < rs->nglob && rs->glob_rules[j] == next)
				j++;
		} else {
			next = rs->glob_rules[j++];
		}
		if (rule_try(rs->rules[next], msg, m) == RULE_MISS_NONE)
			return 1;
	}
	return 0;
}

static void
index_add(size_t **v, size_t *n, size_t rule)
{
	if (*n > 0 && (*v)[*n - 1] == rule)
		return;		/* a word repeated in one rule */
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = rule;
}

static void
build_program_index(struct rule_set *rs)
{
	size_t words = 0;

	for (size_t i = 0; i < rs->n; i++)
		words += rs->rules[i]->nprograms;
	for (rs->nslots = 16; rs->nslots < 2 * words; rs->nslots *= 2)
		;
	rs->slots = xcalloc(rs->nslots, sizeof(*rs->slots));
	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *r = rs->rules[i];

		for (size_t k = 0; k < r->nprograms; k++) {
			const struct word *w = &r->programs[k];
			struct program_slot *ps;

			if (w->glob) {
				index_add(&rs->glob_rules, &rs->nglob, i);
				continue;
			}
			ps = program_slot(rs, w->s, w->n);
			ps->name = w->s;
			ps->n = w->n;
			index_add(&ps->rules, &ps->nrules, i);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Loading. */

enum key {
	K_PROGRAM, K_MATCH, K_ADDRESS, K_USER, K_SESSION, K_ACTION, K_HOST,
	K_TTL, K_REQUIRE, K_CORRELATE, K_KEY, K_NKEYS
};

static const char *const key_names[K_NKEYS] = {
	"program", "match", "address", "user", "session", "action", "host",
	"ttl", "require", "correlate", "key",
};

struct loader {
	struct rule_set *rs;
	const char *path;	/* as given: used in messages */
	const char *file;	/* the set's copy */
	int lineno;
	struct rule *cur;
	int keyline[K_NKEYS];	/* 0: not seen in this stanza */
	struct errbuf *err;
};

#define FAIL(ld, line, ...) do { \
	char msg_[sizeof((ld)->err->text)]; \
	snprintf(msg_, sizeof(msg_), __VA_ARGS__); \
	errbuf_set((ld)->err, "%s:%d: %s", (ld)->path, (line), msg_); \
	return -1; \
} while (0)

static int
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

static int
split_words(const char *v, struct word **out, size_t *nout)
{
	struct word *w = NULL;
	size_t n = 0;

	while (*v) {
		const char *s;

		while (is_space((unsigned char)*v))
			v++;
		if (!*v)
			break;
		s = v;
		while (*v && !is_space((unsigned char)*v))
			v++;
		w = xrealloc(w, (n + 1) * sizeof(*w));
		w[n].s = xstrndup(s, (size_t)(v - s));
		w[n].n = (size_t)(v - s);
		w[n].glob = strpbrk(w[n].s, "*?[") != NULL;
		w[n].lit = NULL;
		w[n].litn = 0;
		for (const char *q = w[n].s; w[n].glob && *q; ) {
			size_t run = strcspn(q, "*?[\\");

			if (run > w[n].litn) {
				w[n].lit = q;
				w[n].litn = run;
			}
			q += run;
			if (*q == '[')	/* a bracket expression: skip it */
				q += strcspn(q, "]");
			if (*q)
				q++;
		}
		n++;
	}
	*out = w;
	*nout = n;
	return n > 0 ? 0 : -1;
}

static int
valid_sdname(const char *s, size_t n)
{
	if (n == 0 || n > RULE_SDNAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 33 || c > 126 || c == '=' || c == ']' || c == '"')
			return 0;
	}
	return 1;
}

static int
set_require(struct loader *ld, struct rule *r, const char *v)
{
	const char *eq = strchr(v, '=');
	size_t namepart = eq ? (size_t)(eq - v) : strlen(v);
	const char *colon = NULL;

	for (size_t i = 0; i < namepart; i++)
		if (v[i] == ':')
			colon = v + i;
	if (colon == NULL)
		FAIL(ld, ld->lineno, "`require = %s`: write SD-ID:PARAM, "
		    "SD-ID:PARAM=VALUE or *:PARAM", v);
	if (!(colon - v == 1 && v[0] == '*') &&
	    !valid_sdname(v, (size_t)(colon - v)))
		FAIL(ld, ld->lineno, "`require`: bad SD-ID \"%.*s\" (1-%d "
		    "printable characters, no = ] \" or space)",
		    (int)(colon - v), v, RULE_SDNAME_MAX);
	if (!valid_sdname(colon + 1, namepart - (size_t)(colon - v) - 1))
		FAIL(ld, ld->lineno, "`require`: bad PARAM-NAME \"%.*s\" (1-%d "
		    "printable characters, no = ] \" or space)",
		    (int)(namepart - (size_t)(colon - v) - 1), colon + 1,
		    RULE_SDNAME_MAX);
	if (eq && strlen(eq + 1) > RULE_SDVALUE_MAX)
		FAIL(ld, ld->lineno, "`require`: value longer than %d bytes",
		    RULE_SDVALUE_MAX);
	if (!(colon - v == 1 && v[0] == '*'))
		r->req_id = xstrndup(v, (size_t)(colon - v));
	r->req_name = xstrndup(colon + 1, namepart - (size_t)(colon - v) - 1);
	if (eq) {
		r->req_value = xstrdup(eq + 1);
		r->req_value_len = strlen(eq + 1);
	}
	return 0;
}

static int
set_group(struct loader *ld, const char *key, const char *v, int *out)
{
	long g = 0;

	for (const char *p = v; *p; p++) {
		if (!isdigit((unsigned char)*p) || g > RULE_GROUP_MAX)
			goto bad;
		g = g * 10 + (*p - '0');
	}
	if (g < 1 || g > RULE_GROUP_MAX)
		goto bad;
	*out = (int)g;
	return 0;
bad:
	FAIL(ld, ld->lineno, "`%s = %s`: want a capture group number, 1-%d",
	    key, v, RULE_GROUP_MAX);
}

/* Checks made before TRE sees a pattern, for what TRE 0.8 (Debian's
 * libtre5) mishandles. Each was found by t/fuzz or read in tre-parse.c:
 *  - a ')' that closes no '(' (POSIX leaves it undefined; TRE takes a
 *    lone one as a literal, but after an escaped backslash, "\\)", its
 *    parser loops allocating until malloc fails);
 *  - a bracket expression that is not closed ("[[:alpha:" makes
 *    tre_regcomp read past the end of the pattern);
 *  - braces that are not a repetition count {n}, {n,}, {,m} or {n,m}:
 *    TRE's approximate matching ("x{~1}{2}", "x{3+}{2}") crashes
 *    tre_regcomp, which would take authsinkd down on SIGHUP;
 *  - "\x{...}" with more than 8 hex digits (overflows a 32-byte buffer),
 *    or above ff: TRE stores the value as an int, and the negative ones
 *    are its internal codes ("\x{fffffffb}" crashes tre_regcomp); and
 *    authsinkd matches bytes, so nothing above ff could match anyway;
 *  - a pattern that repetition counts expand to more than
 *    RULE_POSITIONS_MAX positions: TRE copies the repeated piece that
 *    often and links the copies pairwise, so "((x{100}){100}){100}"
 *    takes half a gigabyte and "((a*b*){99}){10}" three seconds;
 *  - more than RULE_OPS_MAX groups, alternatives and repetition
 *    operators: each may add a tag, and TRE's matcher takes
 *    8 * positions * tags bytes of stack (alloca) on every match, so
 *    "((a|b)(a|b)...){99}" compiles but crashes the first match.
 * Returns NULL, or what is wrong with *at set to its offset. NULL also
 * when TRE itself refuses the pattern cleanly at the place the walk stops.
 *
 * The walk reads the pattern as TRE's parser does (tre_parse(),
 * tre_parse_bracket_items(), tre_parse_bound()): "\Q" makes the rest
 * literal up to the first "\E"; "(?#" starts a comment that ends at the
 * first ')'; "(?flags)" opens no group; in a bracket expression a range
 * "a-z" is read before a class, "[:name:" ends at the first ':' and TRE
 * skips the byte after it unread. */
#define RULE_POSITIONS_MAX 1000
#define RULE_OPS_MAX 200
#define RULE_DEPTH_MAX 64

static const char *
pattern_problem(const char *v, long *at)
{
	/* positions so far in each open group, the outermost at [0] */
	long long size[RULE_DEPTH_MAX + 1];
	long long last = 0;	/* positions of the piece just read */
	long long total;
	int depth = 0, ops = 0;

	size[0] = 0;
	for (const char *p = v; *p; p++) {
		*at = (long)(p - v);
		if (*p == '\\' && p[1] == 'Q') {
			const char *e = strstr(p + 2, "\\E");

			/* literal bytes; a quantifier after \E has no atom */
			size[depth] += (e ? e : p + strlen(p)) - (p + 2);
			last = 0;
			if (e == NULL)
				break;
			p = e + 1;
		} else if (*p == '\\' && p[1] == 'x' && p[2] == '{') {
			const char *q = p + 3;
			unsigned long val = 0;

			for (; isxdigit((unsigned char)*q); q++)
				if ((val = val * 16 + (unsigned long)(isdigit(
				    (unsigned char)*q) ? *q - '0' :
				    (tolower((unsigned char)*q) - 'a' + 10))) > 0xff)
					val = 0x100;
			/* TRE copies every hex digit before it looks for
			 * the '}': count them first */
			if (q - (p + 3) > 8)
				return "\\x{...} with more than 8 hex digits";
			if (*q != '}')
				return NULL;	/* TRE: REG_EBRACE */
			if (val > 0xff)
				return "\\x{...} above ff (patterns match bytes)";
			p = q;
			last = 1;
			size[depth]++;
		} else if (*p == '\\') {
			if (p[1] == '\0')
				return NULL;	/* TRE: REG_EESCAPE */
			p++;
			last = 1;	/* \x41: the digits count as atoms */
			size[depth]++;
		} else if (*p == '[') {
			const char *open = p++, *first;

			if (*p == '^')
				p++;
			first = p;
			for (;;) {
				if (*p == '\0') {
					*at = (long)(open - v);
					return "Missing ']' for the '['";
				}
				if (*p == ']' && p > first)
					break;
				if (p[1] == '-' && p[2] != '\0' && p[2] != ']') {
					p += 3;		/* a range */
				} else if (*p == '[' &&
				    (p[1] == '.' || p[1] == '=')) {
					return NULL;	/* TRE: REG_ECOLLATE */
				} else if (*p == '[' && p[1] == ':') {
					const char *c = strchr(p + 2, ':');

					if (c == NULL)
						return NULL;	/* REG_ECTYPE */
					if (c[1] == '\0') {
						*at = (long)(open - v);
						return "Missing ']' for the '['";
					}
					p = c + 2;
				} else {
					p++;
				}
			}
			last = 1;
			size[depth]++;
		} else if (*p == '(' && p[1] == '?') {
			const char *q = p + 2;

			while (*q != '\0' && strchr("inrU-", *q) != NULL)
				q++;
			if (*q == '#') {	/* a comment */
				if ((q = strchr(q, ')')) == NULL)
					return NULL;	/* TRE: REG_BADPAT */
				p = q;
				last = 0;
				continue;
			}
			if (*q == ')') {	/* flags for the rest */
				p = q;
				last = 0;
				continue;
			}
			if (*q != ':')
				return NULL;		/* TRE: REG_BADPAT */
			if (depth == RULE_DEPTH_MAX)
				return "groups nested too deep";
			p = q;
			size[++depth] = 0;
			last = 0;
			ops++;
		} else if (*p == '(') {
			if (depth == RULE_DEPTH_MAX)
				return "groups nested too deep";
			size[++depth] = 0;
			last = 0;
			ops++;
		} else if (*p == ')') {
			if (depth == 0)
				return "unmatched ')'";
			last = size[depth--];
			size[depth] += last;
		} else if (*p == '{') {
			long long n = 0, m = 0, copies;
			int n_digits = 0, m_digits = 0, comma = 0;

			for (p++; *p >= '0' && *p <= '9'; p++, n_digits++)
				if ((n = n * 10 + (*p - '0')) > RULE_POSITIONS_MAX)
					n = RULE_POSITIONS_MAX + 1;
			if (*p == ',') {
				comma = 1;
				for (p++; *p >= '0' && *p <= '9'; p++, m_digits++)
					if ((m = m * 10 + (*p - '0')) >
					    RULE_POSITIONS_MAX)
						m = RULE_POSITIONS_MAX + 1;
			}
			if (*p != '}')
				return "approximate matching or a `{` that is not "
				    "a repetition count {n}, {n,} or {n,m}";
			/* The copies tre_expand_ast() makes: n for {n}, n and
			 * a starred one for {n,}, m for {n,m}; TRE 0.8 reads
			 * {,m} as {-1,m}: m + 1 to be safe. */
			copies = !comma ? n : !m_digits ? n + 1 :
			    !n_digits ? m + 1 : m > n ? m : n;
			/* The piece is counted once already. An empty one
			 * counts as one: TRE copies its nodes all the same. */
			if (last == 0) {
				last = 1;
				size[depth]++;
			}
			size[depth] += last * (copies - 1);
			last *= copies;
			ops++;
		} else if (*p == '|') {
			last = 0;
			ops++;
		} else if (*p == '*' || *p == '+' || *p == '?') {
			ops++;
		} else {
			last = 1;
			size[depth]++;
		}
		total = 0;
		for (int i = 0; i <= depth; i++)
			total += size[i];
		if (total > RULE_POSITIONS_MAX)
			return "pattern too big: more than 1000 positions with "
			    "repetition counts expanded";
		if (ops > RULE_OPS_MAX)
			return "more than 200 groups, alternatives and "
			    "repetition operators";
	}
	return NULL;
}

static int
set_match(struct loader *ld, struct rule *r, const char *v)
{
	char lit[RULE_LINE_MAX + 1];
	long at = 0;
	const char *why = pattern_problem(v, &at);
	int rc;

	if (why != NULL)
		FAIL(ld, ld->lineno, "bad `match` pattern: %s at offset %ld%s",
		    why, at, why[0] == 'u' ?
		    " (write \\) for a literal parenthesis)" : "");
	rc = tre_regcomp(&r->re, v, REG_EXTENDED);
	if (rc != REG_OK) {
		char why[256];

		tre_regerror(rc, &r->re, why, sizeof(why));
		FAIL(ld, ld->lineno, "bad `match` pattern: %s", why);
	}
	r->compiled = 1;
	if (tre_have_backrefs(&r->re))
		FAIL(ld, ld->lineno, "bad `match` pattern: back-references "
		    "(\\1 ...) are not supported");
	if (tre_have_approx(&r->re))
		FAIL(ld, ld->lineno, "bad `match` pattern: approximate "
		    "matching ({~...}) is not supported");
	r->nsub = r->re.re_nsub;
	r->pattern = xstrdup(v);
	r->prefilter_len = rules_literal(v, lit, sizeof(lit));
	r->prefilter = xstrdup(lit);
	return 0;
}

/* Checks at the end of a stanza. */
static int
finish_rule(struct loader *ld)
{
	struct rule *r = ld->cur;
	static const enum key required[] = { K_PROGRAM, K_MATCH };
	struct { enum key k; int g; } groups[] = {
		{ K_ADDRESS, r->addr_group },
		{ K_USER, r->user_group },
		{ K_SESSION, r->session_group },
		{ K_KEY, r->pair_group },
	};

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!ld->keyline[required[i]])
			FAIL(ld, r->line, "rule [%s]: missing `%s`%s", r->name,
			    key_names[required[i]],
			    required[i] == K_PROGRAM ?
			    " (a rule must name the programs it trusts)" : "");
	if (r->correlate != NULL && ld->keyline[K_ADDRESS])
		FAIL(ld, ld->keyline[K_ADDRESS], "rule [%s]: `address` and "
		    "`correlate` together: a correlate rule takes its address "
		    "from the line of [%s]", r->name, r->correlate);
	if (r->correlate == NULL && !ld->keyline[K_ADDRESS] &&
	    !(r->action == RULE_LOGOUT && ld->keyline[K_SESSION]))
		FAIL(ld, r->line, "rule [%s]: missing `address` (or `correlate "
		    "= RULE` to take it from an earlier line of the same "
		    "process; a logout rule may name only its `session`)",
		    r->name);
	if (ld->keyline[K_KEY] && r->action != RULE_REMEMBER &&
	    r->correlate == NULL)
		FAIL(ld, ld->keyline[K_KEY], "rule [%s]: `key` pairs two lines: "
		    "only with `action = remember` or `correlate`", r->name);
	if (r->action == RULE_REVOKE && ld->keyline[K_SESSION])
		FAIL(ld, ld->keyline[K_SESSION], "rule [%s]: `action = revoke` "
		    "removes the address whatever its sessions: no `session`",
		    r->name);
	if (r->action == RULE_REMEMBER && (r->correlate != NULL ||
	    ld->keyline[K_SESSION]))
		FAIL(ld, ld->keyline[K_ACTION], "rule [%s]: `action = "
		    "remember` takes an address and nothing else: no `%s`",
		    r->name, r->correlate != NULL ? "correlate" : "session");
	r->max_group = 0;
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (groups[i].g > (int)r->nsub)
			FAIL(ld, ld->keyline[groups[i].k], "rule [%s]: `%s = %d` "
			    "but the pattern has %zu capture group%s", r->name,
			    key_names[groups[i].k], groups[i].g, r->nsub,
			    r->nsub == 1 ? "" : "s");
		if (groups[i].g > r->max_group)
			r->max_group = groups[i].g;
	}
	if (ld->rs->n == ld->rs->cap) {
		ld->rs->cap = ld->rs->cap ? 2 * ld->rs->cap : 16;
		ld->rs->rules = xrealloc(ld->rs->rules,
		    ld->rs->cap * sizeof(*ld->rs->rules));
	}
	r->index = ld->rs->n;
	ld->rs->rules[ld->rs->n++] = r;
	ld->cur = NULL;
	return 0;
}

static int
start_rule(struct loader *ld, char *line)
{
	char *end = strchr(line, ']');
	char *name = line + 1, *rest;
	struct rule *r;

	if (end == NULL)
		FAIL(ld, ld->lineno, "missing `]` in rule header");
	*end = '\0';
	name = str_trim(name);
	rest = end + 1;
	while (is_space((unsigned char)*rest))
		rest++;
	if (*rest && *rest != '#')
		FAIL(ld, ld->lineno, "text after `[%s]`", name);
	if (!*name || strlen(name) > RULE_NAME_MAX ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_.-") != strlen(name))
		FAIL(ld, ld->lineno, "bad rule name [%s]: use 1-%d letters, "
		    "digits, '_', '.' or '-'", name, RULE_NAME_MAX);
	for (size_t i = 0; i < ld->rs->n; i++)
		if (strcmp(ld->rs->rules[i]->name, name) == 0)
			FAIL(ld, ld->lineno, "duplicate rule name [%s] "
			    "(first at %s:%d)", name, ld->rs->rules[i]->file,
			    ld->rs->rules[i]->line);
	r = xcalloc(1, sizeof(*r));
	r->name = xstrdup(name);
	r->file = ld->file;
	r->line = ld->lineno;
	r->action = RULE_ALLOW;
	ld->cur = r;
	memset(ld->keyline, 0, sizeof(ld->keyline));
	return 0;
}

static int
set_key(struct loader *ld, char *line)
{
	char *eq = strchr(line, '=');
	char *key, *val;
	struct rule *r = ld->cur;
	int k;

	if (eq == NULL)
		FAIL(ld, ld->lineno, "expected `key = value` or `[rule-name]`");
	*eq = '\0';
	key = str_trim(line);
	val = eq + 1;
	for (k = 0; k < K_NKEYS; k++)
		if (strcmp(key, key_names[k]) == 0)
			break;
	if (k == K_NKEYS)
		FAIL(ld, ld->lineno, "unknown key `%s` (known: program, match, "
		    "address, user, session, action, host, ttl, require, "
		    "correlate, key)", key);
	if (r == NULL)
		FAIL(ld, ld->lineno, "`%s` outside a rule: start a stanza "
		    "with a [rule-name] line first", key);
	if (ld->keyline[k])
		FAIL(ld, ld->lineno, "rule [%s]: duplicate key `%s` (first at "
		    "line %d)", r->name, key, ld->keyline[k]);
	ld->keyline[k] = ld->lineno;
	if (k != K_MATCH) {
		/* inline comment: '#' at the start or after whitespace */
		for (char *p = val; *p; p++)
			if (*p == '#' && (p == val || is_space((unsigned char)p[-1]))) {
				*p = '\0';
				break;
			}
	}
	val = str_trim(val);
	if (!*val)
		FAIL(ld, ld->lineno, "rule [%s]: `%s` has no value", r->name, key);

	switch ((enum key)k) {
	case K_PROGRAM:
		return split_words(val, &r->programs, &r->nprograms);
	case K_HOST:
		return split_words(val, &r->hosts, &r->nhosts);
	case K_MATCH:
		return set_match(ld, r, val);
	case K_ADDRESS:
		return set_group(ld, key, val, &r->addr_group);
	case K_USER:
		return set_group(ld, key, val, &r->user_group);
	case K_SESSION:
		if (strcmp(val, "pid") == 0) {
			r->session_pid = 1;
			return 0;
		}
		return set_group(ld, key, val, &r->session_group);
	case K_ACTION:
		if (strcmp(val, "allow") == 0)
			r->action = RULE_ALLOW;
		else if (strcmp(val, "logout") == 0)
			r->action = RULE_LOGOUT;
		else if (strcmp(val, "revoke") == 0)
			r->action = RULE_REVOKE;
		else if (strcmp(val, "remember") == 0)
			r->action = RULE_REMEMBER;
		else
			FAIL(ld, ld->lineno, "rule [%s]: bad action `%s` (allow, "
			    "logout, revoke or remember)", r->name, val);
		return 0;
	case K_TTL:
		if (parse_duration(val, &r->ttl) < 0 || r->ttl <= 0)
			FAIL(ld, ld->lineno, "rule [%s]: bad ttl `%s` (a positive "
			    "duration like 30m, 2h, 1d)", r->name, val);
		return 0;
	case K_REQUIRE:
		return set_require(ld, r, val);
	case K_KEY:
		r->key_line = ld->lineno;
		return set_group(ld, key, val, &r->pair_group);
	case K_CORRELATE:
		r->correlate = xstrdup(val);
		r->correlate_line = ld->lineno;
		return 0;
	case K_NKEYS:
		break;
	}
	return 0;
}

static int
load_file(struct rule_set *rs, const char *path, struct errbuf *err)
{
	struct loader ld = { .rs = rs, .path = path, .err = err };
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	int rc = 0;

	f = fopen(path, "r");
	if (f == NULL) {
		errbuf_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (rs->nfiles == rs->capfiles) {
		rs->capfiles = rs->capfiles ? 2 * rs->capfiles : 8;
		rs->files = xrealloc(rs->files, rs->capfiles * sizeof(*rs->files));
	}
	rs->files[rs->nfiles++] = xstrdup(path);
	ld.file = rs->files[rs->nfiles - 1];

	errno = 0;
	while ((got = getline(&line, &cap, f)) >= 0) {
		size_t len = (size_t)got;
		char *p;

		ld.lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (len > RULE_LINE_MAX) {
			errbuf_set(err, "%s:%d: line too long (%zu bytes, at "
			    "most %d)", path, ld.lineno, len, RULE_LINE_MAX);
			rc = -1;
			break;
		}
		if (memchr(line, '\0', len) != NULL) {
			errbuf_set(err, "%s:%d: NUL byte in line", path,
			    ld.lineno);
			rc = -1;
			break;
		}
		p = line;
		if (ld.lineno == 1 && strncmp(p, "\xef\xbb\xbf", 3) == 0)
			p += 3;		/* UTF-8 BOM */
		while (is_space((unsigned char)*p))
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		if (*p == '[') {
			if (ld.cur != NULL && finish_rule(&ld) < 0) {
				rc = -1;
				break;
			}
			if (start_rule(&ld, p) < 0) {
				rc = -1;
				break;
			}
			continue;
		}
		if (set_key(&ld, p) < 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		errbuf_set(err, "%s: read error: %s", path, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && ld.cur != NULL && finish_rule(&ld) < 0)
		rc = -1;
	rule_free(ld.cur);	/* a stanza that failed its checks */
	free(line);
	fclose(f);
	return rc;
}

/* Every `correlate = NAME` must name a remember rule of the set; files
 * may refer to each other, so this waits until all are loaded. */
static int
check_correlates(const struct rule_set *rs, struct errbuf *err)
{
	for (size_t i = 0; i < rs->n; i++) {
		const struct rule *r = rs->rules[i], *to = NULL;

		if (r->correlate == NULL)
			continue;
		for (size_t j = 0; j < rs->n && to == NULL; j++)
			if (strcmp(rs->rules[j]->name, r->correlate) == 0)
				to = rs->rules[j];
		if (to == NULL || to->action != RULE_REMEMBER) {
			errbuf_set(err, "%s:%d: rule [%s]: `correlate = %s` but "
			    "%s", r->file, r->correlate_line, r->name,
			    r->correlate, to == NULL ? "no rule has that name" :
			    "that rule is not `action = remember`");
			return -1;
		}
		if ((r->pair_group > 0) != (to->pair_group > 0)) {
			errbuf_set(err, "%s:%d: rule [%s]: pairs with [%s], so "
			    "both need a `key` or neither ([%s] is at %s:%d)", r->file,
			    r->pair_group > 0 ? r->key_line : r->correlate_line,
			    r->name, to->name, to->name, to->file, to->line);
			return -1;
		}
	}
	return 0;
}

int
rules_load_files(const char *const *paths, size_t npaths,
    struct rule_set **out, struct errbuf *err)
{
	struct rule_set *rs = xcalloc(1, sizeof(*rs));

	*out = NULL;
	for (size_t i = 0; i < npaths; i++) {
		if (load_file(rs, paths[i], err) < 0) {
			rules_free(rs);
			return -1;
		}
	}
	if (check_correlates(rs, err) < 0) {
		rules_free(rs);
		return -1;
	}
	build_program_index(rs);
	*out = rs;
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
rules_load_dir(const char *dir, struct rule_set **out, struct errbuf *err)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	d = opendir(dir);
	if (d == NULL) {
		errbuf_set(err, "rules directory %s: %s", dir, strerror(errno));
		return -1;
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		/* *.rules, but not hidden files (editor backups, .rules) */
		if (de->d_name[0] == '.' || len <= 6 ||
		    strcmp(de->d_name + len - 6, ".rules") != 0)
			continue;
		names = xrealloc(names, (n + 1) * sizeof(*names));
		names[n] = xmalloc(strlen(dir) + 1 + len + 1);
		sprintf(names[n], "%s/%s", dir, de->d_name);
		n++;
		errno = 0;
	}
	if (errno != 0) {
		errbuf_set(err, "rules directory %s: %s", dir, strerror(errno));
		rc = -1;
	} else {
		qsort(names, n, sizeof(*names), cmp_str);
		rc = rules_load_files((const char *const *)names, n, out, err);
	}
	closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}
