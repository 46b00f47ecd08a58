/* mix.h - the benchmark's mail-log traffic, shared by loadgen and replay.
 *
 * A deck of 100 line kinds is dealt in a fixed shuffled order: 95 ordinary
 * lines of a busy Postfix + Dovecot host (smtpd connect/disconnect, cleanup,
 * qmgr, smtp delivery, dovecot session ends, failed logins, lmtp, amavis)
 * and, by default, 5 Dovecot logins. Every login gets an address of its
 * own: login k (counting from --addr-base) is 10.x.y.z taken from k, or
 * every 4th one 2001:db8:X:Y::Z; with addr_mod the addresses come back
 * after addr_mod logins (clients that log in again). These are text only: no packet ever goes
 * to them.
 *
 * Ordinary lines come from a pool of MIX_POOL pre-formatted variants
 * (different client addresses, pids, queue ids), so generating a message
 * costs a memcpy; a login is assembled from fixed pieces and the address
 * digits. Output is the message as a syslog daemon forwards it
 * ("<22>Mmm dd hh:mm:ss mx1 TAG[PID]: MSG", mode MIX_WIRE) or a line of
 * /var/log/mail.log ("Mmm dd hh:mm:ss mx1 TAG[PID]: MSG\n", MIX_FILE). */
#ifndef AUTHSINK_BENCH_MIX_H
#define AUTHSINK_BENCH_MIX_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIX_POOL 4096
#define MIX_LINE_MAX 512
#define MIX_DECK 100

#if defined(__GNUC__)
#define MIX_UNUSED __attribute__((unused))
#else
#define MIX_UNUSED
#endif

enum mix_mode { MIX_WIRE, MIX_FILE };

struct mix {
	enum mix_mode mode;
	int login_pct;			/* logins per 100 lines */
	uint64_t addr_base;		/* index of the first login's address */
	uint64_t addr_mod;		/* 0, or how many distinct addresses */
	uint64_t seq;			/* lines generated */
	uint64_t logins;		/* of which logins */
	unsigned char deck[MIX_DECK];	/* 1 = login, 0 = ordinary */
	char *pool[MIX_POOL];
	unsigned short pool_len[MIX_POOL];
	char hdr[64];			/* "<22>Mmm dd hh:mm:ss mx1 " */
	size_t hdr_len;
	time_t hdr_time;
};

MIX_UNUSED static uint64_t
mix_rand(uint64_t *s)
{
	/* splitmix64: reproducible, good enough for picking variants */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

MIX_UNUSED static void
mix_qid(uint64_t *s, char out[11])
{
	static const char hex[] = "0123456789ABCDEF";
	for (int i = 0; i < 10; i++)
		out[i] = hex[mix_rand(s) % 16];
	out[10] = '\0';
}

/* One ordinary line body ("TAG[PID]: MSG") of kind `kind`. */
MIX_UNUSED static int
mix_ordinary(char *out, size_t outlen, int kind, uint64_t *s)
{
	char qid[11];
	unsigned a = 1 + (unsigned)(mix_rand(s) % 254);
	unsigned b = 1 + (unsigned)(mix_rand(s) % 254);
	unsigned pid = 1000 + (unsigned)(mix_rand(s) % 60000);
	unsigned n = (unsigned)(mix_rand(s) % 100000);

	mix_qid(s, qid);
	switch (kind) {
	case 0:
		return snprintf(out, outlen, "postfix/smtpd[%u]: connect from "
		    "unknown[203.0.113.%u]", pid, a);
	case 1:
		return snprintf(out, outlen, "postfix/smtpd[%u]: disconnect from "
		    "unknown[203.0.113.%u] ehlo=1 mail=1 rcpt=1 data=1 quit=1 "
		    "commands=5", pid, a);
	case 2:
		return snprintf(out, outlen, "postfix/smtpd[%u]: %s: client="
		    "mail%u.example.net[198.51.100.%u]", pid, qid, b, a);
	case 3:
		return snprintf(out, outlen, "postfix/cleanup[%u]: %s: message-id="
		    "<%u.%u@mail%u.example.net>", pid, qid, n, pid, b);
	case 4:
		return snprintf(out, outlen, "postfix/qmgr[%u]: %s: from="
		    "<user%u@example.net>, size=%u, nrcpt=1 (queue active)",
		    pid, qid, n, 1000 + n);
	case 5:
		return snprintf(out, outlen, "postfix/smtp[%u]: %s: to="
		    "<rcpt%u@example.org>, relay=mx%u.example.org[198.51.100.%u]:25, "
		    "delay=0.%u, delays=0.1/0/0.2/0.1, dsn=2.0.0, status=sent "
		    "(250 2.0.0 Ok: queued as %X)", pid, qid, n, b, a, a, n);
	case 6:
		return snprintf(out, outlen, "postfix/qmgr[%u]: %s: removed",
		    pid, qid);
	case 7:
		return snprintf(out, outlen, "dovecot: imap(user%u)<%u><Xk%uAbCd>: "
		    "Disconnected: Logged out in=%u out=%u deleted=0 expunged=0 "
		    "trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0",
		    n, pid, a, a * 3, n);
	case 8:
		return snprintf(out, outlen, "dovecot: imap-login: Disconnected "
		    "(no auth attempts in 0 secs): user=<>, rip=203.0.113.%u, "
		    "lip=192.0.2.10, TLS handshaking: SSL_accept() failed, "
		    "session=<Ab%uCdEf>", a, n);
	case 9:
		return snprintf(out, outlen, "dovecot: pop3(user%u)<%u><Pq%uRs>: "
		    "Disconnected: Logged out top=0/0, retr=1/%u, del=1/1, size=%u",
		    n, pid, a, 1000 + n, 1000 + n);
	case 10:
		return snprintf(out, outlen, "dovecot: lmtp(user%u)<%u><Lm%uTp>: "
		    "msgid=<%u.%u@mail%u.example.net>: saved mail to INBOX",
		    n, pid, a, n, pid, b);
	case 11:
		return snprintf(out, outlen, "dovecot: imap-login: Aborted login "
		    "(auth failed, 1 attempts in 2 secs): user=<user%u>, "
		    "method=PLAIN, rip=203.0.113.%u, lip=192.0.2.10, TLS, "
		    "session=<Zz%uYy>", n, a, n);
	case 12:
		return snprintf(out, outlen, "amavis[%u]: (%05u-01) Passed CLEAN "
		    "{RelayedInbound}, [198.51.100.%u]:%u <user%u@example.net> -> "
		    "<rcpt%u@example.org>, Queue-ID: %s, mail_id: a%ub, Hits: -1.2, "
		    "size: %u, queued_as: %s, %u ms", pid, n % 100000, a, 1024 + b,
		    n, n, qid, n, 1000 + n, qid, n % 900);
	default:
		return snprintf(out, outlen, "postfix/anvil[%u]: statistics: max "
		    "connection rate 1/60s for (smtp:203.0.113.%u) at Nov 25 "
		    "05:19:40", pid, a);
	}
}

/* Kinds of the 100 - login_pct ordinary lines, by share. */
MIX_UNUSED static int
mix_kind_for(unsigned i, unsigned nordinary)
{
	/* cumulative shares out of 95, scaled to nordinary */
	static const unsigned share[] = { 14, 14, 9, 9, 9, 9, 7, 8, 5, 3, 4, 1, 2, 1 };
	unsigned acc = 0, total = 95;

	for (unsigned k = 0; k < sizeof(share) / sizeof(share[0]); k++) {
		acc += share[k];
		if (i * total < acc * nordinary)
			return (int)k;
	}
	return 0;
}

MIX_UNUSED static void
mix_init(struct mix *m, enum mix_mode mode, int login_pct, uint64_t addr_base)
{
	uint64_t s = 42;
	char buf[MIX_LINE_MAX];
	unsigned nordinary = (unsigned)(MIX_DECK - login_pct);

	memset(m, 0, sizeof(*m));
	m->mode = mode;
	m->login_pct = login_pct;
	m->addr_base = addr_base;
	for (int i = 0; i < MIX_DECK; i++)
		m->deck[i] = i < login_pct;
	for (int i = MIX_DECK - 1; i > 0; i--) {	/* Fisher-Yates */
		int j = (int)(mix_rand(&s) % (uint64_t)(i + 1));
		unsigned char t = m->deck[i];
		m->deck[i] = m->deck[j];
		m->deck[j] = t;
	}
	for (int i = 0; i < MIX_POOL; i++) {
		int kind = nordinary ? mix_kind_for((unsigned)i % nordinary, nordinary) : 0;
		int n = mix_ordinary(buf, sizeof(buf), kind, &s);
		m->pool[i] = malloc((size_t)n + 1);
		memcpy(m->pool[i], buf, (size_t)n + 1);
		m->pool_len[i] = (unsigned short)n;
	}
	for (int i = MIX_POOL - 1; i > 0; i--) {	/* interleave the kinds */
		int j = (int)(mix_rand(&s) % (uint64_t)(i + 1));
		char *t = m->pool[i];
		unsigned short tl = m->pool_len[i];
		m->pool[i] = m->pool[j];
		m->pool_len[i] = m->pool_len[j];
		m->pool[j] = t;
		m->pool_len[j] = tl;
	}
}

MIX_UNUSED static void
mix_free(struct mix *m)
{
	for (int i = 0; i < MIX_POOL; i++)
		free(m->pool[i]);
}

MIX_UNUSED static void
mix_header(struct mix *m, time_t now)
{
	struct tm tm;
	char ts[32];

	if (now == m->hdr_time && m->hdr_len)
		return;
	localtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%b %e %H:%M:%S", &tm);
	m->hdr_len = (size_t)snprintf(m->hdr, sizeof(m->hdr), "%s%s mx1 ",
	    m->mode == MIX_WIRE ? "<22>" : "", ts);
	m->hdr_time = now;
}

MIX_UNUSED static char *
mix_u(char *p, unsigned v)
{
	char t[12];
	int n = 0;

	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = t[--n];
	return p;
}

MIX_UNUSED static char *
mix_x(char *p, unsigned v)
{
	static const char hex[] = "0123456789abcdef";
	char t[8];
	int n = 0;

	do {
		t[n++] = hex[v & 15];
		v >>= 4;
	} while (v);
	while (n)
		*p++ = t[--n];
	return p;
}

/* The address of login index k, as text (what Dovecot would log). */
MIX_UNUSED static char *
mix_addr(char *p, uint64_t k)
{
	if (k % 4 == 3) {
		uint64_t v = k / 4;
		memcpy(p, "2001:db8:", 9);
		p = mix_x(p + 9, (unsigned)((v >> 32) & 0xffff) | 1);
		*p++ = ':';
		p = mix_x(p, (unsigned)((v >> 16) & 0xffff));
		memcpy(p, "::", 2);
		return mix_x(p + 2, (unsigned)(v & 0xffff));
	}
	uint64_t v = (k - k / 4) % 0xfffffe + 1;	/* 10.0.0.1 ... */
	memcpy(p, "10.", 3);
	p = mix_u(p + 3, (unsigned)(v >> 16) & 255);
	*p++ = '.';
	p = mix_u(p, (unsigned)(v >> 8) & 255);
	*p++ = '.';
	return mix_u(p, (unsigned)v & 255);
}

/* A Dovecot 2.3 login through its log process, for address index k. */
MIX_UNUSED static size_t
mix_login_body(char *out, uint64_t k)
{
	static const char a[] = "dovecot: imap-login: Login: user=<user";
	static const char b[] = "@example.net>, method=PLAIN, rip=";
	static const char c[] = ", lip=192.0.2.10, mpid=";
	static const char d[] = ", TLS, session=<q7Xn2Ab";
	char *p = out;

	memcpy(p, a, sizeof(a) - 1);
	p = mix_u(p + sizeof(a) - 1, (unsigned)(k % 100000));
	memcpy(p, b, sizeof(b) - 1);
	p = mix_addr(p + sizeof(b) - 1, k);
	memcpy(p, c, sizeof(c) - 1);
	p = mix_u(p + sizeof(c) - 1, 2000 + (unsigned)(k % 30000));
	memcpy(p, d, sizeof(d) - 1);
	p = mix_x(p + sizeof(d) - 1, (unsigned)(k & 0xffffff));
	*p++ = '>';
	return (size_t)(p - out);
}

/* Next message into out (at least MIX_LINE_MAX bytes); returns its length.
 * *is_login tells whether it was a login. `now` stamps the header. */
MIX_UNUSED static size_t
mix_next(struct mix *m, char *out, time_t now, int *is_login)
{
	size_t n;
	int login = m->deck[m->seq % MIX_DECK];

	mix_header(m, now);
	memcpy(out, m->hdr, m->hdr_len);
	n = m->hdr_len;
	if (login) {
		n += mix_login_body(out + n, m->addr_base +
		    (m->addr_mod ? m->logins % m->addr_mod : m->logins));
		m->logins++;
	} else {
		unsigned i = (unsigned)(m->seq % MIX_POOL);
		memcpy(out + n, m->pool[i], m->pool_len[i]);
		n += m->pool_len[i];
	}
	if (m->mode == MIX_FILE)
		out[n++] = '\n';
	m->seq++;
	if (is_login)
		*is_login = login;
	return n;
}

#endif
