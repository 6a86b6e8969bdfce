/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the client address (client.c): the input is
 * three lines, TRUSTED_PROXIES, REMOTE_ADDR and X-Forwarded-For (absent
 * when there is no third line).
 *
 * Properties (any broken one aborts):
 *  - TRUSTED_PROXIES parses into at most 64 networks with prefixes that
 *    fit their family, which written back as "address/prefix" parse to
 *    the same networks; a refusal leaves none and says why;
 *  - client_parse() accepts only what is made of the characters of an
 *    address, and what it accepts formats back to an address;
 *  - client_address() writes "-" or a canonical address, never more
 *    than its buffer; "-" exactly when REMOTE_ADDR is not an address;
 *  - the address is the one this model picks, written apart from
 *    client.c: REMOTE_ADDR unless it is a trusted proxy, else the
 *    rightmost X-Forwarded-For entry that is not trusted, the walk
 *    stopping at an entry that is not an address; an IPv4-mapped IPv6
 *    address counts as the IPv4 address it maps, in a network of either
 *    family.
 */
#include "config.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "oracle.h"

#define FUZZ_MAX	4096	/* longer inputs are ignored */
#define FUZZ_HOPS	256

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const unsigned char fuzz_mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/*
 * Reduce an IPv4-mapped IPv6 address in a to the IPv4 address.
 */
static void
fuzz_unmap(struct client_net *a)
{

	if (a->family == AF_INET6 &&
	    memcmp(a->addr, fuzz_mapped, sizeof(fuzz_mapped)) == 0) {
		memmove(a->addr, a->addr + 12, 4);
		memset(a->addr + 4, 0, 12);
		a->family = AF_INET;
	}
}

/*
 * Write a as 16 bytes of IPv6, an IPv4 address in its mapped form
 * (::ffff:a.b.c.d), and return its prefix counted the same way.
 */
static unsigned int
fuzz_v6(const struct client_net *a, unsigned char v6[16])
{

	if (a->family == AF_INET6) {
		memcpy(v6, a->addr, 16);
		return a->prefix;
	}
	memcpy(v6, fuzz_mapped, sizeof(fuzz_mapped));
	memcpy(v6 + 12, a->addr, 4);
	return a->prefix + 96;
}

/*
 * Return 1 if address a lies in network n, bit by bit, both taken as
 * IPv6: ::ffff:a.b.c.d is the IPv4 address everywhere.
 */
static int
fuzz_within(const struct client_net *n, const struct client_net *a)
{
	unsigned char	 na[16], aa[16];
	unsigned int	 bit, prefix;

	prefix = fuzz_v6(n, na);
	(void)fuzz_v6(a, aa);
	for (bit = 0; bit < prefix; bit++)
		if (((na[bit / 8] ^ aa[bit / 8]) >> (7 - bit % 8)) & 1)
			return 0;
	return 1;
}

static int
fuzz_trusted(const struct client_proxies *p, const struct client_net *a)
{
	size_t	 i;

	for (i = 0; i < p->n; i++)
		if (fuzz_within(&p->nets[i], a))
			return 1;
	return 0;
}

static void
fuzz_proxies(const char *spec, struct client_proxies *p)
{
	static char		 again[CLIENT_PROXIES_MAX * 64];
	struct client_proxies	 q;
	char			 err[256], addr[INET6_ADDRSTRLEN];
	size_t			 i, len = 0;
	int			 n;

	if (client_proxies_parse(spec, p, err, sizeof(err)) != AUTH_OK) {
		if (p->n != 0 || err[0] == '\0')
			oracle_fail("proxies refused: %zu left, \"%s\"", p->n,
			    err);
		return;
	}
	if (err[0] != '\0' || p->n > CLIENT_PROXIES_MAX)
		oracle_fail("proxies parsed: %zu, \"%s\"", p->n, err);
	again[0] = '\0';
	for (i = 0; i < p->n; i++) {
		if ((p->nets[i].family != AF_INET || p->nets[i].prefix > 32) &&
		    (p->nets[i].family != AF_INET6 ||
		    p->nets[i].prefix > 128))
			oracle_fail("proxy %zu: family %d prefix %u", i,
			    p->nets[i].family, p->nets[i].prefix);
		if (inet_ntop(p->nets[i].family, p->nets[i].addr, addr,
		    sizeof(addr)) == NULL)
			abort();
		n = snprintf(again + len, sizeof(again) - len, "%s%s/%u",
		    i > 0 ? ", " : "", addr, p->nets[i].prefix);
		if (n < 0 || (size_t)n >= sizeof(again) - len)
			abort();
		len += (size_t)n;
	}
	if (client_proxies_parse(again, &q, err, sizeof(err)) != AUTH_OK ||
	    q.n != p->n)
		oracle_fail("proxies written back: \"%s\": %s", again, err);
	for (i = 0; i < p->n; i++)
		if (q.nets[i].family != p->nets[i].family ||
		    q.nets[i].prefix != p->nets[i].prefix ||
		    memcmp(q.nets[i].addr, p->nets[i].addr, 16) != 0)
			oracle_fail("proxy %zu changed when written back", i);
}

/*
 * Check client_parse() on the len bytes at s; return what it returned.
 */
static int
fuzz_parse(const char *s, size_t len, struct client_net *a)
{
	char	 buf[INET6_ADDRSTRLEN];
	size_t	 i;

	if (!client_parse(s, len, a))
		return 0;
	for (i = 0; i < len; i++)
		if (strchr("0123456789abcdefABCDEF.:[] \t", s[i]) == NULL ||
		    s[i] == '\0')
			oracle_fail("client_parse() took byte 0x%02x",
			    (unsigned char)s[i]);
	if ((a->family != AF_INET || a->prefix != 32) &&
	    (a->family != AF_INET6 || a->prefix != 128))
		oracle_fail("client_parse(): family %d prefix %u", a->family,
		    a->prefix);
	if (inet_ntop(a->family, a->addr, buf, sizeof(buf)) == NULL ||
	    !oracle_address(buf))
		oracle_fail("client_parse(): no address");
	return 1;
}

/*
 * The model: which address client_address() must give.  Returns 0 for
 * "-".
 */
static int
fuzz_model(const struct client_proxies *p, const char *remote,
    const char *xff, struct client_net *best)
{
	const char		*start[FUZZ_HOPS];
	size_t			 len[FUZZ_HOPS], n = 0, i;
	struct client_net	 a;
	const char		*s;

	if (remote == NULL || !fuzz_parse(remote, strlen(remote), best))
		return 0;
	if (xff == NULL || !fuzz_trusted(p, best))
		return 1;
	for (s = xff; n < FUZZ_HOPS; s += len[n++] + 1) {
		start[n] = s;
		len[n] = strcspn(s, ",");
		if (s[len[n]] == '\0') {
			n++;
			break;
		}
	}
	for (i = n; i > 0; i--) {
		if (!fuzz_parse(start[i - 1], len[i - 1], &a))
			break;
		*best = a;
		if (!fuzz_trusted(p, &a))
			break;
	}
	return 1;
}

/*
 * The libFuzzer entry point.  Always returns 0.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char		 buf[FUZZ_MAX + 1];
	struct client_proxies	 p;
	struct client_net	 want, got;
	char			 out[CLIENT_ADDR_MAX + 8];
	char			*line[3] = { NULL, NULL, NULL }, *s, *nl;
	size_t			 n = 0;
	int			 some;

	if (size > FUZZ_MAX || memchr(data, '\0', size) != NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (s = buf; n < 3; s = nl + 1) {
		line[n++] = s;
		if ((nl = strchr(s, '\n')) == NULL)
			break;
		*nl = '\0';
	}
	fuzz_proxies(line[0], &p);
	/* More commas than the model holds: its walk would stop early. */
	if (line[2] != NULL && strlen(line[2]) >= FUZZ_HOPS - 1)
		return 0;

	memset(out, 'x', sizeof(out));
	client_address(&p, line[1], line[2], out, CLIENT_ADDR_MAX);
	if (memchr(out, '\0', CLIENT_ADDR_MAX) == NULL ||
	    out[CLIENT_ADDR_MAX] != 'x')
		oracle_fail("client_address() wrote past its buffer");
	some = fuzz_model(&p, line[1], line[2], &want);
	if (!some) {
		if (strcmp(out, "-") != 0)
			oracle_fail("\"%s\" where \"-\" was due", out);
		return 0;
	}
	if (!oracle_address(out))
		oracle_fail("client_address() gave \"%s\"", out);
	memset(&got, 0, sizeof(got));
	got.family = strchr(out, ':') != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(got.family, out, got.addr) != 1)
		abort();
	fuzz_unmap(&got);
	fuzz_unmap(&want);
	if (got.family != want.family || memcmp(got.addr, want.addr, 16) != 0)
		oracle_fail("client_address() gave \"%s\", not the address "
		    "the model picked", out);
	return 0;
}
