/* fuzz-rules.c - libFuzzer target for rule matching with the shipped rules.
 *
 * The rules in rules.d/ (AUTHSINK_FUZZ_RULES overrides the directory) are
 * loaded once. Byte 0 of the input picks the mode:
 *
 *  even: the rest is one syslog message, parsed by syslog_parse() and
 *        matched by rules_match(). A match must name an address that is a
 *        substring of the message text, in the field its rule reads
 *        (rip=..., [..], ip=[..], ") IP", " IP"), and rules_match() must
 *        agree with the first rule_try() that succeeds.
 *  odd:  forged-login mode. Byte 1 picks a server's real login line, the
 *        rest is what a client controls in it: the user name (control
 *        bytes become '?', as servers and syslog daemons escape them) and,
 *        after the first LF, the reverse-DNS host name (letters, digits,
 *        '.', '-', '_'). Whatever they hold, a match must record the real
 *        client address, never one written into the user or host name,
 *        and the user the rule reports must be the one the server logged.
 *
 * In both modes every rule that rejects the message on its literal
 * prefilter is re-run without it (the pattern compiled on its own): the
 * regex must not match, or the prefilter would lose logins. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tre/tre.h>

#include "addr.h"
#include "rules.h"
#include "syslog.h"

#ifndef RULES_DIR
#define RULES_DIR "rules.d"
#endif

#define REAL_ADDR "198.51.100.77"
#define NOW 1795586400		/* 2026-11-25T06:00:00Z */

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz-rules: check failed: %s (line %d)\n", #cond, \
	    __LINE__); abort(); } } while (0)

static struct rule_set *rs;
static regex_t *raw;		/* each rule's pattern without prefilter */
static size_t nrules;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("AUTHSINK_FUZZ_RULES");
	struct errbuf err;

	(void)argc;
	(void)argv;
	setenv("TZ", "UTC0", 1);
	tzset();
	if (rules_load_dir(dir ? dir : RULES_DIR, &rs, &err) < 0) {
		fprintf(stderr, "fuzz-rules: %s\n", err.text);
		exit(2);
	}
	nrules = rules_count(rs);
	if (nrules == 0) {
		fprintf(stderr, "fuzz-rules: no rules in %s\n", dir ? dir : RULES_DIR);
		exit(2);
	}
	raw = calloc(nrules, sizeof(*raw));
	for (size_t i = 0; i < nrules; i++)
		if (tre_regcomp(&raw[i], rule_pattern(rules_get(rs, i)),
		    REG_EXTENDED) != REG_OK)
			exit(2);
	return 0;
}

/* Where each shipped rule reads its address: text right before it and
 * what may follow it ("" = end of message). */
static const struct {
	const char *rule, *before, *after[3];
} fields[] = {
	{ "dovecot-login", "rip=", { ", lip=" } },
	{ "dovecot-login-process", "rip=", { ", lip=" } },
	{ "dovecot-login-0.99", " [", { "]" } },
	{ "courier-login", "ip=[", { "]" } },
	{ "cyrus-login", "[", { "] " } },
	{ "uw-imap-login", "[", { "]" } },
	{ "qpopper-login", ") ", { "", " [" } },
	{ "qpopper-stats", " ", { "", " [" } },
};

static int
at_field(const char *rule, const char *text, size_t len, const char *addr)
{
	size_t an = strlen(addr);

	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		if (strcmp(fields[f].rule, rule) != 0)
			continue;
		size_t bn = strlen(fields[f].before);
		for (size_t i = bn; i + an <= len; i++) {
			if (memcmp(text + i, addr, an) != 0 ||
			    memcmp(text + i - bn, fields[f].before, bn) != 0)
				continue;
			for (int k = 0; k < 3 && fields[f].after[k]; k++) {
				const char *a = fields[f].after[k];
				size_t n = strlen(a);
				if (n == 0 ? i + an == len :
				    i + an + n <= len && !memcmp(text + i + an, a, n))
					return 1;
			}
		}
		return 0;
	}
	return 1;	/* a rule we have no table for: only the substring check */
}

/* Match msg; returns the matching rule's index or -1, with *m filled. */
static int
match(const struct syslog_msg *msg, struct rule_match *m)
{
	const char *text = msg->msg.p ? msg->msg.p : "";
	size_t len = msg->msg.p ? msg->msg.n : 0;
	int first = -1;
	struct rule_match one;

	while (len > 0 && (*text == ' ' || *text == '\t')) {
		text++;
		len--;
	}
	for (size_t i = 0; i < nrules; i++) {
		enum rule_miss why = rule_try(rules_get(rs, i), msg, &one);

		CHECK(rule_miss_str(why) != NULL);
		if (why == RULE_MISS_PREFILTER) {
			regmatch_t pm[1];
			if (tre_regnexec(&raw[i], text, len, 0, pm, 0) == REG_OK) {
				fprintf(stderr, "fuzz-rules: rule %s: prefilter "
				    "\"%s\" rejects a message its pattern "
				    "matches\n", rule_name(rules_get(rs, i)),
				    rule_prefilter(rules_get(rs, i)));
				abort();
			}
		}
		if (why == RULE_MISS_NONE && first < 0)
			first = (int)i;
	}
	int got = rules_match(rs, msg, m);
	CHECK(got == (first >= 0));
	if (!got)
		return -1;
	CHECK(m->rule == rules_get(rs, (size_t)first));
	CHECK(m->action == rule_action(m->rule));
	CHECK(memchr(m->address, '\0', sizeof(m->address)) != NULL);
	CHECK(memchr(m->user, '\0', sizeof(m->user)) != NULL);
	CHECK(memchr(m->session, '\0', sizeof(m->session)) != NULL);
	size_t an = strlen(m->address);
	/* a correlate rule's address comes from another line */
	CHECK(m->correlate == rule_correlate(m->rule));
	if (m->correlate != NULL) {
		CHECK(an == 0);
		return first;
	}
	if (rule_match_by_session(m))
		return first;	/* a logout by session key: no address */
	CHECK(an > 0 && an < RULE_ADDR_MAX);
	CHECK(memmem(text, len, m->address, an) != NULL);
	if (!at_field(rule_name(m->rule), text, len, m->address)) {
		fprintf(stderr, "fuzz-rules: rule %s took \"%s\" from outside "
		    "its address field: %.*s\n", rule_name(m->rule),
		    m->address, (int)len, text);
		abort();
	}
	return first;
}

static void
raw_mode(const uint8_t *data, size_t size)
{
	struct syslog_msg msg;
	struct rule_match m;

	if (syslog_parse((const char *)data, size, NOW, &msg) != SYSLOG_OK)
		return;
	match(&msg, &m);
}

/* A server's login line: tag, then the body with %U (user), %H (host)
 * and %A (the real address). */
/* user_ok: the rule reports the user exactly. Not for Cyrus: its pattern
 * is not anchored after "User logged in" (Cyrus 3 appends SESSIONID=), so
 * a user name with spaces matches with its first word as the user, where
 * cyrus.rules promises no match. The address is right either way. */
static const struct {
	const char *tag, *body, *rule;
	int user_ok;
} tpl[] = {
	{ "dovecot[812]", "imap-login: Login: user=<%U>, method=PLAIN, rip=%A, "
	  "lip=192.0.2.1, mpid=4242, TLS, session=<aBcDeFgH1234>", "dovecot-session", 1 },
	{ "dovecot", "pop3-login: Logged in: user=<%U>, method=PLAIN, rip=%A, "
	  "lip=192.0.2.1, mpid=17, secured", "dovecot-login", 1 },
	{ "imap-login", "Info: Login: user=<%U>, method=PLAIN, rip=%A, "
	  "lip=192.0.2.1, mpid=16446, TLS, session=<cUtPpuctuQDAqAOM>",
	  "dovecot-login-process", 1 },
	{ "imap-login", "Login: %U [%A]", "dovecot-login-0.99", 1 },
	{ "imapd", "LOGIN, user=%U, ip=[%A], port=[51234], protocol=IMAP, "
	  "starttls=1", "courier-login", 1 },
	{ "courierpop3login", "LOGIN, user=%U, ip=[::ffff:%A]", "courier-login", 1 },
	{ "cyrus/imap[4101]", "login: %H [%A] %U plaintext User logged in "
	  "SESSIONID=<x-4101-1>", "cyrus-login", 0 },
	{ "cyrus/pop3[27783]", "login: [%A] %U PLAIN+TLS User logged in",
	  "cyrus-login", 0 },
	{ "imapd[26772]", "Login user=%U host=%H [%A] nmsgs=0/0", "uw-imap-login", 1 },
	{ "ipop3d[31]", "Auth user=%U host=[%A] mech=PLAIN", "uw-imap-login", 1 },
	{ "in.qpopper[7597]", "(v4.0.9) POP login by user \"%U\" at (%H) %A "
	  "[pop_log.c:244]", "qpopper-login", 1 },
	{ "qpopper[12]", "(v4.1.0) POP login by user \"%U\" at (%H) %A",
	  "qpopper-login", 1 },
	{ "in.qpopper[5502]", "Stats: %U 2 3018 5 48211 %H %A [pop_updt.c:311]",
	  "qpopper-stats", 1 },
	{ "popper[5]", "Stats: %U 0 0 0 0 %H %A", "qpopper-stats", 1 },
};

static void
inject_mode(const uint8_t *data, size_t size)
{
	static char line[12000], user[4100], host[300];
	size_t t, un = 0, hn = 0, i = 0, o;
	struct syslog_msg msg;
	struct rule_match m;

	if (size < 1)
		return;
	t = data[0] % (sizeof(tpl) / sizeof(tpl[0]));
	for (i = 1; i < size && data[i] != '\n' && un < sizeof(user) - 1; i++) {
		unsigned char c = data[i];
		user[un++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	user[un] = '\0';
	for (i++; i < size && hn < 253; i++) {
		unsigned char c = data[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')
			host[hn++] = (char)c;
	}
	if (hn == 0)
		memcpy(host, "client.example.net", hn = 18);
	host[hn] = '\0';

	o = (size_t)snprintf(line, sizeof(line), "<38>Nov 25 05:59:58 mx %s: ",
	    tpl[t].tag);
	for (const char *p = tpl[t].body; *p; p++) {
		const char *s = NULL;
		if (p[0] == '%' && p[1] == 'U')
			s = user;
		else if (p[0] == '%' && p[1] == 'H')
			s = host;
		else if (p[0] == '%' && p[1] == 'A')
			s = REAL_ADDR;
		if (s) {
			size_t n = strlen(s);
			memcpy(line + o, s, n);
			o += n;
			p++;
		} else {
			line[o++] = *p;
		}
	}
	CHECK(syslog_parse(line, o, NOW, &msg) == SYSLOG_OK);
	if (match(&msg, &m) < 0)
		return;
	if (strcmp(m.address, REAL_ADDR) != 0 &&
	    strcmp(m.address, "::ffff:" REAL_ADDR) != 0) {
		fprintf(stderr, "fuzz-rules: FORGED ADDRESS: rule %s recorded "
		    "\"%s\" instead of " REAL_ADDR " from: %.*s\n",
		    rule_name(m.rule), m.address, (int)o, line);
		abort();
	}
	CHECK(strcmp(rule_name(m.rule), tpl[t].rule) == 0);
	if (tpl[t].user_ok && strncmp(m.user, user, RULE_USER_MAX - 1) != 0) {
		fprintf(stderr, "fuzz-rules: rule %s reports user \"%s\", the "
		    "server logged \"%s\"\n", rule_name(m.rule), m.user, user);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		inject_mode(data + 1, size - 1);
	else
		raw_mode(data + 1, size - 1);
	return 0;
}
