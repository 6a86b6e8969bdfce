/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for common/dburl.c: MYSQL_DB_URL in SQLAlchemy's form.  The
 * valid URLs are checked field by field; every invalid one must be
 * refused with a message that never repeats the password.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dburl.h"
#include "status.h"
#include "tap.h"

#define PW	"s3cretPW"	/* in every bad URL; never in a message */

struct valid {
	const char	*url;
	const char	*user;
	const char	*password;	/* NULL: none given */
	const char	*host;		/* NULL: unix socket */
	unsigned int	 port;
	const char	*database;
	const char	*unix_socket;
	enum dburl_tls	 tls;
	const char	*ssl_ca;
	const char	*ssl_cert;
	const char	*ssl_key;
};

struct invalid {
	const char	*url;
	const char	*want;		/* expected in the message */
};

static const struct valid valids[] = {
	/* Every scheme. */
	{ "mysql://u:p@db.example.com/app", "u", "p", "db.example.com",
	    3306, "app", NULL, DBURL_TLS_VERIFY_IDENTITY, NULL, NULL, NULL },
	{ "mariadb://u:p@db.example.com/app", "u", "p", "db.example.com",
	    3306, "app", NULL, DBURL_TLS_VERIFY_IDENTITY, NULL, NULL, NULL },
	{ "mysql+pymysql://u:p@db.example.com/app", "u", "p",
	    "db.example.com", 3306, "app", NULL, DBURL_TLS_VERIFY_IDENTITY,
	    NULL, NULL, NULL },
	{ "mysql+mysqldb://u:p@db.example.com/app", "u", "p",
	    "db.example.com", 3306, "app", NULL, DBURL_TLS_VERIFY_IDENTITY,
	    NULL, NULL, NULL },
	{ "mariadb+mariadbconnector://u:p@db.example.com/app", "u", "p",
	    "db.example.com", 3306, "app", NULL, DBURL_TLS_VERIFY_IDENTITY,
	    NULL, NULL, NULL },
	{ "mysql+mariadbconnector://u:p@db.example.com/app", "u", "p",
	    "db.example.com", 3306, "app", NULL, DBURL_TLS_VERIFY_IDENTITY,
	    NULL, NULL, NULL },
	{ "MySQL+PyMySQL://u:p@db.example.com/app", "u", "p",
	    "db.example.com", 3306, "app", NULL, DBURL_TLS_VERIFY_IDENTITY,
	    NULL, NULL, NULL },

	/* Field extraction, ports, no password, empty password. */
	{ "mysql+pymysql://collab:hunter2@localhost:3307/collab_auth",
	    "collab", "hunter2", "localhost", 3307, "collab_auth", NULL,
	    DBURL_TLS_DISABLED, NULL, NULL, NULL },
	{ "mysql://u@127.0.0.1/d", "u", NULL, "127.0.0.1", 3306, "d", NULL,
	    DBURL_TLS_DISABLED, NULL, NULL, NULL },
	{ "mysql://u:@127.0.0.1:1/d", "u", "", "127.0.0.1", 1, "d", NULL,
	    DBURL_TLS_DISABLED, NULL, NULL, NULL },
	{ "mysql://u:p@h:65535/d", "u", "p", "h", 65535, "d", NULL,
	    DBURL_TLS_VERIFY_IDENTITY, NULL, NULL, NULL },
	{ "mysql://u:p@h:00080/d", "u", "p", "h", 80, "d", NULL,
	    DBURL_TLS_VERIFY_IDENTITY, NULL, NULL, NULL },

	/* Percent-encoding in user, password, database and values. */
	{ "mysql+pymysql://us%65r%40corp:p%40ss%3Aw%2Fd@localhost/my%2Ddb",
	    "user@corp", "p@ss:w/d", "localhost", 3306, "my-db", NULL,
	    DBURL_TLS_DISABLED, NULL, NULL, NULL },
	{ "mysql://u:%25%41%7e@localhost/d", "u", "%A~", "localhost", 3306,
	    "d", NULL, DBURL_TLS_DISABLED, NULL, NULL, NULL },
	/* As SQLAlchemy: the password runs to the first "@". */
	{ "mysql://u:pa/ss?#:x@localhost/d", "u", "pa/ss?#:x", "localhost",
	    3306, "d", NULL, DBURL_TLS_DISABLED, NULL, NULL, NULL },
	{ "mysql://me@corp@localhost/d", "me@corp", NULL, "localhost", 3306,
	    "d", NULL, DBURL_TLS_DISABLED, NULL, NULL, NULL },

	/* IPv6. */
	{ "mysql://u:p@[::1]:3307/d", "u", "p", "::1", 3307, "d", NULL,
	    DBURL_TLS_DISABLED, NULL, NULL, NULL },
	{ "mysql://u:p@[2001:db8::5]/d", "u", "p", "2001:db8::5", 3306, "d",
	    NULL, DBURL_TLS_VERIFY_IDENTITY, NULL, NULL, NULL },

	/* Unix sockets: empty host, or localhost, which PyMySQL ignores. */
	{ "mysql+pymysql://u:p@/db?unix_socket=/run/mysqld/mysqld.sock",
	    "u", "p", NULL, 3306, "db", "/run/mysqld/mysqld.sock",
	    DBURL_TLS_DISABLED, NULL, NULL, NULL },
	{ "mysql+pymysql://u:p@localhost/db?unix_socket=%2Frun%2Fm.sock",
	    "u", "p", NULL, 3306, "db", "/run/m.sock", DBURL_TLS_DISABLED,
	    NULL, NULL, NULL },
	{ "mysql://u:p@/db?unix_socket=/s&ssl_ca=/ca.pem", "u", "p", NULL,
	    3306, "db", "/s", DBURL_TLS_REQUIRED, "/ca.pem", NULL, NULL },

	/* Each ssl_mode, any case. */
	{ "mysql://u:p@db.example.com/d?ssl_mode=DISABLED", "u", "p",
	    "db.example.com", 3306, "d", NULL, DBURL_TLS_DISABLED,
	    NULL, NULL, NULL },
	{ "mysql://u:p@localhost/d?ssl_mode=required", "u", "p",
	    "localhost", 3306, "d", NULL, DBURL_TLS_REQUIRED,
	    NULL, NULL, NULL },
	{ "mysql://u:p@localhost/d?ssl_mode=Verify_CA&ssl_ca=/etc/ca.pem",
	    "u", "p", "localhost", 3306, "d", NULL, DBURL_TLS_VERIFY_CA,
	    "/etc/ca.pem", NULL, NULL },
	{ "mysql://u:p@localhost/d?ssl_mode=VERIFY_IDENTITY", "u", "p",
	    "localhost", 3306, "d", NULL, DBURL_TLS_VERIFY_IDENTITY,
	    NULL, NULL, NULL },

	/* Defaults: loopback or socket DISABLED, anything else verified. */
	{ "mysql://u:p@LOCALHOST/d", "u", "p", "LOCALHOST", 3306, "d", NULL,
	    DBURL_TLS_DISABLED, NULL, NULL, NULL },
	{ "mysql://u:p@127.0.0.2/d", "u", "p", "127.0.0.2", 3306, "d", NULL,
	    DBURL_TLS_DISABLED, NULL, NULL, NULL },
	{ "mysql://u:p@127.255.255.254/d", "u", "p", "127.255.255.254",
	    3306, "d", NULL, DBURL_TLS_DISABLED, NULL, NULL, NULL },
	{ "mysql://u:p@10.0.0.5/d", "u", "p", "10.0.0.5", 3306, "d", NULL,
	    DBURL_TLS_VERIFY_IDENTITY, NULL, NULL, NULL },
	{ "mysql://u:p@128.0.0.1/d", "u", "p", "128.0.0.1", 3306, "d", NULL,
	    DBURL_TLS_VERIFY_IDENTITY, NULL, NULL, NULL },
	{ "mysql://u:p@127.example.com/d", "u", "p", "127.example.com",
	    3306, "d", NULL, DBURL_TLS_VERIFY_IDENTITY, NULL, NULL, NULL },
	{ "mysql://u:p@localhost.example.com/d", "u", "p",
	    "localhost.example.com", 3306, "d", NULL,
	    DBURL_TLS_VERIFY_IDENTITY, NULL, NULL, NULL },
	{ "mysql://u:p@[::2]/d", "u", "p", "::2", 3306, "d", NULL,
	    DBURL_TLS_VERIFY_IDENTITY, NULL, NULL, NULL },
	{ "mysql://u:p@db.example.com/d?ssl_ca=/ca.pem", "u", "p",
	    "db.example.com", 3306, "d", NULL, DBURL_TLS_VERIFY_IDENTITY,
	    "/ca.pem", NULL, NULL },
	/* A certificate on a loopback host means TLS is wanted. */
	{ "mysql://u:p@127.0.0.1/d?ssl_ca=/ca.pem", "u", "p", "127.0.0.1",
	    3306, "d", NULL, DBURL_TLS_REQUIRED, "/ca.pem", NULL, NULL },
	{ "mysql://u:p@[::1]/d?ssl_cert=/c.pem&ssl_key=/k.pem", "u", "p",
	    "::1", 3306, "d", NULL, DBURL_TLS_REQUIRED, NULL, "/c.pem",
	    "/k.pem" },
	{ "mysql://u:p@h/d?ssl_key=/k.pem&ssl_cert=/c.pem&ssl_ca=/a.pem&"
	    "ssl_mode=VERIFY_CA", "u", "p", "h", 3306, "d", NULL,
	    DBURL_TLS_VERIFY_CA, "/a.pem", "/c.pem", "/k.pem" },

	/* charset is accepted and dropped; an empty query is fine. */
	{ "mysql+pymysql://u:p@localhost/d?charset=utf8mb4", "u", "p",
	    "localhost", 3306, "d", NULL, DBURL_TLS_DISABLED,
	    NULL, NULL, NULL },
	{ "mysql+pymysql://u:p@localhost/d?charset=utf8", "u", "p",
	    "localhost", 3306, "d", NULL, DBURL_TLS_DISABLED,
	    NULL, NULL, NULL },
	{ "mysql+pymysql://u:p@localhost/d?charset=utf8mb3", "u", "p",
	    "localhost", 3306, "d", NULL, DBURL_TLS_DISABLED,
	    NULL, NULL, NULL },
	{ "mysql://u:p@localhost/d?", "u", "p", "localhost", 3306, "d",
	    NULL, DBURL_TLS_DISABLED, NULL, NULL, NULL },
};

static const struct invalid invalids[] = {
	{ "", "missing" },
	{ "u:" PW "@localhost/d", "no scheme" },
	{ "mysql:/u:" PW "@localhost/d", "no scheme" },
	{ "//u:" PW "@localhost/d", "no scheme" },
	{ "://u:" PW "@localhost/d", "invalid scheme" },
	{ "postgres://u:" PW "@localhost/d", "unknown scheme \"postgres\"" },
	{ "postgresql+psycopg2://u:" PW "@localhost/d",
	    "unknown scheme \"postgresql+psycopg2\"" },
	{ "sqlite:///u:" PW "@/d", "unknown scheme \"sqlite\"" },
	{ "u:" PW "@h://x/d", "invalid scheme" },
	{ "mysql://u:" PW "@localhost", "missing database" },
	{ "mysql://u:" PW "@localhost/", "missing database" },
	{ "mysql://u:" PW "@localhost/?charset=utf8mb4",
	    "missing database" },
	{ "mysql://u:" PW "@localhost:3306", "missing database" },
	{ "mysql://u:" PW "@localhost/a/b", "\"/\" in the database" },
	{ "mysql://u:" PW "@localhost:0/d", "port" },
	{ "mysql://u:" PW "@localhost:65536/d", "port" },
	{ "mysql://u:" PW "@localhost:99999999999999999999/d", "port" },
	{ "mysql://u:" PW "@localhost:abc/d", "port" },
	{ "mysql://u:" PW "@localhost:-1/d", "port" },
	{ "mysql://u:" PW "@localhost:+1/d", "port" },
	{ "mysql://u:" PW "@localhost: 1/d", "port" },
	{ "mysql://u:" PW "@localhost:1 /d", "port" },
	{ "mysql://u:" PW "@localhost:/d", "port" },
	{ "mysql://u:" PW "@localhost:0x10/d", "port" },
	{ "mysql://u:" PW "%4@localhost/d", "bad percent escape in the "
	    "password" },
	{ "mysql://u:" PW "%zz@localhost/d", "bad percent escape in the "
	    "password" },
	{ "mysql://u:" PW "%@localhost/d", "bad percent escape" },
	{ "mysql://u%4g:" PW "@localhost/d", "bad percent escape in the "
	    "user name" },
	{ "mysql://u:" PW "@localhost/d%2", "bad percent escape in the "
	    "database" },
	{ "mysql://u:" PW "%00@localhost/d", "NUL" },
	{ "mysql://u%00:" PW "@localhost/d", "NUL" },
	{ "mysql://u:" PW "@localhost/d%00", "NUL" },
	{ "mysql://u:" PW "@localhost/d?ssl_ca=/a%00b", "NUL" },
	{ "mysql://u:" PW "@localhost/d?ssl_ca=/a%g0", "bad percent escape "
	    "in ssl_ca" },
	{ "mysql://u:" PW "@localhost/d?foo=bar",
	    "unknown query parameter \"foo\"" },
	{ "mysql://u:" PW "@localhost/d?SSL_MODE=DISABLED",
	    "unknown query parameter \"SSL_MODE\"" },
	{ "mysql://u:" PW "@localhost/d?ssl_mode=REQUIRED&ssl_mode=REQUIRED",
	    "duplicate query parameter \"ssl_mode\"" },
	{ "mysql://u:" PW "@localhost/d?charset=utf8&charset=utf8",
	    "duplicate query parameter \"charset\"" },
	{ "mysql://u:" PW "@localhost/d?ssl_ca", "\"ssl_ca\" has no \"=\"" },
	{ "mysql://u:" PW "@localhost/d?ssl_ca=", "\"ssl_ca\" is empty" },
	{ "mysql://u:" PW "@localhost/d?ssl_mode=", "\"ssl_mode\" is empty" },
	{ "mysql://u:" PW "@localhost/d?charset=utf8mb4&",
	    "empty query parameter" },
	{ "mysql://u:" PW "@localhost/d?&charset=utf8mb4",
	    "empty query parameter" },
	{ "mysql://u:" PW "@localhost/d?ssl_mode=PREFERRED",
	    "ssl_mode \"PREFERRED\"" },
	{ "mysql://u:" PW "@localhost/d?ssl_mode=VERIFY_FULL",
	    "ssl_mode \"VERIFY_FULL\"" },
	{ "mysql://u:" PW "@localhost/d?charset=latin1",
	    "charset \"latin1\"" },
	{ "mysql://u:" PW "@localhost/d?ssl_cert=/c.pem",
	    "ssl_cert and ssl_key" },
	{ "mysql://u:" PW "@localhost/d?ssl_key=/k.pem",
	    "ssl_cert and ssl_key" },
	{ "mysql://u:" PW "@localhost/d?ssl_mode=DISABLED&ssl_ca=/a.pem",
	    "contradicts" },
	{ "mysql://u:" PW "@h/d?ssl_cert=/c&ssl_key=/k&ssl_mode=disabled",
	    "contradicts" },
	{ "mysql://u:" PW "@/d", "missing host" },
	{ "mysql://u:" PW "@:3306/d", "missing host" },
	{ "mysql://u:" PW "@/d?ssl_mode=REQUIRED", "missing host" },
	{ "mysql://u:" PW "@db.example.com/d?unix_socket=/s",
	    "unix_socket given with a host" },
	{ "mysql://:" PW "@localhost/d", "missing user name" },
	{ "mysql://localhost/d", "missing user name" },
	{ "mysql://u:" PW "@local host/d", "invalid host" },
	{ "mysql://u:" PW "@a@b/d", "invalid host" },
	{ "mysql://u:" PW "@[::1/d", "unterminated" },
	{ "mysql://u:" PW "@[]/d", "invalid IPv6" },
	{ "mysql://u:" PW "@[::g]/d", "invalid IPv6" },
	{ "mysql://u:" PW "@[127.0.0.1]/d", "invalid IPv6" },
	{ "mysql://u:" PW "@[::1]x/d", "junk after the IPv6" },
};

static int
streq(const char *a, const char *b)
{

	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static const char *
nul(const char *s)
{

	return s == NULL ? "(null)" : s;
}

static int
is_zero(const struct dburl *d)
{
	static const struct dburl	 zero;

	return memcmp(d, &zero, sizeof(zero)) == 0;
}

static void
test_valid(const struct valid *v)
{
	struct dburl		 d;
	char			 err[256];
	enum auth_status	 rc;
	int			 same;

	rc = dburl_parse(v->url, &d, err, sizeof(err));
	tap_ok(rc == AUTH_OK, "parse %s", v->url);
	if (rc != AUTH_OK) {
		tap_diag("error: %s", err);
		return;
	}
	same = streq(d.user, v->user) && streq(d.password, v->password) &&
	    streq(d.host, v->host) && d.port == v->port &&
	    streq(d.database, v->database) &&
	    streq(d.unix_socket, v->unix_socket) && d.tls == v->tls &&
	    streq(d.ssl_ca, v->ssl_ca) && streq(d.ssl_cert, v->ssl_cert) &&
	    streq(d.ssl_key, v->ssl_key);
	tap_ok(same, "fields of %s", v->url);
	if (!same)
		tap_diag("got user=%s password=%s host=%s port=%u db=%s "
		    "socket=%s tls=%s ca=%s cert=%s key=%s", nul(d.user),
		    nul(d.password), nul(d.host), d.port, nul(d.database),
		    nul(d.unix_socket), dburl_tls_name(d.tls), nul(d.ssl_ca),
		    nul(d.ssl_cert), nul(d.ssl_key));
	tap_ok(err[0] == '\0', "no message for %s", v->url);
	dburl_free(&d);
	tap_ok(is_zero(&d), "dburl_free zeroes %s", v->url);
}

static void
test_invalid(const struct invalid *v)
{
	struct dburl		 d;
	char			 err[256];
	enum auth_status	 rc;

	memset(&d, 0xa5, sizeof(d));
	rc = dburl_parse(v->url, &d, err, sizeof(err));
	tap_ok(rc == AUTH_ERR_CONFIG, "refuse %s", v->url);
	tap_ok(strstr(err, v->want) != NULL &&
	    strncmp(err, "MYSQL_DB_URL: ", 14) == 0,
	    "message for %s names \"%s\"", v->url, v->want);
	if (strstr(err, v->want) == NULL)
		tap_diag("message: %s", err);
	tap_ok(strstr(err, PW) == NULL && strstr(err, "s3cret") == NULL,
	    "message for %s hides the password", v->url);
	tap_ok(v->url[0] == '\0' || strstr(err, v->url) == NULL,
	    "message for %s hides the URL", v->url);
	tap_ok(is_zero(&d), "output zeroed after refusing %s", v->url);
}

/*
 * The 4096-byte limit: exactly 4096 parses, 4097 does not.
 */
static void
test_length(void)
{
	struct dburl		 d;
	char			*url;
	char			 err[256];
	const char		*head = "mysql://u:" PW "@localhost/";
	size_t			 hlen = strlen(head);

	if ((url = malloc(4098)) == NULL) {
		tap_ok(0, "malloc");
		return;
	}
	memcpy(url, head, hlen);
	memset(url + hlen, 'd', 4096 - hlen);
	url[4096] = '\0';
	tap_ok(dburl_parse(url, &d, err, sizeof(err)) == AUTH_OK &&
	    strlen(d.database) == 4096 - hlen, "4096-byte URL accepted");
	dburl_free(&d);
	url[4096] = 'd';
	url[4097] = '\0';
	tap_ok(dburl_parse(url, &d, err, sizeof(err)) == AUTH_ERR_CONFIG &&
	    strstr(err, "longer than 4096") != NULL &&
	    strstr(err, PW) == NULL && is_zero(&d),
	    "4097-byte URL refused");
	free(url);
}

static void
test_misc(void)
{
	struct dburl	 d;
	char		 small[10];
	int		 i;

	tap_ok(dburl_parse(NULL, &d, small, sizeof(small)) ==
	    AUTH_ERR_CONFIG && is_zero(&d), "NULL URL refused");
	memset(small, 'x', sizeof(small));
	tap_ok(dburl_parse("postgres://u:" PW "@h/d", &d, small,
	    sizeof(small)) == AUTH_ERR_CONFIG &&
	    strlen(small) == sizeof(small) - 1 &&
	    strcmp(small, "MYSQL_DB_") == 0, "message truncated to errsz");
	tap_ok(dburl_parse("postgres://u:p@h/d", &d, NULL, 0) ==
	    AUTH_ERR_CONFIG, "NULL err buffer allowed");
	small[0] = 'x';
	tap_ok(dburl_parse("postgres://u:p@h/d", &d, small, 0) ==
	    AUTH_ERR_CONFIG && small[0] == 'x', "errsz 0 writes nothing");

	memset(&d, 0, sizeof(d));
	dburl_free(&d);
	dburl_free(&d);
	dburl_free(NULL);
	tap_ok(is_zero(&d), "dburl_free on a zeroed struct, twice");

	tap_ok(strcmp(dburl_tls_name(DBURL_TLS_DISABLED), "DISABLED") == 0 &&
	    strcmp(dburl_tls_name(DBURL_TLS_REQUIRED), "REQUIRED") == 0 &&
	    strcmp(dburl_tls_name(DBURL_TLS_VERIFY_CA), "VERIFY_CA") == 0 &&
	    strcmp(dburl_tls_name(DBURL_TLS_VERIFY_IDENTITY),
	    "VERIFY_IDENTITY") == 0, "dburl_tls_name");
	i = DBURL_TLS__MAX;
	tap_ok(dburl_tls_name((enum dburl_tls)i) != NULL,
	    "dburl_tls_name out of range is not NULL");
}

int
main(void)
{
	size_t	 i;

	for (i = 0; i < sizeof(valids) / sizeof(valids[0]); i++)
		test_valid(&valids[i]);
	for (i = 0; i < sizeof(invalids) / sizeof(invalids[0]); i++)
		test_invalid(&invalids[i]);
	test_length();
	test_misc();
	return tap_done();
}
