/* sink.c - the ceiling: a receiver that does nothing but receive and count.
 *
 *   sink -u -p PORT -o COUNTFILE [-b BYTES]   UDP, recvmmsg 64 datagrams a call
 *   sink -t -p PORT -o COUNTFILE              TCP, octet-counted (or LF) frames
 *
 * Binds 127.0.0.1:PORT. -b sets the UDP receive buffer as authsinkd and
 * rsyslog (imudp rcvbufSize) do: SO_RCVBUFFORCE, else SO_RCVBUF, so the
 * three receivers of the benchmark get the same. On SIGUSR1 it writes "received N" to
 * COUNTFILE (atomically); SIGTERM/SIGINT end it. One thread, like
 * authsinkd's event loop. */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define UDP_BATCH 64
#define UDP_SLOT 8192
#define TCP_BUF 65536
#define MAX_CONNS 64

static volatile sig_atomic_t want_dump, want_stop;
static uint64_t received;
static const char *countfile;

static void
on_signal(int sig)
{
	if (sig == SIGUSR1)
		want_dump = 1;
	else
		want_stop = 1;
}

static void
dump(void)
{
	char tmp[4096];
	FILE *f;

	want_dump = 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", countfile);
	if ((f = fopen(tmp, "w")) == NULL)
		return;
	fprintf(f, "received %llu\n", (unsigned long long)received);
	fclose(f);
	rename(tmp, countfile);
}

static int
bind_socket(int type, int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, type, 0), one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("sink: bind");
		exit(1);
	}
	return fd;
}

static void
run_udp(int port, int rcvbuf)
{
	static char bufs[UDP_BATCH][UDP_SLOT];
	struct mmsghdr msgs[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	int fd = bind_socket(SOCK_DGRAM, port);

	if (rcvbuf > 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));

	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < UDP_BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = UDP_SLOT;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	while (!want_stop) {
		int n = recvmmsg(fd, msgs, UDP_BATCH, MSG_WAITFORONE, NULL);
		if (n > 0)
			received += (uint64_t)n;
		else if (n < 0 && errno != EINTR) {
			perror("sink: recvmmsg");
			exit(1);
		}
		if (want_dump)
			dump();
	}
}

/* Per connection: RFC 6587 framing, just enough to count messages. */
struct conn {
	int fd;
	int in_frame;		/* inside a frame's payload */
	int lf_frame;		/* non-transparent framing: until LF */
	uint64_t skip;		/* octets left in the frame */
	uint64_t len;		/* octet count being read */
	int have_digit;
};

static void
feed(struct conn *c, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (c->in_frame) {
			if (c->lf_frame) {
				const char *lf = memchr(p + i, '\n', n - i);
				if (lf == NULL)
					return;
				i = (size_t)(lf - p) + 1;
				c->in_frame = c->lf_frame = 0;
				received++;
				continue;
			}
			size_t take = n - i < c->skip ? n - i : (size_t)c->skip;
			i += take;
			c->skip -= take;
			if (c->skip == 0) {
				c->in_frame = 0;
				received++;
			}
			continue;
		}
		char ch = p[i];
		if (ch >= '0' && ch <= '9') {
			c->len = c->len * 10 + (uint64_t)(ch - '0');
			c->have_digit = 1;
			i++;
		} else if (ch == ' ' && c->have_digit) {
			c->skip = c->len;
			c->len = 0;
			c->have_digit = 0;
			c->in_frame = 1;
			i++;
			if (c->skip == 0) {
				c->in_frame = 0;
				received++;
			}
		} else if (!c->have_digit && (ch == '\n' || ch == '\r')) {
			i++;	/* a stray line end between frames */
		} else {
			c->have_digit = 0;
			c->len = 0;
			c->in_frame = c->lf_frame = 1;
		}
	}
}

static void
run_tcp(int port)
{
	static char buf[TCP_BUF];
	static struct conn conns[MAX_CONNS];
	struct epoll_event ev, evs[MAX_CONNS + 1];
	int lfd = bind_socket(SOCK_STREAM, port), ep = epoll_create1(0);

	if (listen(lfd, 16) < 0) {
		perror("sink: listen");
		exit(1);
	}
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	while (!want_stop) {
		int n = epoll_wait(ep, evs, MAX_CONNS + 1, -1);
		if (want_dump)
			dump();
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c == NULL) {
				int fd = accept(lfd, NULL, NULL);
				int slot = -1;
				for (int k = 0; k < MAX_CONNS; k++)
					if (conns[k].fd == 0) {
						slot = k;
						break;
					}
				if (fd < 0)
					continue;
				if (slot < 0) {
					close(fd);
					continue;
				}
				memset(&conns[slot], 0, sizeof(conns[slot]));
				conns[slot].fd = fd;
				ev.events = EPOLLIN;
				ev.data.ptr = &conns[slot];
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				continue;
			}
			ssize_t r = read(c->fd, buf, sizeof(buf));
			if (r > 0) {
				feed(c, buf, (size_t)r);
			} else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				c->fd = 0;
			}
		}
	}
}

int
main(int argc, char **argv)
{
	int tcp = 0, port = 0, rcvbuf = 0, ch;
	struct sigaction sa;

	while ((ch = getopt(argc, argv, "utp:o:b:")) != -1) {
		switch (ch) {
		case 'u': tcp = 0; break;
		case 't': tcp = 1; break;
		case 'p': port = atoi(optarg); break;
		case 'o': countfile = optarg; break;
		case 'b': rcvbuf = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: sink [-u|-t] -p PORT -o COUNTFILE [-b BYTES]\n");
			return 2;
		}
	}
	if (port <= 0 || countfile == NULL) {
		fprintf(stderr, "usage: sink [-u|-t] -p PORT -o COUNTFILE [-b BYTES]\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: interrupt the wait */
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	dump();
	if (tcp)
		run_tcp(port);
	else
		run_udp(port, rcvbuf);
	dump();
	return 0;
}
