/* SPDX-License-Identifier: ISC */
/*
 * MYSQL_DB_URL in the SQLAlchemy form the FastAPI backend used:
 *   mysql+pymysql://user:pass@host:port/db?ssl_mode=VERIFY_IDENTITY
 */
#ifndef AUTH_DBURL_H
#define AUTH_DBURL_H

#include <stddef.h>

#include "status.h"

enum dburl_tls {
	DBURL_TLS_DISABLED,		/* plain text */
	DBURL_TLS_REQUIRED,		/* encrypted, certificate unchecked */
	DBURL_TLS_VERIFY_CA,		/* certificate chain verified */
	DBURL_TLS_VERIFY_IDENTITY,	/* chain and host name verified */
	DBURL_TLS__MAX
};

struct dburl {
	char		*user;		/* decoded; never NULL after parse */
	char		*password;	/* decoded; NULL if none given */
	char		*host;		/* NULL when unix_socket is used */
	unsigned int	 port;		/* 3306 unless given */
	char		*database;	/* decoded; never empty */
	char		*unix_socket;	/* ?unix_socket=, or NULL */
	enum dburl_tls	 tls;
	char		*ssl_ca;	/* ?ssl_ca=, or NULL */
	char		*ssl_cert;	/* ?ssl_cert=, or NULL */
	char		*ssl_key;	/* ?ssl_key=, or NULL */
	/*
	 * Not in the URL: DB_CONNECT_TIMEOUT, DB_TIMEOUT and
	 * DB_LOCK_WAIT_TIMEOUT, in seconds, which cfg.c sets after parsing
	 * the URL; 0 means db.c's default.
	 */
	long		 connect_timeout;
	long		 io_timeout;
	long		 lock_wait_timeout;
};

/* dburl.c */
enum auth_status dburl_parse(const char *, struct dburl *, char *, size_t);
void		 dburl_free(struct dburl *);
const char	*dburl_tls_name(enum dburl_tls);

#endif /* !AUTH_DBURL_H */
