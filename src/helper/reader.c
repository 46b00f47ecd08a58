/* reader.c - a relay table kept open by a long-lived reader (policy,
 * socketmap, serve): reopened when the file was replaced, retried when it
 * was missing, and never "open" when it cannot be read. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "helper.h"

void
reader_init(struct reader *r, const char *path)
{
	memset(r, 0, sizeof(*r));
	r->path = path;
}

void
reader_close(struct reader *r)
{
	relay_close(r->t);
	r->t = NULL;
}

static void
reader_failed(struct reader *r, const char *fmt, const char *detail)
{
	char why[sizeof(r->err)];

	snprintf(why, sizeof(why), fmt, r->path, detail);
	/* Log a failure once, not once per query. */
	if (!r->failing || strcmp(why, r->err) != 0)
		log_err("%s; answering with a temporary failure", why);
	str_copy(r->err, why, sizeof(r->err));
	r->failing = 1;
}

/* Make sure r->t is the file now at r->path. 0 or -1. */
static int
reader_sync(struct reader *r)
{
	struct errbuf err;
	struct stat st;

	if (stat(r->path, &st) < 0) {
		reader_close(r);
		reader_failed(r, "relay table %s: %s", strerror(errno));
		return -1;
	}
	if (r->t != NULL && (st.st_dev != r->dev || st.st_ino != r->ino)) {
		log_info("relay table %s was replaced, reopening", r->path);
		reader_close(r);
	}
	if (r->t == NULL) {
		if ((r->t = relay_open(r->path, RELAY_READ, 0, &err)) == NULL) {
			reader_failed(r, "%s%s", err.text);
			return -1;
		}
		r->dev = st.st_dev;
		r->ino = st.st_ino;
	}
	return 0;
}

int
reader_live(struct reader *r, const char *key, time_t now)
{
	struct relay_entry e;
	int rc = -1;

	/* Once the table has failed, do not wait for it again on every
	 * query: a long-lived reader (serve) answering many clients would
	 * be held a second per query by a table that is not a tdb or a
	 * commit that never ends. One attempt each, until it works. */
	relay_set_read_wait(r->failing ? 0 : -1);
	for (int attempt = 0; attempt < 2 && rc < 0; attempt++) {
		int corrupt;

		if (reader_sync(r) < 0)
			return -1;
		rc = relay_lookup_live(r->t, key, now, &e);
		if (rc >= 0)
			break;
		/* A damaged file may have been repaired or replaced: reopen
		 * once. A lock held too long (a stuck commit) is not retried:
		 * that would only double the wait. */
		corrupt = relay_corrupt(r->t);
		reader_failed(r, "cannot read relay table %s: %s",
		    relay_strerror(r->t));
		reader_close(r);
		if (!corrupt)
			break;
	}
	if (rc >= 0 && r->failing) {
		log_info("relay table %s is readable again", r->path);
		r->failing = 0;
		r->err[0] = '\0';
	}
	return rc;
}

int
reader_key(const char *text, size_t n, char out[ADDR_TEXT_MAX])
{
	struct addr a;

	/* Sendmail writes IPv6 client addresses as "IPv6:2001:db8::1". */
	if (n > 5 && strncasecmp(text, "IPv6:", 5) == 0 && memchr(text + 5, ':', n - 5)) {
		text += 5;
		n -= 5;
	}
	if (addr_parse(text, n, &a) < 0)
		return -1;
	addr_format(&a, out);
	return 0;
}
