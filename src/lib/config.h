/* config.h - authsink.conf: key = value lines. */
#ifndef AUTHSINK_CONFIG_H
#define AUTHSINK_CONFIG_H

#include <sys/types.h>
#include "addr.h"
#include "util.h"

#define DEFAULT_CONFIG   "/etc/authsink/authsink.conf"
#define DEFAULT_TABLE    "/var/lib/authsink/relay.tdb"
#define DEFAULT_RULESDIR "/etc/authsink/rules.d"
#define DEFAULT_PIDFILE  "/run/authsink/authsinkd.pid"
#define DEFAULT_DUMPFILE "/run/authsink/authsinkd.dump"
#define DEFAULT_SOCKET   "/run/authsink/log.sock"

enum listen_kind { LISTEN_UDP, LISTEN_TCP, LISTEN_UNIX_DGRAM, LISTEN_UNIX_STREAM,
	LISTEN_RELP };
#define LISTEN_INET(k) ((k) == LISTEN_UDP || (k) == LISTEN_TCP || (k) == LISTEN_RELP)

struct listen_spec {
	enum listen_kind kind;
	char *text;		/* as written, for messages */
	char *host;		/* inet: address text without brackets */
	int port;
	char *path;		/* unix: socket path */
	struct cidr_list allow;	/* inet: peers allowed besides loopback */
	int has_allow;		/* allow-from= given: it replaces the global list */
	mode_t mode;		/* unix: socket file mode */
	int has_mode;
	uid_t owner;		/* unix: (uid_t)-1 = unchanged */
	gid_t group;		/* unix: (gid_t)-1 = unchanged */
	uid_t *peer_uids;	/* unix: required peer credentials, NULL = any */
	size_t npeer_uids;
};

struct config {
	char *file;		/* where it was read from, or NULL for built-in */
	struct listen_spec *listens;
	size_t nlistens;
	struct cidr_list allow_from;	/* default for listens without their own */
	struct cidr_list never_relay;
	char *table;
	char *rules_dir;
	char *pidfile;
	char *dumpfile;
	char *export_file;	/* NULL: none */
	int export_format;	/* enum export_format (export.h) */
	char *user;		/* NULL: stay as we are */
	long ttl;		/* seconds */
	long max_session;	/* seconds an open session keeps an address */
	long commit_interval_ms;
	long sweep_interval;	/* seconds */
	long max_message;	/* bytes; longer messages are truncated */
	mode_t socket_mode;	/* unix sockets without their own mode= */
	long idle_timeout;	/* seconds a stream may stall inside a frame; 0 = never */
	long max_connections;	/* per stream listener */
	int sync;		/* fsync per commit */
	int relay_private;	/* may private addresses be added? */
	int trust_timestamps;	/* expire from the message's own time */
};

/* Built-in defaults (DESIGN.md names). */
void config_defaults(struct config *c);
/* Read `path` over the defaults. -1 and err = "file:line: reason" on error. */
int config_load(const char *path, struct config *c, struct errbuf *err);
/* Parse one listen value: "kind:where [option=value ...]". */
int listen_spec_parse(const char *text, struct listen_spec *ls, struct errbuf *err);
void config_free(struct config *c);

#endif
