/* syslog.c - parse one RFC 5424 or RFC 3164 message into slices.
 *
 * The buffer comes from any peer allowed to talk to us and is not
 * NUL-terminated, so every byte is read through a cursor that knows where
 * the buffer ends. Nothing is allocated and nothing recurses: the cost of
 * a message is bounded by its length.
 *
 * RFC 5424 is parsed strictly: a message that says "<PRI>1 " but is not a
 * valid RFC 5424 message is rejected rather than re-read as RFC 3164,
 * because guessing fields out of a broken message could let forged text
 * pass as another program. RFC 3164 has no grammar worth the name; there
 * we follow what rsyslog (pmrfc3164) and syslog-ng accept in practice. */
#include <limits.h>
#include <string.h>
#include <time.h>

#include "syslog.h"

#define DEFAULT_PRI	13	/* user.notice: RFC 3164 4.3.3 */
#define MAX_PRI		191	/* facility 23, severity 7 */
#define MAX_HOSTNAME	255	/* RFC 5424 6.2.4, also for RFC 3164 */
#define MAX_APPNAME	48
#define MAX_PROCID	128
#define MAX_MSGID	32
#define MAX_SDNAME	255	/* RFC says 32; syslog-ng accepts 255 */
#define MAX_SDELEM	64	/* elements per message (duplicate check) */
#define MAX_TAG		512	/* rsyslog CONF_TAG_MAXSIZE */
#define MAX_PID		128	/* as RFC 5424 PROCID */
#define DAY		86400

/* A read position inside buf[0..len). */
struct cur {
	const char *p;
	const char *end;
};

/* Broken-down timestamp before it becomes unix time. */
struct stamp {
	int year;		/* 0 when the message did not say */
	int mon;		/* 1..12 */
	int mday;
	int hour;
	int min;
	int sec;
	int zoned;		/* offset known: utc_off is valid */
	int utc_off;		/* seconds east of UTC */
};

static const struct slice no_slice = { NULL, 0 };

/* Byte at the cursor, or -1 at the end of the buffer. */
static int
peek(const struct cur *c)
{
	return c->p < c->end ? (unsigned char)*c->p : -1;
}

/* Byte i positions after the cursor, or -1 past the end. */
static int
peek_at(const struct cur *c, size_t i)
{
	return (size_t)(c->end - c->p) > i ? (unsigned char)c->p[i] : -1;
}

static int
eat(struct cur *c, int ch)
{
	if (peek(c) != ch)
		return 0;
	c->p++;
	return 1;
}

static int
is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

static int
is_alnum(int ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'z') ||
	    (ch >= 'A' && ch <= 'Z');
}

static int
is_hex(int ch)
{
	return is_digit(ch) || (ch >= 'a' && ch <= 'f') ||
	    (ch >= 'A' && ch <= 'F');
}

static int
to_lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

/* Read exactly n digits; the cursor moves only on success. */
static int
get_digits(struct cur *c, int n, int *out)
{
	int i, ch, v = 0;

	for (i = 0; i < n; i++) {
		if (!is_digit(ch = peek_at(c, (size_t)i)))
			return 0;
		v = v * 10 + (ch - '0');
	}
	c->p += n;
	*out = v;
	return 1;
}

/* An empty field is always {NULL, 0}, so callers test one thing. */
static struct slice
mkslice(const char *p, size_t n)
{
	struct slice s = no_slice;

	if (n > 0) {
		s.p = p;
		s.n = n;
	}
	return s;
}

/* Senders append LF, CRLF or NUL; none of it is part of the message. */
static size_t
strip_trailer(const char *buf, size_t len)
{
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
	    buf[len - 1] == '\0'))
		len--;
	return len;
}

/* Nothing but whitespace and NUL. */
static int
is_blank(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' &&
		    buf[i] != '\r' && buf[i] != '\v' && buf[i] != '\f' &&
		    buf[i] != '\0')
			return 0;
	return 1;
}

/* MSG starts after the header; a UTF-8 BOM there only says "UTF-8". */
static void
set_msg(struct syslog_msg *m, const struct cur *c)
{
	const char *p = c->p;

	if (c->end - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	m->msg = mkslice(p, (size_t)(c->end - p));
}

/* Returns 1 for a valid "<N>", 0 when there is no '<', -1 when broken. */
static int
parse_pri(struct cur *c, int *pri)
{
	struct cur t = *c;
	int n, v = 0;

	if (!eat(&t, '<'))
		return 0;
	/* Leading zeros are tolerated as rsyslog does ("<002>" is 2). */
	for (n = 0; n < 3 && is_digit(peek(&t)); n++)
		v = v * 10 + (*t.p++ - '0');
	if (n == 0 || !eat(&t, '>') || v > MAX_PRI)
		return -1;
	*pri = v;
	*c = t;
	return 1;
}

/* VERSION = NONZERO-DIGIT 0*2DIGIT, then SP: the mark of RFC 5424. */
static int
looks_5424(const struct cur *c)
{
	size_t i;
	int ch = peek(c);

	if (ch < '1' || ch > '9')
		return 0;
	for (i = 1; i < 3 && is_digit(peek_at(c, i)); i++)
		;
	return peek_at(c, i) == ' ';
}

/* ---- timestamps ---- */

static int
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* year 0 means "unknown": allow Feb 29 until the year is inferred. */
static int
valid_date(int y, int mon, int mday)
{
	static const int mdays[12] = {
		31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (mon < 1 || mon > 12 || mday < 1 || mday > mdays[mon - 1])
		return 0;
	return !(mon == 2 && mday == 29 && y != 0 && !is_leap(y));
}

/* hh:mm:ss; leap seconds are not allowed (RFC 5424 6.2.3). */
static int
parse_hms(struct cur *c, struct stamp *st)
{
	struct cur t = *c;

	if (!get_digits(&t, 2, &st->hour) || !eat(&t, ':') ||
	    !get_digits(&t, 2, &st->min) || !eat(&t, ':') ||
	    !get_digits(&t, 2, &st->sec))
		return 0;
	if (st->hour > 23 || st->min > 59 || st->sec > 59)
		return 0;
	*c = t;
	return 1;
}

/* "." 1*DIGIT; only whole seconds are kept, so any number of digits is
 * skipped (RFC 5424 allows 6; syslog-ng tolerates more, so do we).
 * `strict` refuses a '.' without digits. */
static int
skip_fraction(struct cur *c, int strict)
{
	if (!eat(c, '.'))
		return 1;
	if (strict && !is_digit(peek(c)))
		return 0;
	while (is_digit(peek(c)))
		c->p++;
	return 1;
}

/* TIME-OFFSET = "Z" / ("+" / "-") hh ":" mm, or nothing (local time, as
 * syslog-ng accepts from real senders). */
static int
parse_offset(struct cur *c, int strict, struct stamp *st)
{
	int sign, hh, mm;

	st->zoned = 0;
	if (eat(c, 'Z') || (!strict && eat(c, 'z'))) {
		st->zoned = 1;
		st->utc_off = 0;
		return 1;
	}
	if (peek(c) != '+' && peek(c) != '-')
		return 1;
	sign = *c->p == '-' ? -1 : 1;
	c->p++;
	if (!get_digits(c, 2, &hh) || !eat(c, ':') || !get_digits(c, 2, &mm) ||
	    hh > 23 || mm > 59)
		return 0;
	st->zoned = 1;
	st->utc_off = sign * (hh * 3600 + mm * 60);
	return 1;
}

/* FULL-DATE "T" PARTIAL-TIME [TIME-OFFSET]. `strict` is RFC 5424: upper
 * case T and Z only. Otherwise also what rsyslog and syslog-ng accept in
 * RFC 3164 messages: lower case, and a space instead of the T. */
static int
parse_rfc3339(struct cur *c, int strict, struct stamp *st)
{
	struct cur t = *c;

	if (!get_digits(&t, 4, &st->year) || !eat(&t, '-') ||
	    !get_digits(&t, 2, &st->mon) || !eat(&t, '-') ||
	    !get_digits(&t, 2, &st->mday))
		return 0;
	if (!eat(&t, 'T') && (strict || (!eat(&t, 't') && !eat(&t, ' '))))
		return 0;
	if (!parse_hms(&t, st) || !skip_fraction(&t, strict) ||
	    !parse_offset(&t, strict, st))
		return 0;
	if (!valid_date(st->year, st->mon, st->mday))
		return 0;
	*c = t;
	return 1;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): exact, no libc time zone state involved. */
static long long
days_from_civil(long long y, int mon, int mday)
{
	long long era, yoe, doy, doe;

	y -= mon <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (mon > 2 ? mon - 3 : mon + 9) + 2) / 5 + mday - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Local time of st in `year`; 0 when that date does not exist (Feb 29 of
 * a common year, which mktime would silently turn into Mar 1).
 *
 * mktime() is slow: glibc's tzset() inside it stat()s /etc/localtime on
 * every call when TZ is unset, which made it most of the cost of a
 * message. A stream of messages stays in the same quarter of an hour, so
 * its start is computed once and the minutes and seconds past it are added
 * (zones change offset on a quarter hour at most: Lord Howe at 02:00 by
 * 30 minutes, Chatham at 02:45; a new quarter asks mktime again, so a
 * changed /etc/localtime is still seen). */
static int
local_time(const struct stamp *st, int year, time_t *out)
{
	/* One entry per year modulo 4: infer_year() tries three years. */
	static _Thread_local struct hour_start {
		int year, mon, mday, hour, quarter;
		int valid;	/* the date exists */
		time_t start;	/* of the quarter hour */
	} cache[4] = { { .year = -1 }, { .year = -1 }, { .year = -1 }, { .year = -1 } };
	struct hour_start *c = &cache[(unsigned)year % 4];
	int quarter = st->min / 15;
	struct tm tm;

	if (c->year != year || c->mon != st->mon ||
	    c->mday != st->mday || c->hour != st->hour || c->quarter != quarter) {
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = year - 1900;
		tm.tm_mon = st->mon - 1;
		tm.tm_mday = st->mday;
		tm.tm_hour = st->hour;
		tm.tm_min = quarter * 15;
		tm.tm_isdst = -1;
		c->start = mktime(&tm);
		c->valid = tm.tm_mon == st->mon - 1 && tm.tm_mday == st->mday;
		c->year = year;
		c->mon = st->mon;
		c->mday = st->mday;
		c->hour = st->hour;
		c->quarter = quarter;
	}
	*out = c->start + (st->min - quarter * 15) * 60 + st->sec;
	return c->valid;
}

/* RFC 3164 has no year: take the latest of next, this and last year (in
 * local time) that is not more than a day ahead of `now`. So Dec 31 seen
 * on Jan 1 is last year, and Jan 1 seen on Dec 31 (a sender whose clock
 * runs ahead) is next year. */
static int
infer_year(const struct stamp *st, time_t now, time_t *out)
{
	/* The local year of `now`, recomputed when `now` changes. */
	static _Thread_local time_t year_of = (time_t)-1;
	static _Thread_local int this_year;
	struct tm lt;
	int y;

	if (now != year_of) {
		if (localtime_r(&now, &lt) == NULL)
			return 0;
		this_year = lt.tm_year + 1900;
		year_of = now;
	}
	for (y = this_year + 1; y >= this_year - 1; y--)
		if (local_time(st, y, out) && *out <= now + DAY)
			return 1;
	return 0;
}

/* Unix time of a parsed stamp; 0 when it cannot be placed in time. */
static int
stamp_time(const struct stamp *st, time_t now, time_t *out)
{
	if (st->zoned) {
		*out = (time_t)(days_from_civil(st->year, st->mon, st->mday) *
		    DAY + st->hour * 3600 + st->min * 60 + st->sec -
		    st->utc_off);
		return 1;
	}
	if (st->year == 0)
		return infer_year(st, now, out);
	return local_time(st, st->year, out);
}

/* English month abbreviation, any case (rsyslog R1.05 "AUG"). */
static int
parse_month(struct cur *c, int *mon)
{
	static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	int i;

	for (i = 0; i < 12; i++) {
		if (to_lower(peek_at(c, 0)) == names[i * 3] &&
		    to_lower(peek_at(c, 1)) == names[i * 3 + 1] &&
		    to_lower(peek_at(c, 2)) == names[i * 3 + 2]) {
			c->p += 3;
			*mon = i + 1;
			return 1;
		}
	}
	return 0;
}

/* "dd", "d" or " d" (space-padded). */
static int
parse_mday(struct cur *c, int *mday)
{
	eat(c, ' ');
	if (get_digits(c, 2, mday))
		return 1;
	return get_digits(c, 1, mday);
}

/* "yyyy" followed by SP (or the end, when `at_end_ok`); the SP stays. */
static int
parse_year_word(struct cur *c, int at_end_ok, int *year)
{
	int ch = peek_at(c, 4);

	if (ch != ' ' && !(at_end_ok && ch == -1))
		return 0;
	return get_digits(c, 4, year);
}

/* Mmm dd [yyyy] hh:mm:ss[.frac][:] [yyyy]: the BSD timestamp with the
 * variants rsyslog and syslog-ng accept (year before the time, Cisco's
 * trailing colon, fractions, Linksys' year after the time). */
static int
parse_bsd_time(struct cur *c, struct stamp *st)
{
	struct cur t = *c;
	struct cur y;

	memset(st, 0, sizeof(*st));
	if (!parse_month(&t, &st->mon) || !eat(&t, ' ') ||
	    !parse_mday(&t, &st->mday) || !eat(&t, ' '))
		return 0;
	if (parse_year_word(&t, 0, &st->year))
		t.p++;
	if (!parse_hms(&t, st) || !skip_fraction(&t, 0))
		return 0;
	eat(&t, ':');
	y = t;
	if (st->year == 0 && eat(&y, ' ') && parse_year_word(&y, 1, &st->year))
		t = y;
	if (peek(&t) != ' ' && peek(&t) != -1)
		return 0;
	if (!valid_date(st->year, st->mon, st->mday))
		return 0;
	*c = t;
	return 1;
}

/* ---- RFC 5424 ---- */

/* HOSTNAME, APP-NAME, PROCID, MSGID: NILVALUE / 1*max PRINTUSASCII. */
static int
header_field(struct cur *c, size_t max, struct slice *out)
{
	size_t n = 0;
	int ch;

	while ((ch = peek_at(c, n)) >= 33 && ch <= 126)
		if (++n > max)
			return 0;
	if (n == 0)
		return 0;
	*out = n == 1 && *c->p == '-' ? no_slice : mkslice(c->p, n);
	c->p += n;
	return 1;
}

static int
is_sdname_char(int ch)
{
	return ch >= 33 && ch <= 126 && ch != '=' && ch != ']' && ch != '"';
}

/* SD-NAME (SD-ID or PARAM-NAME). */
static int
sd_name(struct cur *c, struct slice *out)
{
	size_t n = 0;

	while (is_sdname_char(peek_at(c, n)))
		if (++n > MAX_SDNAME)
			return 0;
	if (n == 0)
		return 0;
	*out = mkslice(c->p, n);
	c->p += n;
	return 1;
}

/* The characters that a backslash escapes in PARAM-VALUE; before any
 * other character the backslash is literal (RFC 5424 6.3.3). */
static int
is_sd_escaped(int ch)
{
	return ch == '"' || ch == '\\' || ch == ']';
}

/* PARAM-VALUE after the opening quote, up to and past the closing one.
 * An unescaped ']' is refused: the sender did not escape, so where the
 * element ends would be a guess. */
static int
sd_value(struct cur *c)
{
	int ch;

	while ((ch = peek(c)) != -1) {
		c->p++;
		if (ch == '"')
			return 1;
		if (ch == ']')
			return 0;
		if (ch == '\\' && is_sd_escaped(peek(c)))
			c->p++;
	}
	return 0;
}

/* SD-PARAM = PARAM-NAME "=" %d34 PARAM-VALUE %d34; *value gets the raw
 * (still escaped) value. */
static int
sd_param(struct cur *c, struct slice *name, struct slice *value)
{
	const char *v;

	if (!sd_name(c, name) || !eat(c, '=') || !eat(c, '"'))
		return 0;
	v = c->p;
	if (!sd_value(c))
		return 0;
	*value = mkslice(v, (size_t)(c->p - 1 - v));
	return 1;
}

/* SD-ELEMENT = "[" SD-ID *(SP SD-PARAM) "]" */
static int
sd_element(struct cur *c, struct slice *id)
{
	struct slice name, value;

	if (!eat(c, '[') || !sd_name(c, id))
		return 0;
	while (eat(c, ' '))
		if (!sd_param(c, &name, &value))
			return 0;
	return eat(c, ']');
}

static int
slice_eq(struct slice a, const char *p, size_t n)
{
	return a.n == n && (n == 0 || memcmp(a.p, p, n) == 0);
}

/* STRUCTURED-DATA = NILVALUE / 1*SD-ELEMENT. A repeated SD-ID is refused
 * (RFC 5424 6.3.2): with two, which one a rule's `require` sees would
 * depend on the order the sender chose. */
static int
parse_sd(struct cur *c, struct slice *sd)
{
	struct slice ids[MAX_SDELEM];
	const char *start = c->p;
	size_t n = 0, i;

	if (eat(c, '-')) {
		*sd = no_slice;
		return 1;
	}
	if (peek(c) != '[')
		return 0;
	while (peek(c) == '[') {
		if (n == MAX_SDELEM || !sd_element(c, &ids[n]))
			return 0;
		for (i = 0; i < n; i++)
			if (slice_eq(ids[i], ids[n].p, ids[n].n))
				return 0;
		n++;
	}
	*sd = mkslice(start, (size_t)(c->p - start));
	return 1;
}

/* PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP
 * STRUCTURED-DATA [SP MSG]; the cursor is at VERSION. */
static enum syslog_status
parse_5424(struct cur *c, struct syslog_msg *m)
{
	struct stamp st;
	time_t t;

	m->format = SYSLOG_RFC5424;
	while (is_digit(peek(c)))
		c->p++;
	c->p++;			/* the SP that looks_5424 saw */
	if (!eat(c, '-')) {
		memset(&st, 0, sizeof(st));
		if (!parse_rfc3339(c, 1, &st) || !stamp_time(&st, m->time, &t))
			return SYSLOG_BAD_HEADER;
		m->time = t;
		m->has_time = 1;
	}
	if (!eat(c, ' ') ||
	    !header_field(c, MAX_HOSTNAME, &m->hostname) || !eat(c, ' ') ||
	    !header_field(c, MAX_APPNAME, &m->app_name) || !eat(c, ' ') ||
	    !header_field(c, MAX_PROCID, &m->procid) || !eat(c, ' ') ||
	    !header_field(c, MAX_MSGID, &m->msgid) || !eat(c, ' '))
		return SYSLOG_BAD_HEADER;
	if (!parse_sd(c, &m->sd))
		return SYSLOG_BAD_SD;
	/* Exactly one SP; further spaces belong to MSG (rsyslog R7.03). */
	if (peek(c) == -1)
		return SYSLOG_OK;
	if (!eat(c, ' '))
		return SYSLOG_BAD_SD;
	set_msg(m, c);
	return SYSLOG_OK;
}

/* ---- RFC 3164 ---- */

/* RFC 3339 as rsyslog writes it, else the BSD timestamp; it must end at
 * a space or at the end of the message. */
static int
parse_3164_time(struct cur *c, struct syslog_msg *m)
{
	struct cur t = *c;
	struct stamp st;
	time_t when;

	memset(&st, 0, sizeof(st));
	if (!parse_rfc3339(&t, 0, &st) ||
	    (peek(&t) != ' ' && peek(&t) != -1)) {
		t = *c;
		if (!parse_bsd_time(&t, &st))
			return 0;
	}
	/* A date we cannot place (Feb 29 with no leap year near) is still
	 * a timestamp, not text: consume it and use the reception time. */
	if (stamp_time(&st, m->time, &when)) {
		m->time = when;
		m->has_time = 1;
	}
	*c = t;
	return 1;
}

static int
is_host_char(int ch)
{
	return is_alnum(ch) || ch == '.' || ch == '_' || ch == '-' ||
	    ch == ':';
}

/* "0002::" is an IPv6 host (syslog-ng S28) though it ends in ':'. */
static int
is_ipv6_ending_in_colons(const char *p, size_t n)
{
	size_t i, colons = 0;

	if (n < 3 || p[n - 1] != ':' || p[n - 2] != ':')
		return 0;
	for (i = 0; i < n; i++) {
		if (p[i] == ':')
			colons++;
		else if (!is_hex((unsigned char)p[i]))
			return 0;
	}
	return colons >= 2;
}

/* Like rsyslog pmrfc3164: a word of [A-Za-z0-9._:-] followed by SP and
 * ending in a letter or digit. A word ending in ':' is a TAG ("su: ..."),
 * except an IPv6 address such as "0002::". */
static void
parse_host(struct cur *c, struct slice *host)
{
	size_t n = 0;
	int last;

	while (n <= MAX_HOSTNAME && is_host_char(peek_at(c, n)))
		n++;
	if (n == 0 || n > MAX_HOSTNAME || peek_at(c, n) != ' ')
		return;
	last = (unsigned char)c->p[n - 1];
	if (!is_alnum(last) && !is_ipv6_ending_in_colons(c->p, n))
		return;
	*host = mkslice(c->p, n);
	c->p += n + 1;
}

/* TAG may hold anything printable but '[' and ':' (e.g. "cyrus/pop3",
 * "sshd(pam_unix)", "%PIX-7-710005"); bytes >= 0x80 pass too. */
static int
is_tag_char(int ch)
{
	return ch > ' ' && ch != 0x7f && ch != '[' && ch != ':';
}

static int
is_pid_char(int ch)
{
	return ch > ' ' && ch != 0x7f && ch != '[' && ch != ']';
}

/* TAG["[" PID "]"][":"] then one SP, or the end. Anything else (a tag
 * over 512 bytes, "[" without "]", a control character) means there is
 * no tag and the whole rest is MSG: a guess here would name a program. */
static void
parse_tag(struct cur *c, struct syslog_msg *m)
{
	struct cur t = *c;
	struct slice pid = no_slice;
	size_t n = 0, pn = 0;

	/* JSON (or "[...]") payloads have no header (rsyslog does so too). */
	if (peek(&t) == '{')
		return;
	while (n <= MAX_TAG && is_tag_char(peek_at(&t, n)))
		n++;
	if (n == 0 || n > MAX_TAG)
		return;
	t.p += n;
	if (eat(&t, '[')) {
		while (pn <= MAX_PID && is_pid_char(peek_at(&t, pn)))
			pn++;
		if (pn == 0 || pn > MAX_PID || peek_at(&t, pn) != ']')
			return;
		pid = mkslice(t.p, pn);
		t.p += pn + 1;
	}
	if (eat(&t, ':'))
		eat(&t, ' ');
	else if (!eat(&t, ' ') && peek(&t) != -1)
		return;
	m->app_name = mkslice(c->p, n);
	m->procid = pid;
	*c = t;
}

/* [SP] [TIMESTAMP SP [HOSTNAME SP]] [TAG] MSG; the cursor is after PRI. */
static void
parse_3164(struct cur *c, int had_pri, struct syslog_msg *m)
{
	m->format = SYSLOG_RFC3164;
	/* One SP after PRI: HP ProCurve, rsyslog R1.06. */
	if (had_pri)
		eat(c, ' ');
	/* Without a timestamp there is no header, so no host either
	 * (syslog-ng F08): "<13>sshd[1]: x" must not make "sshd" a host. */
	if (parse_3164_time(c, m) && eat(c, ' '))
		parse_host(c, &m->hostname);
	parse_tag(c, m);
	set_msg(m, c);
}

/* ---- public ---- */

enum syslog_status
syslog_parse(const char *buf, size_t len, time_t now, struct syslog_msg *m)
{
	struct cur c;
	int had_pri;

	len = strip_trailer(buf, len);
	if (is_blank(buf, len))
		return SYSLOG_EMPTY;
	memset(m, 0, sizeof(*m));
	m->pri = DEFAULT_PRI;
	m->time = now;
	c.p = buf;
	c.end = buf + len;
	if ((had_pri = parse_pri(&c, &m->pri)) < 0)
		return SYSLOG_BAD_PRI;
	m->facility = m->pri / 8;
	m->severity = m->pri % 8;
	if (had_pri && looks_5424(&c))
		return parse_5424(&c, m);
	parse_3164(&c, had_pri, m);
	return SYSLOG_OK;
}

const char *
syslog_status_str(enum syslog_status s)
{
	switch (s) {
	case SYSLOG_OK:
		return "ok";
	case SYSLOG_EMPTY:
		return "empty message";
	case SYSLOG_BAD_PRI:
		return "invalid PRI";
	case SYSLOG_BAD_HEADER:
		return "invalid RFC 5424 header";
	case SYSLOG_BAD_SD:
		return "invalid RFC 5424 structured data";
	}
	return "unknown syslog status";
}

/* Copy the unescaped value v into out (NUL-terminated); out may be NULL
 * to measure. */
static int
sd_unescape(struct slice v, char *out, size_t outlen)
{
	size_t i, n = 0;
	char ch;

	if (out != NULL && outlen == 0)
		return -1;
	for (i = 0; i < v.n; i++) {
		ch = v.p[i];
		if (ch == '\\' && i + 1 < v.n &&
		    is_sd_escaped((unsigned char)v.p[i + 1]))
			ch = v.p[++i];
		if (out != NULL) {
			if (n + 1 >= outlen)
				return -1;
			out[n] = ch;
		}
		if (++n > INT_MAX)
			return -1;
	}
	if (out != NULL)
		out[n] = '\0';
	return (int)n;
}

int
syslog_sd_param(const struct syslog_msg *m, const char *sd_id,
    const char *name, char *out, size_t outlen)
{
	struct cur c;
	struct slice id, pname, value;
	int match;

	if (m->sd.p == NULL || name == NULL)
		return -1;
	c.p = m->sd.p;
	c.end = m->sd.p + m->sd.n;
	/* m->sd was validated by syslog_parse; still check every step, the
	 * caller may hand us anything. */
	while (eat(&c, '[')) {
		if (!sd_name(&c, &id))
			return -1;
		match = sd_id == NULL || slice_eq(id, sd_id, strlen(sd_id));
		while (eat(&c, ' ')) {
			if (!sd_param(&c, &pname, &value))
				return -1;
			if (match && slice_eq(pname, name, strlen(name)))
				return sd_unescape(value, out, outlen);
		}
		if (!eat(&c, ']'))
			return -1;
	}
	return -1;
}
