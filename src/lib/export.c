/* export.c - write the live relay table as a text list, atomically. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "export.h"

static const char *const format_names[] = {
	[EXPORT_PLAIN] = "plain",
	[EXPORT_EXIM] = "exim",
	[EXPORT_POSTFIX] = "postfix",
	[EXPORT_MYNETWORKS] = "mynetworks",
	[EXPORT_SENDMAIL] = "sendmail",
};

int
export_format_parse(const char *name, enum export_format *f)
{
	for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
		if (strcmp(name, format_names[i]) == 0) {
			*f = (enum export_format)i;
			return 0;
		}
	}
	return -1;
}

const char *
export_format_name(enum export_format f)
{
	if ((size_t)f < sizeof(format_names) / sizeof(format_names[0]))
		return format_names[f];
	return "?";
}

struct collect {
	time_t now;
	char (*addrs)[ADDR_TEXT_MAX];
	size_t n, cap;
};

static int
collect_one(const struct relay_entry *e, void *arg)
{
	struct collect *c = arg;

	if (e->expires <= (long long)c->now)
		return 0;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 256;
		c->addrs = xrealloc(c->addrs, c->cap * sizeof(*c->addrs));
	}
	str_copy(c->addrs[c->n++], e->addr, ADDR_TEXT_MAX);
	return 0;
}

static int
cmp_addr(const void *a, const void *b)
{
	return strcmp(a, b);
}

long
relay_export_text(struct relay_table *t, time_t now, enum export_format f,
    char **out, size_t *len, struct errbuf *err)
{
	struct collect c = { .now = now };
	char *buf;
	size_t o = 0;

	if (relay_each(t, collect_one, &c) < 0) {
		errbuf_set(err, "cannot read relay table %s: %s", relay_path(t),
		    relay_strerror(t));
		free(c.addrs);
		return -1;
	}
	if (c.n > 0)
		qsort(c.addrs, c.n, sizeof(*c.addrs), cmp_addr);
	/* Longest line: [addr] or "addr" or "addr OK", plus LF. */
	buf = xmalloc(c.n * (ADDR_TEXT_MAX + 8) + 1);
	for (size_t i = 0; i < c.n; i++) {
		const char *a = c.addrs[i];
		int v6 = strchr(a, ':') != NULL;

		switch (f) {
		case EXPORT_EXIM:
			o += sprintf(buf + o, v6 ? "\"%s\"\n" : "%s\n", a);
			break;
		case EXPORT_POSTFIX:
			o += sprintf(buf + o, "%s OK\n", a);
			break;
		case EXPORT_MYNETWORKS:
			o += sprintf(buf + o, v6 ? "[%s]\n" : "%s\n", a);
			break;
		case EXPORT_SENDMAIL:
			o += sprintf(buf + o, v6 ? "IPv6:%s\n" : "%s\n", a);
			break;
		default:
			o += sprintf(buf + o, "%s\n", a);
			break;
		}
	}
	buf[o] = '\0';
	free(c.addrs);
	*out = buf;
	*len = o;
	return (long)c.n;
}

int
export_write_file(const char *path, const char *buf, size_t len,
    struct errbuf *err)
{
	char dirbuf[4096], tmp[4096 + 32];
	const char *dir;
	int fd;
	size_t done = 0;

	if (str_copy(dirbuf, path, sizeof(dirbuf)) >= sizeof(dirbuf)) {
		errbuf_set(err, "export file name too long: %s", path);
		return -1;
	}
	dir = dirname(dirbuf);
	/* Same directory, so rename(2) replaces the file atomically. */
	snprintf(tmp, sizeof(tmp), "%s/.authsink-export.XXXXXX", dir);
	if ((fd = mkstemp(tmp)) < 0) {
		errbuf_set(err, "cannot create a temporary file in %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0644) < 0)
		goto fail;
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		done += (size_t)n;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	return 0;
fail:
	errbuf_set(err, "cannot write export file %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

long
relay_export_as(struct relay_table *t, const char *path, enum export_format f,
    time_t now, struct errbuf *err)
{
	char *buf;
	size_t len;
	long n = relay_export_text(t, now, f, &buf, &len, err);

	if (n < 0)
		return -1;
	if (export_write_file(path, buf, len, err) < 0)
		n = -1;
	free(buf);
	return n;
}

int
relay_export(struct relay_table *t, const char *path, time_t now,
    struct errbuf *err)
{
	return relay_export_as(t, path, EXPORT_PLAIN, now, err) < 0 ? -1 : 0;
}
