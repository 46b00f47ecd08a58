/* fuzz-config.c - libFuzzer target for config_load() (authsink.conf).
 *
 * config_load() takes a path: the input is written to a memfd and loaded
 * as /proc/self/fd/N over the built-in defaults. A rejected file must
 * explain itself as "PATH:LINE: ..." (or "PATH: ..."); an accepted one
 * must hold values inside the documented ranges; either way
 * config_free() must release everything (LeakSanitizer checks). Each
 * listen value found is also fed to listen_spec_parse() on its own. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "memfile.h"

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz-config: check failed: %s (line %d)\n", #cond, \
	    __LINE__); abort(); } } while (0)

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	memfile_open("authsink-fuzz.conf");
	return 0;
}

static void
check_accepted(const struct config *c)
{
	CHECK(c->file != NULL && strcmp(c->file, memfile_path) == 0);
	CHECK(c->table && c->table[0] == '/');
	CHECK(c->rules_dir && c->rules_dir[0] == '/');
	CHECK(c->pidfile && c->pidfile[0] == '/');
	CHECK(c->dumpfile && c->dumpfile[0] == '/');
	CHECK(c->export_file == NULL || c->export_file[0] == '/');
	CHECK(c->ttl >= 1 && c->max_session >= 1 && c->sweep_interval >= 1);
	CHECK(c->idle_timeout >= 0);
	CHECK(c->commit_interval_ms >= 1 && c->commit_interval_ms <= 60000);
	CHECK(c->max_message >= 480 && c->max_message <= 65536);
	CHECK(c->max_connections >= 1 && c->max_connections <= 65536);
	CHECK(c->socket_mode <= 0777);
	CHECK(c->sync == 0 || c->sync == 1);
	CHECK(c->relay_private == 0 || c->relay_private == 1);
	CHECK(c->trust_timestamps == 0 || c->trust_timestamps == 1);
	for (size_t i = 0; i < c->nlistens; i++) {
		const struct listen_spec *ls = &c->listens[i];
		CHECK(ls->text != NULL);
		if (ls->kind == LISTEN_UDP || ls->kind == LISTEN_TCP ||
		    ls->kind == LISTEN_RELP) {
			struct addr a;
			CHECK(ls->host != NULL && ls->path == NULL);
			CHECK(addr_parse(ls->host, strlen(ls->host), &a) == 0);
			CHECK(ls->port >= 1 && ls->port <= 65535);
		} else {
			CHECK(ls->kind == LISTEN_UNIX_DGRAM ||
			    ls->kind == LISTEN_UNIX_STREAM);
			CHECK(ls->path != NULL && ls->path[0] == '/' &&
			    strlen(ls->path) < 108);
			CHECK(ls->mode <= 0777);
		}
		CHECK(ls->allow.n <= ls->allow.cap);
		for (size_t k = 0; k < ls->allow.n; k++)
			CHECK(ls->allow.v[k].prefix >= 0 &&
			    ls->allow.v[k].prefix <= 128);
	}
	for (size_t k = 0; k < c->allow_from.n; k++)
		CHECK(c->allow_from.v[k].prefix >= 0 &&
		    c->allow_from.v[k].prefix <= 128);
	for (size_t k = 0; k < c->never_relay.n; k++)
		CHECK(c->never_relay.v[k].prefix >= 0 &&
		    c->never_relay.v[k].prefix <= 128);
}

/* Every "listen = VALUE" line, through listen_spec_parse() alone. */
static void
each_listen(const uint8_t *data, size_t size)
{
	char v[5000];
	size_t i = 0;

	while (i < size) {
		const uint8_t *lf = memchr(data + i, '\n', size - i);
		size_t end = lf ? (size_t)(lf - data) : size, n = end - i;
		const char *eq;

		if (n > 7 && n < sizeof(v) && memcmp(data + i, "listen", 6) == 0 &&
		    (eq = memchr(data + i, '=', n)) != NULL) {
			size_t off = (size_t)((const uint8_t *)eq + 1 - (data + i));
			memcpy(v, eq + 1, n - off);
			v[n - off] = '\0';
			if (memchr(v, '\0', n - off) == NULL) {
				struct listen_spec ls;
				struct errbuf err;
				char *s = v;
				while (*s == ' ')
					s++;
				memset(err.text, 0, sizeof(err.text));
				if (listen_spec_parse(s, &ls, &err) == 0) {
					CHECK(ls.text != NULL);
					free(ls.text);
					free(ls.host);
					free(ls.path);
					free(ls.peer_uids);
					cidr_list_free(&ls.allow);
				} else {
					CHECK(err.text[0] != '\0');
				}
			}
		}
		i = end + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	struct errbuf err;

	memfile_write(data, size);
	config_defaults(&c);
	memset(err.text, 0, sizeof(err.text));
	if (config_load(memfile_path, &c, &err) == 0) {
		check_accepted(&c);
	} else {
		size_t pn = strlen(memfile_path);
		if (strncmp(err.text, memfile_path, pn) != 0 ||
		    (err.text[pn] != ':')) {
			fprintf(stderr, "fuzz-config: error does not name the "
			    "file: \"%s\"\n", err.text);
			abort();
		}
		CHECK(memchr(err.text, '\0', sizeof(err.text)) != NULL);
	}
	config_free(&c);
	each_listen(data, size);
	return 0;
}
