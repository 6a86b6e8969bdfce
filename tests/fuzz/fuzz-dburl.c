/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the MYSQL_DB_URL parser (dburl.c): the input is
 * the URL.
 *
 * Properties (any broken one aborts):
 *  - a parsed URL has a user name and a database, exactly one of a host
 *    and a unix socket, a port from 1 to 65535, a known TLS mode, and
 *    ssl_cert only with ssl_key;
 *  - TLS is verified by default: without ssl_mode, only a unix socket or
 *    a loopback host may go without a verified certificate;
 *  - the parsed fields, written back as a URL (everything but unreserved
 *    bytes percent-encoded, ssl_mode explicit), parse to the same fields;
 *  - a refused URL leaves the result zeroed and a message that starts
 *    with "MYSQL_DB_URL: " and has no control characters;
 *  - the password never changes anything but the password: with its
 *    letters and digits changed, a refusal says the same and a parse
 *    gives the same fields.
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
#include <strings.h>

#include "dburl.h"
#include "oracle.h"

#define FUZZ_MAX	5000		/* dburl.c takes 4096 */
#define FUZZ_URL_MAX	(3 * 4 * FUZZ_MAX + 256)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * Return 1 if the strings a and b are both NULL or equal.
 */
static int
fuzz_same(const char *a, const char *b)
{

	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/*
 * Return 1 if d and e hold the same fields; the password is compared
 * only when password is nonzero.
 */
static int
fuzz_equal(const struct dburl *d, const struct dburl *e, int password)
{

	return fuzz_same(d->user, e->user) &&
	    (!password || fuzz_same(d->password, e->password)) &&
	    fuzz_same(d->host, e->host) && d->port == e->port &&
	    fuzz_same(d->database, e->database) &&
	    fuzz_same(d->unix_socket, e->unix_socket) && d->tls == e->tls &&
	    fuzz_same(d->ssl_ca, e->ssl_ca) &&
	    fuzz_same(d->ssl_cert, e->ssl_cert) &&
	    fuzz_same(d->ssl_key, e->ssl_key);
}

/*
 * Append s to the URL in out (at *len), every byte but RFC 3986's
 * unreserved ones percent-encoded.
 */
static void
fuzz_enc(char *out, size_t *len, const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	unsigned char		 c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			out[(*len)++] = (char)c;
		else {
			out[(*len)++] = '%';
			out[(*len)++] = hex[c >> 4];
			out[(*len)++] = hex[c & 0xf];
		}
	}
	out[*len] = '\0';
}

static void
fuzz_add(char *out, size_t *len, const char *s)
{
	size_t	 n = strlen(s);

	memcpy(out + *len, s, n + 1);
	*len += n;
}

static void
fuzz_param(char *out, size_t *len, const char *name, const char *v)
{

	if (v == NULL)
		return;
	fuzz_add(out, len, out[*len - 1] == '?' ? "" : "&");
	fuzz_add(out, len, name);
	fuzz_add(out, len, "=");
	fuzz_enc(out, len, v);
}

/*
 * Write d back as a URL into out (FUZZ_URL_MAX bytes).
 */
static void
fuzz_write(const struct dburl *d, char *out)
{
	char	 port[16];
	size_t	 len = 0;

	out[0] = '\0';
	fuzz_add(out, &len, "mysql+pymysql://");
	fuzz_enc(out, &len, d->user);
	if (d->password != NULL) {
		fuzz_add(out, &len, ":");
		fuzz_enc(out, &len, d->password);
	}
	fuzz_add(out, &len, "@");
	if (d->host != NULL && strchr(d->host, ':') != NULL) {
		fuzz_add(out, &len, "[");
		fuzz_add(out, &len, d->host);
		fuzz_add(out, &len, "]");
	} else if (d->host != NULL)
		fuzz_add(out, &len, d->host);
	(void)snprintf(port, sizeof(port), ":%u/", d->port);
	fuzz_add(out, &len, port);
	fuzz_enc(out, &len, d->database);
	fuzz_add(out, &len, "?");
	fuzz_param(out, &len, "ssl_mode", dburl_tls_name(d->tls));
	fuzz_param(out, &len, "unix_socket", d->unix_socket);
	fuzz_param(out, &len, "ssl_ca", d->ssl_ca);
	fuzz_param(out, &len, "ssl_cert", d->ssl_cert);
	fuzz_param(out, &len, "ssl_key", d->ssl_key);
}

/*
 * Return 1 if host names this machine: localhost, 127.0.0.0/8 or ::1.
 */
static int
fuzz_loopback(const char *host)
{
	unsigned char	 a[16];
	static const unsigned char one[16] = { [15] = 1 };

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	return inet_pton(AF_INET6, host, a) == 1 &&
	    memcmp(a, one, sizeof(one)) == 0;
}

/*
 * Return the bounds [*start, *end) of the password in url the way
 * SQLAlchemy splits it (after the first ":" of the user part, up to the
 * first "@" after it), or 0 if there is none.
 */
static int
fuzz_password(const char *url, size_t *start, size_t *end)
{
	const char	*rest, *at;
	size_t		 ulen;

	if ((rest = strstr(url, "://")) == NULL)
		return 0;
	rest += 3;
	ulen = strcspn(rest, ":/");
	if (rest[ulen] != ':' || (at = strchr(rest + ulen + 1, '@')) == NULL)
		return 0;
	*start = (size_t)(rest + ulen + 1 - url);
	*end = (size_t)(at - url);
	return 1;
}

/*
 * The password's letters and digits, each changed to another of its
 * kind, leaving percent escapes alone; the differential check of the
 * password.
 */
static void
fuzz_secret(const char *url, const struct dburl *d, enum auth_status rc,
    const char *err)
{
	static char		 copy[FUZZ_MAX + 1];
	struct dburl		 e;
	char			 err2[256];
	size_t			 start, end, i;
	enum auth_status	 rc2;

	if (!fuzz_password(url, &start, &end))
		return;
	memcpy(copy, url, strlen(url) + 1);
	for (i = start; i < end; i++) {
		if ((i >= 1 && copy[i - 1] == '%') ||
		    (i >= 2 && copy[i - 2] == '%'))
			continue;
		if ((copy[i] >= 'a' && copy[i] < 'z') ||
		    (copy[i] >= 'A' && copy[i] < 'Z') ||
		    (copy[i] >= '0' && copy[i] < '9'))
			copy[i]++;
	}
	rc2 = dburl_parse(copy, &e, err2, sizeof(err2));
	if (rc2 != rc || strcmp(err, err2) != 0 ||
	    (rc == AUTH_OK && !fuzz_equal(d, &e, 0)))
		oracle_fail("the password changed the outcome: \"%s\" / "
		    "\"%s\"", err, err2);
	dburl_free(&e);
}

/*
 * The libFuzzer entry point.  Always returns 0.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct dburl zero;
	static char		 url[FUZZ_MAX + 1], again[FUZZ_URL_MAX];
	struct dburl		 d, e;
	char			 err[256];
	enum auth_status	 rc;

	if (size > FUZZ_MAX || memchr(data, '\0', size) != NULL)
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	rc = dburl_parse(url, &d, err, sizeof(err));
	if (rc != AUTH_OK) {
		if (rc != AUTH_ERR_CONFIG || memcmp(&d, &zero, sizeof(d)) != 0)
			oracle_fail("refused with status %d, or fields left",
			    (int)rc);
		if (strncmp(err, "MYSQL_DB_URL: ", 14) != 0 ||
		    oracle_control(err))
			oracle_fail("message \"%s\"", err);
		fuzz_secret(url, &d, rc, err);
		return 0;
	}
	if (err[0] != '\0')
		oracle_fail("parsed with a message");
	if (d.user == NULL || d.user[0] == '\0' || d.database == NULL ||
	    d.database[0] == '\0' ||
	    (d.host == NULL) == (d.unix_socket == NULL) ||
	    d.port < 1 || d.port > 65535 || d.tls >= DBURL_TLS__MAX ||
	    (d.ssl_cert == NULL) != (d.ssl_key == NULL))
		oracle_fail("parsed fields out of range");
	if (d.tls != DBURL_TLS_VERIFY_CA &&
	    d.tls != DBURL_TLS_VERIFY_IDENTITY &&
	    strstr(url, "ssl_mode=") == NULL && d.unix_socket == NULL &&
	    !fuzz_loopback(d.host))
		oracle_fail("%s by default for host %s",
		    dburl_tls_name(d.tls), d.host);
	fuzz_write(&d, again);
	if (dburl_parse(again, &e, err, sizeof(err)) != AUTH_OK)
		oracle_fail("written back, refused: %s", err);
	if (!fuzz_equal(&d, &e, 1))
		oracle_fail("written back, parsed differently");
	dburl_free(&e);
	fuzz_secret(url, &d, rc, "");
	dburl_free(&d);
	return 0;
}
