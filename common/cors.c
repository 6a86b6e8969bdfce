/* SPDX-License-Identifier: ISC */
/*
 * CORS (the Fetch standard's cross-origin protocol) the way Starlette's
 * CORSMiddleware did it for the FastAPI backend, so that a browser front
 * end served from another origin (a dev server on http://localhost:5173)
 * keeps working:
 *
 *	a request with an Origin header that CORS_ALLOW_ORIGINS lists (or
 *	any, for "*") gets Access-Control-Allow-Origin naming it (or "*"),
 *	Vary: Origin, and Access-Control-Allow-Credentials: true when
 *	CORS_ALLOW_CREDENTIALS is set, on every answer, errors included, so
 *	that the front end can read a 422's details;
 *	a preflight (OPTIONS with Origin and Access-Control-Request-Method)
 *	is answered here, 200 with the allowed methods (the endpoint's),
 *	headers and max age when origin, method and headers are all
 *	allowed, else 400 "Disallowed CORS origin, method, headers" (the
 *	failures) without any Access-Control-* header;
 *	an origin not listed gets no CORS header at all.
 *
 * Where Starlette and this differ, on purpose: "*" is refused with
 * credentials (browsers refuse that answer anyway), a refused preflight
 * names no method, header or age, and every answer is JSON.
 *
 * Configured origins are checked at start (cors_check_origins()) and
 * compared byte for byte with the Origin header, as browsers serialise
 * it: lower case, no default port, no path.  Only a configured origin is
 * ever echoed, never the client's bytes, but for CORS_ALLOW_HEADERS=*,
 * where the requested header names are echoed once checked to be names.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "cfg.h"
#include "cors.h"
#include "log.h"
#include "req.h"
#include "resp.h"

/* Request headers a preflight may always ask for, as Starlette lists. */
#define CORS_SAFELISTED	"Accept, Accept-Language, Content-Language, " \
			"Content-Type"

/* Why a preflight was refused: a bit each, named in this order. */
#define CORS_BAD_ORIGIN		0x01
#define CORS_BAD_METHOD		0x02
#define CORS_BAD_HEADERS	0x04

static int
cors_sep(char c)
{

	return c == ',' || c == ' ' || c == '\t';
}

/*
 * Return the next item of a list separated by commas and blanks, from
 * *pos on, with its length in *len, and advance *pos past it; NULL at
 * the end of the list.
 */
static const char *
cors_next(const char **pos, size_t *len)
{
	const char	*s = *pos, *t;

	while (*s != '\0' && cors_sep(*s))
		s++;
	if (*s == '\0') {
		*pos = s;
		return NULL;
	}
	for (t = s; *t != '\0' && !cors_sep(*t); t++)
		continue;
	*len = (size_t)(t - s);
	*pos = t;
	return s;
}

/*
 * Return 1 if the n bytes at s are an item of list (see cors_next()),
 * compared byte for byte, or ignoring ASCII case if icase.
 */
static int
cors_listed(const char *list, const char *s, size_t n, int icase)
{
	const char	*pos = list, *item;
	size_t		 len;

	while ((item = cors_next(&pos, &len)) != NULL)
		if (len == n && (icase ? strncasecmp(item, s, n) :
		    memcmp(item, s, n)) == 0)
			return 1;
	return 0;
}

/*
 * Return 1 if c may be in a header name or method (RFC 9110, 5.6.2:
 * tchar).
 */
static int
cors_tchar(unsigned char c)
{

	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/*
 * Return 1 if every item of list is a token of tchars and there is at
 * least one, else 0.
 */
static int
cors_tokens(const char *list)
{
	const char	*pos = list, *item;
	size_t		 len, i, n = 0;

	for (; (item = cors_next(&pos, &len)) != NULL; n++)
		for (i = 0; i < len; i++)
			if (!cors_tchar((unsigned char)item[i]))
				return 0;
	return n > 0;
}

static int
cors_digit(char c)
{

	return c >= '0' && c <= '9';
}

/*
 * Return 1 if the n bytes at s are an origin as a browser sends it
 * (RFC 6454, 6.1): "http://" or "https://", a host in lower case
 * (letters, digits, hyphens and inner dots, or an IPv6 literal in
 * brackets), and a port only when it is not the scheme's own, without
 * leading zeros; nothing after, not even a "/".
 */
static int
cors_origin_ok(const char *s, size_t n)
{
	size_t		 i, h;
	unsigned long	 port = 0;
	int		 https;

	if (n > 7 && memcmp(s, "http://", 7) == 0) {
		https = 0;
		i = 7;
	} else if (n > 8 && memcmp(s, "https://", 8) == 0) {
		https = 1;
		i = 8;
	} else
		return 0;
	h = i;
	if (s[i] == '[') {
		for (i++; i < n && (cors_digit(s[i]) || s[i] == ':' ||
		    s[i] == '.' || (s[i] >= 'a' && s[i] <= 'f')); i++)
			continue;
		if (i >= n || s[i] != ']' || i == h + 1)
			return 0;
		i++;
	} else {
		for (; i < n && ((s[i] >= 'a' && s[i] <= 'z') ||
		    cors_digit(s[i]) || s[i] == '-' || s[i] == '.'); i++)
			continue;
		if (i == h || s[h] == '.' || s[i - 1] == '.')
			return 0;
	}
	if (i == n)
		return 1;
	if (s[i++] != ':' || i == n || n - i > 5 || s[i] == '0')
		return 0;
	for (; i < n; i++) {
		if (!cors_digit(s[i]))
			return 0;
		port = port * 10 + (unsigned long)(s[i] - '0');
	}
	return port <= 65535 && port != (https ? 443UL : 80UL);
}

/*
 * Check CORS_ALLOW_ORIGINS, the origins allowed to call the API from a
 * browser: exact origins separated by commas or blanks, or "*" alone
 * (any origin, only without credentials, which is CORS_ALLOW_CREDENTIALS
 * given as credentials).  ASCII letters are lower-cased in place, as
 * browsers send them.  Returns AUTH_OK, or AUTH_ERR_CONFIG with one line
 * in err naming the key and which origin is wrong.
 */
enum auth_status
cors_check_origins(char *origins, long credentials, char *err,
    size_t errsz)
{
	const char	*pos, *item;
	char		*p;
	size_t		 len, n = 0;
	int		 any = 0;

	for (p = origins; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	for (pos = origins; (item = cors_next(&pos, &len)) != NULL; ) {
		n++;
		if (len == 1 && *item == '*') {
			any = 1;
			continue;
		}
		if (len > CORS_ORIGIN_MAX || !cors_origin_ok(item, len)) {
			(void)snprintf(err, errsz, "CORS_ALLOW_ORIGINS: origin "
			    "%zu is not an origin as browsers send it: "
			    "http:// or https://, a host, a port unless the "
			    "scheme's own, no path (not even a trailing /)",
			    n);
			return AUTH_ERR_CONFIG;
		}
	}
	if (n == 0) {
		(void)snprintf(err, errsz, "CORS_ALLOW_ORIGINS: no origin");
		return AUTH_ERR_CONFIG;
	}
	if (any && n > 1) {
		(void)snprintf(err, errsz, "CORS_ALLOW_ORIGINS: * stands "
		    "alone");
		return AUTH_ERR_CONFIG;
	}
	if (any && credentials) {
		(void)snprintf(err, errsz, "CORS_ALLOW_ORIGINS: * is refused "
		    "with CORS_ALLOW_CREDENTIALS=true (browsers refuse it "
		    "too): list the origins");
		return AUTH_ERR_CONFIG;
	}
	return AUTH_OK;
}

/*
 * Return 1 if list has no item, else 0.
 */
static int
cors_empty(const char *list)
{

	return list == NULL || strspn(list, ", \t") == strlen(list);
}

/*
 * Check CORS_ALLOW_HEADERS: the request headers a preflight may ask for
 * besides the safelisted ones, names separated by commas or blanks (none
 * at all is fine), or "*" alone (whatever a preflight asks for).  Returns
 * AUTH_OK, or AUTH_ERR_CONFIG with one line in err.
 */
enum auth_status
cors_check_headers(const char *headers, char *err, size_t errsz)
{

	if (cors_empty(headers))
		return AUTH_OK;
	if (strlen(headers) > CORS_HEADERS_MAX || !cors_tokens(headers) ||
	    (cors_listed(headers, "*", 1, 0) &&
	    strspn(headers, "*, \t") != strlen(headers))) {
		(void)snprintf(err, errsz, "CORS_ALLOW_HEADERS: header names "
		    "separated by commas, at most %d bytes, or * alone",
		    CORS_HEADERS_MAX);
		return AUTH_ERR_CONFIG;
	}
	return AUTH_OK;
}

/*
 * Return 1 if origin may call the API, else 0.
 */
static int
cors_origin_allowed(const struct cfg *cfg, const char *origin)
{
	const char	*list = cfg->cors_allow_origins;

	return cors_listed(list, "*", 1, 0) ||
	    cors_listed(list, origin, strlen(origin), 0);
}

/*
 * Make every answer to r name origin, which may call the API, as
 * Starlette did: Access-Control-Allow-Origin with the origin (or "*"
 * when any may, without credentials), Vary: Origin when the answer
 * depends on it (or always, if vary), Access-Control-Allow-Credentials.
 */
static void
cors_allow(const struct cfg *cfg, struct req *r, const char *origin,
    int vary)
{
	int	 any;

	any = cors_listed(cfg->cors_allow_origins, "*", 1, 0);
	(void)resp_keep(r, "Access-Control-Allow-Origin", any ? "*" : origin);
	if (!any || vary)
		(void)resp_keep(r, "Vary", "Origin");
	if (cfg->cors_allow_credentials)
		(void)resp_keep(r, "Access-Control-Allow-Credentials", "true");
}

/*
 * Start request r as CORS says, before anything else looks at it.
 * Returns 1 if it is a preflight, which cors_preflight() answers once
 * the path is known to be the endpoint's; else 0, the request goes on,
 * and if it comes from an allowed origin every answer will say so.
 */
int
cors_begin(const struct cfg *cfg, struct req *r)
{
	const char	*origin;

	if (cfg->cors_allow_origins == NULL ||
	    (origin = req_param(r, "HTTP_ORIGIN")) == NULL)
		return 0;
	if (strcmp(r->method, "OPTIONS") == 0 &&
	    req_param(r, "HTTP_ACCESS_CONTROL_REQUEST_METHOD") != NULL)
		return 1;
	if (cors_origin_allowed(cfg, origin))
		cors_allow(cfg, r, origin, 0);
	return 0;
}

/*
 * Return the CORS_BAD_* bits of a preflight asking for method and the
 * request headers asked (NULL: none), to an endpoint that takes methods
 * (a list, or "*" for any).
 */
static unsigned int
cors_judge(const struct cfg *cfg, const char *origin, const char *method,
    const char *asked, const char *methods)
{
	const char	*list = cfg->cors_allow_headers, *pos, *item;
	size_t		 len;
	unsigned int	 bad = 0;

	if (!cors_origin_allowed(cfg, origin))
		bad |= CORS_BAD_ORIGIN;
	if (!cors_tokens(method) || strpbrk(method, ", \t") != NULL ||
	    (!cors_listed(methods, "*", 1, 0) &&
	    !cors_listed(methods, method, strlen(method), 0)))
		bad |= CORS_BAD_METHOD;
	if (cors_empty(asked))
		return bad;
	if (strlen(asked) > CORS_HEADERS_MAX || !cors_tokens(asked))
		return bad | CORS_BAD_HEADERS;
	if (list != NULL && cors_listed(list, "*", 1, 0))
		return bad;
	for (pos = asked; (item = cors_next(&pos, &len)) != NULL; )
		if (!cors_listed(CORS_SAFELISTED, item, len, 1) &&
		    (list == NULL || !cors_listed(list, item, len, 1)))
			return bad | CORS_BAD_HEADERS;
	return bad;
}

/*
 * Write into buf (size bytes) the items of list joined by ", ", after
 * prefix.
 */
static void
cors_join(char *buf, size_t size, const char *prefix, const char *list)
{
	const char	*pos = list, *item;
	size_t		 len;
	int		 n;

	n = snprintf(buf, size, "%s", prefix);
	while (n >= 0 && (size_t)n < size &&
	    (item = cors_next(&pos, &len)) != NULL)
		n += snprintf(buf + n, size - (size_t)n, "%s%.*s",
		    (size_t)n > strlen(prefix) ? ", " : "", (int)len, item);
}

/*
 * Answer the preflight r for an endpoint that takes methods (a list such
 * as "POST", or "*"): 200 {"message": "OK"} with Access-Control-Allow-
 * Origin, -Methods, -Headers, -Credentials, -Max-Age and Vary: Origin
 * when the origin, the method and every header asked for are allowed;
 * else 400 {"detail": "Disallowed CORS origin, method, headers"} (those
 * that failed) with Vary: Origin and nothing else of CORS.
 */
void
cors_preflight(const struct cfg *cfg, struct req *r, const char *methods)
{
	static const char *const why[] = { "origin", "method", "headers" };
	char			 age[64], allow[CORS_HEADERS_MAX + 64];
	char			 detail[64], reasons[32];
	char			 hdrs[2 * CORS_HEADERS_MAX + 128];
	const char		*extra[4], *origin, *method, *asked;
	const char		*list = cfg->cors_allow_headers;
	struct json_object	*o;
	unsigned int		 bad, i;

	origin = req_param(r, "HTTP_ORIGIN");
	method = req_param(r, "HTTP_ACCESS_CONTROL_REQUEST_METHOD");
	asked = req_param(r, "HTTP_ACCESS_CONTROL_REQUEST_HEADERS");
	bad = origin == NULL || method == NULL ? CORS_BAD_ORIGIN :
	    cors_judge(cfg, origin, method, asked, methods);
	if (bad != 0) {
		(void)snprintf(detail, sizeof(detail), "Disallowed CORS");
		reasons[0] = '\0';
		for (i = 0; i < sizeof(why) / sizeof(why[0]); i++) {
			if ((bad & (1U << i)) == 0)
				continue;
			(void)snprintf(detail + strlen(detail),
			    sizeof(detail) - strlen(detail), "%s %s",
			    reasons[0] != '\0' ? "," : "", why[i]);
			(void)snprintf(reasons + strlen(reasons),
			    sizeof(reasons) - strlen(reasons), "%s%s",
			    reasons[0] != '\0' ? "," : "", why[i]);
		}
		log_info("cors", "preflight refused why=%s origin=%.*s",
		    reasons, CORS_ORIGIN_MAX, origin != NULL ? origin : "-");
		(void)resp_keep(r, "Vary", "Origin");
		resp_error(r, 400, detail);
		return;
	}
	cors_allow(cfg, r, origin, 1);
	cors_join(allow, sizeof(allow), "Access-Control-Allow-Methods: ",
	    methods);
	/* Starlette's "*": whatever was asked, checked above to be names. */
	if (list != NULL && cors_listed(list, "*", 1, 0))
		cors_join(hdrs, sizeof(hdrs), "Access-Control-Allow-Headers: ",
		    !cors_empty(asked) ? asked : CORS_SAFELISTED);
	else {
		cors_join(hdrs, sizeof(hdrs), "Access-Control-Allow-Headers: ",
		    CORS_SAFELISTED);
		if (!cors_empty(list))
			cors_join(hdrs + strlen(hdrs), sizeof(hdrs) -
			    strlen(hdrs), ", ", list);
	}
	(void)snprintf(age, sizeof(age), "Access-Control-Max-Age: %ld",
	    cfg->cors_max_age);
	extra[0] = allow;
	extra[1] = hdrs;
	extra[2] = age;
	extra[3] = NULL;
	if ((o = json_object_new_object()) == NULL ||
	    resp_add(o, "message", json_object_new_string("OK")) == -1)
		resp_json(r, 500, NULL, NULL);
	else
		resp_json(r, 200, o, extra);
	json_object_put(o);
}
