/* test-units.c - addresses, CIDRs, framing, RELP frames, table values, config errors,
 * rule matching edge cases. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "frame.h"
#include "relay.h"
#include "relp.h"
#include "rules.h"
#include "syslog.h"
#include "util.h"
#include "tap.h"

static void
test_addresses(void)
{
	static const struct { const char *in, *want; } good[] = {
		{ "192.0.2.7", "192.0.2.7" },
		{ "[192.0.2.7]", "192.0.2.7" },
		{ "::ffff:203.59.134.51", "203.59.134.51" },
		{ "[::ffff:1.2.3.4]", "1.2.3.4" },
		{ "2001:DB8:0:0:0:0:0:1", "2001:db8::1" },
		{ "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1" },
		{ "::1", "::1" },
	};
	static const char *const bad[] = {
		"", "192.168.123", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "fe80::1%eth0",
		"1.2.3.4:25", "[1.2.3.4", "example.com", " 1.2.3.4", "1.2.3.4 ",
		"::ffff:1.2.3.4.5", "1:2:3:4:5:6:7:8:9",
	};
	char out[ADDR_TEXT_MAX];
	struct addr a;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int rc = addr_parse(good[i].in, strlen(good[i].in), &a);
		ok(rc == 0, "address \"%s\" parses", good[i].in);
		if (rc == 0) {
			addr_format(&a, out);
			is_str(out, good[i].want, "  canonical form of \"%s\"", good[i].in);
		}
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(addr_parse(bad[i], strlen(bad[i]), &a) < 0,
		    "\"%s\" is not an address", bad[i]);
	/* Not NUL-terminated input: only n bytes count. */
	ok(addr_parse("10.1.2.3999", 8, &a) == 0, "length-bounded parse");

	static const struct { const char *in; int bogus, priv, loop; } kinds[] = {
		{ "0.0.0.0", 1, 0, 0 }, { "255.255.255.255", 1, 0, 0 },
		{ "224.0.0.1", 1, 0, 0 }, { "::", 1, 0, 0 }, { "ff02::1", 1, 0, 0 },
		{ "10.0.0.1", 0, 1, 0 }, { "172.31.0.1", 0, 1, 0 },
		{ "172.32.0.1", 0, 0, 0 }, { "192.168.1.1", 0, 1, 0 },
		{ "fd00::1", 0, 1, 0 }, { "fe80::1", 0, 1, 0 },
		{ "127.0.0.1", 0, 0, 1 }, { "::1", 0, 0, 1 }, { "192.0.2.1", 0, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		addr_parse(kinds[i].in, strlen(kinds[i].in), &a);
		ok(addr_is_bogus(&a) == kinds[i].bogus &&
		    addr_is_private(&a) == kinds[i].priv &&
		    addr_is_loopback(&a) == kinds[i].loop, "%s classified", kinds[i].in);
	}
}

static void
test_cidrs(void)
{
	struct cidr c;
	struct addr a;

	ok(cidr_parse("192.0.2.0/24", &c) == 0, "IPv4 CIDR");
	addr_parse("192.0.2.200", 11, &a);
	ok(cidr_contains(&c, &a), "  contains 192.0.2.200");
	addr_parse("192.0.3.1", 9, &a);
	ok(!cidr_contains(&c, &a), "  not 192.0.3.1");
	ok(cidr_parse("2001:db8::/33", &c) == 0, "IPv6 CIDR");
	addr_parse("2001:db8:7fff::1", 16, &a);
	ok(cidr_contains(&c, &a), "  contains 2001:db8:7fff::1");
	addr_parse("2001:db8:8000::1", 16, &a);
	ok(!cidr_contains(&c, &a), "  not 2001:db8:8000::1 (prefix not on a byte)");
	ok(cidr_parse("::ffff:10.0.0.0/104", &c) == 0 && c.net.family == AF_INET &&
	    c.prefix == 8, "IPv4-mapped CIDR folds to 10.0.0.0/8");
	ok(cidr_parse("0.0.0.0/0", &c) == 0, "/0");
	ok(cidr_contains(&c, &a) == 0, "  IPv4 /0 does not contain IPv6");
	ok(cidr_parse("1.2.3.4/33", &c) < 0, "prefix too long");
	ok(cidr_parse("1.2.3.4/", &c) < 0, "empty prefix");
	ok(cidr_parse("1.2.3.4/x", &c) < 0, "junk prefix");
}

/* Framing: collect what the framer emits. */
static char frames[16][64];
static int nframes, ntrunc;

static void
collect(void *arg, const char *msg, size_t len, int truncated)
{
	(void)arg;
	if (nframes < 16) {
		size_t n = len < 63 ? len : 63;
		memcpy(frames[nframes], msg, n);
		frames[nframes][n] = '\0';
	}
	nframes++;
	ntrunc += truncated;
}

static int
feed_bytewise(struct framer *f, const char *s)
{
	for (; *s; s++)
		if (framer_feed(f, s, 1) < 0)
			return -1;
	return 0;
}

/* RELP frames: what the parser hands on. */
static char relp_cmds[8][RELP_CMD_MAX + 1];
static unsigned long relp_txnrs[8];
static int nrelp;

static void
relp_collect(void *arg, unsigned long txnr, const char *cmd, const char *data,
    size_t len, int truncated)
{
	if (nrelp < 8) {
		strcpy(relp_cmds[nrelp], cmd);
		relp_txnrs[nrelp] = txnr;
	}
	collect(arg, data, len, truncated);
	nrelp++;
}

static void
test_relp(void)
{
	static const char stream[] = "1 open 30 relp_version=0\ncommands=syslog\n"
	    "2 syslog 12 <13>1 - h a\n\n"
	    "999999999 syslog 5 x y z\n"
	    "3 close 0\n";
	static const char *const bad[] = {
		"x open 0\n", " 1 open 0\n", "1  open 0\n", "1 op3n 0\n",
		"1234567890 open 0\n", "1 open 0 \n", "1 open 0x", "1 open 2 abX",
		"1 open 99999999 x", "1 syslog1 0\n",
		"1 abcdefghijklmnopqrstuvwxyzabcdefg 0\n",
	};
	struct relp_parser p;
	char buf[64];

	for (size_t cut = 0; cut < sizeof(stream) - 1; cut += 7) {
		nframes = ntrunc = nrelp = 0;
		relp_init(&p, 32, relp_collect, NULL);
		ok(relp_feed(&p, stream, cut) == 0 &&
		    relp_feed(&p, stream + cut, sizeof(stream) - 1 - cut) == 0 &&
		    !relp_in_frame(&p), "RELP stream split at %zu parses", cut);
		ok(nrelp == 4 && !strcmp(relp_cmds[0], "open") &&
		    !strcmp(frames[0], "relp_version=0\ncommands=syslog") &&
		    relp_txnrs[1] == 2 && !strcmp(relp_cmds[1], "syslog") &&
		    !strcmp(frames[1], "<13>1 - h a\n") &&
		    relp_txnrs[2] == 999999999 && !strcmp(frames[2], "x y z") &&
		    !strcmp(relp_cmds[3], "close") && frames[3][0] == '\0' &&
		    ntrunc == 0, "  open, 2 syslog (LF inside the data kept), close");
		relp_free(&p);
	}
	nframes = ntrunc = nrelp = 0;
	relp_init(&p, 4, relp_collect, NULL);
	for (const char *c = "7 syslog 10 0123456789\n8 syslog 1 a\n"; *c; c++)
		if (relp_feed(&p, c, 1) < 0)
			break;
	ok(nrelp == 2 && ntrunc == 1 && !strcmp(frames[0], "0123") &&
	    !strcmp(frames[1], "a"), "RELP data past max-message cut and flagged, "
	    "byte by byte, the next frame intact");
	relp_free(&p);
	relp_init(&p, 4, relp_collect, NULL);
	ok(relp_feed(&p, "5 syslog 3 ab", 13) == 0 && relp_in_frame(&p),
	    "an incomplete RELP frame is inside a frame");
	relp_free(&p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		nrelp = 0;
		relp_init(&p, 32, relp_collect, NULL);
		ok(relp_feed(&p, bad[i], strlen(bad[i])) < 0 && nrelp == 0,
		    "not RELP (bad frame %zu)", i);
		relp_free(&p);
	}
	ok(relp_response(buf, 42, "200 OK", 6) == 16 && !memcmp(buf, "42 rsp 6 200 OK\n", 16),
	    "RELP response: 42 rsp 6 200 OK");
	ok(relp_response(buf, 3, "", 0) == 8 && !memcmp(buf, "3 rsp 0\n", 8),
	    "RELP response without data: 3 rsp 0");
}

static void
test_framing(void)
{
	const char *stream = "5 <1>ab<2>line one\n11 <3>1 - - x\n\n<4>tail";
	struct framer f;

	for (int bytewise = 0; bytewise < 2; bytewise++) {
		nframes = ntrunc = 0;
		framer_init(&f, 32, collect, NULL);
		int rc = bytewise ? feed_bytewise(&f, stream) :
		    framer_feed(&f, stream, strlen(stream));
		ok(rc == 0, "mixed stream feeds (%s)", bytewise ? "byte by byte" : "at once");
		ok(framer_finish(&f) == 0, "  unterminated LF frame is not an error");
		ok(nframes == 4, "  four frames (got %d)", nframes);
		is_str(frames[0], "<1>ab", "  octet-counted frame");
		is_str(frames[1], "<2>line one", "  LF frame right after it");
		is_str(frames[2], "<3>1 - - x\n", "  counted frame keeps its own LF");
		is_str(frames[3], "<4>tail", "  tail delivered at end of stream");
		framer_free(&f);
	}

	nframes = ntrunc = 0;
	framer_init(&f, 8, collect, NULL);
	ok(framer_feed(&f, "20 0123456789abcdefghij3 xyz", 28) == 0, "oversize counted frame");
	ok(nframes == 2 && ntrunc == 1, "  cut to max and flagged, next frame intact");
	is_str(frames[0], "01234567", "  first max bytes kept");
	is_str(frames[1], "xyz", "  following frame");
	ok(framer_feed(&f, "a very long line indeed\nok\n", 27) == 0, "oversize LF frame");
	ok(nframes == 4 && ntrunc == 2, "  cut, flagged, next line intact");
	is_str(frames[3], "ok", "  following line");
	framer_free(&f);

	/* A line of exactly max bytes is whole, however the stream is cut
	 * (found by fuzz-frame: a cut right after its last byte flagged it
	 * truncated); one byte more is cut. */
	for (int cut = 0; cut <= 10; cut++) {
		static const char s[] = "<1>45678\n<2>defghi\nok\n";

		nframes = ntrunc = 0;
		framer_init(&f, 8, collect, NULL);
		ok(framer_feed(&f, s, (size_t)cut) == 0 &&
		    framer_feed(&f, s + cut, sizeof(s) - 1 - (size_t)cut) == 0,
		    "max-size line, stream cut at %d", cut);
		ok(nframes == 3 && ntrunc == 1, "  three lines, one truncated "
		    "(got %d, %d)", nframes, ntrunc);
		is_str(frames[0], "<1>45678", "  the max-size line is whole");
		is_str(frames[1], "<2>defgh", "  the longer one is cut to max");
		is_str(frames[2], "ok", "  the next line intact");
		framer_free(&f);
	}
	nframes = ntrunc = 0;
	framer_init(&f, 8, collect, NULL);
	ok(feed_bytewise(&f, "<1>45678") == 0 && framer_finish(&f) == 0 &&
	    nframes == 1 && ntrunc == 0, "max-size line at EOF, byte by byte: whole");
	framer_free(&f);

	nframes = 0;
	framer_init(&f, 8, collect, NULL);
	ok(framer_feed(&f, "9999999999 x", 12) < 0, "absurd octet count is a framing error");
	framer_free(&f);
	framer_init(&f, 8, collect, NULL);
	ok(framer_feed(&f, "12x", 3) < 0, "digits not followed by SP: framing error");
	framer_free(&f);
	framer_init(&f, 8, collect, NULL);
	framer_feed(&f, "10 abc", 6);
	ok(framer_finish(&f) == 1 && nframes == 0, "incomplete counted frame at EOF is dropped");
	framer_free(&f);
}

static void
test_relay_values(void)
{
	struct relay_entry e = { .expires = 1700000000, .first = 1699990000,
		.last = 1699999000, .count = 3 }, back;
	char v[RELAY_VALUE_MAX];

	str_copy(e.user, "j doe%\n<x>", sizeof(e.user));
	str_copy(e.rule, "dovecot-login", sizeof(e.rule));
	ok(relay_value_format(&e, v, sizeof(v)) > 0, "value formats");
	is_str(v, "expires=1700000000 first=1699990000 last=1699999000 count=3 "
	    "user=j%20doe%25%0A<x> rule=dovecot-login", "  one line, user %%-encoded");
	ok(relay_value_parse(v, strlen(v), &back) == 0, "value parses back");
	ok(back.expires == e.expires && back.count == 3 && strcmp(back.user, e.user) == 0 &&
	    strcmp(back.rule, e.rule) == 0, "  round trip");
	ok(relay_value_parse("first=1 expires=2", 17, &back) < 0, "expires must come first");
	ok(relay_value_parse("expires=12x", 11, &back) < 0, "bad number rejected");
	ok(relay_value_parse("expires=5 future=yes", 20, &back) == 0 && back.expires == 5,
	    "unknown fields are skipped");
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static void
test_config(void)
{
	static const struct { const char *text, *error; } bad[] = {
		{ "ttl = 10\nbogus = 1\n", ":2: unknown key \"bogus\"" },
		{ "ttl = ten\n", ":1: \"ten\" is not a duration" },
		{ "listen = udp:localhost:514\n", ":1: \"udp:localhost:514\": \"localhost\" is not an IP address" },
		{ "listen = tcp:127.0.0.1:99999\n", "port must be 1..65535" },
		{ "listen = relp:127.0.0.1\n", "relp:127.0.0.1" },
		{ "listen = relp:/run/x mode=0600\n", "relp:/run/x" },
		{ "listen = unix:relative.sock\n", "must be absolute" },
		{ "listen = sctp:1.2.3.4:5\n", "expected udp:ADDR:PORT" },
		{ "never-relay = 10.0.0.0/8 nonsense\n", "\"nonsense\" is not an address or CIDR" },
		{ "table = relay.tdb\n", "table must be an absolute path" },
		{ "commit-interval = 0\n", "commit-interval must be 1ms..60s" },
		{ "just words\n", ":1: expected \"key = value\"" },
		{ "ttl =\n", ":1: ttl has no value" },
		{ "sync = maybe\n", "sync must be yes or no" },
	};
	char path[] = "/tmp/authsink-conf-XXXXXX";
	int fd = mkstemp(path);
	struct config c;
	struct errbuf err;

	close(fd);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(path, bad[i].text);
		config_defaults(&c);
		err.text[0] = '\0';
		int rc = config_load(path, &c, &err);
		ok(rc < 0 && strstr(err.text, bad[i].error) && strstr(err.text, path),
		    "config error names file:line: %s", bad[i].error);
		if (rc == 0 || !strstr(err.text, bad[i].error))
			printf("#   got: %s\n", err.text);
		config_free(&c);
	}
	write_file(path, "# comment\nlisten = udp:[::1]:5514 \nlisten = unix-dgram:/tmp/x.sock\n"
	    "ttl = 2h # two hours\ncommit-interval = 250ms\nnever-relay = 192.0.2.0/24, 2001:db8::/32\n"
	    "sync = yes\nsocket-mode = 0660\n");
	config_defaults(&c);
	ok(config_load(path, &c, &err) == 0, "valid config loads");
	ok(c.nlistens == 2 && c.listens[0].kind == LISTEN_UDP && c.listens[0].port == 5514 &&
	    strcmp(c.listens[0].host, "::1") == 0, "  listen lines replace the defaults");
	ok(c.ttl == 7200 && c.commit_interval_ms == 250 && c.sync == 1 &&
	    c.socket_mode == 0660, "  values and suffixes");
	ok(c.never_relay.n == 2, "  comma-separated CIDR list");
	config_free(&c);
	config_defaults(&c);
	ok(c.nlistens == 2 && c.listens[0].kind == LISTEN_UNIX_DGRAM &&
	    strcmp(c.listens[1].text, "udp:127.0.0.1:5514") == 0 && c.ttl == 1800 &&
	    c.commit_interval_ms == 100, "built-in defaults match DESIGN.md");
	config_free(&c);
	unlink(path);

	long s;
	ok(parse_duration("90", &s) == 0 && s == 90, "duration: bare seconds");
	ok(parse_duration("30m", &s) == 0 && s == 1800, "duration: minutes");
	ok(parse_duration("2h", &s) == 0 && s == 7200, "duration: hours");
	ok(parse_duration("-1", &s) < 0 && parse_duration("1x", &s) < 0 &&
	    parse_duration("", &s) < 0, "duration: junk rejected");
}

/* Does the rule set in `text` match the RFC 5424 message `msg` (len
 * bytes, may hold NUL)? 1 yes, 0 no, -1 the set did not load. */
static int
rules_text_match(const char *text, const char *msg, size_t len, char *err_out)
{
	char path[] = "/tmp/authsink-rules-XXXXXX";
	int fd = mkstemp(path);
	const char *paths[] = { path };
	struct rule_set *rs = NULL;
	struct errbuf err;
	struct syslog_msg m;
	struct rule_match rm;
	char *copy = malloc(len);
	int rc = -1;

	close(fd);
	write_file(path, text);
	err.text[0] = '\0';
	if (rules_load_files(paths, 1, &rs, &err) == 0) {
		memcpy(copy, msg, len);
		rc = syslog_parse(copy, len, 0, &m) == SYSLOG_OK &&
		    rules_match(rs, &m, &rm);
		rules_free(rs);
	} else if (err_out) {
		snprintf(err_out, 512, "%s", err.text);
	}
	free(copy);
	unlink(path);
	return rc;
}

static void
test_rules(void)
{
	static const char set[] = "[r]\nprogram = x\n"
	    "match = ^(?#TRE comment: ends here)(?i)login\\x{20}from ([0-9.]+)$\n"
	    "address = 1\n";
	static const char line[] = "<13>1 - h x - - - LOGIN from 192.0.2.1";
	char nul[sizeof(line) + 8], err[512] = "";

	ok(rules_text_match(set, line, sizeof(line) - 1, err) == 1,
	    "TRE extensions (?#...), (?i), \\x{20} are accepted and work%s%s",
	    *err ? ": " : "", err);
	/* TRE's `$` holds before a NUL: "...192.0.2.1\0..." would match */
	memcpy(nul, line, sizeof(line) - 1);
	memcpy(nul + sizeof(line) - 1, "\0.5 x", 6);
	ok(rules_text_match(set, nul, sizeof(line) - 1 + 6, NULL) == 0,
	    "a message with a NUL byte never matches");
	ok(rules_text_match("[r]\nprogram = x\nmatch = ^a\\\\)b ([0-9.]+)$\n"
	    "address = 1\n", line, sizeof(line) - 1, err) == -1 &&
	    strstr(err, "unmatched ')' at offset 4") != NULL,
	    "\"\\\\)\" (TRE would loop) is refused: %s", err);
	err[0] = '\0';
	ok(rules_text_match("[r]\nprogram = x\nmatch = ^\\x{fffffffb} ([0-9.]+)$\n"
	    "address = 1\n", line, sizeof(line) - 1, err) == -1 &&
	    strstr(err, "above ff") != NULL,
	    "\"\\x{fffffffb}\" (TRE would crash) is refused: %s", err);
}

int
main(void)
{
	test_addresses();
	test_cidrs();
	test_framing();
	test_relp();
	test_relay_values();
	test_config();
	test_rules();
	return done_testing();
}
