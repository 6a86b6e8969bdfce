/* SPDX-License-Identifier: ISC */
/*
 * The client's address: REMOTE_ADDR, or, behind trusted proxies, what
 * they say in X-Forwarded-For.
 */
#ifndef AUTH_CLIENT_H
#define AUTH_CLIENT_H

#include <stddef.h>

#include "status.h"

#define CLIENT_ADDR_MAX		46	/* INET6_ADDRSTRLEN */
#define CLIENT_PROXIES_MAX	64
#define CLIENT_PROXY_MIN4	8	/* widest trusted IPv4 range, bits */
#define CLIENT_PROXY_MIN6	16	/* widest trusted IPv6 range, bits */

struct client_net {
	int		 family;	/* AF_INET or AF_INET6 */
	unsigned char	 addr[16];
	unsigned int	 prefix;	/* bits */
};

struct client_proxies {
	struct client_net	 nets[CLIENT_PROXIES_MAX];
	size_t			 n;
};

/* client.c */
enum auth_status client_proxies_parse(const char *, struct client_proxies *,
		    char *, size_t);
void		 client_address(const struct client_proxies *, const char *,
		    const char *, char *, size_t);
int		 client_parse(const char *, size_t, struct client_net *);
int		 client_host_loopback(const char *);

#endif /* !AUTH_CLIENT_H */
