/* util.c - logging, allocation, bounded strings, durations. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "util.h"

static int log_to_stderr = 1;
static int log_debug_on;
static const char *log_ident = "authsink";

void
errbuf_set(struct errbuf *e, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
}

void
log_open(const char *ident, int to_stderr, int debug)
{
	log_ident = ident;
	log_to_stderr = to_stderr;
	log_debug_on = debug;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

int
log_debug_enabled(void)
{
	return log_debug_on;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *const label[] = { "error: ", "warning: ", "", "debug: " };
	char line[1024];
	va_list ap;

	if (lvl == LOG_LVL_DEBUG && !log_debug_on)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (log_to_stderr)
		fprintf(stderr, "%s: %s%s\n", log_ident, label[lvl], line);
	else
		syslog(prio[lvl], "%s%s", label[lvl], line);
}

static void
out_of_memory(size_t n)
{
	log_err("out of memory allocating %zu bytes", n);
	exit(2);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		out_of_memory(n);
	return p;
}

void *
xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);

	if (p == NULL)
		out_of_memory(n * m);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		out_of_memory(n);
	return q;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

size_t
str_copy(char *dst, const char *src, size_t dstsize)
{
	size_t len = strlen(src);

	if (dstsize > 0) {
		size_t n = len < dstsize - 1 ? len : dstsize - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

char *
str_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

uint64_t
fnv1a(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* Shared by both duration parsers: number, then a unit scaled to ms. */
static int
parse_duration_any(const char *s, long *millis, int allow_ms)
{
	char *end;
	long v, unit;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || v < 0)
		return -1;
	if (*end == '\0' || strcmp(end, "s") == 0)
		unit = 1000;
	else if (allow_ms && strcmp(end, "ms") == 0)
		unit = 1;
	else if (strcmp(end, "m") == 0)
		unit = 60 * 1000L;
	else if (strcmp(end, "h") == 0)
		unit = 3600 * 1000L;
	else if (strcmp(end, "d") == 0)
		unit = 86400 * 1000L;
	else
		return -1;
	if (v > LONG_MAX / unit)
		return -1;
	*millis = v * unit;
	return 0;
}

int
parse_duration(const char *s, long *seconds)
{
	long ms;

	if (parse_duration_any(s, &ms, 0) < 0)
		return -1;
	*seconds = ms / 1000;
	return 0;
}

int
parse_duration_ms(const char *s, long *millis)
{
	return parse_duration_any(s, millis, 1);
}
