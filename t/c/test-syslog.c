/* test-syslog.c - data-driven tests of the syslog parser, TAP output.
 *
 * usage: test-syslog VECTORS	(t/data/syslog-vectors.txt, format
 * described at its top). Every input is parsed from a heap copy of
 * exactly its size, so ASan sees any read past the end. Then property
 * checks: every prefix and many mutations of every vector parse without
 * leaving the buffer, length limits, syslog_sd_param. */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "syslog.h"

#define DEFAULT_NOW	1795586400	/* 2026-11-25T06:00:00Z */
#define DEFAULT_TZ	"UTC0"
#define NSTATUS		5

struct field {
	int set;
	char *s;		/* decoded bytes, NUL-terminated for printing */
	size_t n;
};

struct param {
	char *id;		/* NULL: any SD-ELEMENT */
	char *name;
	int absent;		/* expect -1 */
	struct field value;
	struct param *next;
};

enum { TIME_UNCHECKED, TIME_NOW, TIME_VALUE };

struct vec {
	char id[80];
	int line;
	struct field in;
	time_t now;
	char tz[80];
	int status;
	int format;
	int pri;
	struct field host, app, procid, msgid, sd, msg;
	int time_kind;
	long long time;
	struct param *params;
};

static const char *const status_names[NSTATUS] = {
	"ok", "empty", "bad-pri", "bad-header", "bad-sd"
};

static int ntests;
static int nfailed;
static const char *vec_path;

static void
bail(int line, const char *fmt, ...)
{
	va_list ap;

	printf("Bail out! %s:%d: ", vec_path, line);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(255);
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL) {
		printf("Bail out! out of memory\n");
		exit(255);
	}
	return p;
}

static char *
xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

static void
set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

/* ---- reading the vector file ---- */

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = tolower(ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* C escapes: \\ \n \r \t \0 \xNN; any other backslash is an error in the
 * file, so a vector never means something its author did not see. */
static void
decode(const char *s, struct field *f, int line)
{
	size_t n = 0;
	char *out = xmalloc(strlen(s) + 1);
	int hi, lo;

	while (*s != '\0') {
		if (*s != '\\') {
			out[n++] = *s++;
			continue;
		}
		switch (s[1]) {
		case '\\': out[n++] = '\\'; s += 2; break;
		case 'n': out[n++] = '\n'; s += 2; break;
		case 'r': out[n++] = '\r'; s += 2; break;
		case 't': out[n++] = '\t'; s += 2; break;
		case '0': out[n++] = '\0'; s += 2; break;
		case 'x':
			if (s[2] == '\0' || (hi = hexval(s[2])) < 0 ||
			    (lo = hexval(s[3])) < 0)
				bail(line, "bad \\x escape");
			out[n++] = (char)(hi * 16 + lo);
			s += 4;
			break;
		default:
			bail(line, "unknown escape \\%c (write \\\\ for a "
			    "backslash)", s[1]);
		}
	}
	out[n] = '\0';
	free(f->s);
	f->s = out;
	f->n = n;
	f->set = 1;
}

static long long
number(const char *s, int line)
{
	char *end;
	long long v;

	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0')
		bail(line, "not a number: %s", s);
	return v;
}

/* "param: ID NAME=VALUE" ("*" as ID: any element), "noparam: ID NAME" */
static void
add_param(struct vec *v, const char *s, int absent, int line)
{
	struct param *p = calloc(1, sizeof(*p));
	const char *sp = strchr(s, ' '), *eq;

	if (p == NULL || sp == NULL)
		bail(line, "param wants: ID NAME=VALUE");
	if (!(sp - s == 1 && s[0] == '*')) {
		p->id = xmalloc((size_t)(sp - s) + 1);
		memcpy(p->id, s, (size_t)(sp - s));
		p->id[sp - s] = '\0';
	}
	s = sp + 1;
	if (absent) {
		p->name = xstrdup(s);
	} else {
		if ((eq = strchr(s, '=')) == NULL)
			bail(line, "param wants: ID NAME=VALUE");
		p->name = xmalloc((size_t)(eq - s) + 1);
		memcpy(p->name, s, (size_t)(eq - s));
		p->name[eq - s] = '\0';
		decode(eq + 1, &p->value, line);
	}
	p->absent = absent;
	p->next = v->params;
	v->params = p;
}

static int
lookup(const char *const *names, int n, const char *s, int line)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	bail(line, "unknown value: %s", s);
	return -1;
}

static void
set_key(struct vec *v, const char *key, const char *val, int line)
{
	static const char *const formats[] = { "?", "3164", "5424" };

	if (strcmp(key, "id") == 0)
		snprintf(v->id, sizeof(v->id), "%s", val);
	else if (strcmp(key, "in") == 0)
		decode(val, &v->in, line);
	else if (strcmp(key, "now") == 0)
		v->now = (time_t)number(val, line);
	else if (strcmp(key, "tz") == 0)
		snprintf(v->tz, sizeof(v->tz), "%s", val);
	else if (strcmp(key, "status") == 0)
		v->status = lookup(status_names, NSTATUS, val, line);
	else if (strcmp(key, "format") == 0)
		v->format = lookup(formats, 3, val, line);
	else if (strcmp(key, "pri") == 0)
		v->pri = (int)number(val, line);
	else if (strcmp(key, "host") == 0)
		decode(val, &v->host, line);
	else if (strcmp(key, "app") == 0)
		decode(val, &v->app, line);
	else if (strcmp(key, "procid") == 0)
		decode(val, &v->procid, line);
	else if (strcmp(key, "msgid") == 0)
		decode(val, &v->msgid, line);
	else if (strcmp(key, "sd") == 0)
		decode(val, &v->sd, line);
	else if (strcmp(key, "msg") == 0)
		decode(val, &v->msg, line);
	else if (strcmp(key, "time") == 0) {
		if (strcmp(val, "now") == 0)
			v->time_kind = TIME_NOW;
		else {
			v->time_kind = TIME_VALUE;
			v->time = number(val, line);
		}
	} else if (strcmp(key, "param") == 0)
		add_param(v, val, 0, line);
	else if (strcmp(key, "noparam") == 0)
		add_param(v, val, 1, line);
	else
		bail(line, "unknown key %s", key);
}

static void
vec_init(struct vec *v)
{
	memset(v, 0, sizeof(*v));
	v->now = DEFAULT_NOW;
	snprintf(v->tz, sizeof(v->tz), "%s", DEFAULT_TZ);
	v->pri = -1;
}

static void
vec_finish(struct vec *v)
{
	if (v->id[0] == '\0')
		bail(v->line, "vector without id:");
	if (!v->in.set)
		bail(v->line, "vector %s without in:", v->id);
	if (v->status == 0 && (v->format == 0 || v->pri < 0))
		bail(v->line, "ok vector %s needs format: and pri:", v->id);
}

/* Blocks of "key: value" lines separated by blank lines; '#' comments.
 * After "key:" one SP is skipped; the rest is the value, escapes and
 * all. Trailing blanks are refused: editors eat them, use \x20. */
static struct vec *
read_vectors(const char *path, size_t *count)
{
	FILE *fp;
	char *line = NULL, *colon, *val;
	size_t cap = 0, n = 0, alloc = 0;
	ssize_t len;
	int lineno = 0, in_block = 0;
	struct vec *vs = NULL, *v = NULL;

	if ((fp = fopen(path, "r")) == NULL)
		bail(0, "cannot open vectors");
	while ((len = getline(&line, &cap, fp)) >= 0) {
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' ||
		    line[len - 1] == '\r'))
			bail(lineno, "trailing whitespace (write \\x20)");
		if (line[0] == '#')
			continue;
		if (len == 0) {
			if (in_block)
				vec_finish(v);
			in_block = 0;
			continue;
		}
		if (!in_block) {
			if (n == alloc) {
				alloc = alloc ? alloc * 2 : 64;
				vs = realloc(vs, alloc * sizeof(*vs));
				if (vs == NULL)
					bail(lineno, "out of memory");
			}
			v = &vs[n++];
			vec_init(v);
			v->line = lineno;
			in_block = 1;
		}
		if ((colon = strchr(line, ':')) == NULL)
			bail(lineno, "expected key: value");
		*colon = '\0';
		val = colon + 1;
		if (*val == ' ')
			val++;
		set_key(v, line, val, lineno);
	}
	if (in_block)
		vec_finish(v);
	free(line);
	fclose(fp);
	*count = n;
	return vs;
}

/* ---- checking ---- */

/* C-escaped, quoted, shortened copy of p[0..n) for diagnostics. */
static const char *
quote(const char *p, size_t n, char *buf, size_t size)
{
	size_t i, o = 0;
	unsigned char ch;

	if (p == NULL)
		return "(none)";
	buf[o++] = '"';
	for (i = 0; i < n && o + 8 < size; i++) {
		ch = (unsigned char)p[i];
		if (ch == '"' || ch == '\\')
			o += (size_t)snprintf(buf + o, size - o, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
		else
			buf[o++] = (char)ch;
	}
	if (i < n)
		o += (size_t)snprintf(buf + o, size - o, "...");
	snprintf(buf + o, size - o, "\"");
	return buf;
}

struct report {
	char first[600];
	char more[4096];
};

static void
complain(struct report *r, const char *fmt, ...)
{
	char line[600];
	size_t used;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (r->first[0] == '\0') {
		snprintf(r->first, sizeof(r->first), "%s", line);
		return;
	}
	used = strlen(r->more);
	snprintf(r->more + used, sizeof(r->more) - used, "#   also %s\n",
	    line);
}

static void
tap(struct report *r, const char *name)
{
	ntests++;
	if (r->first[0] == '\0') {
		printf("ok %d - %s\n", ntests, name);
		return;
	}
	nfailed++;
	printf("not ok %d - %s: %s\n%s", ntests, name, r->first, r->more);
}

static int
slice_inside(struct slice s, const char *buf, size_t len)
{
	uintptr_t b = (uintptr_t)buf, p = (uintptr_t)s.p;

	if (s.p == NULL)
		return s.n == 0;
	return s.n > 0 && p >= b && p - b <= len && s.n <= len - (p - b);
}

/* What must hold for any input; NULL when it does. */
static const char *
invariant(const char *buf, size_t len, time_t now, enum syslog_status st,
    const struct syslog_msg *m)
{
	char out[16];

	if ((int)st < 0 || (int)st >= NSTATUS)
		return "status out of range";
	if (st != SYSLOG_OK)
		return NULL;
	if (m->format != SYSLOG_RFC3164 && m->format != SYSLOG_RFC5424)
		return "bad format";
	if (m->pri < 0 || m->pri > 191 || m->facility != m->pri / 8 ||
	    m->severity != m->pri % 8)
		return "bad pri/facility/severity";
	if (m->has_time != 0 && m->has_time != 1)
		return "has_time not 0/1";
	if (!m->has_time && m->time != now)
		return "no timestamp but time != now";
	if (!slice_inside(m->hostname, buf, len) ||
	    !slice_inside(m->app_name, buf, len) ||
	    !slice_inside(m->procid, buf, len) ||
	    !slice_inside(m->msgid, buf, len) ||
	    !slice_inside(m->sd, buf, len) ||
	    !slice_inside(m->msg, buf, len))
		return "slice outside the buffer (or empty but not NULL)";
	if (m->sd.n > 0 && (m->sd.p[0] != '[' || m->sd.p[m->sd.n - 1] != ']'))
		return "sd not [...]";
	if (m->format == SYSLOG_RFC3164 && (m->msgid.n || m->sd.n))
		return "RFC 3164 with msgid/sd";
	/* exercise the SD walker on whatever was accepted */
	(void)syslog_sd_param(m, NULL, "a", out, sizeof(out));
	(void)syslog_sd_param(m, "a", "a", NULL, 0);
	return NULL;
}

/* Parse from an exactly-sized heap copy so ASan sees any overread. */
static enum syslog_status
parse_copy(const char *in, size_t len, time_t now, struct syslog_msg *m,
    char **copy)
{
	*copy = xmalloc(len);
	if (len > 0)
		memcpy(*copy, in, len);
	return syslog_parse(*copy, len, now, m);
}

static void
check_slice(struct report *r, const char *name, struct slice got,
    const struct field *want)
{
	char a[300], b[300];
	size_t n = want->set ? want->n : 0;
	const char *p = want->set ? want->s : "";

	if (got.n == n && (n == 0 || memcmp(got.p, p, n) == 0))
		return;
	complain(r, "field %s expected %s got %s", name,
	    n ? quote(p, n, a, sizeof(a)) : "(none)",
	    quote(got.p, got.n, b, sizeof(b)));
}

static void
check_params(struct report *r, const struct vec *v,
    const struct syslog_msg *m)
{
	const struct param *p;
	char out[512], a[300], b[300];
	int got;

	for (p = v->params; p != NULL; p = p->next) {
		got = syslog_sd_param(m, p->id, p->name, out, sizeof(out));
		if (p->absent && got != -1)
			complain(r, "param %s %s expected absent got %s",
			    p->id ? p->id : "*", p->name,
			    quote(out, (size_t)got, b, sizeof(b)));
		if (p->absent)
			continue;
		if (got < 0)
			complain(r, "param %s %s expected %s got absent",
			    p->id ? p->id : "*", p->name,
			    quote(p->value.s, p->value.n, a, sizeof(a)));
		else if ((size_t)got != p->value.n ||
		    memcmp(out, p->value.s, p->value.n) != 0)
			complain(r, "param %s %s expected %s got %s",
			    p->id ? p->id : "*", p->name,
			    quote(p->value.s, p->value.n, a, sizeof(a)),
			    quote(out, (size_t)got, b, sizeof(b)));
	}
}

static void
check_vector(const struct vec *v)
{
	struct syslog_msg m;
	struct report r;
	enum syslog_status st;
	const char *bad;
	char *copy, name[120];

	memset(&r, 0, sizeof(r));
	set_tz(v->tz);
	st = parse_copy(v->in.s, v->in.n, v->now, &m, &copy);
	if ((bad = invariant(copy, v->in.n, v->now, st, &m)) != NULL)
		complain(&r, "invariant: %s", bad);
	if ((int)st != v->status)
		complain(&r, "field status expected %s got %s (%s)",
		    status_names[v->status],
		    (int)st < NSTATUS ? status_names[st] : "?",
		    syslog_status_str(st));
	if (st == SYSLOG_OK && v->status == 0) {
		if ((int)m.format != v->format)
			complain(&r, "field format expected %s got %s",
			    v->format == 1 ? "3164" : "5424",
			    m.format == SYSLOG_RFC3164 ? "3164" : "5424");
		if (m.pri != v->pri)
			complain(&r, "field pri expected %d got %d", v->pri,
			    m.pri);
		check_slice(&r, "host", m.hostname, &v->host);
		check_slice(&r, "app", m.app_name, &v->app);
		check_slice(&r, "procid", m.procid, &v->procid);
		check_slice(&r, "msgid", m.msgid, &v->msgid);
		check_slice(&r, "sd", m.sd, &v->sd);
		check_slice(&r, "msg", m.msg, &v->msg);
		if (v->time_kind == TIME_NOW && m.has_time)
			complain(&r, "field time expected now got %lld",
			    (long long)m.time);
		if (v->time_kind == TIME_VALUE && (!m.has_time ||
		    (long long)m.time != v->time))
			complain(&r, "field time expected %lld got %s%lld",
			    v->time, m.has_time ? "" : "now ",
			    (long long)m.time);
		check_params(&r, v, &m);
	}
	free(copy);
	set_tz(DEFAULT_TZ);
	snprintf(name, sizeof(name), "%s (line %d)", v->id, v->line);
	tap(&r, name);
}

/* ---- properties ---- */

/* Every prefix of every vector: as if the datagram had been cut. */
static void
check_prefixes(const struct vec *vs, size_t nv)
{
	struct syslog_msg m;
	struct report r;
	enum syslog_status st;
	const char *bad;
	char *copy, q[200];
	size_t i, k;
	unsigned long runs = 0;

	memset(&r, 0, sizeof(r));
	for (i = 0; i < nv; i++) {
		for (k = 0; k <= vs[i].in.n; k++) {
			st = parse_copy(vs[i].in.s, k, DEFAULT_NOW, &m, &copy);
			if ((bad = invariant(copy, k, DEFAULT_NOW, st, &m)))
				complain(&r, "%s prefix %s: %s", vs[i].id,
				    quote(copy, k, q, sizeof(q)), bad);
			free(copy);
			runs++;
		}
	}
	printf("# %lu prefixes parsed\n", runs);
	tap(&r, "every prefix of every vector stays inside its buffer");
}

static uint32_t
rnd(void)
{
	static uint32_t x = 2463534242u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return x;
}

/* Random damage with the bytes the parser cares about. */
static void
check_mutations(const struct vec *vs, size_t nv)
{
	static const char special[] = "<>[]\"\\=: -.T+Z0123456789\n\r\xef\xbb";
	struct syslog_msg m;
	struct report r;
	enum syslog_status st;
	const char *bad;
	char *buf, *copy, q[200];
	size_t i, len, pos;
	int round, j;

	memset(&r, 0, sizeof(r));
	for (i = 0; i < nv; i++) {
		len = vs[i].in.n;
		if (len == 0)
			continue;
		buf = xmalloc(len);
		for (round = 0; round < 200; round++) {
			memcpy(buf, vs[i].in.s, len);
			for (j = 0; j < 1 + round % 4; j++) {
				pos = rnd() % len;
				buf[pos] = rnd() % 3 ? special[rnd() %
				    (sizeof(special) - 1)] : (char)rnd();
			}
			st = parse_copy(buf, len, DEFAULT_NOW, &m, &copy);
			if ((bad = invariant(copy, len, DEFAULT_NOW, st, &m)))
				complain(&r, "%s mutant %s: %s", vs[i].id,
				    quote(copy, len, q, sizeof(q)), bad);
			free(copy);
		}
		free(buf);
	}
	tap(&r, "mutations of every vector stay inside their buffer");
}

static char *
rep(char *dst, int ch, size_t n)
{
	memset(dst, ch, n);
	dst[n] = '\0';
	return dst;
}

/* One generated message: expect status and (when ok) one field length. */
static void
check_len(const char *name, const char *in, enum syslog_status want,
    const char *field, size_t want_n)
{
	struct syslog_msg m;
	struct report r;
	enum syslog_status st;
	struct slice s = { NULL, 0 };
	const char *bad;
	char *copy;
	size_t len = strlen(in);

	memset(&r, 0, sizeof(r));
	st = parse_copy(in, len, DEFAULT_NOW, &m, &copy);
	if ((bad = invariant(copy, len, DEFAULT_NOW, st, &m)) != NULL)
		complain(&r, "invariant: %s", bad);
	if (st != want)
		complain(&r, "status expected %s got %s", status_names[want],
		    syslog_status_str(st));
	else if (st == SYSLOG_OK && field != NULL) {
		if (strcmp(field, "host") == 0)
			s = m.hostname;
		else if (strcmp(field, "app") == 0)
			s = m.app_name;
		else if (strcmp(field, "procid") == 0)
			s = m.procid;
		else if (strcmp(field, "msgid") == 0)
			s = m.msgid;
		else if (strcmp(field, "msg") == 0)
			s = m.msg;
		else if (strcmp(field, "sd") == 0)
			s = m.sd;
		if (s.n != want_n)
			complain(&r, "%s length expected %zu got %zu", field,
			    want_n, s.n);
	}
	free(copy);
	tap(&r, name);
}

static void
check_limits(void)
{
	static char a[600], in[70000];
	size_t i, o;

	/* RFC 5424 6.2: over-long header fields make the header invalid
	 * (go-syslog G53-G55; syslog-ng would truncate APP/PROCID/MSGID). */
	snprintf(in, sizeof(in), "<13>1 - %s a - - - m", rep(a, 'h', 255));
	check_len("5424 HOSTNAME of 255", in, SYSLOG_OK, "host", 255);
	snprintf(in, sizeof(in), "<13>1 - %s a - - - m", rep(a, 'h', 256));
	check_len("5424 HOSTNAME of 256 (G53)", in, SYSLOG_BAD_HEADER, 0, 0);
	snprintf(in, sizeof(in), "<13>1 - h %s - - - m", rep(a, 'a', 48));
	check_len("5424 APP-NAME of 48", in, SYSLOG_OK, "app", 48);
	snprintf(in, sizeof(in), "<13>1 - h %s - - - m", rep(a, 'a', 49));
	check_len("5424 APP-NAME of 49 (G54, S54)", in, SYSLOG_BAD_HEADER,
	    0, 0);
	snprintf(in, sizeof(in), "<13>1 - h a %s - - m", rep(a, 'p', 128));
	check_len("5424 PROCID of 128", in, SYSLOG_OK, "procid", 128);
	snprintf(in, sizeof(in), "<13>1 - h a %s - - m", rep(a, 'p', 129));
	check_len("5424 PROCID of 129 (S55)", in, SYSLOG_BAD_HEADER, 0, 0);
	snprintf(in, sizeof(in), "<13>1 - h a - %s - m", rep(a, 'i', 32));
	check_len("5424 MSGID of 32", in, SYSLOG_OK, "msgid", 32);
	snprintf(in, sizeof(in), "<13>1 - h a - %s - m", rep(a, 'i', 33));
	check_len("5424 MSGID of 33 (G55, S56)", in, SYSLOG_BAD_HEADER, 0, 0);

	/* G05: every field at its maximum. */
	o = (size_t)snprintf(in, sizeof(in),
	    "<191>999 2018-12-31T23:59:59.999999-23:59 %s ", rep(a, 'h', 255));
	o += (size_t)snprintf(in + o, sizeof(in) - o, "%s ", rep(a, 'a', 48));
	o += (size_t)snprintf(in + o, sizeof(in) - o, "%s ", rep(a, 'p', 128));
	snprintf(in + o, sizeof(in) - o, "%s -", rep(a, 'm', 32));
	check_len("5424 all fields at max length (G05)", in, SYSLOG_OK,
	    "msgid", 32);

	/* SD-ID and PARAM-NAME: we accept up to 255 like syslog-ng (S50,
	 * S51); RFC and go-syslog say 32 (G58, G59). */
	snprintf(in, sizeof(in), "<13>1 - h a - - [%s] m", rep(a, 's', 255));
	check_len("SD-ID of 255", in, SYSLOG_OK, "sd", 257);
	snprintf(in, sizeof(in), "<13>1 - h a - - [%s] m", rep(a, 's', 256));
	check_len("SD-ID of 256 (S51)", in, SYSLOG_BAD_SD, 0, 0);
	snprintf(in, sizeof(in), "<13>1 - h a - - [x %s=\"v\"] m",
	    rep(a, 'n', 255));
	check_len("PARAM-NAME of 255", in, SYSLOG_OK, "msg", 1);
	snprintf(in, sizeof(in), "<13>1 - h a - - [x %s=\"v\"] m",
	    rep(a, 'n', 256));
	check_len("PARAM-NAME of 256", in, SYSLOG_BAD_SD, 0, 0);

	/* 64 distinct SD-ELEMENTs are fine, a 65th is refused. */
	o = (size_t)snprintf(in, sizeof(in), "<13>1 - h a - - ");
	for (i = 0; i < 64; i++)
		o += (size_t)snprintf(in + o, sizeof(in) - o, "[e%zu]", i);
	snprintf(in + o, sizeof(in) - o, " m");
	check_len("64 SD-ELEMENTs", in, SYSLOG_OK, "msg", 1);
	snprintf(in + o, sizeof(in) - o, "[e64] m");
	check_len("65 SD-ELEMENTs", in, SYSLOG_BAD_SD, 0, 0);

	/* RFC 3164 TAG: rsyslog's 512, beyond that no tag at all. */
	snprintf(in, sizeof(in), "<13>Oct 11 22:14:15 host %s[1]: m",
	    rep(a, 't', 512));
	check_len("3164 TAG of 512", in, SYSLOG_OK, "app", 512);
	snprintf(in, sizeof(in), "<13>Oct 11 22:14:15 host %s[1]: m",
	    rep(a, 't', 513));
	check_len("3164 TAG of 513 is no tag", in, SYSLOG_OK, "msg", 513 + 6);
	snprintf(in, sizeof(in), "<13>Oct 11 22:14:15 host t[%s]: m",
	    rep(a, '9', 128));
	check_len("3164 PID of 128", in, SYSLOG_OK, "procid", 128);
	snprintf(in, sizeof(in), "<13>Oct 11 22:14:15 host t[%s]: m",
	    rep(a, '9', 129));
	check_len("3164 PID of 129 is no tag", in, SYSLOG_OK, "msg",
	    129 + 6);
	snprintf(in, sizeof(in), "<13>Oct 11 22:14:15 %s t: m",
	    rep(a, 'h', 255));
	check_len("3164 HOSTNAME of 255", in, SYSLOG_OK, "host", 255);
	snprintf(in, sizeof(in), "<13>Oct 11 22:14:15 %s t: m",
	    rep(a, 'h', 256));
	check_len("3164 HOSTNAME of 256 is a tag", in, SYSLOG_OK, "app", 256);

	/* A large message full of what the parser looks at. */
	o = (size_t)snprintf(in, sizeof(in), "<13>1 - h a - - [x");
	while (o + 16 < sizeof(in))
		o += (size_t)snprintf(in + o, sizeof(in) - o, " a=\"\\]\\\\\"");
	snprintf(in + o, sizeof(in) - o, "]");
	check_len("64 KiB of SD-PARAMs", in, SYSLOG_OK, "msg", 0);
	o = (size_t)snprintf(in, sizeof(in), "<13>Oct 11 22:14:15 h t: ");
	memset(in + o, ' ', sizeof(in) - o - 2);
	in[sizeof(in) - 2] = 'x';
	in[sizeof(in) - 1] = '\0';
	check_len("64 KiB of spaces", in, SYSLOG_OK, "msg",
	    sizeof(in) - 1 - o);
}

static void
expect_param(const struct syslog_msg *m, const char *id, const char *name,
    size_t outlen, int want, const char *want_s, const char *label)
{
	struct report r;
	char out[64], a[200], b[200];
	size_t i;
	int got;

	memset(&r, 0, sizeof(r));
	memset(out, 'X', sizeof(out));
	got = syslog_sd_param(m, id, name, outlen ? out : NULL, outlen);
	if (got != want)
		complain(&r, "expected %d got %d", want, got);
	else if (got >= 0 && outlen > 0 &&
	    (memcmp(out, want_s, (size_t)got) != 0 || out[got] != '\0'))
		complain(&r, "expected %s got %s",
		    quote(want_s, strlen(want_s), a, sizeof(a)),
		    quote(out, (size_t)got, b, sizeof(b)));
	for (i = outlen; i < sizeof(out); i++)
		if (out[i] != 'X') {
			complain(&r, "wrote past outlen");
			break;
		}
	tap(&r, label);
}

static void
check_sd_param(void)
{
	static const char in[] = "<13>1 - h a - - "
	    "[x@1 ab=\"no\" a=\"1\" b=\"q\\\"\\\\\\]z\" e=\"\" n=\"\\n\\\"\"]"
	    "[y@2 a=\"2\" a=\"3\" c=\"\\n\" d=\"x\\\\\"] msg";
	struct syslog_msg m, none;
	char *copy;

	if (parse_copy(in, sizeof(in) - 1, DEFAULT_NOW, &m, &copy) !=
	    SYSLOG_OK) {
		printf("Bail out! sd_param fixture does not parse\n");
		exit(255);
	}
	expect_param(&m, "x@1", "a", 64, 1, "1", "sd_param: exact name, not "
	    "a longer one");
	expect_param(&m, "y@2", "a", 64, 1, "2",
	    "sd_param: first of a repeated name");
	expect_param(&m, NULL, "a", 64, 1, "1", "sd_param: any element");
	expect_param(&m, "x@1", "b", 64, 5, "q\"\\]z",
	    "sd_param: \\\" \\\\ \\] unescaped");
	expect_param(&m, "x@1", "n", 64, 3, "\\n\"",
	    "sd_param: backslash before other char kept");
	expect_param(&m, "y@2", "d", 64, 2, "x\\",
	    "sd_param: escaped backslash at the end");
	expect_param(&m, "x@1", "e", 64, 0, "", "sd_param: empty value");
	expect_param(&m, "x@1", "c", 64, -1, NULL,
	    "sd_param: name in another element");
	expect_param(&m, "x", "a", 64, -1, NULL,
	    "sd_param: SD-ID prefix does not match");
	expect_param(&m, "z@3", "a", 64, -1, NULL, "sd_param: absent SD-ID");
	expect_param(&m, NULL, "", 64, -1, NULL, "sd_param: empty name");
	expect_param(&m, "x@1", "a", 2, 1, "1", "sd_param: exact fit");
	expect_param(&m, "x@1", "a", 1, -1, NULL, "sd_param: no room for NUL");
	expect_param(&m, "x@1", "b", 5, -1, NULL, "sd_param: too long");
	expect_param(&m, "x@1", "b", 0, 5, NULL, "sd_param: NULL out measures");
	free(copy);
	if (parse_copy("<13>1 - h a - - - x", 19, DEFAULT_NOW, &none,
	    &copy) != SYSLOG_OK) {
		printf("Bail out! NILVALUE fixture does not parse\n");
		exit(255);
	}
	expect_param(&none, NULL, "a", 64, -1, NULL, "sd_param: no SD");
	free(copy);
}

static void
check_status_str(void)
{
	struct report r;
	const char *s[NSTATUS];
	int i, j;

	memset(&r, 0, sizeof(r));
	for (i = 0; i < NSTATUS; i++) {
		s[i] = syslog_status_str((enum syslog_status)i);
		if (s[i] == NULL || s[i][0] == '\0')
			complain(&r, "status %d has no text", i);
		for (j = 0; j < i; j++)
			if (s[i] && s[j] && strcmp(s[i], s[j]) == 0)
				complain(&r, "status %d and %d same text", i, j);
	}
	if (syslog_status_str((enum syslog_status)99) == NULL)
		complain(&r, "unknown status gives NULL");
	tap(&r, "syslog_status_str");
}

static void
free_vectors(struct vec *vs, size_t nv)
{
	struct param *p, *next;
	size_t i;

	for (i = 0; i < nv; i++) {
		free(vs[i].in.s);
		free(vs[i].host.s);
		free(vs[i].app.s);
		free(vs[i].procid.s);
		free(vs[i].msgid.s);
		free(vs[i].sd.s);
		free(vs[i].msg.s);
		for (p = vs[i].params; p != NULL; p = next) {
			next = p->next;
			free(p->id);
			free(p->name);
			free(p->value.s);
			free(p);
		}
	}
	free(vs);
}

int
main(int argc, char **argv)
{
	struct vec *vs;
	size_t nv, i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 2) {
		fprintf(stderr, "usage: test-syslog VECTORS\n");
		return 2;
	}
	vec_path = argv[1];
	set_tz(DEFAULT_TZ);
	vs = read_vectors(argv[1], &nv);
	printf("# %zu vectors from %s\n", nv, argv[1]);
	for (i = 0; i < nv; i++)
		check_vector(&vs[i]);
	check_prefixes(vs, nv);
	check_mutations(vs, nv);
	check_limits();
	check_sd_param();
	check_status_str();
	free_vectors(vs, nv);
	printf("1..%d\n", ntests);
	return nfailed ? 1 : 0;
}
