/* addr.c - client addresses: parse, canonicalize, classify, CIDR lists.
 *
 * Every address that reaches the relay table passes through addr_parse,
 * so this is where "what the log said" becomes "what we trust". */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "util.h"

static const unsigned char v4mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

static void
fold_v4mapped(struct addr *a)
{
	if (a->family == AF_INET6 &&
	    memcmp(a->b, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0) {
		memmove(a->b, a->b + 12, 4);
		memset(a->b + 4, 0, 12);
		a->family = AF_INET;
	}
}

int
addr_parse(const char *s, size_t n, struct addr *a)
{
	char text[ADDR_TEXT_MAX];

	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(text))
		return -1;
	memcpy(text, s, n);
	text[n] = '\0';
	memset(a, 0, sizeof(*a));
	/* inet_pton rejects zone ids, ports, and leading zeros in IPv4. */
	if (inet_pton(AF_INET, text, a->b) == 1) {
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, a->b) == 1) {
		a->family = AF_INET6;
		fold_v4mapped(a);
		return 0;
	}
	return -1;
}

void
addr_format(const struct addr *a, char out[ADDR_TEXT_MAX])
{
	if (inet_ntop(a->family, a->b, out, ADDR_TEXT_MAX) == NULL)
		str_copy(out, "?", ADDR_TEXT_MAX);
}

int
addr_from_sockaddr(const struct sockaddr *sa, struct addr *a)
{
	memset(a, 0, sizeof(*a));
	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
		a->family = AF_INET;
		memcpy(a->b, &sin->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
		a->family = AF_INET6;
		memcpy(a->b, &sin6->sin6_addr, 16);
		fold_v4mapped(a);
		return 0;
	}
	return -1;
}

static int
all_zero(const unsigned char *b, size_t n)
{
	while (n-- > 0)
		if (*b++ != 0)
			return 0;
	return 1;
}

int
addr_is_bogus(const struct addr *a)
{
	if (a->family == AF_INET) {
		/* 0.0.0.0/8 "this network", 224/4 multicast, 240/4 reserved
		 * and 255.255.255.255 broadcast never are SMTP clients. */
		return a->b[0] == 0 || a->b[0] >= 224;
	}
	return all_zero(a->b, 16) || a->b[0] == 0xff;
}

int
addr_is_loopback(const struct addr *a)
{
	static const unsigned char v6_loopback[16] = { [15] = 1 };

	if (a->family == AF_INET)
		return a->b[0] == 127;
	return memcmp(a->b, v6_loopback, 16) == 0;
}

int
addr_is_private(const struct addr *a)
{
	if (a->family == AF_INET)
		return a->b[0] == 10 ||
		    (a->b[0] == 172 && (a->b[1] & 0xf0) == 16) ||
		    (a->b[0] == 192 && a->b[1] == 168) ||
		    (a->b[0] == 169 && a->b[1] == 254) ||
		    (a->b[0] == 100 && (a->b[1] & 0xc0) == 64);
	return (a->b[0] & 0xfe) == 0xfc ||			/* fc00::/7 */
	    (a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80);	/* fe80::/10 */
}

int
cidr_parse(const char *s, struct cidr *c)
{
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	int max;

	if (addr_parse(s, alen, &c->net) < 0)
		return -1;
	max = c->net.family == AF_INET ? 32 : 128;
	if (slash == NULL) {
		c->prefix = max;
	} else {
		char *end;
		long p;

		if (slash[1] < '0' || slash[1] > '9')
			return -1;
		p = strtol(slash + 1, &end, 10);
		if (*end != '\0' || p < 0 || p > 128)
			return -1;
		/* "::ffff:10.0.0.0/104" folded to IPv4 keeps its meaning. */
		if (c->net.family == AF_INET && memchr(s, ':', alen) != NULL)
			p -= 96;
		if (p < 0 || p > max)
			return -1;
		c->prefix = (int)p;
	}
	return 0;
}

int
cidr_contains(const struct cidr *c, const struct addr *a)
{
	int full = c->prefix / 8, rest = c->prefix % 8;

	if (c->net.family != a->family)
		return 0;
	if (memcmp(c->net.b, a->b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (c->net.b[full] & mask) == (a->b[full] & mask);
}

int
cidr_list_add(struct cidr_list *l, const struct cidr *c)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 8;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = *c;
	return 0;
}

int
cidr_list_contains(const struct cidr_list *l, const struct addr *a)
{
	for (size_t i = 0; i < l->n; i++)
		if (cidr_contains(&l->v[i], a))
			return 1;
	return 0;
}

void
cidr_list_free(struct cidr_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}
