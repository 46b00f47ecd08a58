/* export.c - keep the `export` text file in step with the table: the live
 * addresses, one per line, in `export-format`, replaced atomically (see
 * src/lib/export.c). Rewritten at most once per commit, and only when
 * the list changed (a later expiry of a known address changes nothing)
 * or the file was removed or replaced behind our back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon.h"
#include "export.h"
#include "exporter.h"

static struct {
	char *path;		/* what we last wrote, NULL: nothing yet */
	int format;
	uint64_t hash;
	size_t len;
	dev_t dev;
	ino_t ino;
	int failing;
} last;

static int
unchanged(const char *path, int format, uint64_t hash, size_t len)
{
	struct stat st;

	return last.path != NULL && strcmp(last.path, path) == 0 &&
	    last.format == format && last.hash == hash && last.len == len &&
	    stat(path, &st) == 0 && st.st_dev == last.dev && st.st_ino == last.ino;
}

void
export_update(struct daemon *d)
{
	const char *path = d->cfg.export_file;
	enum export_format fmt = (enum export_format)d->cfg.export_format;
	struct errbuf err;
	struct stat st;
	uint64_t hash;
	size_t len;
	char *text;
	long n;

	if (path == NULL || d->table == NULL)
		return;
	n = relay_export_text(d->table, time(NULL), fmt, &text, &len, &err);
	if (n < 0) {
		log_err("export: %s", err.text);
		return;
	}
	hash = fnv1a(text, len);
	if (unchanged(path, (int)fmt, hash, len)) {
		free(text);
		return;
	}
	if (export_write_file(path, text, len, &err) < 0) {
		if (!last.failing)
			log_err("%s; will retry after the next commit", err.text);
		last.failing = 1;
		free(text);
		return;
	}
	free(text);
	if (last.failing)
		log_info("export file %s written again", path);
	last.failing = 0;
	free(last.path);
	last.path = xstrdup(path);
	last.format = (int)fmt;
	last.hash = hash;
	last.len = len;
	if (stat(path, &st) == 0) {
		last.dev = st.st_dev;
		last.ino = st.st_ino;
	}
	log_debug("exported %ld address%s to %s (%s)", n, n == 1 ? "" : "es",
	    path, export_format_name(fmt));
}
