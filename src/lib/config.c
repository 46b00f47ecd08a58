/* config.c - authsink.conf: "key = value" lines, '#' comments.
 *
 * Every error names file:line and the fix, and a file with any error is
 * rejected as a whole: a half-applied configuration is worse than none. */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "export.h"

#define CONFIG_LINE_MAX 4096

static int add_listen(struct config *c, const char *v, struct errbuf *err);

static void
set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	set_str(&c->table, DEFAULT_TABLE);
	set_str(&c->rules_dir, DEFAULT_RULESDIR);
	set_str(&c->pidfile, DEFAULT_PIDFILE);
	set_str(&c->dumpfile, DEFAULT_DUMPFILE);
	c->ttl = 30 * 60;
	c->max_session = 12 * 3600;
	c->commit_interval_ms = 100;
	c->sweep_interval = 60;
	c->max_message = 8192;
	c->socket_mode = 0666;
	c->idle_timeout = 60;
	c->max_connections = 256;
	c->sync = 0;
	c->relay_private = 1;
	c->trust_timestamps = 1;
	add_listen(c, "unix-dgram:" DEFAULT_SOCKET, NULL);
	add_listen(c, "udp:127.0.0.1:5514", NULL);
}

static void
listen_spec_free(struct listen_spec *ls)
{
	free(ls->text);
	free(ls->host);
	free(ls->path);
	free(ls->peer_uids);
	cidr_list_free(&ls->allow);
}

void
config_free(struct config *c)
{
	for (size_t i = 0; i < c->nlistens; i++)
		listen_spec_free(&c->listens[i]);
	free(c->listens);
	cidr_list_free(&c->allow_from);
	cidr_list_free(&c->never_relay);
	free(c->file);
	free(c->table);
	free(c->rules_dir);
	free(c->pidfile);
	free(c->dumpfile);
	free(c->export_file);
	free(c->user);
	memset(c, 0, sizeof(*c));
}

static int
parse_port(const char *s, int *port)
{
	char *end;
	long p;

	if (!isdigit((unsigned char)*s))
		return -1;
	p = strtol(s, &end, 10);
	if (*end != '\0' || p < 1 || p > 65535)
		return -1;
	*port = (int)p;
	return 0;
}

/* "[v6]:port" or "v4:port". */
static int
parse_hostport(const char *s, struct listen_spec *ls, struct errbuf *err)
{
	const char *colon;
	struct addr a;

	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':') {
			errbuf_set(err, "\"%s\": write IPv6 as [addr]:port", ls->text);
			return -1;
		}
		ls->host = xstrndup(s + 1, close - s - 1);
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL) {
			errbuf_set(err, "\"%s\": missing :port", ls->text);
			return -1;
		}
		ls->host = xstrndup(s, colon - s);
	}
	if (addr_parse(ls->host, strlen(ls->host), &a) < 0) {
		errbuf_set(err, "\"%s\": \"%s\" is not an IP address (host names "
		    "are not resolved)", ls->text, ls->host);
		return -1;
	}
	if (parse_port(colon + 1, &ls->port) < 0) {
		errbuf_set(err, "\"%s\": port must be 1..65535", ls->text);
		return -1;
	}
	return 0;
}

static int
parse_endpoint(const char *text, struct listen_spec *ls, struct errbuf *err)
{
	static const struct { const char *prefix; enum listen_kind kind; } kinds[] = {
		{ "udp:", LISTEN_UDP }, { "tcp:", LISTEN_TCP }, { "relp:", LISTEN_RELP },
		{ "unix-dgram:", LISTEN_UNIX_DGRAM }, { "unix:", LISTEN_UNIX_STREAM },
	};

	memset(ls, 0, sizeof(*ls));
	ls->text = xstrdup(text);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i].prefix);
		if (strncmp(text, kinds[i].prefix, n) != 0)
			continue;
		ls->kind = kinds[i].kind;
		if (LISTEN_INET(ls->kind)) {
			if (parse_hostport(text + n, ls, err) == 0)
				return 0;
		} else if (text[n] != '/') {
			errbuf_set(err, "\"%s\": UNIX socket path must be absolute", text);
		} else if (strlen(text + n) >= 108) {
			errbuf_set(err, "\"%s\": UNIX socket path longer than 107 bytes", text);
		} else {
			ls->path = xstrdup(text + n);
			return 0;
		}
		listen_spec_free(ls);
		return -1;
	}
	errbuf_set(err, "\"%s\": expected udp:ADDR:PORT, tcp:ADDR:PORT, "
	    "relp:ADDR:PORT, "
	    "unix-dgram:/PATH or unix:/PATH", text);
	listen_spec_free(ls);
	return -1;
}

static int parse_cidrs(char *v, struct cidr_list *l, struct errbuf *err);

static int
lookup_uid(const char *name, uid_t *uid)
{
	struct passwd *pw;
	char *end;
	unsigned long n = strtoul(name, &end, 10);

	if (*name != '\0' && *end == '\0') {
		*uid = (uid_t)n;
		return 0;
	}
	if ((pw = getpwnam(name)) == NULL)
		return -1;
	*uid = pw->pw_uid;
	return 0;
}

static int
lookup_gid(const char *name, gid_t *gid)
{
	struct group *gr;
	char *end;
	unsigned long n = strtoul(name, &end, 10);

	if (*name != '\0' && *end == '\0') {
		*gid = (gid_t)n;
		return 0;
	}
	if ((gr = getgrnam(name)) == NULL)
		return -1;
	*gid = gr->gr_gid;
	return 0;
}

static int
parse_peer_uids(char *v, struct listen_spec *ls, struct errbuf *err)
{
	for (char *tok = strtok(v, ","); tok; tok = strtok(NULL, ",")) {
		uid_t uid;
		if (lookup_uid(tok, &uid) < 0) {
			errbuf_set(err, "peer-uid: no user \"%s\"", tok);
			return -1;
		}
		ls->peer_uids = xrealloc(ls->peer_uids,
		    (ls->npeer_uids + 1) * sizeof(*ls->peer_uids));
		ls->peer_uids[ls->npeer_uids++] = uid;
	}
	return 0;
}

/* One "name=value" after the endpoint. */
static int
apply_listen_option(struct listen_spec *ls, char *opt, struct errbuf *err)
{
	char *eq = strchr(opt, '='), *v;
	int unix_only, inet = LISTEN_INET(ls->kind);

	if (eq == NULL || eq[1] == '\0') {
		errbuf_set(err, "listen option \"%s\": expected name=value", opt);
		return -1;
	}
	*eq = '\0';
	v = eq + 1;
	unix_only = strcmp(opt, "allow-from") != 0;
	if (unix_only == inet) {
		errbuf_set(err, "listen option %s= does not apply to %s", opt,
		    ls->text);
		return -1;
	}
	if (!strcmp(opt, "allow-from")) {
		ls->has_allow = 1;
		return parse_cidrs(v, &ls->allow, err);
	}
	if (!strcmp(opt, "mode")) {
		char *end;
		long m = strtol(v, &end, 8);
		if (*end != '\0' || m < 0 || m > 0777) {
			errbuf_set(err, "mode=%s: must be octal, e.g. 0660", v);
			return -1;
		}
		ls->mode = (mode_t)m;
		ls->has_mode = 1;
		return 0;
	}
	if (!strcmp(opt, "owner")) {
		if (lookup_uid(v, &ls->owner) == 0)
			return 0;
		errbuf_set(err, "owner=%s: no such user", v);
		return -1;
	}
	if (!strcmp(opt, "group")) {
		if (lookup_gid(v, &ls->group) == 0)
			return 0;
		errbuf_set(err, "group=%s: no such group", v);
		return -1;
	}
	if (!strcmp(opt, "peer-uid"))
		return parse_peer_uids(v, ls, err);
	errbuf_set(err, "unknown listen option \"%s\" (allow-from, mode, "
	    "owner, group, peer-uid)", opt);
	return -1;
}

int
listen_spec_parse(const char *text, struct listen_spec *ls, struct errbuf *err)
{
	char buf[CONFIG_LINE_MAX + 1], *save = NULL, *tok;

	if (str_copy(buf, text, sizeof(buf)) >= sizeof(buf)) {
		errbuf_set(err, "listen value too long");
		return -1;
	}
	tok = strtok_r(buf, " \t", &save);
	if (tok == NULL) {
		errbuf_set(err, "empty listen value: expected udp:ADDR:PORT, "
		    "tcp:ADDR:PORT, relp:ADDR:PORT, unix-dgram:/PATH or unix:/PATH");
		return -1;
	}
	if (parse_endpoint(tok, ls, err) < 0)
		return -1;
	ls->owner = (uid_t)-1;
	ls->group = (gid_t)-1;
	while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
		if (apply_listen_option(ls, tok, err) < 0) {
			listen_spec_free(ls);
			return -1;
		}
	}
	/* The whole line, options included, names it in messages and tells a
	 * reload whether it changed. */
	free(ls->text);
	ls->text = xstrdup(text);
	return 0;
}

static int
parse_bool(const char *v, int *out)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
		*out = 1;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0"))
		*out = 0;
	else
		return -1;
	return 0;
}

/* Whitespace- or comma-separated CIDRs. */
static int
parse_cidrs(char *v, struct cidr_list *l, struct errbuf *err)
{
	for (char *tok = strtok(v, " \t,"); tok; tok = strtok(NULL, " \t,")) {
		struct cidr c;
		if (cidr_parse(tok, &c) < 0) {
			errbuf_set(err, "\"%s\" is not an address or CIDR "
			    "(e.g. 192.0.2.0/24, 2001:db8::/32)", tok);
			return -1;
		}
		cidr_list_add(l, &c);
	}
	return 0;
}

static int
add_listen(struct config *c, const char *v, struct errbuf *err)
{
	struct listen_spec ls;

	if (listen_spec_parse(v, &ls, err) < 0)
		return -1;
	c->listens = xrealloc(c->listens, (c->nlistens + 1) * sizeof(*c->listens));
	c->listens[c->nlistens++] = ls;
	return 0;
}

static int
set_duration(const char *v, long *out, long min, struct errbuf *err)
{
	if (parse_duration(v, out) < 0 || *out < min) {
		errbuf_set(err, "\"%s\" is not a duration of at least %lds "
		    "(e.g. 90, 30s, 30m, 2h)", v, min);
		return -1;
	}
	return 0;
}

/* One "key = value"; returns 0 or -1 with err set (without file:line). */
static int
apply(struct config *c, const char *key, char *v, int *saw_listen,
    struct errbuf *err)
{
	if (!strcmp(key, "listen")) {
		if (!*saw_listen) {
			/* The first listen line replaces the built-in ones. */
			for (size_t i = 0; i < c->nlistens; i++)
				listen_spec_free(&c->listens[i]);
			c->nlistens = 0;
			*saw_listen = 1;
		}
		return add_listen(c, v, err);
	}
	if (!strcmp(key, "allow-from"))
		return parse_cidrs(v, &c->allow_from, err);
	if (!strcmp(key, "never-relay"))
		return parse_cidrs(v, &c->never_relay, err);
	if (!strcmp(key, "table") || !strcmp(key, "rules-dir") ||
	    !strcmp(key, "pidfile") || !strcmp(key, "dumpfile") ||
	    !strcmp(key, "export")) {
		char **dst = !strcmp(key, "table") ? &c->table :
		    !strcmp(key, "rules-dir") ? &c->rules_dir :
		    !strcmp(key, "pidfile") ? &c->pidfile :
		    !strcmp(key, "dumpfile") ? &c->dumpfile : &c->export_file;
		if (v[0] != '/') {
			errbuf_set(err, "%s must be an absolute path, not \"%s\"", key, v);
			return -1;
		}
		set_str(dst, v);
		return 0;
	}
	if (!strcmp(key, "export-format")) {
		enum export_format f;
		if (export_format_parse(v, &f) < 0) {
			errbuf_set(err, "\"%s\": export-format must be plain, "
			    "exim, postfix, mynetworks or sendmail", v);
			return -1;
		}
		c->export_format = (int)f;
		return 0;
	}
	if (!strcmp(key, "user")) {
		set_str(&c->user, v);
		return 0;
	}
	if (!strcmp(key, "ttl"))
		return set_duration(v, &c->ttl, 1, err);
	if (!strcmp(key, "max-session"))
		return set_duration(v, &c->max_session, 1, err);
	if (!strcmp(key, "sweep-interval"))
		return set_duration(v, &c->sweep_interval, 1, err);
	if (!strcmp(key, "idle-timeout"))
		return set_duration(v, &c->idle_timeout, 0, err);
	if (!strcmp(key, "max-connections")) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*end != '\0' || n < 1 || n > 65536) {
			errbuf_set(err, "\"%s\": max-connections must be 1..65536", v);
			return -1;
		}
		c->max_connections = n;
		return 0;
	}
	if (!strcmp(key, "commit-interval")) {
		if (parse_duration_ms(v, &c->commit_interval_ms) < 0 ||
		    c->commit_interval_ms < 1 || c->commit_interval_ms > 60000) {
			errbuf_set(err, "\"%s\": commit-interval must be 1ms..60s "
			    "(e.g. 100ms, 1s)", v);
			return -1;
		}
		return 0;
	}
	if (!strcmp(key, "max-message")) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*end != '\0' || n < 480 || n > 65536) {
			errbuf_set(err, "\"%s\": max-message must be 480..65536 bytes", v);
			return -1;
		}
		c->max_message = n;
		return 0;
	}
	if (!strcmp(key, "socket-mode")) {
		char *end;
		long m = strtol(v, &end, 8);
		if (*end != '\0' || m < 0 || m > 0777) {
			errbuf_set(err, "\"%s\": socket-mode must be octal, e.g. 0660", v);
			return -1;
		}
		c->socket_mode = (mode_t)m;
		return 0;
	}
	if (!strcmp(key, "sync") || !strcmp(key, "relay-private") ||
	    !strcmp(key, "trust-timestamps")) {
		int *dst = !strcmp(key, "sync") ? &c->sync :
		    !strcmp(key, "relay-private") ? &c->relay_private :
		    &c->trust_timestamps;
		if (parse_bool(v, dst) < 0) {
			errbuf_set(err, "\"%s\": %s must be yes or no", v, key);
			return -1;
		}
		return 0;
	}
	errbuf_set(err, "unknown key \"%s\" (see authsink.conf(5))", key);
	return -1;
}

int
config_load(const char *path, struct config *c, struct errbuf *err)
{
	char line[CONFIG_LINE_MAX + 2];
	struct errbuf why;
	int lineno = 0, saw_listen = 0;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		errbuf_set(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	set_str(&c->file, path);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p, *eq, *key, *val;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			errbuf_set(err, "%s:%d: line longer than %d bytes", path,
			    lineno, CONFIG_LINE_MAX);
			goto fail;
		}
		if ((p = strchr(line, '#')) != NULL)
			*p = '\0';
		p = str_trim(line);
		if (*p == '\0')
			continue;
		if ((eq = strchr(p, '=')) == NULL) {
			errbuf_set(err, "%s:%d: expected \"key = value\", got \"%s\"",
			    path, lineno, p);
			goto fail;
		}
		*eq = '\0';
		key = str_trim(p);
		val = str_trim(eq + 1);
		if (*val == '\0') {
			errbuf_set(err, "%s:%d: %s has no value", path, lineno, key);
			goto fail;
		}
		if (apply(c, key, val, &saw_listen, &why) < 0) {
			errbuf_set(err, "%s:%d: %s", path, lineno, why.text);
			goto fail;
		}
	}
	if (ferror(f)) {
		errbuf_set(err, "%s: read error: %s", path, strerror(errno));
		goto fail;
	}
	fclose(f);
	return 0;
fail:
	fclose(f);
	return -1;
}
