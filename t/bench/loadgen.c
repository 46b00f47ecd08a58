/* loadgen.c - offered load for the benchmark: mail-log messages at a given
 * rate over UDP (sendmmsg) or TCP (RFC 6587 octet counting), loopback only.
 *
 *   loadgen [-u | -t] -p PORT [-r RATE] [-d SECONDS] [-n COUNT] [-l PCT]
 *           [-a ADDR_BASE] [-m DISTINCT] [-b BATCH]
 *   loadgen -f -n COUNT [-l PCT] [-a ADDR_BASE]     (a mail.log on stdout)
 *
 * PCT of the messages are logins (default 5), from new addresses, or
 * cycling over DISTINCT addresses with -m. RATE 0 (the default) is as
 * fast as possible. The rate is kept by a token
 * bucket: before each batch the generator sends what the elapsed time
 * allows (at most BATCH, default 32) and sleeps when it is ahead. It stops
 * after SECONDS or COUNT messages, whichever comes first, and prints
 *   sent N logins N elapsed S rate R
 * (TCP: elapsed counts until the receiving program has read every byte:
 * our send queue is empty and so is the peer socket's receive queue, as
 * /proc/net/tcp shows it). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "mix.h"

#define BATCH_MAX 256

/* Bytes the receiving socket of our connection has not yet handed to its
 * program: rx_queue of the /proc/net/tcp line whose local address is our
 * peer and remote address is us. -1 if not found. */
static long
peer_rx_queue(int fd)
{
	struct sockaddr_in me, peer;
	socklen_t len = sizeof(me);
	char line[512], want[64];
	long rx = -1;
	FILE *f;

	if (getsockname(fd, (struct sockaddr *)&me, &len) < 0)
		return -1;
	len = sizeof(peer);
	if (getpeername(fd, (struct sockaddr *)&peer, &len) < 0)
		return -1;
	/* /proc/net/tcp prints the address as the host-order hex of the
	 * network-order word, the port in host order. */
	snprintf(want, sizeof(want), "%08X:%04X %08X:%04X",
	    (unsigned)peer.sin_addr.s_addr, (unsigned)ntohs(peer.sin_port),
	    (unsigned)me.sin_addr.s_addr, (unsigned)ntohs(me.sin_port));
	if ((f = fopen("/proc/net/tcp", "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':');
		unsigned long tx, rxq;
		if (p == NULL || strncmp(p + 2, want, strlen(want)) != 0)
			continue;
		/* "sl: local rem st tx_queue:rx_queue ..." */
		if (sscanf(p + 2 + strlen(want), " %*x %lx:%lx", &tx, &rxq) == 2)
			rx = (long)rxq;
		break;
	}
	fclose(f);
	return rx;
}

static void
usage(void)
{
	fprintf(stderr, "usage: loadgen [-u|-t] -p PORT [-r RATE] [-d SECONDS] "
	    "[-n COUNT] [-l LOGIN_PCT] [-a ADDR_BASE] [-m DISTINCT] [-b BATCH]\n"
	    "       loadgen -f -n COUNT [-l LOGIN_PCT] [-a ADDR_BASE]\n");
	exit(2);
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	int tcp = 0, file = 0, port = 0, login_pct = 5, batch = 32, ch;
	double rate = 0, duration = 0;
	uint64_t count = 0, addr_base = 0, addr_mod = 0;
	struct mix mix;

	while ((ch = getopt(argc, argv, "utfp:r:d:n:l:a:m:b:")) != -1) {
		switch (ch) {
		case 'u': tcp = 0; break;
		case 't': tcp = 1; break;
		case 'f': file = 1; break;
		case 'p': port = atoi(optarg); break;
		case 'r': rate = atof(optarg); break;
		case 'd': duration = atof(optarg); break;
		case 'n': count = strtoull(optarg, NULL, 10); break;
		case 'l': login_pct = atoi(optarg); break;
		case 'a': addr_base = strtoull(optarg, NULL, 10); break;
		case 'm': addr_mod = strtoull(optarg, NULL, 10); break;
		case 'b': batch = atoi(optarg); break;
		default: usage();
		}
	}
	if (login_pct < 0 || login_pct > 100 || batch < 1 || batch > BATCH_MAX)
		usage();
	if (file) {
		/* A mail.log for replay: buffered stdout, no network. */
		char line[MIX_LINE_MAX];
		time_t now = time(NULL);

		if (count == 0)
			usage();
		mix_init(&mix, MIX_FILE, login_pct, addr_base);
		mix.addr_mod = addr_mod;
		for (uint64_t i = 0; i < count; i++) {
			size_t n = mix_next(&mix, line, now, NULL);
			fwrite(line, 1, n, stdout);
		}
		fflush(stdout);
		fprintf(stderr, "lines %llu logins %llu\n",
		    (unsigned long long)count, (unsigned long long)mix.logins);
		mix_free(&mix);
		return ferror(stdout) ? 1 : 0;
	}
	if (port <= 0 || (duration <= 0 && count == 0))
		usage();

	/* Loopback only, whatever the arguments. */
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("loadgen: connect");
		return 1;
	}
	if (!tcp) {
		int sndbuf = 4 << 20;
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	}
	mix_init(&mix, MIX_WIRE, login_pct, addr_base);
	mix.addr_mod = addr_mod;

	static char bufs[BATCH_MAX][MIX_LINE_MAX + 16];
	static char stream[BATCH_MAX * (MIX_LINE_MAX + 16)];
	struct mmsghdr msgs[BATCH_MAX];
	struct iovec iov[BATCH_MAX];
	uint64_t sent = 0, send_errors = 0;
	double t0 = now_s(), t = t0, end = duration > 0 ? t0 + duration : 1e300;

	memset(msgs, 0, sizeof(msgs));
	for (;;) {
		t = now_s();
		if (t >= end || (count && sent >= count))
			break;
		uint64_t want = (uint64_t)batch;
		if (rate > 0) {
			double allowed = rate * (t - t0) - (double)sent;
			if (allowed < 1) {
				/* Ahead of schedule: sleep until the next token. */
				sleep_s((1 - allowed) / rate);
				continue;
			}
			if (allowed < (double)want)
				want = (uint64_t)allowed;
		}
		if (count && want > count - sent)
			want = count - sent;
		time_t wall = time(NULL);
		if (tcp) {
			size_t off = 0;
			for (uint64_t i = 0; i < want; i++) {
				size_t n = mix_next(&mix, bufs[0], wall, NULL);
				int h = sprintf(stream + off, "%zu ", n);
				memcpy(stream + off + (size_t)h, bufs[0], n);
				off += (size_t)h + n;
			}
			if (write_all(fd, stream, off) < 0) {
				perror("loadgen: send");
				break;
			}
			sent += want;
		} else {
			for (uint64_t i = 0; i < want; i++) {
				iov[i].iov_base = bufs[i];
				iov[i].iov_len = mix_next(&mix, bufs[i], wall, NULL);
				msgs[i].msg_hdr.msg_iov = &iov[i];
				msgs[i].msg_hdr.msg_iovlen = 1;
			}
			uint64_t done = 0;
			while (done < want) {
				int r = sendmmsg(fd, msgs + done, (unsigned)(want - done), 0);
				if (r < 0) {
					if (errno == EINTR)
						continue;
					/* ECONNREFUSED after an ICMP port unreachable,
					 * ENOBUFS: the datagram is lost like on the wire. */
					send_errors++;
					done++;
					continue;
				}
				done += (uint64_t)r;
			}
			sent += want;
		}
	}
	if (tcp) {
		/* Wait until the peer's kernel has acknowledged everything. */
		int outq = 1;
		double give_up = now_s() + 30;
		while (ioctl(fd, SIOCOUTQ, &outq) == 0 && outq > 0 && now_s() < give_up)
			sleep_s(0.001);
		while (peer_rx_queue(fd) > 0 && now_s() < give_up)
			sleep_s(0.001);
		t = now_s();
		shutdown(fd, SHUT_WR);
	} else {
		t = now_s();
	}
	close(fd);
	printf("sent %llu logins %llu elapsed %.4f rate %.0f errors %llu\n",
	    (unsigned long long)sent, (unsigned long long)mix.logins, t - t0,
	    (double)sent / (t - t0), (unsigned long long)send_errors);
	mix_free(&mix);
	return 0;
}
