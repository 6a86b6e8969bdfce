/* SPDX-License-Identifier: ISC */
/*
 * The client's address, for logging and throttling.  It is REMOTE_ADDR,
 * the peer the web server saw, unless that peer is one of the proxies
 * named in TRUSTED_PROXIES: then it is the rightmost X-Forwarded-For entry
 * that is not a trusted proxy.  Each proxy appends the address it saw,
 * so entries right of the first untrusted one were written by our own
 * proxies and everything left of it may be forged by the client.
 * An entry that is not an address stops the walk: nothing to its left can
 * be believed, and the last trusted hop is the best we know.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"

/* ::ffff:0:0/96, IPv4-mapped IPv6 addresses (RFC 4291, 2.5.5.2). */
static const unsigned char client_mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/*
 * Parse the len bytes at s, an IPv4 or IPv6 address (IPv6 possibly in
 * brackets), into *net as written, with a full prefix.  Returns 1, or 0
 * if s is not an address.
 */
static int
client_parse_raw(const char *s, size_t len, struct client_net *net)
{
	char	 buf[CLIENT_ADDR_MAX + 2];

	memset(net, 0, sizeof(*net));
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(buf))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, net->addr) == 1) {
		net->family = AF_INET;
		net->prefix = 32;
		return 1;
	}
	if (inet_pton(AF_INET6, buf, net->addr) == 1) {
		net->family = AF_INET6;
		net->prefix = 128;
		return 1;
	}
	return 0;
}

/*
 * If net is an IPv4-mapped IPv6 address, or a range of them (a prefix of
 * at least 96 bits), make it the IPv4 address or range it maps: one
 * client seen through a dual-stack proxy (which writes ::ffff:192.0.2.1)
 * or directly is one client, in its throttle counts and in the logs.
 */
static void
client_unmap(struct client_net *net)
{

	if (net->family != AF_INET6 || net->prefix < 96 ||
	    memcmp(net->addr, client_mapped, sizeof(client_mapped)) != 0)
		return;
	memmove(net->addr, net->addr + sizeof(client_mapped), 4);
	memset(net->addr + 4, 0, sizeof(net->addr) - 4);
	net->family = AF_INET;
	net->prefix -= 96;
}

/*
 * Parse the len bytes at s, an IPv4 or IPv6 address (IPv6 possibly in
 * brackets), into *net with a full prefix; an IPv4-mapped IPv6 address
 * becomes the IPv4 address it maps.  Returns 1, or 0 if s is not an
 * address.
 */
int
client_parse(const char *s, size_t len, struct client_net *net)
{

	if (!client_parse_raw(s, len, net))
		return 0;
	client_unmap(net);
	return 1;
}

/*
 * Return 1 if address a (as client_parse() gives it) lies in network n.
 * An IPv4 address is in an IPv6 network that holds its mapped form.
 */
static int
client_in(const struct client_net *n, const struct client_net *a)
{
	unsigned char		 mapped[16];
	const unsigned char	*addr = a->addr;
	unsigned int		 full, rest;

	if (a->family == AF_INET && n->family == AF_INET6) {
		memcpy(mapped, client_mapped, sizeof(client_mapped));
		memcpy(mapped + sizeof(client_mapped), a->addr, 4);
		addr = mapped;
	} else if (a->family != n->family)
		return 0;
	full = n->prefix / 8;
	rest = n->prefix % 8;
	if (memcmp(addr, n->addr, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((addr[full] ^ n->addr[full]) &
	    (unsigned char)(0xff << (8 - rest))) == 0;
}

/*
 * Return 1 if range net is too wide to be a set of proxies one operator
 * runs: wider than an IPv4 /8 (10.0.0.0/8 is the widest private range),
 * or an IPv6 /16, unless inside fc00::/7 (unique local addresses, RFC
 * 4193).  0.0.0.0/0 or ::/0 would let any client name its own address.
 */
static int
client_too_wide(const struct client_net *net)
{

	if (net->family == AF_INET)
		return net->prefix < CLIENT_PROXY_MIN4;
	if (net->prefix >= CLIENT_PROXY_MIN6)
		return 0;
	return net->prefix < 7 || (net->addr[0] & 0xfe) != 0xfc;
}

static int
client_trusted(const struct client_proxies *p, const struct client_net *a)
{
	size_t	 i;

	for (i = 0; p != NULL && i < p->n; i++)
		if (client_in(&p->nets[i], a))
			return 1;
	return 0;
}

/*
 * Parse TRUSTED_PROXIES: addresses or CIDR ranges (192.0.2.0/24,
 * 2001:db8::/32), separated by commas or blanks.  NULL or "" is none.
 * A range wider than client_too_wide() allows is refused.  Returns
 * AUTH_OK, or AUTH_ERR_CONFIG with a one-line reason in err.
 */
enum auth_status
client_proxies_parse(const char *spec, struct client_proxies *out,
    char *err, size_t errsz)
{
	const char		*p = spec, *slash;
	struct client_net	 net;
	size_t			 len, alen;
	unsigned long		 prefix;
	char			*end, num[8];

	memset(out, 0, sizeof(*out));
	if (errsz > 0)
		err[0] = '\0';
	while (p != NULL && *p != '\0') {
		p += strspn(p, ", \t");
		if ((len = strcspn(p, ", \t")) == 0)
			break;
		slash = memchr(p, '/', len);
		alen = slash != NULL ? (size_t)(slash - p) : len;
		if (!client_parse_raw(p, alen, &net))
			goto bad;
		if (slash != NULL) {
			if (len - alen - 1 == 0 || len - alen - 1 >= sizeof(num))
				goto bad;
			memcpy(num, slash + 1, len - alen - 1);
			num[len - alen - 1] = '\0';
			if (num[0] < '0' || num[0] > '9')
				goto bad;
			prefix = strtoul(num, &end, 10);
			if (*end != '\0' || prefix > net.prefix)
				goto bad;
			net.prefix = (unsigned int)prefix;
		}
		client_unmap(&net);
		if (client_too_wide(&net)) {
			(void)snprintf(err, errsz, "TRUSTED_PROXIES: \"%.*s\" "
			    "is wider than /%d (IPv4) or /%d (IPv6): it would "
			    "let any client choose its own address",
			    (int)(len > 64 ? 64 : len), p, CLIENT_PROXY_MIN4,
			    CLIENT_PROXY_MIN6);
			memset(out, 0, sizeof(*out));
			return AUTH_ERR_CONFIG;
		}
		if (out->n == CLIENT_PROXIES_MAX) {
			(void)snprintf(err, errsz, "TRUSTED_PROXIES: more than "
			    "%d entries", CLIENT_PROXIES_MAX);
			memset(out, 0, sizeof(*out));
			return AUTH_ERR_CONFIG;
		}
		out->nets[out->n++] = net;
		p += len;
	}
	return AUTH_OK;
bad:
	(void)snprintf(err, errsz, "TRUSTED_PROXIES: \"%.*s\" is not an "
	    "address or CIDR range", (int)(len > 64 ? 64 : len), p);
	memset(out, 0, sizeof(*out));
	return AUTH_ERR_CONFIG;
}

static void
client_format(const struct client_net *a, char *out, size_t outsz)
{

	if (inet_ntop(a->family, a->addr, out, (socklen_t)outsz) == NULL)
		(void)snprintf(out, outsz, "-");
}

/*
 * Write the client's address into out (outsz bytes, at least
 * CLIENT_ADDR_MAX), in canonical form (an IPv4-mapped IPv6 address as the
 * IPv4 address), or "-" if REMOTE_ADDR is missing or malformed.  remote is REMOTE_ADDR, xff the X-Forwarded-For header
 * (HTTP_X_FORWARDED_FOR; may be NULL), proxies the trusted ones (NULL or
 * empty: X-Forwarded-For is never read).
 */
void
client_address(const struct client_proxies *proxies, const char *remote,
    const char *xff, char *out, size_t outsz)
{
	struct client_net	 best, a;
	const char		*end, *start;

	if (remote == NULL || !client_parse(remote, strlen(remote), &best)) {
		(void)snprintf(out, outsz, "-");
		return;
	}
	if (xff != NULL && client_trusted(proxies, &best)) {
		/* Walk the list right to left while the hops are ours. */
		end = xff + strlen(xff);
		while (end > xff) {
			start = end;
			while (start > xff && start[-1] != ',')
				start--;
			if (!client_parse(start, (size_t)(end - start), &a))
				break;
			best = a;
			if (!client_trusted(proxies, &a))
				break;
			end = start > xff ? start - 1 : xff;
		}
	}
	client_format(&best, out, outsz);
}

/*
 * Return 1 if host names this machine: "localhost", an IPv4 address in
 * 127.0.0.0/8 (RFC 1122, 3.2.1.3), ::1 (RFC 4291, 2.5.3) or an
 * IPv4-mapped form of a 127/8 address; else 0.
 */
int
client_host_loopback(const char *host)
{
	struct client_net	 net;
	static const unsigned char one[16] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1
	};

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (!client_parse(host, strlen(host), &net))
		return 0;
	if (net.family == AF_INET)
		return net.addr[0] == 127;
	return memcmp(net.addr, one, sizeof(one)) == 0;
}
