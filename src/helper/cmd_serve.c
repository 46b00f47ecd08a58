/* cmd_serve.c - authsink serve: one long-running process answering
 * line, policy and socketmap requests on UNIX and TCP sockets, with one
 * table handle and no fork per query (Postfix check_policy_service and
 * socketmap:, Sendmail K socket, Exim ${readsocket}).
 *
 *   authsink serve [options] KIND:unix:/PATH | KIND:tcp:ADDR:PORT ...
 *   KIND = line | policy | socketmap
 *
 * TCP peers other than loopback are refused unless allow-from in the
 * configuration (-c) covers them. Runs in the foreground and logs to
 * standard error; SIGTERM/SIGINT close the listeners and remove the
 * UNIX socket files, SIGHUP reopens the table. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "proto.h"

#define SERVE_USAGE "usage: authsink serve [-v] [--action ACTION] [--value VALUE] " \
	"[--socket-mode OCTAL] [--max-clients N] KIND:unix:/PATH|KIND:tcp:ADDR:PORT..."
#define SERVE_WRITE_MAX (256 * 1024)	/* unread replies: the client is stuck */
/* Bytes read from one client per turn of the event loop. A client that
 * sends more (a flood, or a pipeline of thousands of requests) is paused
 * until every other client had its turn: see on_read(). */
#define SERVE_READ_CHUNK (16 * 1024)

union stream {
	uv_handle_t handle;
	uv_stream_t stream;
	uv_tcp_t tcp;
	uv_pipe_t pipe;
};

struct serve;

struct slistener {
	struct serve *s;
	enum proto_kind kind;
	struct listen_spec spec;
	union stream h;
	int open;
	int bound;		/* unix: we created the socket file */
	struct slistener *next;
};

struct conn {
	struct serve *s;
	struct slistener *l;
	union stream h;
	uv_timer_t idle;
	uv_shutdown_t shut;
	struct proto p;
	int closing;
	int handles;		/* open uv handles: free when 0 */
	int paused;		/* on s->paused: reading again after this turn */
	struct conn *prev, *next;
	struct conn *pnext;	/* s->paused list */
};

struct serve {
	uv_loop_t *loop;
	struct helper *h;
	struct reader rd;
	struct proto_opts opts;
	struct slistener *listeners;
	struct conn *conns;
	size_t nconns, max_conns;
	mode_t mode;
	int stopping;
	int warned_full;
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_check_t resume;	/* active while s->paused is not empty */
	struct conn *paused;
	char rbuf[SERVE_READ_CHUNK];
};

struct wreq {
	uv_write_t req;
	char data[];
};

static void conn_close(struct conn *c);

static void
conn_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->handles > 0)
		return;
	if (c->paused) {
		struct conn **pp = &c->s->paused;

		while (*pp != c)
			pp = &(*pp)->pnext;
		*pp = c->pnext;
	}
	if (c->prev)
		c->prev->next = c->next;
	else if (c->s->conns == c)
		c->s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->s->nconns--;
	proto_free(&c->p);
	free(c);
}

static void
conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	uv_read_stop(&c->h.stream);
	uv_timer_stop(&c->idle);
	uv_close((uv_handle_t *)&c->idle, conn_closed);
	uv_close(&c->h.handle, conn_closed);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	(void)status;
	conn_close(req->data);
}

/* Close once what was written has been sent. */
static void
conn_finish(struct conn *c)
{
	if (c->closing)
		return;
	uv_read_stop(&c->h.stream);
	c->shut.data = c;
	if (uv_shutdown(&c->shut, &c->h.stream, on_shutdown) < 0)
		conn_close(c);
}

static void
on_write(uv_write_t *req, int status)
{
	struct conn *c = req->handle->data;

	free(req);
	if (status < 0 && status != UV_ECANCELED && !c->closing) {
		log_debug("write to %s client: %s", proto_name(c->l->kind),
		    uv_strerror(status));
		conn_close(c);
	}
}

static void
conn_out(void *ctx, const char *p, size_t n)
{
	struct conn *c = ctx;
	struct wreq *w;
	uv_buf_t b;

	if (c->closing)
		return;
	if (uv_stream_get_write_queue_size(&c->h.stream) > SERVE_WRITE_MAX) {
		proto_warn("%s client does not read its replies, closing",
		    proto_name(c->l->kind));
		conn_close(c);
		return;
	}
	w = xmalloc(sizeof(*w) + n);
	memcpy(w->data, p, n);
	b = uv_buf_init(w->data, (unsigned int)n);
	if (uv_write(&w->req, &c->h.stream, &b, 1, on_write) < 0) {
		free(w);
		conn_close(c);
	}
}

static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = h->data;

	(void)suggested;
	buf->base = c->s->rbuf;
	buf->len = sizeof(c->s->rbuf);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);

/* After the poll phase of each turn: clients paused in it read again. */
static void
on_resume(uv_check_t *h)
{
	struct serve *s = h->data;
	struct conn *c;

	while ((c = s->paused) != NULL) {
		s->paused = c->pnext;
		c->paused = 0;
		if (!c->closing && uv_read_start(&c->h.stream, on_alloc, on_read) < 0)
			conn_close(c);
	}
	uv_check_stop(h);
}

static void
on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = st->data;

	if (n > 0) {
		uv_timer_again(&c->idle);
		if (proto_feed(&c->p, buf->base, (size_t)n) < 0) {
			conn_finish(c);
		} else if ((size_t)n == sizeof(c->s->rbuf) && !c->closing) {
			/* A full buffer: there may be more, and libuv would
			 * read on from this client before serving any other.
			 * One buffer per client per turn, so that a client
			 * flooding requests or garbage delays the others by
			 * no more than one buffer's work. */
			uv_read_stop(st);
			c->paused = 1;
			c->pnext = c->s->paused;
			c->s->paused = c;
			uv_check_start(&c->s->resume, on_resume);
		}
	} else if (n == UV_EOF) {
		proto_eof(&c->p);
		conn_finish(c);
	} else if (n < 0) {
		conn_close(c);
	}
}

static void
on_idle(uv_timer_t *t)
{
	struct conn *c = t->data;

	log_debug("%s client idle for %ds, closing", proto_name(c->l->kind),
	    PROTO_IDLE_TIMEOUT);
	conn_close(c);
}

static int
peer_ok(struct serve *s, struct conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	struct addr a;
	char text[ADDR_TEXT_MAX];

	if (c->l->spec.kind != LISTEN_TCP)
		return 1;
	if (uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)&ss, &len) < 0 ||
	    addr_from_sockaddr((struct sockaddr *)&ss, &a) < 0)
		return 0;
	if (addr_is_loopback(&a) || cidr_list_contains(&s->h->cfg.allow_from, &a))
		return 1;
	addr_format(&a, text);
	proto_warn("%s: refused %s (not loopback, not in allow-from)",
	    c->l->spec.text, text);
	return 0;
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct slistener *l = server->data;
	struct serve *s = l->s;
	struct conn *c;

	if (status < 0) {
		proto_warn("%s: accept: %s", l->spec.text, uv_strerror(status));
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->s = s;
	c->l = l;
	if (l->spec.kind == LISTEN_TCP)
		uv_tcp_init(s->loop, &c->h.tcp);
	else
		uv_pipe_init(s->loop, &c->h.pipe, 0);
	uv_timer_init(s->loop, &c->idle);
	c->h.handle.data = c;
	c->idle.data = c;
	c->handles = 2;
	proto_init(&c->p, l->kind, &s->opts, &s->rd, conn_out, c);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	if (uv_accept(server, &c->h.stream) < 0) {
		conn_close(c);
		return;
	}
	if (!peer_ok(s, c)) {
		conn_close(c);
		return;
	}
	if (s->nconns > s->max_conns) {
		if (!s->warned_full)
			log_warn("more than %zu clients, refusing new ones",
			    s->max_conns);
		s->warned_full = 1;
		conn_close(c);
		return;
	}
	s->warned_full = 0;
	uv_timer_start(&c->idle, on_idle, PROTO_IDLE_TIMEOUT * 1000,
	    PROTO_IDLE_TIMEOUT * 1000);
	if (uv_read_start(&c->h.stream, on_alloc, on_read) < 0)
		conn_close(c);
}

/* A socket file left behind by a crash is replaced; one in use is not. */
static int
prepare_unix_path(const char *path, struct errbuf *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct stat sb;
	int fd, rc;

	if (lstat(path, &sb) < 0)
		return errno == ENOENT ? 0 : (errbuf_set(err, "%s: %s", path,
		    strerror(errno)), -1);
	if (!S_ISSOCK(sb.st_mode)) {
		errbuf_set(err, "%s exists and is not a socket", path);
		return -1;
	}
	str_copy(sun.sun_path, path, sizeof(sun.sun_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0) {
		errbuf_set(err, "socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (rc == 0) {
		errbuf_set(err, "%s is in use by another process", path);
		return -1;
	}
	if (unlink(path) < 0) {
		errbuf_set(err, "cannot remove stale socket %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
listener_open(struct serve *s, struct slistener *l, struct errbuf *err)
{
	int rc;

	l->h.handle.data = l;
	if (l->spec.kind == LISTEN_TCP) {
		struct sockaddr_storage ss;

		if (strchr(l->spec.host, ':') != NULL)
			rc = uv_ip6_addr(l->spec.host, l->spec.port,
			    (struct sockaddr_in6 *)&ss);
		else
			rc = uv_ip4_addr(l->spec.host, l->spec.port,
			    (struct sockaddr_in *)&ss);
		uv_tcp_init(s->loop, &l->h.tcp);
		l->open = 1;
		if (rc == 0)
			rc = uv_tcp_bind(&l->h.tcp, (struct sockaddr *)&ss, 0);
	} else {
		if (prepare_unix_path(l->spec.path, err) < 0)
			return -1;
		uv_pipe_init(s->loop, &l->h.pipe, 0);
		l->open = 1;
		rc = uv_pipe_bind(&l->h.pipe, l->spec.path);
		if (rc == 0) {
			l->bound = 1;
			if (chmod(l->spec.path, s->mode) < 0)
				rc = uv_translate_sys_error(errno);
		}
	}
	if (rc == 0)
		rc = uv_listen(&l->h.stream, 128, on_connection);
	if (rc < 0) {
		errbuf_set(err, "%s: %s", l->spec.text, uv_strerror(rc));
		return -1;
	}
	log_info("%s: answering %s requests", l->spec.text, proto_name(l->kind));
	return 0;
}

static void
close_listeners(struct serve *s)
{
	for (struct slistener *l = s->listeners; l; l = l->next) {
		if (l->open)
			uv_close(&l->h.handle, NULL);
		if (l->bound)
			unlink(l->spec.path);
		l->open = l->bound = 0;
	}
}

static void
stop(struct serve *s)
{
	if (s->stopping)
		return;
	s->stopping = 1;
	log_info("stopping");
	close_listeners(s);
	for (struct conn *c = s->conns; c; c = c->next)
		conn_close(c);
	uv_close((uv_handle_t *)&s->sig_term, NULL);
	uv_close((uv_handle_t *)&s->sig_int, NULL);
	uv_close((uv_handle_t *)&s->sig_hup, NULL);
	uv_close((uv_handle_t *)&s->resume, NULL);
}

static void
on_signal(uv_signal_t *sig, int signum)
{
	struct serve *s = sig->data;

	if (signum == SIGHUP) {
		log_info("SIGHUP: reopening %s", s->rd.path);
		reader_close(&s->rd);
		return;
	}
	stop(s);
}

static struct slistener *
parse_listener(struct serve *s, const char *arg)
{
	const char *colon = strchr(arg, ':');
	struct slistener *l;
	enum proto_kind kind;
	struct errbuf err;

	if (colon == NULL || proto_parse_kind(arg, (size_t)(colon - arg), &kind) < 0) {
		fail("\"%s\": expected line:, policy: or socketmap: and then "
		    "unix:/PATH or tcp:ADDR:PORT", arg);
		return NULL;
	}
	l = xcalloc(1, sizeof(*l));
	l->s = s;
	l->kind = kind;
	if (listen_spec_parse(colon + 1, &l->spec, &err) < 0) {
		fail("\"%s\": %s", arg, err.text);
		free(l);
		return NULL;
	}
	if (l->spec.kind != LISTEN_TCP && l->spec.kind != LISTEN_UNIX_STREAM) {
		fail("\"%s\": serve listens on unix:/PATH or tcp:ADDR:PORT", arg);
		free(l->spec.text);
		free(l->spec.host);
		free(l->spec.path);
		free(l);
		return NULL;
	}
	return l;
}

static void
free_listeners(struct serve *s)
{
	while (s->listeners) {
		struct slistener *l = s->listeners;
		s->listeners = l->next;
		free(l->spec.text);
		free(l->spec.host);
		free(l->spec.path);
		cidr_list_free(&l->spec.allow);
		free(l);
	}
}

int
cmd_serve(struct helper *h, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "action", required_argument, NULL, 'a' },
		{ "value", required_argument, NULL, 'o' },
		{ "socket-mode", required_argument, NULL, 'm' },
		{ "max-clients", required_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	struct serve *s = xcalloc(1, sizeof(*s));
	struct slistener **tail = &s->listeners;
	struct errbuf err;
	int ch, verbose = 0, rc = EXIT_ERROR;
	char *end;
	long v;

	s->h = h;
	s->opts.action = "OK";
	s->opts.value = "OK";
	s->mode = 0666;
	s->max_conns = 1000;
	optind = 0;
	while ((ch = getopt_long(argc + 1, argv - 1, "a:o:m:n:v", lo, NULL)) != -1) {
		switch (ch) {
		case 'a':
		case 'o':
			if (!proto_text_ok(optarg)) {
				fail("--%s: one line of at most 1000 characters",
				    ch == 'a' ? "action" : "value");
				goto out;
			}
			*(ch == 'a' ? &s->opts.action : &s->opts.value) = optarg;
			break;
		case 'm':
			v = strtol(optarg, &end, 8);
			if (*optarg == '\0' || *end != '\0' || v < 0 || v > 0777) {
				fail("--socket-mode: an octal mode such as 0660");
				goto out;
			}
			s->mode = (mode_t)v;
			break;
		case 'n':
			v = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || v < 1 || v > 100000) {
				fail("--max-clients: 1..100000");
				goto out;
			}
			s->max_conns = (size_t)v;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			fail(SERVE_USAGE);
			goto out;
		}
	}
	if (optind - 1 >= argc) {
		fail(SERVE_USAGE);
		goto out;
	}
	for (int i = optind - 1; i < argc; i++) {
		struct slistener *l = parse_listener(s, argv[i]);
		if (l == NULL)
			goto out;
		*tail = l;
		tail = &l->next;
	}
	log_open("authsink", 1, verbose);
	signal(SIGPIPE, SIG_IGN);
	s->loop = uv_default_loop();
	reader_init(&s->rd, h->table);
	if (access(h->table, F_OK) != 0)
		log_warn("relay table %s does not exist (yet): answering with "
		    "temporary failures until it does", h->table);
	for (struct slistener *l = s->listeners; l; l = l->next) {
		if (listener_open(s, l, &err) < 0) {
			fail("%s", err.text);
			close_listeners(s);
			goto run;
		}
	}
	rc = EXIT_YES;
	uv_signal_init(s->loop, &s->sig_term);
	uv_signal_init(s->loop, &s->sig_int);
	uv_signal_init(s->loop, &s->sig_hup);
	uv_check_init(s->loop, &s->resume);
	s->resume.data = s;
	s->sig_term.data = s->sig_int.data = s->sig_hup.data = s;
	uv_signal_start(&s->sig_term, on_signal, SIGTERM);
	uv_signal_start(&s->sig_int, on_signal, SIGINT);
	uv_signal_start(&s->sig_hup, on_signal, SIGHUP);
	log_info("authsink %s serving table %s", AUTHSINK_VERSION, h->table);
run:
	uv_run(s->loop, UV_RUN_DEFAULT);
	uv_loop_close(s->loop);
	reader_close(&s->rd);
out:
	free_listeners(s);
	free(s);
	return rc;
}
