/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for client.c: which address is the client's, with and
 * without trusted proxies, for IPv4 and IPv6, malformed headers and
 * spoofing attempts.
 */
#include "config.h"

#include <sys/socket.h>

#include <stdio.h>
#include <string.h>

#include "client.h"
#include "tap.h"

struct case_proxies {
	const char	*spec;
	int		 ok;
	size_t		 n;
};

static const struct case_proxies specs[] = {
	{ NULL, 1, 0 },
	{ "", 1, 0 },
	{ "10.0.0.1", 1, 1 },
	{ "10.0.0.0/8, 192.168.0.0/16 ::1", 1, 3 },
	{ "2001:db8::/32,127.0.0.1", 1, 2 },
	{ "  10.0.0.1 ,, 10.0.0.2  ", 1, 2 },
	{ "[::1]", 1, 1 },
	/* A range that trusts the internet is refused (issue 10). */
	{ "10.0.0.0/0", 0, 0 },
	{ "0.0.0.0/0", 0, 0 },
	{ "::/0", 0, 0 },
	{ "0.0.0.0/7", 0, 0 },
	{ "::ffff:0:0/96", 0, 0 },
	{ "::/8", 0, 0 },
	{ "2000::/3", 0, 0 },
	{ "fc00::/6", 0, 0 },
	{ "10.0.0.0/8", 1, 1 },
	{ "2001:db8::/16", 1, 1 },
	{ "fc00::/7", 1, 1 },
	{ "fd12:3456::/16", 1, 1 },
	{ "::ffff:10.0.0.0/104", 1, 1 },
	{ "10.0.0.0/33", 0, 0 },
	{ "::/129", 0, 0 },
	{ "10.0.0.0/", 0, 0 },
	{ "10.0.0.0/-1", 0, 0 },
	{ "10.0.0.0/8x", 0, 0 },
	{ "10.0.0", 0, 0 },
	{ "proxy.example.com", 0, 0 },
	{ "10.0.0.1;rm", 0, 0 },
	{ "300.1.1.1", 0, 0 },
};

struct case_addr {
	const char	*what;
	const char	*proxies;
	const char	*remote;
	const char	*xff;
	const char	*want;
};

static const struct case_addr addrs[] = {
	{ "no proxies: REMOTE_ADDR", NULL, "192.0.2.7", NULL, "192.0.2.7" },
	{ "no proxies: X-Forwarded-For ignored", NULL, "192.0.2.7",
	    "198.51.100.1", "192.0.2.7" },
	{ "untrusted peer: X-Forwarded-For ignored (spoofing)", "10.0.0.1",
	    "192.0.2.7", "198.51.100.1", "192.0.2.7" },
	{ "trusted peer: its forwarded client", "10.0.0.1", "10.0.0.1",
	    "198.51.100.1", "198.51.100.1" },
	{ "a forged entry left of the real one is skipped", "10.0.0.1",
	    "10.0.0.1", "203.0.113.66, 198.51.100.1", "198.51.100.1" },
	{ "two trusted hops", "10.0.0.0/8", "10.0.0.1",
	    "198.51.100.1, 10.1.2.3", "198.51.100.1" },
	{ "forgery behind two trusted hops", "10.0.0.0/8", "10.0.0.1",
	    "1.1.1.1, 198.51.100.1, 10.1.2.3", "198.51.100.1" },
	{ "client claiming to be a proxy is still passed over",
	    "10.0.0.0/8", "10.0.0.1", "198.51.100.1, 10.9.9.9",
	    "198.51.100.1" },
	{ "every entry trusted: the leftmost", "10.0.0.0/8", "10.0.0.1",
	    "10.2.2.2, 10.3.3.3", "10.2.2.2" },
	{ "malformed rightmost entry: the proxy itself", "10.0.0.1",
	    "10.0.0.1", "198.51.100.1, garbage", "10.0.0.1" },
	{ "malformed entry stops the walk", "10.0.0.0/8", "10.0.0.1",
	    "198.51.100.1, bad, 10.1.1.1", "10.1.1.1" },
	{ "empty header", "10.0.0.1", "10.0.0.1", "", "10.0.0.1" },
	{ "trailing comma", "10.0.0.1", "10.0.0.1", "198.51.100.1,",
	    "10.0.0.1" },
	{ "entry with a port is not an address", "10.0.0.1", "10.0.0.1",
	    "198.51.100.1:4711", "10.0.0.1" },
	{ "newline injection is not an address", "10.0.0.1", "10.0.0.1",
	    "198.51.100.1\nforged", "10.0.0.1" },
	{ "IPv6 client through IPv4 proxy", "10.0.0.1", "10.0.0.1",
	    "2001:db8::1", "2001:db8::1" },
	{ "IPv6 in brackets", "10.0.0.1", "10.0.0.1", "[2001:db8::2]",
	    "2001:db8::2" },
	{ "IPv6 canonical form", NULL, "2001:0db8:0000::0001", NULL,
	    "2001:db8::1" },
	{ "IPv6 proxy range", "2001:db8:ffff::/48", "2001:db8:ffff::10",
	    "2001:db8:1::5, 2001:db8:ffff::20", "2001:db8:1::5" },
	{ "IPv4-mapped peer matches an IPv4 proxy", "127.0.0.1",
	    "::ffff:127.0.0.1", "198.51.100.9", "198.51.100.9" },
	/* IPv4-mapped IPv6 is the IPv4 address everywhere (issue 10). */
	{ "IPv4-mapped REMOTE_ADDR is its IPv4 address", NULL,
	    "::ffff:192.0.2.7", NULL, "192.0.2.7" },
	{ "IPv4-mapped forwarded client is its IPv4 address", "10.0.0.1",
	    "10.0.0.1", "::ffff:198.51.100.7", "198.51.100.7" },
	{ "IPv4-mapped, upper case and bracketed", "10.0.0.1", "10.0.0.1",
	    "[::FFFF:198.51.100.8]", "198.51.100.8" },
	{ "IPv4-mapped hop inside an IPv4 proxy range", "10.0.0.0/8",
	    "10.0.0.1", "198.51.100.1, ::ffff:10.2.3.4", "198.51.100.1" },
	{ "IPv4 hop inside a mapped proxy range", "::ffff:10.0.0.0/104",
	    "10.0.0.1", "198.51.100.2, 10.3.3.3", "198.51.100.2" },
	{ "IPv4 peer inside an IPv6 range holding mapped addresses",
	    "::ffff:0.0.0.0/120", "0.0.0.9", "198.51.100.3",
	    "198.51.100.3" },
	{ "IPv4-compatible ::192.0.2.1 stays IPv6", NULL, "0::c000:201",
	    NULL, "::192.0.2.1" },
	{ "::1 stays ::1", NULL, "::1", NULL, "::1" },
	{ "prefix boundary: /25 excludes .128", "192.0.2.0/25",
	    "192.0.2.128", "198.51.100.1", "192.0.2.128" },
	{ "prefix boundary: /25 includes .127", "192.0.2.0/25",
	    "192.0.2.127", "198.51.100.1", "198.51.100.1" },
	{ "missing REMOTE_ADDR", NULL, NULL, NULL, "-" },
	{ "malformed REMOTE_ADDR", "10.0.0.1", "not-an-ip", "198.51.100.1",
	    "-" },
};

struct case_host {
	const char	*host;
	int		 loopback;
};

static const struct case_host hosts[] = {
	{ "localhost", 1 },
	{ "LocalHost", 1 },
	{ "127.0.0.1", 1 },
	{ "127.255.0.9", 1 },
	{ "::1", 1 },
	{ "[::1]", 1 },
	{ "::ffff:127.0.0.1", 1 },
	{ "128.0.0.1", 0 },
	{ "126.255.255.255", 0 },
	{ "::2", 0 },
	{ "0.0.0.0", 0 },
	{ "localhost.example.com", 0 },
	{ "smtp.example.com", 0 },
	{ "", 0 },
};

int
main(void)
{
	struct client_proxies	 p;
	struct client_net	 n;
	char			 err[128], out[CLIENT_ADDR_MAX];
	size_t			 i;
	int			 ok;

	for (i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		ok = client_proxies_parse(specs[i].spec, &p, err,
		    sizeof(err)) == AUTH_OK;
		tap_ok(ok == specs[i].ok && p.n == specs[i].n &&
		    (ok || strncmp(err, "TRUSTED_PROXIES: ", 17) == 0),
		    "TRUSTED_PROXIES \"%s\" %s", specs[i].spec != NULL ?
		    specs[i].spec : "(unset)", specs[i].ok ? "accepted" :
		    "refused");
	}
	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		if (client_proxies_parse(addrs[i].proxies, &p, err,
		    sizeof(err)) != AUTH_OK)
			return 1;
		client_address(&p, addrs[i].remote, addrs[i].xff, out,
		    sizeof(out));
		tap_ok(strcmp(out, addrs[i].want) == 0, "%s", addrs[i].what);
		if (strcmp(out, addrs[i].want) != 0)
			tap_diag("got %s, want %s", out, addrs[i].want);
	}
	client_address(NULL, "192.0.2.1", "198.51.100.1", out, sizeof(out));
	tap_ok(strcmp(out, "192.0.2.1") == 0, "NULL proxies: REMOTE_ADDR");
	tap_ok(client_parse("  10.1.2.3 ", 11, &n) && n.prefix == 32,
	    "blanks around an address are fine");
	tap_ok(!client_parse("10.1.2.3x", 9, &n), "junk after an address");
	tap_ok(client_parse("::ffff:10.1.2.3", 15, &n) && n.family == AF_INET &&
	    n.prefix == 32 && memcmp(n.addr, "\x0a\x01\x02\x03", 4) == 0,
	    "client_parse unmaps ::ffff:10.1.2.3 to 10.1.2.3/32");
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
		tap_ok(client_host_loopback(hosts[i].host) == hosts[i].loopback,
		    "\"%s\" is %sthis machine", hosts[i].host,
		    hosts[i].loopback ? "" : "not ");
	return tap_done();
}
