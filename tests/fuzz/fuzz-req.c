/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the request front end as a whole: app_serve(),
 * the entry every program's accept loop calls, with req.c, resp.c and
 * client.c behind it.  The input is what a web server hands a program:
 *
 *	NAME=value		CGI parameters, one a line (REQUEST_URI,
 *	...			PATH_INFO, REQUEST_METHOD, CONTENT_TYPE,
 *				CONTENT_LENGTH, REMOTE_ADDR,
 *				HTTP_X_FORWARDED_FOR, ...)
 *	<empty line>
 *	body
 *
 * and some made-up ones.  A "*" in CONTENT_LENGTH stands for the body's
 * length (so that "+*" or "* " are near misses), FUZZ_CHUNK=n hands the
 * body out n bytes per read, FUZZ_FAIL=n makes the read fail after n
 * bytes, and TRUSTED_PROXIES=spec sets the trusted proxies.  The
 * endpoint is auth-register; its handler here takes the email, username
 * and password fields as the endpoints do and echoes the normalised ones
 * with 200.
 *
 * Properties (any broken one aborts):
 *  - exactly one complete response, with the headers every answer
 *    carries and a JSON object body (none for HEAD), written in two
 *    writes (one for HEAD);
 *  - only the documented statuses: never a 500 from client input;
 *  - 200 only for a POST to no PATH_INFO, an application/json type, a
 *    decimal Content-Length of at most 16 KiB that was read exactly, and
 *    a body that a byte scan does not rule out as JSON (no control
 *    characters, no bytes UTF-8 forbids, braces at both ends, no value
 *    inside more than REQ_JSON_DEPTH objects and arrays); its email
 *    validates again to itself;
 *  - 404 exactly when PATH_INFO is not empty or REQUEST_URI's last
 *    segment (up to "?" or "#", percent-escapes decoded) is not the
 *    endpoint's name; 405 carries Allow: POST;
 *    413 exactly for a Content-Length above 16 KiB past the checks
 *    before it; no byte of the body read before those answers, and never
 *    more than Content-Length;
 *  - the client address the handler sees is "-" or a canonical address.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "app.h"
#include "client.h"
#include "oracle.h"
#include "req.h"
#include "resp.h"
#include "valid.h"

#define FUZZ_MAX	(REQ_BODY_MAX + 4096)	/* longer inputs are ignored */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	fuzz_handled;

/*
 * The endpoint behind the front end: the fields as register takes them,
 * the normalised values echoed (never the password, only its length).
 */
static void
fuzz_handle(struct app *app, struct req *r)
{
	struct json_object	*o;
	char			 email[VALID_EMAIL_MAX + 1];
	const char		*e, *u, *msg;
	size_t			 elen, ulen, plen;

	(void)app;
	fuzz_handled = 1;
	if (strcmp(r->client, "-") != 0 && !oracle_address(r->client))
		oracle_fail("client address \"%s\"", r->client);
	email[0] = '\0';
	e = req_string(r, "email", &elen);
	u = req_string(r, "username", &ulen);
	(void)req_string(r, "password", &plen);
	if (e != NULL && (msg = valid_email(e, elen, email,
	    sizeof(email))) != NULL)
		req_invalid(r, "email", msg, "value_error");
	if (u != NULL && (msg = valid_username(u, ulen)) != NULL)
		req_invalid(r, "username", msg, "value_error");
	if (req_has_errors(r)) {
		resp_invalid(r);
		return;
	}
	if ((o = json_object_new_object()) == NULL)
		abort();
	if (json_object_object_add(o, "email",
	    json_object_new_string(email)) != 0 ||
	    json_object_object_add(o, "username",
	    json_object_new_string_len(u, (int)ulen)) != 0 ||
	    json_object_object_add(o, "password_bytes",
	    json_object_new_int64((int64_t)plen)) != 0)
		abort();
	resp_json(r, 200, o, NULL);
	json_object_put(o);
}

/*
 * Return the value of CONTENT_LENGTH if it is decimal digits only
 * (capped, so that a long one stays large), else -1.
 */
static long
fuzz_clen(const char *s)
{
	long	 v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > 1000000)
			v = 1000000;
	}
	return v;
}

/*
 * Return 1 if the path of uri (up to "?" or "#") ends in the segment
 * "register", percent-escapes decoded, else 0.
 */
static int
fuzz_route(const char *uri)
{
	char		 seg[16], hex[3];
	const char	*s, *end;
	size_t		 n = 0;

	end = uri + strcspn(uri, "?#");
	for (s = end; s > uri && s[-1] != '/'; s--)
		continue;
	for (; s < end; s++) {
		if (n + 1 >= sizeof(seg))
			return 0;
		if (*s != '%') {
			seg[n++] = *s;
			continue;
		}
		if (end - s < 3 || strchr("0123456789abcdefABCDEF", s[1]) ==
		    NULL || strchr("0123456789abcdefABCDEF", s[2]) == NULL ||
		    s[1] == '\0' || s[2] == '\0')
			return 0;
		hex[0] = s[1];
		hex[1] = s[2];
		hex[2] = '\0';
		seg[n++] = (char)strtoul(hex, NULL, 16);
		s += 2;
	}
	seg[n] = '\0';
	return strlen(seg) == n && strcmp(seg, "register") == 0;
}

/*
 * Return 1 if ct could be "application/json" with at most a UTF-8
 * charset: a looser check than the front end's, so that the front end
 * accepting what this refuses is a bug.
 */
static int
fuzz_ctype(const char *ct)
{
	char	 rest[64];
	size_t	 n = 0;

	if (ct == NULL)
		return 0;
	ct += strspn(ct, " \t");
	if (strncasecmp(ct, "application/json", 16) != 0)
		return 0;
	for (ct += 16; *ct != '\0'; ct++) {
		if (*ct == ' ' || *ct == '\t' || *ct == '"')
			continue;
		if (n + 1 >= sizeof(rest))
			return 0;
		rest[n++] = (char)(*ct >= 'A' && *ct <= 'Z' ? *ct + 32 : *ct);
	}
	rest[n] = '\0';
	return n == 0 || strcmp(rest, ";charset=utf-8") == 0 ||
	    strcmp(rest, ";charset=utf8") == 0;
}

/*
 * Check the answer resp against the request in f.
 */
static void
fuzz_check(const struct oracle_io *f, const struct oracle_resp *resp)
{
	struct json_object	*v;
	char			 again[VALID_EMAIL_MAX + 1];
	const char		*pi, *uri, *method, *email;
	long			 clen;
	int			 st = resp->status, elsewhere;

	pi = oracle_io_get(f, "PATH_INFO");
	uri = oracle_io_get(f, "REQUEST_URI");
	elsewhere = (pi != NULL && *pi != '\0') ||
	    (uri != NULL && !fuzz_route(uri));
	method = oracle_io_get(f, "REQUEST_METHOD");
	clen = fuzz_clen(oracle_io_get(f, "CONTENT_LENGTH"));

	if (st != 200 && st != 400 && st != 404 && st != 405 && st != 411 &&
	    st != 413 && st != 415 && st != 422)
		oracle_fail("status %d", st);
	if (f->writes != (resp->json == NULL ? 1 : 2))
		oracle_fail("%zu writes for one answer", f->writes);
	if (elsewhere != (st == 404))
		oracle_fail("status %d with PATH_INFO \"%s\", REQUEST_URI "
		    "\"%s\"", st, pi != NULL ? pi : "(none)",
		    uri != NULL ? uri : "(none)");
	if (st == 405 && !resp->allow_post)
		oracle_fail("405 without Allow: POST");
	if (clen != -1 && f->pos > (size_t)clen)
		oracle_fail("read %zu bytes past Content-Length %ld", f->pos,
		    clen);
	if ((st == 404 || st == 405 || st == 411 || st == 413 ||
	    st == 415) && f->pos != 0)
		oracle_fail("status %d after reading %zu body bytes", st,
		    f->pos);
	if (st == 413 && clen <= REQ_BODY_MAX)
		oracle_fail("413 for Content-Length %ld", clen);
	if (clen > REQ_BODY_MAX && st != 404 && st != 405 && st != 415 &&
	    st != 413)
		oracle_fail("status %d for Content-Length %ld", st, clen);
	if ((st == 200 && !fuzz_handled) ||
	    (fuzz_handled && st != 200 && st != 422))
		oracle_fail("status %d, handler %s", st,
		    fuzz_handled ? "ran" : "did not run");
	if (st != 200)
		return;

	if (method == NULL || strcmp(method, "POST") != 0)
		oracle_fail("200 for method \"%s\"", method ? method : "");
	if (!fuzz_ctype(oracle_io_get(f, "CONTENT_TYPE")))
		oracle_fail("200 for Content-Type \"%s\"",
		    oracle_io_get(f, "CONTENT_TYPE"));
	if (clen == -1 || clen > REQ_BODY_MAX || f->pos != (size_t)clen)
		oracle_fail("200 for Content-Length \"%s\" (%zu read)",
		    oracle_io_get(f, "CONTENT_LENGTH"), f->pos);
	if (oracle_json_refused(f->body, (size_t)clen))
		oracle_fail("200 for a body that is not a JSON object");
	if (oracle_json_depth(f->body, (size_t)clen) > REQ_JSON_DEPTH)
		oracle_fail("200 for a body nested deeper than %d",
		    REQ_JSON_DEPTH);
	if (!json_object_object_get_ex(resp->json, "email", &v) ||
	    (email = json_object_get_string(v)) == NULL ||
	    valid_email(email, strlen(email), again, sizeof(again)) != NULL ||
	    strcmp(email, again) != 0)
		oracle_fail("200 with an email that does not validate to "
		    "itself");
}

/*
 * The libFuzzer entry point.  Always returns 0.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct app_endpoint ep = {
		.prog = "auth-register",
		.handle = fuzz_handle,
	};
	static struct oracle_io	 f;
	static char		 text[FUZZ_MAX + 1], clen[FUZZ_MAX + 32];
	struct oracle_resp	 resp;
	struct req_io		 io;
	struct app		 app;
	void			(*after)(void *);
	void			*arg;
	char			*line, *next, *eq, err[128];
	const char		*proxies = NULL, *star;
	size_t			 i;

	if (size > FUZZ_MAX)
		return 0;
	oracle_io_init(&f, &io);
	memcpy(text, data, size);
	text[size] = '\0';
	/* The parameters, up to an empty line; the body after it. */
	f.body = text + size;
	for (line = text; line < text + size; line = next) {
		if ((next = memchr(line, '\n', (size_t)(text + size - line)))
		    == NULL)
			next = text + size;
		*next++ = '\0';
		if (*line == '\0') {
			f.body = next;
			break;
		}
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		*eq++ = '\0';
		if (strcmp(line, "FUZZ_CHUNK") == 0)
			f.chunk = strtoul(eq, NULL, 10) % 64;
		else if (strcmp(line, "FUZZ_FAIL") == 0)
			f.fail_at = strtoul(eq, NULL, 10) % 256;
		else if (strcmp(line, "TRUSTED_PROXIES") == 0)
			proxies = eq;
		else if (oracle_io_add(&f, line, eq) == -1)
			return 0;
	}
	if (f.body > text + size)
		f.body = text + size;
	f.bodylen = (size_t)(text + size - f.body);
	for (i = 0; i < f.nparams; i++)
		if (strcmp(f.names[i], "CONTENT_LENGTH") == 0 &&
		    (star = strchr(f.values[i], '*')) != NULL) {
			(void)snprintf(clen, sizeof(clen), "%.*s%zu%s",
			    (int)(star - f.values[i]), f.values[i], f.bodylen,
			    star + 1);
			f.values[i] = clen;
			break;
		}

	memset(&app, 0, sizeof(app));
	app.prog = ep.prog;
	if (client_proxies_parse(proxies, &app.cfg.proxies, err,
	    sizeof(err)) != AUTH_OK)
		memset(&app.cfg.proxies, 0, sizeof(app.cfg.proxies));
	fuzz_handled = 0;
	app_serve(&app, &ep, &io, &after, &arg);
	if (after != NULL)
		oracle_fail("work left for after the answer");
	oracle_response(&f, &resp);
	fuzz_check(&f, &resp);
	oracle_resp_free(&resp);
	return 0;
}
