/* SPDX-License-Identifier: ISC */
/*
 * Parse MYSQL_DB_URL, the SQLAlchemy URL the FastAPI backend connected
 * with, into the pieces mysql_real_connect() and mysql_optionsv() take:
 *
 *   scheme://[user[:password]@]host[:port]/database[?k=v&k=v]
 *
 * The user name and password are split off the way SQLAlchemy's
 * make_url() splits them (the password runs to the first "@" after the
 * colon, so it may hold an unencoded "/", "?" or ":"), so that a URL that
 * worked with the FastAPI backend means the same here.  Error messages
 * never quote the URL, the password, the host or a path: only the scheme,
 * parameter names and the values of ssl_mode and charset.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "dburl.h"
#include "rng.h"
#include "status.h"

#define DBURL_MAXLEN	4096	/* longest MYSQL_DB_URL accepted */
#define DBURL_PORT	3306	/* MariaDB's port when none is given */
#define DBURL_HOSTMAX	255	/* longest host name accepted */
#define DBURL_QUOTEMAX	32	/* longest name quoted in a message */
#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

enum dburl_param {
	DBURL_PARAM_UNIX_SOCKET,
	DBURL_PARAM_SSL_CA,
	DBURL_PARAM_SSL_CERT,
	DBURL_PARAM_SSL_KEY,
	DBURL_PARAM_SSL_MODE,
	DBURL_PARAM_CHARSET,
	DBURL_PARAM__MAX
};

static const char *const dburl_params[DBURL_PARAM__MAX] = {
	"unix_socket", /* DBURL_PARAM_UNIX_SOCKET */
	"ssl_ca", /* DBURL_PARAM_SSL_CA */
	"ssl_cert", /* DBURL_PARAM_SSL_CERT */
	"ssl_key", /* DBURL_PARAM_SSL_KEY */
	"ssl_mode", /* DBURL_PARAM_SSL_MODE */
	"charset", /* DBURL_PARAM_CHARSET */
};

static const char *const dburl_tls_names[DBURL_TLS__MAX] = {
	"DISABLED", /* DBURL_TLS_DISABLED */
	"REQUIRED", /* DBURL_TLS_REQUIRED */
	"VERIFY_CA", /* DBURL_TLS_VERIFY_CA */
	"VERIFY_IDENTITY", /* DBURL_TLS_VERIFY_IDENTITY */
};

/* SQLAlchemy dialect names that mean MySQL or MariaDB. */
static const char *const dburl_schemes[] = {
	"mysql",
	"mysql+mysqldb",
	"mysql+pymysql",
	"mysql+mariadbconnector",
	"mariadb",
	"mariadb+mariadbconnector",
};

/*
 * The program always talks utf8mb4; these only say the FastAPI backend
 * did too (utf8 and utf8mb3 are MariaDB's older names for a subset).
 */
static const char *const dburl_charsets[] = {
	"utf8mb4",
	"utf8",
	"utf8mb3",
};

static void	 dburl_errf(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/*
 * Write "MYSQL_DB_URL: " and the formatted phrase into err, always
 * NUL-terminated, cut short to errsz bytes.
 */
static void
dburl_errf(char *err, size_t errsz, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	if (err == NULL || errsz == 0)
		return;
	n = snprintf(err, errsz, "MYSQL_DB_URL: ");
	if (n < 0 || (size_t)n >= errsz)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err + n, errsz - (size_t)n, fmt, ap);
	va_end(ap);
}

/*
 * Copy the len bytes at s into buf for quoting in a message: at most
 * DBURL_QUOTEMAX of them, each byte other than a letter, digit, "_",
 * "-", "." or "+" written as "?", and "..." when cut short.
 */
static void
dburl_quote(char buf[DBURL_QUOTEMAX + 4], const char *s, size_t len)
{
	size_t	 i, n;
	char	 c;

	n = len > DBURL_QUOTEMAX ? DBURL_QUOTEMAX : len;
	for (i = 0; i < n; i++) {
		c = s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		    c == '.' || c == '+')
			buf[i] = c;
		else
			buf[i] = '?';
	}
	if (n < len) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
}

/*
 * Percent-decode the len bytes at s into a new string in *out (RFC 3986,
 * 2.1); what names the part for the message.  A "%" not followed by two
 * hexadecimal digits, and an escape that decodes to NUL, are errors.
 */
static enum auth_status
dburl_decode(const char *s, size_t len, char **out, const char *what,
    char *err, size_t errsz)
{
	char			*buf;
	size_t			 i, n = 0;
	int			 hi, lo;
	enum auth_status	 rc = AUTH_ERR_CONFIG;

	*out = NULL;
	if ((buf = malloc(len + 1)) == NULL) {
		dburl_errf(err, errsz, "out of memory");
		return AUTH_ERR_NOMEM;
	}
	for (i = 0; i < len; i++) {
		if (s[i] != '%') {
			buf[n++] = s[i];
			continue;
		}
		if (len - i < 3 || (hi = rng_hex_value((unsigned char)s[i + 1])) == -1 ||
		    (lo = rng_hex_value((unsigned char)s[i + 2])) == -1) {
			dburl_errf(err, errsz, "bad percent escape in %s",
			    what);
			goto out;
		}
		if (hi == 0 && lo == 0) {
			dburl_errf(err, errsz, "%%00 (NUL byte) in %s", what);
			goto out;
		}
		buf[n++] = (char)(hi << 4 | lo);
		i += 2;
	}
	buf[n] = '\0';
	*out = buf;
	buf = NULL;
	rc = AUTH_OK;
out:
	if (buf != NULL) {
		explicit_bzero(buf, len + 1);
		free(buf);
	}
	return rc;
}

/*
 * Return 1 if the len bytes at s name a MySQL or MariaDB dialect.
 */
static int
dburl_scheme_ok(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < NITEMS(dburl_schemes); i++)
		if (strlen(dburl_schemes[i]) == len &&
		    strncasecmp(dburl_schemes[i], s, len) == 0)
			return 1;
	return 0;
}

/*
 * Return 1 if the len bytes at s may be quoted as a scheme: the
 * characters RFC 3986, 3.1 allows.  Anything else may be a mistyped
 * password, which a message must not repeat.
 */
static int
dburl_scheme_safe(const char *s, size_t len)
{
	size_t	 i;
	char	 c;

	if (len == 0 || len > DBURL_QUOTEMAX)
		return 0;
	for (i = 0; i < len; i++) {
		c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '-' ||
		    c == '.'))
			return 0;
	}
	return 1;
}

/*
 * Return 1 if the len bytes at s are a plausible host name or IPv4
 * address: letters, digits, "-", "_" and ".".
 */
static int
dburl_hostname_ok(const char *s, size_t len)
{
	size_t	 i;
	char	 c;

	if (len == 0 || len > DBURL_HOSTMAX)
		return 0;
	for (i = 0; i < len; i++) {
		c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.'))
			return 0;
	}
	return 1;
}

/*
 * Parse the len bytes at s as a port: decimal digits only, 1 to 65535.
 * Return 1 and set *port, or return 0.
 */
static int
dburl_port(const char *s, size_t len, unsigned int *port)
{
	char		 buf[8], *end;
	unsigned long	 v;
	size_t		 i;

	if (len == 0 || len >= sizeof(buf))
		return 0;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (errno != 0 || end != buf + len || v < 1 || v > 65535)
		return 0;
	*port = (unsigned int)v;
	return 1;
}

/*
 * Return the last "@" in the len bytes at s, or NULL.
 */
static const char *
dburl_lastat(const char *s, size_t len)
{

	while (len > 0)
		if (s[--len] == '@')
			return s + len;
	return NULL;
}

/*
 * Return the parameter whose name is the klen bytes at s, or
 * DBURL_PARAM__MAX.
 */
static enum dburl_param
dburl_param_lookup(const char *s, size_t klen)
{
	enum dburl_param	 p;

	for (p = 0; p < DBURL_PARAM__MAX; p++)
		if (strlen(dburl_params[p]) == klen &&
		    strncmp(dburl_params[p], s, klen) == 0)
			break;
	return p;
}

/*
 * Apply parameter p with decoded value *val to d: a file or socket path
 * is taken over (and *val set to NULL), ssl_mode and charset are checked
 * against their lists.  Set *have_mode when ssl_mode was given.
 */
static enum auth_status
dburl_param_set(struct dburl *d, enum dburl_param p, char **val,
    int *have_mode, char *err, size_t errsz)
{
	char	 name[DBURL_QUOTEMAX + 4];
	char	**dst = NULL;
	size_t	 i;

	switch (p) {
	case DBURL_PARAM_UNIX_SOCKET:
		dst = &d->unix_socket;
		break;
	case DBURL_PARAM_SSL_CA:
		dst = &d->ssl_ca;
		break;
	case DBURL_PARAM_SSL_CERT:
		dst = &d->ssl_cert;
		break;
	case DBURL_PARAM_SSL_KEY:
		dst = &d->ssl_key;
		break;
	case DBURL_PARAM_SSL_MODE:
		for (i = 0; i < DBURL_TLS__MAX; i++)
			if (strcasecmp(*val, dburl_tls_names[i]) == 0)
				break;
		if (i == DBURL_TLS__MAX) {
			dburl_quote(name, *val, strlen(*val));
			dburl_errf(err, errsz, "ssl_mode \"%s\" is not "
			    "DISABLED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY",
			    name);
			return AUTH_ERR_CONFIG;
		}
		d->tls = (enum dburl_tls)i;
		*have_mode = 1;
		break;
	case DBURL_PARAM_CHARSET:
		for (i = 0; i < NITEMS(dburl_charsets); i++)
			if (strcasecmp(*val, dburl_charsets[i]) == 0)
				break;
		if (i == NITEMS(dburl_charsets)) {
			dburl_quote(name, *val, strlen(*val));
			dburl_errf(err, errsz, "charset \"%s\" is not "
			    "supported (use utf8mb4)", name);
			return AUTH_ERR_CONFIG;
		}
		break;
	default:
		break;
	}
	if (dst != NULL) {
		*dst = *val;
		*val = NULL;
	}
	return AUTH_OK;
}

/*
 * Parse the query string q ("k=v&k=v") into d.  Set *have_mode when
 * ssl_mode was given.
 */
static enum auth_status
dburl_query(const char *q, struct dburl *d, int *have_mode, char *err,
    size_t errsz)
{
	char			 name[DBURL_QUOTEMAX + 4];
	char			*val = NULL;
	const char		*s, *eq;
	size_t			 len, klen;
	int			 seen[DBURL_PARAM__MAX];
	enum dburl_param	 p;
	enum auth_status	 rc = AUTH_ERR_CONFIG;

	memset(seen, 0, sizeof(seen));
	*have_mode = 0;
	if (*q == '\0')
		return AUTH_OK;
	for (s = q;; s += len + 1) {
		len = strcspn(s, "&");
		if (len == 0) {
			dburl_errf(err, errsz, "empty query parameter");
			goto out;
		}
		if ((eq = memchr(s, '=', len)) == NULL) {
			dburl_quote(name, s, len);
			dburl_errf(err, errsz, "query parameter \"%s\" has "
			    "no \"=\"", name);
			goto out;
		}
		klen = (size_t)(eq - s);
		dburl_quote(name, s, klen);
		if ((p = dburl_param_lookup(s, klen)) == DBURL_PARAM__MAX) {
			dburl_errf(err, errsz, "unknown query parameter "
			    "\"%s\"", name);
			goto out;
		}
		if (seen[p]) {
			dburl_errf(err, errsz, "duplicate query parameter "
			    "\"%s\"", name);
			goto out;
		}
		seen[p] = 1;
		if (klen + 1 == len) {
			dburl_errf(err, errsz, "query parameter \"%s\" is "
			    "empty", name);
			goto out;
		}
		if ((rc = dburl_decode(eq + 1, len - klen - 1, &val, name,
		    err, errsz)) != AUTH_OK ||
		    (rc = dburl_param_set(d, p, &val, have_mode, err,
		    errsz)) != AUTH_OK)
			goto out;
		rc = AUTH_ERR_CONFIG;
		free(val);
		val = NULL;
		if (s[len] == '\0')
			break;
	}
	rc = AUTH_OK;
out:
	free(val);
	return rc;
}

/*
 * Check the scheme of url, naming it in the message only when it is
 * safe to quote, and set *rest to what follows "://".
 */
static enum auth_status
dburl_scheme(const char *url, const char **rest, char *err, size_t errsz)
{
	char		 name[DBURL_QUOTEMAX + 4];
	const char	*p;

	if ((p = strstr(url, "://")) == NULL) {
		dburl_errf(err, errsz, "no scheme (expected "
		    "mysql+pymysql://user:password@host/database)");
		return AUTH_ERR_CONFIG;
	}
	if (!dburl_scheme_ok(url, (size_t)(p - url))) {
		if (dburl_scheme_safe(url, (size_t)(p - url))) {
			dburl_quote(name, url, (size_t)(p - url));
			dburl_errf(err, errsz, "unknown scheme \"%s\"", name);
		} else
			dburl_errf(err, errsz, "invalid scheme");
		return AUTH_ERR_CONFIG;
	}
	*rest = p + 3;
	return AUTH_OK;
}

/*
 * Split the user name and password off rest, the URL after "://", into
 * d, and set *hostp to where the host begins.  SQLAlchemy's pattern is
 * user [^:/]* then an optional ":" and password [^@]*, then "@"; without a
 * password, the user name runs to the last "@" before the first ":" or
 * "/".
 */
static enum auth_status
dburl_userinfo(const char *rest, struct dburl *d, const char **hostp,
    char *err, size_t errsz)
{
	const char		*at;
	size_t			 ulen;
	enum auth_status	 rc;

	*hostp = rest;
	ulen = strcspn(rest, ":/");
	if (rest[ulen] == ':' &&
	    (at = strchr(rest + ulen + 1, '@')) != NULL) {
		if ((rc = dburl_decode(rest, ulen, &d->user, "the user name",
		    err, errsz)) != AUTH_OK ||
		    (rc = dburl_decode(rest + ulen + 1,
		    (size_t)(at - rest) - ulen - 1, &d->password,
		    "the password", err, errsz)) != AUTH_OK)
			return rc;
		*hostp = at + 1;
	} else if ((at = dburl_lastat(rest, ulen)) != NULL) {
		if ((rc = dburl_decode(rest, (size_t)(at - rest), &d->user,
		    "the user name", err, errsz)) != AUTH_OK)
			return rc;
		*hostp = at + 1;
	}
	if (d->user == NULL || d->user[0] == '\0') {
		dburl_errf(err, errsz, "missing user name (expected "
		    "scheme://user:password@host/database)");
		return AUTH_ERR_CONFIG;
	}
	return AUTH_OK;
}

/*
 * Take the host at host into d (none is fine here: a unix socket may
 * stand for it), an IPv6 literal in brackets (RFC 3986, 3.2.2) or a
 * name, and set *endp to what follows it.
 */
static enum auth_status
dburl_host(const char *host, struct dburl *d, const char **endp, char *err,
    size_t errsz)
{
	char			 buf[INET6_ADDRSTRLEN + 1];
	struct in6_addr		 a6;
	size_t			 len;

	if (*host != '[') {
		len = strcspn(host, ":/?");
		*endp = host + len;
		if (len == 0)
			return AUTH_OK;
		if (!dburl_hostname_ok(host, len)) {
			dburl_errf(err, errsz, "invalid host name");
			return AUTH_ERR_CONFIG;
		}
		if ((d->host = strndup(host, len)) == NULL)
			goto nomem;
		return AUTH_OK;
	}
	len = strcspn(host + 1, "]/?");
	if (host[1 + len] != ']') {
		dburl_errf(err, errsz, "unterminated \"[\" in the host");
		return AUTH_ERR_CONFIG;
	}
	if (len == 0 || len >= sizeof(buf)) {
		dburl_errf(err, errsz, "invalid IPv6 address");
		return AUTH_ERR_CONFIG;
	}
	memcpy(buf, host + 1, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, &a6) != 1) {
		dburl_errf(err, errsz, "invalid IPv6 address");
		return AUTH_ERR_CONFIG;
	}
	if ((d->host = strdup(buf)) == NULL)
		goto nomem;
	*endp = host + 1 + len + 1;
	if (**endp != ':' && **endp != '/' && **endp != '?' &&
	    **endp != '\0') {
		dburl_errf(err, errsz, "junk after the IPv6 address");
		return AUTH_ERR_CONFIG;
	}
	return AUTH_OK;
nomem:
	dburl_errf(err, errsz, "out of memory");
	return AUTH_ERR_NOMEM;
}

/*
 * Take the optional ":port" and the "/database" at p into d, and set
 * *endp to what follows (the query string, or the end).
 */
static enum auth_status
dburl_port_db(const char *p, struct dburl *d, const char **endp, char *err,
    size_t errsz)
{
	size_t	 len;

	d->port = DBURL_PORT;
	if (*p == ':') {
		len = strcspn(p + 1, "/?");
		if (!dburl_port(p + 1, len, &d->port)) {
			dburl_errf(err, errsz, "port must be a number from "
			    "1 to 65535");
			return AUTH_ERR_CONFIG;
		}
		p += 1 + len;
	}
	if (*p != '/' || p[1] == '?' || p[1] == '\0') {
		dburl_errf(err, errsz, "missing database name (expected "
		    "scheme://user:password@host/database)");
		return AUTH_ERR_CONFIG;
	}
	p++;
	len = strcspn(p, "?");
	if (memchr(p, '/', len) != NULL) {
		dburl_errf(err, errsz, "\"/\" in the database name");
		return AUTH_ERR_CONFIG;
	}
	*endp = p + len;
	return dburl_decode(p, len, &d->database, "the database name", err,
	    errsz);
}

/*
 * Check what the parts say together, and choose TLS when ssl_mode was
 * not given (have_mode 0).
 */
static enum auth_status
dburl_finish(struct dburl *d, int have_mode, char *err, size_t errsz)
{
	int	 files;

	/*
	 * PyMySQL connects to unix_socket whatever the host says; accept
	 * the "@localhost/db?unix_socket=" spelling, but not a remote host
	 * the operator may believe is being used.
	 */
	if (d->unix_socket != NULL) {
		if (d->host != NULL && strcasecmp(d->host, "localhost") != 0) {
			dburl_errf(err, errsz, "unix_socket given with a host "
			    "other than localhost");
			return AUTH_ERR_CONFIG;
		}
		free(d->host);
		d->host = NULL;
	} else if (d->host == NULL) {
		dburl_errf(err, errsz, "missing host (or ?unix_socket=)");
		return AUTH_ERR_CONFIG;
	}
	if ((d->ssl_cert == NULL) != (d->ssl_key == NULL)) {
		dburl_errf(err, errsz, "ssl_cert and ssl_key must be given "
		    "together");
		return AUTH_ERR_CONFIG;
	}
	files = d->ssl_ca != NULL || d->ssl_cert != NULL;
	if (have_mode) {
		if (d->tls == DBURL_TLS_DISABLED && files) {
			dburl_errf(err, errsz, "ssl_mode=DISABLED contradicts "
			    "ssl_ca, ssl_cert and ssl_key");
			return AUTH_ERR_CONFIG;
		}
	} else if (d->unix_socket != NULL || client_host_loopback(d->host)) {
		/* Naming a certificate says the operator wants TLS. */
		d->tls = files ? DBURL_TLS_REQUIRED : DBURL_TLS_DISABLED;
	} else
		d->tls = DBURL_TLS_VERIFY_IDENTITY;
	return AUTH_OK;
}

/*
 * Parse url, a MYSQL_DB_URL in SQLAlchemy's form, into *out, which the
 * caller releases with dburl_free().  Returns AUTH_OK; AUTH_ERR_CONFIG
 * with a one-line reason in err (which never holds the password or the
 * URL) when url is missing, longer than 4096 bytes or malformed; or
 * AUTH_ERR_NOMEM.  On error *out is left zeroed.  err (errsz bytes, may
 * be NULL) is always NUL-terminated.
 */
enum auth_status
dburl_parse(const char *url, struct dburl *out, char *err, size_t errsz)
{
	struct dburl		 d;
	const char		*p, *host;
	int			 have_mode = 0;
	enum auth_status	 rc = AUTH_ERR_CONFIG;

	memset(out, 0, sizeof(*out));
	memset(&d, 0, sizeof(d));
	if (err != NULL && errsz > 0)
		err[0] = '\0';

	if (url == NULL || *url == '\0') {
		dburl_errf(err, errsz, "missing");
		goto out;
	}
	if (strnlen(url, DBURL_MAXLEN + 1) > DBURL_MAXLEN) {
		dburl_errf(err, errsz, "longer than %d bytes", DBURL_MAXLEN);
		goto out;
	}
	if ((rc = dburl_scheme(url, &p, err, errsz)) != AUTH_OK ||
	    (rc = dburl_userinfo(p, &d, &host, err, errsz)) != AUTH_OK ||
	    (rc = dburl_host(host, &d, &p, err, errsz)) != AUTH_OK ||
	    (rc = dburl_port_db(p, &d, &p, err, errsz)) != AUTH_OK)
		goto out;
	if (*p == '?' &&
	    (rc = dburl_query(p + 1, &d, &have_mode, err, errsz)) != AUTH_OK)
		goto out;
	if ((rc = dburl_finish(&d, have_mode, err, errsz)) != AUTH_OK)
		goto out;
	*out = d;
	memset(&d, 0, sizeof(d));
	rc = AUTH_OK;
out:
	dburl_free(&d);
	return rc;
}

/*
 * Free the strings in d, wiping the password first, and zero it.  d may
 * be NULL, zeroed or partly filled.
 */
void
dburl_free(struct dburl *d)
{

	if (d == NULL)
		return;
	if (d->password != NULL) {
		explicit_bzero(d->password, strlen(d->password));
		free(d->password);
	}
	free(d->user);
	free(d->host);
	free(d->database);
	free(d->unix_socket);
	free(d->ssl_ca);
	free(d->ssl_cert);
	free(d->ssl_key);
	memset(d, 0, sizeof(*d));
}

/*
 * Return the ssl_mode spelling of tls ("DISABLED", "REQUIRED",
 * "VERIFY_CA" or "VERIFY_IDENTITY"), for log lines; never NULL.
 */
const char *
dburl_tls_name(enum dburl_tls tls)
{

	if ((unsigned int)tls >= DBURL_TLS__MAX)
		return "UNKNOWN";
	return dburl_tls_names[tls];
}
