/* util.h - logging, bounded strings, durations: things every stage uses. */
#ifndef AUTHSINK_UTIL_H
#define AUTHSINK_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

#define AUTHSINK_VERSION "0.1.0"

/* Errors for the user: where it happened and what to do. */
struct errbuf {
	char text[512];
};
void errbuf_set(struct errbuf *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Logging: stderr in the foreground, syslog(3) otherwise. */
enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };
void log_open(const char *ident, int to_stderr, int debug);
void log_msg(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define log_err(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
int log_debug_enabled(void);

/* Allocation that never returns NULL (exits on OOM: nothing sane to do). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Copy at most dstsize-1 bytes, always NUL-terminate; returns strlen(src). */
size_t str_copy(char *dst, const char *src, size_t dstsize);

/* "90", "30s", "30m", "2h", "1d" -> seconds; "100ms" allowed when
 * ms_out is used. Returns 0 or -1. */
int parse_duration(const char *s, long *seconds);
int parse_duration_ms(const char *s, long *millis);

/* Trim ASCII whitespace in place; returns the start. */
char *str_trim(char *s);

/* FNV-1a of p[0..n): for hash tables and change detection, not security. */
uint64_t fnv1a(const void *p, size_t n);

#endif
