/* syslog.h - parse one RFC 5424 or RFC 3164 message into fields.
 *
 * Fields are slices into the caller's buffer: nothing is copied and
 * nothing is allocated, so a hostile message costs no memory.
 *
 * An absent or empty field is always {NULL, 0}; a present one has n > 0
 * and lies inside the buffer given to syslog_parse. Slices may contain
 * any byte, NUL included (RFC 3164 MSG).
 *
 * RFC 5424 is recognised by "<PRI>" followed by a 1-3 digit VERSION and
 * SP; such a message is parsed strictly (NILVALUE "-" gives an empty
 * field) and is rejected, never re-read as RFC 3164, when it is broken.
 * Anything else is RFC 3164 as rsyslog/syslog-ng receive it; there
 * app_name/procid come from "tag[pid]:" and msg starts after the one SP
 * that follows the tag. See t/data/syslog-vectors.txt for examples. */
#ifndef AUTHSINK_SYSLOG_H
#define AUTHSINK_SYSLOG_H

#include <stddef.h>
#include <time.h>

struct slice {
	const char *p;		/* not NUL-terminated; NULL when absent */
	size_t n;
};

enum syslog_format { SYSLOG_RFC3164 = 1, SYSLOG_RFC5424 = 2 };

struct syslog_msg {
	enum syslog_format format;
	int pri;		/* 0..191; 13 when the message had none */
	int facility;		/* pri / 8 */
	int severity;		/* pri % 8 */
	int has_time;		/* timestamp came from the message */
	time_t time;		/* unix seconds (reception time if !has_time) */
	struct slice hostname;	/* empty when the message had none */
	struct slice app_name;	/* 5424 APP-NAME, 3164 tag without [pid] and ':' */
	struct slice procid;
	struct slice msgid;
	struct slice sd;	/* raw STRUCTURED-DATA incl. brackets; empty for "-" */
	struct slice msg;	/* BOM and trailing LF/CR/NUL removed */
};

enum syslog_status {
	SYSLOG_OK = 0,
	SYSLOG_EMPTY,		/* nothing but whitespace/NUL */
	SYSLOG_BAD_PRI,		/* '<' that is not a valid <0>..<191> */
	SYSLOG_BAD_HEADER,	/* "<PRI>1 " but the RFC 5424 header is broken */
	SYSLOG_BAD_SD,		/* RFC 5424 structured data is broken */
};

/* Parse buf[0..len). `now` is the reception time, used for NILVALUE
 * timestamps and to infer the year of RFC 3164 timestamps (local time).
 * Returns SYSLOG_OK and fills *m, or an error status (m is then undefined). */
enum syslog_status syslog_parse(const char *buf, size_t len, time_t now,
    struct syslog_msg *m);

const char *syslog_status_str(enum syslog_status s);

/* Find PARAM-NAME `name` inside SD-ELEMENT `sd_id` (any element when
 * sd_id is NULL). Copies the unescaped value, NUL-terminated, into
 * out[0..outlen) and returns its length, or -1 when absent or too long.
 * The first matching parameter wins (a PARAM-NAME may repeat inside an
 * element; SD-IDs cannot repeat, syslog_parse refuses that). With out
 * NULL (outlen ignored) it only measures: the length, or -1 if absent.
 * The value may contain NUL bytes: use the returned length. */
int syslog_sd_param(const struct syslog_msg *m, const char *sd_id,
    const char *name, char *out, size_t outlen);

#endif
