/* listen.h - the sockets authsinkd reads syslog messages from. */
#ifndef AUTHSINK_LISTEN_H
#define AUTHSINK_LISTEN_H

#include <uv.h>

#include "config.h"
#include "frame.h"

struct daemon;
struct conn;

struct listener {
	struct listener *next;
	struct daemon *d;
	enum listen_kind kind;
	const struct listen_spec *spec;	/* stays valid: reloads keep listens */
	char *text;		/* "udp:127.0.0.1:5514", for messages */
	char *path;		/* unix: removed at exit */
	union {
		uv_handle_t handle;
		uv_udp_t udp;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
		uv_poll_t poll;
	} h;
	int fd;			/* unix-dgram */
	char *buf;		/* datagram receive buffer, owned */
	size_t buflen;
	struct conn *conns;	/* stream connections */
	int nconns;
};

#endif
