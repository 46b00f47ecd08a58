/* export.h - the relay table as a text file, for MTAs that read lists:
 * Exim lsearch/iplsearch, Sendmail F classes, Postfix texthash/cidr and
 * mynetworks files. The file is always replaced whole (temporary file in
 * the same directory, fsync, rename), so a reader sees the old list or
 * the new one, never half of one. */
#ifndef AUTHSINK_EXPORT_H
#define AUTHSINK_EXPORT_H

#include <stddef.h>
#include <time.h>
#include "relay.h"
#include "util.h"

enum export_format {
	EXPORT_PLAIN = 0,	/* 192.0.2.7, 2001:db8::1 */
	EXPORT_EXIM,		/* IPv6 in "quotes": lsearch/iplsearch keys */
	EXPORT_POSTFIX,		/* "ADDR OK": texthash:, cidr:, postmap */
	EXPORT_MYNETWORKS,	/* IPv6 in [brackets]: mynetworks = /file */
	EXPORT_SENDMAIL,	/* IPv6 as IPv6:addr, like ${client_addr} */
};

/* "plain", "exim", "postfix", "mynetworks", "sendmail". 0, or -1. */
int export_format_parse(const char *name, enum export_format *f);
const char *export_format_name(enum export_format f);

/* The live entries (expires > now), sorted, one line each, as a malloc'd
 * NUL-terminated text in *out (length *len). Returns the number of
 * addresses, or -1 with err set. */
long relay_export_text(struct relay_table *t, time_t now, enum export_format f,
    char **out, size_t *len, struct errbuf *err);

/* Replace `path` atomically by buf[0..len), mode 0644. 0 or -1. */
int export_write_file(const char *path, const char *buf, size_t len,
    struct errbuf *err);

/* Both of the above. Returns the number of addresses written or -1. */
long relay_export_as(struct relay_table *t, const char *path,
    enum export_format f, time_t now, struct errbuf *err);

/* Plain format; 0 or -1. */
int relay_export(struct relay_table *t, const char *path, time_t now,
    struct errbuf *err);

#endif
