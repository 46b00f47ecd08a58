/* fuzz-syslog.c - libFuzzer target for syslog_parse() and syslog_sd_param().
 *
 * Input: bytes 0-3 give the reception time (somewhere in 2000-2099), bit 0
 * of byte 4 the local time zone (UTC or CET with DST), the rest is one
 * message. libFuzzer hands us an exactly sized heap copy, so ASan sees any
 * read past its end. Checked for every parsed message:
 *  - every field is absent ({NULL, 0}) or a non-empty slice inside the
 *    message, and pri/facility/severity/format are consistent;
 *  - the structured data of a message syslog_parse accepted is
 *    well-formed by an independent scanner written here, and for every
 *    parameter in it syslog_sd_param() returns the same unescaped value
 *    (first occurrence wins; by SD-ID and with "any"), measures it with
 *    out == NULL, refuses (-1) a buffer one byte too small, never writes
 *    past outlen (exactly sized heap buffers) and NUL-terminates;
 *  - names that are not there give -1. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "syslog.h"

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz-syslog: check failed: %s (line %d)\n", #cond, \
	    __LINE__); abort(); } } while (0)

static const char *buf_lo, *buf_hi;
static volatile unsigned sink;

static void
check_slice(const struct slice *s)
{
	if (s->p == NULL) {
		CHECK(s->n == 0);
		return;
	}
	CHECK(s->n > 0);
	CHECK(s->p >= buf_lo && s->p + s->n <= buf_hi);
	for (size_t i = 0; i < s->n; i++)	/* ASan: really readable */
		sink += (unsigned char)s->p[i];
}

/* One parameter as the scanner sees it. */
struct param {
	const char *id;
	size_t idn;
	const char *name;
	size_t namen;
	const char *raw;	/* value between the quotes, escaped */
	size_t rawn;
};

static int
sdname_char(int c)
{
	return c >= 33 && c <= 126 && c != '=' && c != ']' && c != '"';
}

static size_t
scan_name(const char *p, const char *end)
{
	size_t n = 0;

	while (p + n < end && sdname_char((unsigned char)p[n]))
		n++;
	return n;
}

/* Scan SD; returns the number of params (up to max) or -1 if malformed. */
static int
scan_sd(const char *p, size_t len, struct param *v, int max)
{
	const char *end = p + len;
	int np = 0;

	while (p < end) {
		const char *id;
		size_t idn;

		if (*p++ != '[')
			return -1;
		id = p;
		idn = scan_name(p, end);
		if (idn == 0)
			return -1;
		p += idn;
		while (p < end && *p == ' ') {
			struct param x = { id, idn, NULL, 0, NULL, 0 };

			p++;
			x.name = p;
			x.namen = scan_name(p, end);
			if (x.namen == 0)
				return -1;
			p += x.namen;
			if (p + 2 > end || p[0] != '=' || p[1] != '"')
				return -1;
			p += 2;
			x.raw = p;
			for (;;) {
				if (p >= end || *p == ']')
					return -1;
				if (*p == '"')
					break;
				if (*p == '\\' && p + 1 < end &&
				    (p[1] == '"' || p[1] == '\\' || p[1] == ']'))
					p++;
				p++;
			}
			x.rawn = (size_t)(p - x.raw);
			p++;	/* closing quote */
			if (np < max)
				v[np++] = x;
		}
		if (p >= end || *p++ != ']')
			return -1;
	}
	return np;
}

static size_t
unescape(const struct param *x, char *out)
{
	size_t n = 0;

	for (size_t i = 0; i < x->rawn; i++) {
		char c = x->raw[i];

		if (c == '\\' && i + 1 < x->rawn && (x->raw[i + 1] == '"' ||
		    x->raw[i + 1] == '\\' || x->raw[i + 1] == ']'))
			c = x->raw[++i];
		out[n++] = c;
	}
	return n;
}

static int
eq(const char *a, size_t an, const char *b, size_t bn)
{
	return an == bn && memcmp(a, b, an) == 0;
}

/* syslog_sd_param(m, id, name) must give exactly want[0..wantn). */
static void
check_param(const struct syslog_msg *m, const char *id, const char *name,
    const char *want, size_t wantn)
{
	int n = syslog_sd_param(m, id, name, NULL, 0);
	char *out;

	CHECK(n >= 0 && (size_t)n == wantn);
	out = malloc(wantn + 1);	/* exactly enough */
	CHECK(syslog_sd_param(m, id, name, out, wantn + 1) == n);
	CHECK(memcmp(out, want, wantn) == 0 && out[wantn] == '\0');
	free(out);
	out = malloc(wantn ? wantn : 1);	/* one byte short */
	CHECK(syslog_sd_param(m, id, name, out, wantn) == -1);
	free(out);
}

static void
check_sd(const struct syslog_msg *m)
{
	static struct param v[512];
	static char want[8192], nbuf[300], ibuf[300];
	int np;

	if (m->sd.p == NULL) {
		CHECK(syslog_sd_param(m, NULL, "x", NULL, 0) == -1);
		return;
	}
	CHECK(m->format == SYSLOG_RFC5424);
	np = scan_sd(m->sd.p, m->sd.n, v, 512);
	CHECK(np >= 0);		/* syslog_parse accepted only valid SD */
	for (int i = 0; i < np && i < 64; i++) {
		const struct param *x = &v[i];
		int first_any = 1, first_in_id = 1;

		if (x->namen >= sizeof(nbuf) || x->idn >= sizeof(ibuf))
			continue;
		for (int j = 0; j < i; j++) {
			if (eq(v[j].name, v[j].namen, x->name, x->namen)) {
				first_any = 0;
				if (eq(v[j].id, v[j].idn, x->id, x->idn))
					first_in_id = 0;
			}
		}
		memcpy(nbuf, x->name, x->namen);
		nbuf[x->namen] = '\0';
		memcpy(ibuf, x->id, x->idn);
		ibuf[x->idn] = '\0';
		if (x->rawn > sizeof(want))
			continue;
		size_t wn = unescape(x, want);
		if (first_in_id)
			check_param(m, ibuf, nbuf, want, wn);
		if (first_any)
			check_param(m, NULL, nbuf, want, wn);
	}
	/* Absent names and elements (the fuzzer may put these very names
	 * into the message: only when they are not there). */
	int have_elem = 0, have_name = 0;
	for (int i = 0; i < np; i++) {
		have_elem |= eq(v[i].id, v[i].idn, "no-such-element@1", 17);
		have_name |= eq(v[i].name, v[i].namen, "no-such-param", 13);
	}
	if (!have_elem && !memmem(m->sd.p, m->sd.n, "[no-such-element@1", 18))
		CHECK(syslog_sd_param(m, "no-such-element@1", "x", NULL, 0) == -1);
	if (!have_name && np < 512)
		CHECK(syslog_sd_param(m, NULL, "no-such-param", NULL, 0) == -1);
	CHECK(syslog_sd_param(m, NULL, "", NULL, 0) == -1);
	CHECK(syslog_sd_param(m, NULL, NULL, NULL, 0) == -1);
	/* A zero-sized buffer is never written. */
	if (np > 0 && v[0].namen < sizeof(nbuf)) {
		char *z = malloc(1);
		memcpy(nbuf, v[0].name, v[0].namen);
		nbuf[v[0].namen] = '\0';
		z[0] = 'z';
		CHECK(syslog_sd_param(m, NULL, nbuf, z, 0) == -1 && z[0] == 'z');
		free(z);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int zone = -1;
	struct syslog_msg m;
	enum syslog_status st;
	time_t now;

	if (size < 5)
		return 0;
	now = 946684800 + (time_t)(((uint32_t)data[0] | (uint32_t)data[1] << 8 |
	    (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24) % 3155760000u);
	if ((data[4] & 1) != zone) {
		zone = data[4] & 1;
		setenv("TZ", zone ? "CET-1CEST,M3.5.0,M10.5.0/3" : "UTC0", 1);
		tzset();
	}
	data += 5;
	size -= 5;
	buf_lo = (const char *)data;
	buf_hi = (const char *)data + size;

	memset(&m, 0xa5, sizeof(m));
	st = syslog_parse((const char *)data, size, now, &m);
	CHECK(syslog_status_str(st) != NULL);
	if (st != SYSLOG_OK) {
		CHECK(st == SYSLOG_EMPTY || st == SYSLOG_BAD_PRI ||
		    st == SYSLOG_BAD_HEADER || st == SYSLOG_BAD_SD);
		return 0;
	}
	CHECK(m.format == SYSLOG_RFC3164 || m.format == SYSLOG_RFC5424);
	CHECK(m.pri >= 0 && m.pri <= 191);
	CHECK(m.facility == m.pri / 8 && m.severity == m.pri % 8);
	CHECK(m.has_time == 0 || m.has_time == 1);
	if (!m.has_time)
		CHECK(m.time == now);
	check_slice(&m.hostname);
	check_slice(&m.app_name);
	check_slice(&m.procid);
	check_slice(&m.msgid);
	check_slice(&m.sd);
	check_slice(&m.msg);
	if (m.format == SYSLOG_RFC3164)
		CHECK(m.sd.p == NULL && m.msgid.p == NULL);
	check_sd(&m);
	return 0;
}
