/* addr.h - IP addresses as the relay table keys them, and CIDR lists. */
#ifndef AUTHSINK_ADDR_H
#define AUTHSINK_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

#define ADDR_TEXT_MAX 46	/* INET6_ADDRSTRLEN */

struct addr {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char b[16];	/* network order; 4 bytes used for AF_INET */
};

struct cidr {
	struct addr net;
	int prefix;
};

/* Parse s[0..n) as an IPv4 or IPv6 address, optionally in [brackets].
 * IPv4-mapped IPv6 (::ffff:a.b.c.d) folds to IPv4. Zone ids, ports and
 * anything else are rejected. Returns 0 or -1. */
int addr_parse(const char *s, size_t n, struct addr *a);

/* Canonical text: dotted quad or RFC 5952 IPv6. */
void addr_format(const struct addr *a, char out[ADDR_TEXT_MAX]);

/* From a socket address (AF_INET/AF_INET6); -1 for anything else. */
int addr_from_sockaddr(const struct sockaddr *sa, struct addr *a);

/* Unspecified, multicast, broadcast, loopback-less sanity: 1 if the
 * address can never be a real client. */
int addr_is_bogus(const struct addr *a);
int addr_is_loopback(const struct addr *a);
int addr_is_private(const struct addr *a);	/* RFC 1918, RFC 4193, link-local */

/* "a.b.c.d/len", "x::/len" or a bare address (host prefix). 0 or -1. */
int cidr_parse(const char *s, struct cidr *c);
int cidr_contains(const struct cidr *c, const struct addr *a);

struct cidr_list {
	struct cidr *v;
	size_t n, cap;
};
int cidr_list_add(struct cidr_list *l, const struct cidr *c);
int cidr_list_contains(const struct cidr_list *l, const struct addr *a);
void cidr_list_free(struct cidr_list *l);

#endif
