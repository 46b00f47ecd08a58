/* probe.c - the benchmark's table-side measurements, through the same
 * relay.h calls a reader (Exim ${dlfunc}, authsink check) uses.
 *
 *   probe latency -p PORT -t TABLE [-r RATE] [-n COUNT] [-a BASE] [-w WAIT] [-4]
 *       Send COUNT Dovecot logins (each a new address) as UDP syslog to
 *       127.0.0.1:PORT at RATE/s, and poll relay_lookup_live() for every
 *       address not yet visible (every 200 us); the latency of a login is
 *       from its sendto() to the first lookup that finds it live. -4: IPv4
 *       addresses only (the tailer baseline knows no IPv6). Prints
 *         samples N missing N p50 MS p90 MS p99 MS max MS mean MS
 *   probe lookups -t TABLE [-d SECONDS] [-a BASE] [-k KEYS]
 *       relay_lookup_live() in a loop on one open table, over KEYS addresses
 *       of which half were logged in from BASE on and half never were.
 *         lookups N seconds S rate R hits N
 *   probe check -x AUTHSINK -t TABLE [-d SECONDS] [-a BASE]
 *       `authsink -t TABLE check ADDR`, one process after another.
 *         checks N seconds S rate R yes N no N error N
 *   probe serve -s SOCKET -P line|policy|socketmap -t TABLE [-d SECONDS] [-a BASE] [-k KEYS] [-o]
 *       Queries to `authsink serve` on the UNIX socket SOCKET, one after
 *       another, each waiting for its reply, as one smtpd or Exim process
 *       asks: over one persistent connection, or with -o a connection per
 *       query (Exim ${readsocket}: connect, send, shut down, read to EOF).
 *       Half the addresses are the KEYS logged in from BASE on, half never were.
 *         queries N seconds S rate R yes N no N error N
 *   probe fill -t TABLE -n LIVE [-e EXPIRED] [-a BASE]
 *       Write LIVE live and EXPIRED expired entries with relay_put(), in
 *       transactions of 20,000, as authsinkd would have.
 *         live N expired N seconds S
 *   probe writes -t TABLE [-n LOGINS] [-b BATCH] [-m DISTINCT] [-a BASE]
 *       authsinkd's commit path alone: LOGINS logins cycling over DISTINCT
 *       addresses (default 65536), each a relay_get() and a relay_put() inside
 *       transactions of BATCH logins (the table is created if missing).
 *       Timed in CPU seconds of the process (user + system: page faults
 *       and the remapping of the file at each transaction count).
 *         logins N commits N cpu S us_per_login U
 * Addresses are login indexes of mix.h (10.0.0.0/8, 2001:db8::/32 text). */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "relay.h"
#include "clock.h"
#include "mix.h"

extern char **environ;

/* Canonical table key of login index k, as authsinkd stores it. */
static void
key_of(uint64_t k, char key[ADDR_TEXT_MAX])
{
	char text[64], *e = mix_addr(text, k);
	struct addr a;

	if (addr_parse(text, (size_t)(e - text), &a) < 0) {
		fprintf(stderr, "probe: bad generated address %.*s\n",
		    (int)(e - text), text);
		exit(2);
	}
	addr_format(&a, key);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
pct(const double *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static struct relay_table *
open_table(const char *path, enum relay_mode mode)
{
	struct errbuf err;
	struct relay_table *t = relay_open(path, mode, 0, &err);

	if (t == NULL) {
		fprintf(stderr, "probe: %s\n", err.text);
		exit(2);
	}
	return t;
}

struct opts {
	int port, v4only;
	const char *table, *authsink, *sock, *proto;
	int per_query;
	double rate, seconds, wait;
	uint64_t count, base, keys, live, expired, batch;
};

static int
do_latency(const struct opts *o)
{
	struct relay_table *tab = open_table(o->table, RELAY_READ);
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)o->port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	uint64_t n = o->count;
	char (*keys)[ADDR_TEXT_MAX] = calloc(n, ADDR_TEXT_MAX);
	double *sent_at = calloc(n, sizeof(double)), *lat = calloc(n, sizeof(double));
	uint64_t *pending = calloc(n, sizeof(uint64_t));
	size_t npending = 0, nlat = 0;
	uint64_t next = 0;
	struct mix hdr;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("probe: connect");
		return 2;
	}
	mix_init(&hdr, MIX_WIRE, 0, 0);	/* for its header only */
	for (uint64_t i = 0; i < n; i++)
		key_of(o->v4only ? 4 * (o->base + i) : o->base + i, keys[i]);

	double t0 = now_s(), last_send = t0;
	for (;;) {
		double t = now_s();
		/* Send what is due. */
		while (next < n && t >= t0 + (double)next / o->rate) {
			char msg[MIX_LINE_MAX];
			uint64_t k = o->v4only ? 4 * (o->base + next) : o->base + next;
			size_t len;

			mix_header(&hdr, time(NULL));
			memcpy(msg, hdr.hdr, hdr.hdr_len);
			len = hdr.hdr_len + mix_login_body(msg + hdr.hdr_len, k);
			sent_at[next] = now_s();
			if (send(fd, msg, len, 0) < 0)
				perror("probe: send");
			pending[npending++] = next;
			last_send = sent_at[next];
			next++;
		}
		/* Poll what is not yet visible. */
		time_t wall = time(NULL);
		for (size_t i = 0; i < npending;) {
			struct relay_entry e;
			uint64_t j = pending[i];
			if (relay_lookup_live(tab, keys[j], wall, &e) == 1) {
				lat[nlat++] = (now_s() - sent_at[j]) * 1000;
				pending[i] = pending[--npending];
			} else {
				i++;
			}
		}
		if (next == n && (npending == 0 || now_s() > last_send + o->wait))
			break;
		sleep_s(0.0002);
	}
	qsort(lat, nlat, sizeof(double), cmp_double);
	double sum = 0;
	for (size_t i = 0; i < nlat; i++)
		sum += lat[i];
	printf("samples %zu missing %zu p50 %.2f p90 %.2f p99 %.2f max %.2f mean %.2f\n",
	    nlat, npending, pct(lat, nlat, 0.5), pct(lat, nlat, 0.9),
	    pct(lat, nlat, 0.99), nlat ? lat[nlat - 1] : 0, nlat ? sum / (double)nlat : 0);
	relay_close(tab);
	mix_free(&hdr);
	return 0;
}

static int
do_lookups(const struct opts *o)
{
	struct relay_table *tab = open_table(o->table, RELAY_READ);
	uint64_t nk = o->keys;
	char (*keys)[ADDR_TEXT_MAX] = calloc(nk, ADDR_TEXT_MAX);
	uint64_t lookups = 0, hits = 0;

	/* Even: logged in (from BASE on); odd: far away, never seen. */
	for (uint64_t i = 0; i < nk; i++)
		key_of(i % 2 ? 12000000 + i : o->base + i / 2, keys[i]);
	double t0 = now_s(), t;
	do {
		time_t wall = time(NULL);
		for (int i = 0; i < 1000; i++) {
			struct relay_entry e;
			if (relay_lookup_live(tab, keys[lookups % nk], wall, &e) == 1)
				hits++;
			lookups++;
		}
		t = now_s() - t0;
	} while (t < o->seconds);
	printf("lookups %llu seconds %.3f rate %.0f hits %llu\n",
	    (unsigned long long)lookups, t, (double)lookups / t,
	    (unsigned long long)hits);
	relay_close(tab);
	return 0;
}

static int
do_check(const struct opts *o)
{
	uint64_t checks = 0, yes = 0, no = 0, error = 0;
	posix_spawn_file_actions_t fa;
	double t0 = now_s(), t;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	do {
		char key[ADDR_TEXT_MAX];
		char *argv[] = { (char *)o->authsink, "-t", (char *)o->table,
		    "check", key, NULL };
		pid_t pid;
		int st;

		key_of(checks % 2 ? 12000000 + checks : o->base + checks / 2, key);
		if (posix_spawn(&pid, o->authsink, &fa, NULL, argv, environ) != 0) {
			perror("probe: spawn");
			return 2;
		}
		waitpid(pid, &st, 0);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
			yes++;
		else if (WIFEXITED(st) && WEXITSTATUS(st) == 1)
			no++;
		else
			error++;
		checks++;
		t = now_s() - t0;
	} while (t < o->seconds);
	posix_spawn_file_actions_destroy(&fa);
	printf("checks %llu seconds %.3f rate %.0f yes %llu no %llu error %llu\n",
	    (unsigned long long)checks, t, (double)checks / t,
	    (unsigned long long)yes, (unsigned long long)no,
	    (unsigned long long)error);
	return error ? 1 : 0;
}

static int
serve_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		perror("probe: connect");
		exit(2);
	}
	return fd;
}

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w <= 0) {
			perror("probe: write");
			exit(2);
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Read one reply (line: to LF; policy: to an empty line; socketmap: one
 * netstring) into buf; -1 at EOF. Replies are small: no pipelining. */
static int
read_reply(int fd, int kind, char *buf, size_t size)
{
	size_t n = 0;

	for (;;) {
		ssize_t r = read(fd, buf + n, size - 1 - n);
		if (r <= 0)
			return -1;
		n += (size_t)r;
		buf[n] = '\0';
		if (kind == 'l' && memchr(buf, '\n', n))
			return 0;
		if (kind == 'p' && strstr(buf, "\n\n"))
			return 0;
		if (kind == 's' && n > 0 && buf[n - 1] == ',')
			return 0;
		if (n + 1 >= size)
			return -1;
	}
}

static int
do_serve(const struct opts *o)
{
	uint64_t queries = 0, yes = 0, no = 0, error = 0;
	int kind = o->proto[0];	/* l, p, s */
	int fd = o->per_query ? -1 : serve_connect(o->sock);
	double t0 = now_s(), t;
	char req[512], rep[512];

	do {
		char key[ADDR_TEXT_MAX];
		int n;

		key_of(queries % 2 ? 12000000 + queries : o->base + queries / 2 % o->keys, key);
		if (kind == 'l')
			n = snprintf(req, sizeof(req), "%s%s", key, o->per_query ? "" : "\n");
		else if (kind == 'p')
			n = snprintf(req, sizeof(req), "request=smtpd_access_policy\n"
			    "protocol_state=RCPT\nclient_address=%s\nclient_name=unknown\n"
			    "helo_name=client.test\nsender=u@client.test\n"
			    "recipient=r@foreign.test\n\n", key);
		else
			n = snprintf(req, sizeof(req), "%zu:relay %s,", strlen(key) + 6, key);
		if (o->per_query)
			fd = serve_connect(o->sock);
		write_all(fd, req, (size_t)n);
		if (o->per_query)
			shutdown(fd, SHUT_WR);
		if (read_reply(fd, kind, rep, sizeof(rep)) < 0) {
			fprintf(stderr, "probe: serve closed the connection\n");
			return 2;
		}
		if (o->per_query) {
			close(fd);
			fd = -1;
		}
		{
			const char *body = kind == 's' ? strchr(rep, ':') : rep;
			const char *y = kind == 'l' ? "yes\n" : kind == 'p' ? "action=OK\n" : ":OK ";
			const char *f = kind == 'l' ? "no\n" : kind == 'p' ? "action=DUNNO\n" : ":NOTFOUND ";

			if (body && !strncmp(body, y, strlen(y)))
				yes++;
			else if (body && !strncmp(body, f, strlen(f)))
				no++;
			else
				error++;
		}
		queries++;
		t = now_s() - t0;
	} while (t < o->seconds);
	if (fd >= 0)
		close(fd);
	printf("queries %llu seconds %.3f rate %.0f yes %llu no %llu error %llu\n",
	    (unsigned long long)queries, t, (double)queries / t,
	    (unsigned long long)yes, (unsigned long long)no,
	    (unsigned long long)error);
	return error ? 1 : 0;
}

static int
put_range(struct relay_table *t, uint64_t base, uint64_t n, long long expires,
    long long now)
{
	for (uint64_t i = 0; i < n; i++) {
		struct relay_entry e;

		if (i % 20000 == 0) {
			if (i > 0 && relay_commit(t) < 0)
				return -1;
			if (relay_begin(t) < 0)
				return -1;
		}
		memset(&e, 0, sizeof(e));
		key_of(base + i, e.addr);
		e.expires = expires;
		e.first = e.last = now;
		e.count = 1;
		snprintf(e.user, sizeof(e.user), "user%llu@example.net",
		    (unsigned long long)(base + i) % 100000);
		snprintf(e.rule, sizeof(e.rule), "dovecot-login");
		if (relay_put(t, &e) < 0)
			return -1;
	}
	return n > 0 ? relay_commit(t) : 0;
}

static int
do_fill(const struct opts *o)
{
	struct relay_table *t = open_table(o->table, RELAY_WRITE);
	long long now = (long long)time(NULL);
	double t0 = now_s();

	if (put_range(t, o->base, o->live, now + 3600, now) < 0 ||
	    put_range(t, o->base + o->live, o->expired, now - 60, now - 3600) < 0) {
		fprintf(stderr, "probe: fill: %s\n", relay_strerror(t));
		return 2;
	}
	printf("live %llu expired %llu seconds %.3f\n",
	    (unsigned long long)o->live, (unsigned long long)o->expired,
	    now_s() - t0);
	relay_close(t);
	return 0;
}

static double
proc_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
do_writes(const struct opts *o)
{
	struct relay_table *t = open_table(o->table, RELAY_WRITE);
	uint64_t distinct = o->keys, batch = o->batch, commits = 0;
	long long now = (long long)time(NULL);
	char (*keys)[ADDR_TEXT_MAX] = calloc(distinct, ADDR_TEXT_MAX);

	for (uint64_t i = 0; i < distinct; i++)
		key_of(o->base + i, keys[i]);
	double c0 = proc_cpu_s();
	for (uint64_t i = 0; i < o->count; i++) {
		struct relay_entry e;
		const char *k = keys[i % distinct];
		int have;

		if (i % batch == 0 && relay_begin(t) < 0)
			goto fail;
		/* as apply_event() does for a login */
		if ((have = relay_get(t, k, &e)) <= 0) {
			memset(&e, 0, sizeof(e));
			snprintf(e.addr, sizeof(e.addr), "%s", k);
			e.first = now;
		}
		e.expires = now + 1800;
		e.last = now;
		e.count++;
		snprintf(e.user, sizeof(e.user), "user%llu@example.net",
		    (unsigned long long)(i % distinct));
		snprintf(e.rule, sizeof(e.rule), "dovecot-login");
		if (relay_put(t, &e) < 0)
			goto fail;
		if ((i + 1) % batch == 0 || i + 1 == o->count) {
			if (relay_commit(t) < 0)
				goto fail;
			commits++;
		}
	}
	double cpu = proc_cpu_s() - c0;
	printf("logins %llu commits %llu cpu %.3f us_per_login %.2f\n",
	    (unsigned long long)o->count, (unsigned long long)commits, cpu,
	    o->count ? 1e6 * cpu / (double)o->count : 0);
	relay_close(t);
	free(keys);
	return 0;
fail:
	fprintf(stderr, "probe: writes: %s\n", relay_strerror(t));
	return 2;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: probe latency -p PORT -t TABLE [-r RATE] [-n COUNT] [-a BASE] [-w WAIT] [-4]\n"
	    "       probe lookups -t TABLE [-d SECONDS] [-a BASE] [-k KEYS]\n"
	    "       probe check -x AUTHSINK -t TABLE [-d SECONDS] [-a BASE]\n"
	    "       probe serve -s SOCKET -P line|policy|socketmap -t TABLE [-d SECONDS] [-a BASE] [-k KEYS] [-o]\n"
	    "       probe fill -t TABLE -n LIVE [-e EXPIRED] [-a BASE]\n"
	    "       probe writes -t TABLE [-n LOGINS] [-b BATCH] [-m DISTINCT] [-a BASE]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct opts o = { .rate = 100, .seconds = 2, .wait = 10, .count = 1000,
	    .keys = 65536, .batch = 100 };
	const char *mode;
	int ch;

	if (argc < 2)
		usage();
	mode = argv[1];
	optind = 2;
	while ((ch = getopt(argc, argv, "p:t:r:n:a:w:d:k:x:e:b:m:4s:P:o")) != -1) {
		switch (ch) {
		case 'p': o.port = atoi(optarg); break;
		case 't': o.table = optarg; break;
		case 'r': o.rate = atof(optarg); break;
		case 'n': o.count = o.live = strtoull(optarg, NULL, 10); break;
		case 'a': o.base = strtoull(optarg, NULL, 10); break;
		case 'w': o.wait = atof(optarg); break;
		case 'd': o.seconds = atof(optarg); break;
		case 'k': o.keys = strtoull(optarg, NULL, 10); break;
		case 'x': o.authsink = optarg; break;
		case 'e': o.expired = strtoull(optarg, NULL, 10); break;
		case 'b': o.batch = strtoull(optarg, NULL, 10); break;
		case 'm': o.keys = strtoull(optarg, NULL, 10); break;
		case '4': o.v4only = 1; break;
		case 's': o.sock = optarg; break;
		case 'P': o.proto = optarg; break;
		case 'o': o.per_query = 1; break;
		default: usage();
		}
	}
	if (o.table == NULL)
		usage();
	if (!strcmp(mode, "latency") && o.port > 0 && o.rate > 0 && o.count > 0)
		return do_latency(&o);
	if (!strcmp(mode, "lookups") && o.keys > 0)
		return do_lookups(&o);
	if (!strcmp(mode, "check") && o.authsink)
		return do_check(&o);
	if (!strcmp(mode, "serve") && o.sock && o.proto &&
	    strchr("lps", o.proto[0]))
		return do_serve(&o);
	if (!strcmp(mode, "fill"))
		return do_fill(&o);
	if (!strcmp(mode, "writes") && o.batch > 0)
		return do_writes(&o);
	usage();
	return 2;
}
