/* listen.c - UDP, TCP, RELP, UNIX stream and UNIX datagram listeners.
 *
 * Datagram listeners hand each datagram to ingest; stream listeners run
 * each connection through a framer (RELP: a RELP parser, and each message
 * is acknowledged once what it changed is committed). Peers outside
 * loopback/allow-from are counted and dropped before anything is parsed. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "daemon.h"
#include "listen.h"
#include "relp.h"

/* libuv hands out 64 KiB slots to recvmmsg, 20 at most per call. */
#define UDP_SLOT 65536
#define UDP_SLOTS 20
/* Kernel receive buffer of a UDP socket. The default (rmem_default, 208
 * KiB) holds about 4 ms of a 50k msg/s stream: a commit or a reload that
 * takes longer drops datagrams (t/bench: 6-25 % lost at 100k msg/s on
 * 2 cores, none with 4 MiB). */
#define UDP_RCVBUF (4 << 20)
#define UNIX_DGRAM_BATCH 32
#define STREAM_READ_BUF 65536
/* RELP: acknowledgements held until the next commit, per connection.
 * rsyslog's window is 128; a client far past it is not waiting for
 * them. Nor is one that leaves this much of them unread. */
#define RELP_ACKS_MAX 65536
#define RELP_UNREAD_MAX (4u << 20)

struct conn {
	struct conn *next, *prev;
	struct listener *l;
	union {
		uv_handle_t handle;
		uv_stream_t stream;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} h;
	struct framer framer;	/* tcp:, unix: */
	struct relp_parser relp;	/* relp: */
	unsigned long *acks;	/* relp: txnrs of messages not yet acknowledged */
	size_t nacks, capacks;
	int is_relp;		/* c->relp, not c->framer (the listener may be
				 * freed before the connection's handles close) */
	int relp_open;		/* relp: the client sent "open" */
	uv_timer_t stall;	/* armed while a frame is incomplete */
	int closing;
};

static char stream_buf[STREAM_READ_BUF];

/* ---- UDP ---- */

static void
udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct listener *l = h->data;

	(void)suggested;
	/* One buffer per listener, reused: libuv finishes every callback for
	 * a batch before it asks for the next buffer. */
	*buf = uv_buf_init(l->buf, (unsigned int)l->buflen);
}

static void
deliver_datagram(struct listener *l, const char *data, size_t n, int truncated)
{
	size_t max = (size_t)l->d->cfg.max_message;

	if (n > max) {
		n = max;
		truncated = 1;
	}
	ingest_message(l->d, data, n, truncated);
}

static void
udp_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
    const struct sockaddr *addr, unsigned flags)
{
	struct listener *l = h->data;

	if (nread < 0) {
		log_warn("%s: receive error: %s", l->text, uv_strerror((int)nread));
		return;
	}
	if (nread == 0 || addr == NULL || (flags & UV_UDP_MMSG_FREE))
		return;	/* nothing more now, or an empty datagram */
	if (!peer_allowed(l->d, l, addr)) {
		l->d->n.refused++;
		return;
	}
	deliver_datagram(l, buf->base, (size_t)nread, (flags & UV_UDP_PARTIAL) != 0);
}

static int
open_udp(struct listener *l, const struct listen_spec *ls)
{
	struct sockaddr_storage ss;
	int family = strchr(ls->host, ':') ? AF_INET6 : AF_INET;
	int rc;

	rc = family == AF_INET6 ?
	    uv_ip6_addr(ls->host, ls->port, (struct sockaddr_in6 *)&ss) :
	    uv_ip4_addr(ls->host, ls->port, (struct sockaddr_in *)&ss);
	if (rc == 0)
		rc = uv_udp_init_ex(l->d->loop, &l->h.udp, family | UV_UDP_RECVMMSG);
	if (rc != 0)
		return rc;
	l->h.udp.data = l;
	rc = uv_udp_bind(&l->h.udp, (struct sockaddr *)&ss,
	    family == AF_INET6 ? UV_UDP_IPV6ONLY : 0);
	if (rc != 0)
		return rc;
	/* Past net.core.rmem_max needs CAP_NET_ADMIN (we bind as root), as
	 * rsyslog's imudp does; otherwise take what rmem_max allows. */
	uv_os_fd_t fd;
	int rcvbuf = UDP_RCVBUF;
	if (uv_fileno(&l->h.handle, &fd) == 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	l->buflen = uv_udp_using_recvmmsg(&l->h.udp) ? UDP_SLOT * UDP_SLOTS : UDP_SLOT;
	l->buf = xmalloc(l->buflen);
	return uv_udp_recv_start(&l->h.udp, udp_alloc, udp_recv);
}

/* ---- UNIX sockets: who may write ---- */

static int
uid_allowed(const struct listen_spec *ls, uid_t uid)
{
	for (size_t i = 0; i < ls->npeer_uids; i++)
		if (ls->peer_uids[i] == uid)
			return 1;
	return 0;
}

/* SCM_CREDENTIALS the kernel attached (SO_PASSCRED): not forgeable. */
static int
dgram_sender_allowed(const struct listen_spec *ls, struct msghdr *mh)
{
	struct cmsghdr *cm;

	if (ls->npeer_uids == 0)
		return 1;
	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS) {
			struct ucred cred;
			memcpy(&cred, CMSG_DATA(cm), sizeof(cred));
			return uid_allowed(ls, cred.uid);
		}
	}
	return 0;
}

static int
set_socket_file_access(const struct listener *l, const struct listen_spec *ls)
{
	mode_t mode = ls->has_mode ? ls->mode : l->d->cfg.socket_mode;

	if ((ls->owner != (uid_t)-1 || ls->group != (gid_t)-1) &&
	    chown(ls->path, ls->owner, ls->group) < 0)
		return -errno;
	return chmod(ls->path, mode) < 0 ? -errno : 0;
}

/* ---- UNIX datagram (uv_udp cannot bind AF_UNIX; poll the fd) ---- */

#define CRED_SPACE CMSG_SPACE(sizeof(struct ucred))

static void
unix_dgram_ready(uv_poll_t *h, int status, int events)
{
	struct listener *l = h->data;
	size_t slot = (size_t)l->d->cfg.max_message;
	struct mmsghdr msgs[UNIX_DGRAM_BATCH];
	struct iovec iov[UNIX_DGRAM_BATCH];
	union {
		char buf[CRED_SPACE];
		struct cmsghdr align;
	} ctl[UNIX_DGRAM_BATCH];
	int want_creds = l->spec->npeer_uids > 0;

	(void)events;
	if (status < 0) {
		log_warn("%s: poll error: %s", l->text, uv_strerror(status));
		return;
	}
	/* Bounded rounds per wakeup so other sockets get their turn. */
	for (int round = 0; round < 8; round++) {
		memset(msgs, 0, sizeof(msgs));
		for (int i = 0; i < UNIX_DGRAM_BATCH; i++) {
			iov[i].iov_base = l->buf + (size_t)i * slot;
			iov[i].iov_len = slot;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			if (want_creds) {
				msgs[i].msg_hdr.msg_control = ctl[i].buf;
				msgs[i].msg_hdr.msg_controllen = sizeof(ctl[i].buf);
			}
		}
		int n = recvmmsg(l->fd, msgs, UNIX_DGRAM_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("%s: receive error: %s", l->text, strerror(errno));
			return;
		}
		for (int i = 0; i < n; i++) {
			if (!dgram_sender_allowed(l->spec, &msgs[i].msg_hdr)) {
				l->d->n.refused++;
				continue;
			}
			ingest_message(l->d, iov[i].iov_base, msgs[i].msg_len,
			    (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0);
		}
		if (n < UNIX_DGRAM_BATCH)
			return;
	}
}

/* Remove a stale socket left by a crash, but never any other file. */
static int
remove_stale_socket(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return UV_EEXIST;
	return unlink(path) < 0 ? -errno : 0;
}

static int
open_unix_dgram(struct listener *l, const struct listen_spec *ls)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int rc, rcvbuf = 1 << 20;

	str_copy(sun.sun_path, ls->path, sizeof(sun.sun_path));
	if ((rc = remove_stale_socket(ls->path)) != 0)
		return rc;
	l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return -errno;
	(void)setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (ls->npeer_uids > 0 &&
	    setsockopt(l->fd, SOL_SOCKET, SO_PASSCRED, &(int){ 1 }, sizeof(int)) < 0)
		return -errno;
	if (bind(l->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return -errno;
	l->path = xstrdup(ls->path);
	if ((rc = set_socket_file_access(l, ls)) != 0)
		return rc;
	l->buflen = (size_t)l->d->cfg.max_message * UNIX_DGRAM_BATCH;
	l->buf = xmalloc(l->buflen);
	if ((rc = uv_poll_init(l->d->loop, &l->h.poll, l->fd)) != 0)
		return rc;
	l->h.poll.data = l;
	return uv_poll_start(&l->h.poll, UV_READABLE, unix_dgram_ready);
}

/* ---- streams: TCP and UNIX ---- */

static void
frame_emit(void *arg, const char *msg, size_t len, int truncated)
{
	struct conn *c = arg;

	ingest_message(c->l->d, msg, len, truncated);
}

/* Two handles per connection: free it when the second has closed. */
static void
conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (++c->closing < 3)
		return;
	if (c->is_relp)
		relp_free(&c->relp);
	else
		framer_free(&c->framer);
	free(c->acks);
	free(c);
}

static void
conn_close(struct conn *c)
{
	struct listener *l = c->l;

	if (c->closing)
		return;
	c->closing = 1;

	if (c->prev)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	l->nconns--;
	uv_close(&c->h.handle, conn_closed);
	uv_close((uv_handle_t *)&c->stall, conn_closed);
}

static void
stall_expired(uv_timer_t *t)
{
	struct conn *c = t->data;

	c->l->d->n.stalled++;
	log_warn("%s: closing a connection stalled inside a frame for %lds",
	    c->l->text, c->l->d->cfg.idle_timeout);
	conn_close(c);
}

/* Idle between frames is fine (rsyslog keeps its connection for hours,
 * and closing it could lose the next message); stalling inside a frame
 * is a slow or broken client holding a buffer. */
static void
watch_stall(struct conn *c)
{
	long timeout = c->l->d->cfg.idle_timeout;

	int inside = c->l->kind == LISTEN_RELP ? relp_in_frame(&c->relp) :
	    c->framer.state != FRAME_START;

	if (timeout > 0 && inside)
		uv_timer_start(&c->stall, stall_expired, (uint64_t)timeout * 1000, 0);
	else
		uv_timer_stop(&c->stall);
}

/* ---- RELP: rsyslog's omrelp keeps each message until it is answered,
 * and sends it again on a new connection if the answer never came. So a
 * message is answered only once what it changed is in the table: when
 * nothing waits for a commit, at once; else after the next commit. A
 * kill -9 then loses no answered message. */

struct relp_write {
	uv_write_t req;
	char data[];
};

static void
relp_written(uv_write_t *req, int status)
{
	(void)status;
	free(req);
}

static void
relp_send(struct conn *c, const char *bytes, size_t len)
{
	struct relp_write *w;
	uv_buf_t b;

	if (c->closing)
		return;
	if (uv_stream_get_write_queue_size(&c->h.stream) > RELP_UNREAD_MAX) {
		log_warn("%s: RELP client reads no answers, closing connection",
		    c->l->text);
		conn_close(c);
		return;
	}
	w = xmalloc(sizeof(*w) + len);
	memcpy(w->data, bytes, len);
	b = uv_buf_init(w->data, (unsigned int)len);
	if (uv_write(&w->req, &c->h.stream, &b, 1, relp_written) != 0) {
		free(w);
		conn_close(c);
	}
}

static void
relp_reply(struct conn *c, unsigned long txnr, const char *text)
{
	size_t len = strlen(text);
	char *buf = xmalloc(len + 32);

	relp_send(c, buf, relp_response(buf, txnr, text, len));
	free(buf);
}

/* Answer every message held: what they changed is committed. */
static void
relp_flush(struct conn *c)
{
	char *buf, *p;

	if (c->nacks == 0)
		return;
	p = buf = xmalloc(c->nacks * 32);
	for (size_t i = 0; i < c->nacks; i++)
		p += relp_response(p, c->acks[i], "200 OK", 6);
	c->nacks = 0;
	relp_send(c, buf, (size_t)(p - buf));
	free(buf);
}

void
listeners_committed(struct daemon *d)
{
	for (struct listener *l = d->listeners; l != NULL; l = l->next)
		if (l->kind == LISTEN_RELP)
			for (struct conn *c = l->conns; c != NULL; c = c->next)
				relp_flush(c);
}

static void
relp_shut(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;

	(void)status;
	free(req);
	conn_close(c);
}

static void
relp_frame(void *arg, unsigned long txnr, const char *cmd, const char *data,
    size_t len, int truncated)
{
	struct conn *c = arg;
	struct daemon *d = c->l->d;

	if (c->closing)
		return;
	if (!strcmp(cmd, "syslog")) {
		if (!c->relp_open) {
			relp_reply(c, txnr, "500 no open session");
			return;
		}
		if (ingest_message(d, data, len, truncated) < 0) {
			/* Not taken: hang up without an answer, so omrelp
			 * sends it again (with what this connection has
			 * not had answered yet). */
			log_warn("%s: relay table not writable and %d events "
			    "waiting: closing a RELP connection so its sender "
			    "retries", c->l->text, PENDING_MAX);
			conn_close(c);
			return;
		}
		if (c->closing)
			return;
		if (c->nacks == RELP_ACKS_MAX) {
			log_warn("%s: RELP client sent %d messages without waiting "
			    "for answers, closing connection", c->l->text,
			    RELP_ACKS_MAX);
			conn_close(c);
			return;
		}
		if (c->nacks == c->capacks) {
			c->capacks = c->capacks ? 2 * c->capacks : 64;
			c->acks = xrealloc(c->acks, c->capacks * sizeof(*c->acks));
		}
		c->acks[c->nacks++] = txnr;
		if (d->npending == 0)
			relp_flush(c);
	} else if (!strcmp(cmd, "open")) {
		/* Our offers, whatever the client's: protocol version 0 and
		 * the one command we take. */
		relp_reply(c, txnr, "200 OK\nrelp_version=0\nrelp_software=authsinkd,"
		    AUTHSINK_VERSION "\ncommands=syslog");
		c->relp_open = 1;
	} else if (!strcmp(cmd, "close")) {
		/* Answer what can be answered, then the close, then hang up
		 * once it is written. */
		if (c->nacks > 0 && commit_now(d) == 0)
			relp_flush(c);
		relp_reply(c, txnr, "");
		if (c->closing)
			return;
		uv_shutdown_t *req = xmalloc(sizeof(*req));
		req->data = c;
		if (uv_shutdown(req, &c->h.stream, relp_shut) != 0) {
			free(req);
			conn_close(c);
			return;
		}
		uv_read_stop(&c->h.stream);
		c->relp_open = 0;
	} else {
		relp_reply(c, txnr, "500 command not supported");
	}
}

static void
stream_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	*buf = uv_buf_init(stream_buf, sizeof(stream_buf));
}

static void
stream_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	if (nread > 0) {
		int rc = c->l->kind == LISTEN_RELP ?
		    relp_feed(&c->relp, buf->base, (size_t)nread) :
		    framer_feed(&c->framer, buf->base, (size_t)nread);
		if (c->closing)
			return;	/* a RELP close, or too many acks held */
		if (rc < 0) {
			c->l->d->n.framing_errors++;
			log_warn("%s: framing error (%s), closing connection",
			    c->l->text, c->l->kind == LISTEN_RELP ?
			    "not a RELP frame" : "bad octet count");
			conn_close(c);
			return;
		}
		watch_stall(c);
		return;
	}
	if (nread == 0)
		return;
	if (nread != UV_EOF)
		log_debug("%s: read error: %s", c->l->text, uv_strerror((int)nread));
	if (c->l->kind == LISTEN_RELP ? relp_in_frame(&c->relp) :
	    framer_finish(&c->framer))
		c->l->d->n.framing_errors++;
	conn_close(c);
}

static int
stream_peer_allowed(struct listener *l, struct conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	if (l->kind == LISTEN_UNIX_STREAM) {
		struct ucred cred;
		socklen_t clen = sizeof(cred);
		uv_os_fd_t fd;

		if (l->spec->npeer_uids == 0)
			return 1;
		if (uv_fileno(&c->h.handle, &fd) != 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
			return 0;
		return uid_allowed(l->spec, cred.uid);
	}
	if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	return peer_allowed(l->d, l, (struct sockaddr *)&ss);
}

static void
stream_accept(uv_stream_t *server, int status)
{
	struct listener *l = server->data;
	struct conn *c;

	if (status < 0) {
		log_warn("%s: accept error: %s", l->text, uv_strerror(status));
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->l = l;
	if (l->kind != LISTEN_UNIX_STREAM)
		uv_tcp_init(l->d->loop, &c->h.tcp);
	else
		uv_pipe_init(l->d->loop, &c->h.pipe, 0);
	c->h.handle.data = c;
	uv_timer_init(l->d->loop, &c->stall);
	c->stall.data = c;
	c->is_relp = l->kind == LISTEN_RELP;
	if (c->is_relp)
		relp_init(&c->relp, (size_t)l->d->cfg.max_message, relp_frame, c);
	else
		framer_init(&c->framer, (size_t)l->d->cfg.max_message, frame_emit, c);
	c->next = l->conns;
	if (l->conns)
		l->conns->prev = c;
	l->conns = c;
	l->nconns++;
	if (uv_accept(server, &c->h.stream) != 0) {
		conn_close(c);
		return;
	}
	if (!stream_peer_allowed(l, c)) {
		l->d->n.refused++;
		conn_close(c);
		return;
	}
	if (l->nconns > l->d->cfg.max_connections) {
		log_warn("%s: more than %ld connections, refusing one", l->text,
		    l->d->cfg.max_connections);
		l->d->n.refused++;
		conn_close(c);
		return;
	}
	uv_read_start(&c->h.stream, stream_alloc, stream_read);
}

static int
open_tcp(struct listener *l, const struct listen_spec *ls)
{
	struct sockaddr_storage ss;
	int v6 = strchr(ls->host, ':') != NULL;
	int rc;

	rc = v6 ? uv_ip6_addr(ls->host, ls->port, (struct sockaddr_in6 *)&ss) :
	    uv_ip4_addr(ls->host, ls->port, (struct sockaddr_in *)&ss);
	if (rc == 0)
		rc = uv_tcp_init(l->d->loop, &l->h.tcp);
	if (rc != 0)
		return rc;
	l->h.tcp.data = l;
	if ((rc = uv_tcp_bind(&l->h.tcp, (struct sockaddr *)&ss,
	    v6 ? UV_TCP_IPV6ONLY : 0)) != 0)
		return rc;
	return uv_listen((uv_stream_t *)&l->h.tcp, 128, stream_accept);
}

static int
open_unix_stream(struct listener *l, const struct listen_spec *ls)
{
	int rc;

	if ((rc = remove_stale_socket(ls->path)) != 0)
		return rc;
	if ((rc = uv_pipe_init(l->d->loop, &l->h.pipe, 0)) != 0)
		return rc;
	l->h.pipe.data = l;
	if ((rc = uv_pipe_bind(&l->h.pipe, ls->path)) != 0)
		return rc;
	l->path = xstrdup(ls->path);
	if ((rc = set_socket_file_access(l, ls)) != 0)
		return rc;
	return uv_listen((uv_stream_t *)&l->h.pipe, 128, stream_accept);
}

/* ---- all of them ---- */

int
listeners_open(struct daemon *d, struct errbuf *err)
{
	for (size_t i = 0; i < d->cfg.nlistens; i++) {
		const struct listen_spec *ls = &d->cfg.listens[i];
		struct listener *l = xcalloc(1, sizeof(*l));
		int rc;

		l->d = d;
		l->spec = ls;
		l->kind = ls->kind;
		l->text = xstrdup(ls->text);
		l->fd = -1;
		l->next = d->listeners;
		d->listeners = l;
		switch (ls->kind) {
		case LISTEN_UDP:
			rc = open_udp(l, ls);
			break;
		case LISTEN_TCP:
		case LISTEN_RELP:
			rc = open_tcp(l, ls);
			break;
		case LISTEN_UNIX_DGRAM:
			rc = open_unix_dgram(l, ls);
			break;
		default:
			rc = open_unix_stream(l, ls);
			break;
		}
		if (rc != 0) {
			errbuf_set(err, "cannot listen on %s: %s%s", ls->text,
			    uv_strerror(rc), rc == UV_EEXIST ?
			    " (the path exists and is not a socket)" : "");
			return -1;
		}
		log_debug("listening on %s", ls->text);
	}
	return 0;
}

static void
listener_free(struct listener *l)
{
	if (l->fd >= 0)
		close(l->fd);
	free(l->buf);
	free(l->text);
	free(l->path);
	free(l);
}

static void
listener_closed(uv_handle_t *h)
{
	listener_free(h->data);
}

void
listeners_close(struct daemon *d)
{
	struct listener *l, *next;

	for (l = d->listeners; l != NULL; l = next) {
		next = l->next;
		while (l->conns)
			conn_close(l->conns);
		if (l->path)
			unlink(l->path);
		if (l->h.handle.loop != NULL) {	/* the handle was initialised */
			l->h.handle.data = l;
			uv_close(&l->h.handle, listener_closed);
		} else {
			listener_free(l);
		}
	}
	d->listeners = NULL;
}
