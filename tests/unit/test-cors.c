/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for cors.c (with resp.c's kept header lines): the checks of
 * CORS_ALLOW_ORIGINS and CORS_ALLOW_HEADERS, and the answers to simple
 * requests and preflights from allowed and other origins, through a fake
 * server.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "cors.h"
#include "req.h"
#include "resp.h"
#include "capture.h"
#include "tap.h"

#define FRONT	"http://localhost:5173"

/* The request's CGI variables: name, value pairs, NULL-terminated. */
static const char	*vars[16];

static const char *
vars_param(void *arg, const char *name)
{
	size_t	 i;

	(void)arg;
	for (i = 0; vars[i] != NULL; i += 2)
		if (strcmp(vars[i], name) == 0)
			return vars[i + 1];
	return NULL;
}

static const struct req_io vars_io = {
	vars_param, capture_read, capture_write, NULL
};

static struct cfg	 cfg;
static char		 origins[512];
static char		 headers[512];

/* A CORS configuration, as cfg_load() would leave it. */
static void
setup(const char *o, const char *h, long credentials)
{
	char	 err[256];

	memset(&cfg, 0, sizeof(cfg));
	cfg.cors_max_age = 600;
	cfg.cors_allow_credentials = credentials;
	if (h != NULL) {
		(void)snprintf(headers, sizeof(headers), "%s", h);
		cfg.cors_allow_headers = headers;
	}
	if (o != NULL) {
		(void)snprintf(origins, sizeof(origins), "%s", o);
		if (cors_check_origins(origins, credentials, err,
		    sizeof(err)) != AUTH_OK)
			tap_diag("setup: %s", err);
		cfg.cors_allow_origins = origins;
	}
}

/*
 * Run one request with method and the variables given (name, value, ...,
 * NULL) as app_serve() does for an endpoint taking POST, answering it
 * 401 if it is no preflight.  Returns the preflight flag.
 */
static int
run(const char *method, ...)
{
	struct req	 r;
	va_list		 ap;
	size_t		 i = 0;
	int		 pre;

	vars[i++] = "REQUEST_METHOD";
	vars[i++] = method;
	va_start(ap, method);
	while (i < sizeof(vars) / sizeof(vars[0]) - 1 &&
	    (vars[i] = va_arg(ap, const char *)) != NULL)
		i++;
	va_end(ap);
	vars[i] = NULL;
	capture_reset();
	req_init(&r, &vars_io, NULL);
	if ((pre = cors_begin(&cfg, &r)))
		cors_preflight(&cfg, &r, "POST");
	else
		resp_unauthorized(&r, "Invalid email or password");
	req_free(&r);
	return pre;
}

/* Return 1 if the head has no Access-Control-* line at all. */
static int
no_cors(void)
{
	const char	*end = strstr(capture_out, "\r\n\r\n");
	const char	*a = strstr(capture_out, "Access-Control-");

	return end != NULL && (a == NULL || a > end);
}

static int
status(int code)
{
	char	 want[32];

	(void)snprintf(want, sizeof(want), "Status: %d ", code);
	return strncmp(capture_out, want, strlen(want)) == 0;
}

static int
body(const char *b)
{
	const char	*p = strstr(capture_out, "\r\n\r\n");

	return p != NULL && strcmp(p + 4, b) == 0;
}

static void
test_origins(void)
{
	static const char *const good[] = {
		FRONT,
		"https://app.example.com",
		"http://[::1]:8080",
		"http://127.0.0.1:5173",
		"https://a.example, http://b.example:8443  http://c-d.example",
		"*",
		NULL
	};
	static const struct {
		const char	*origins;
		long		 credentials;
		const char	*why;
	} bad[] = {
		{ FRONT "/", 0, "origin 1 " },
		{ "https://a.example, http://b.example/app", 0, "origin 2 " },
		{ "localhost:5173", 0, "origin 1 " },
		{ "ftp://files.example", 0, "origin 1 " },
		{ "null", 0, "origin 1 " },
		{ "http://", 0, "origin 1 " },
		{ "http://.example", 0, "origin 1 " },
		{ "http://user@example.com", 0, "origin 1 " },
		{ "http://example.com:80", 0, "origin 1 " },
		{ "https://example.com:443", 0, "origin 1 " },
		{ "http://example.com:0", 0, "origin 1 " },
		{ "http://example.com:08080", 0, "origin 1 " },
		{ "http://example.com:65536", 0, "origin 1 " },
		{ "http://example.com:", 0, "origin 1 " },
		{ "http://ex ample.com", 0, "origin 2 " },
		{ ", ,", 0, "no origin" },
		{ "*, " FRONT, 0, "* stands alone" },
		{ "*", 1, "CORS_ALLOW_CREDENTIALS" },
		{ NULL, 0, NULL }
	};
	char	 buf[512], err[256];
	size_t	 i;

	for (i = 0; good[i] != NULL; i++) {
		(void)snprintf(buf, sizeof(buf), "%s", good[i]);
		err[0] = '\0';
		tap_ok(cors_check_origins(buf, 0, err, sizeof(err)) == AUTH_OK,
		    "origins %s: accepted %s", good[i], err);
	}
	(void)snprintf(buf, sizeof(buf), "HTTP://LocalHost:5173");
	tap_ok(cors_check_origins(buf, 1, err, sizeof(err)) == AUTH_OK &&
	    strcmp(buf, FRONT) == 0, "origins: lower-cased as browsers send "
	    "them (%s)", buf);
	for (i = 0; bad[i].origins != NULL; i++) {
		(void)snprintf(buf, sizeof(buf), "%s", bad[i].origins);
		err[0] = '\0';
		tap_ok(cors_check_origins(buf, bad[i].credentials, err,
		    sizeof(err)) == AUTH_ERR_CONFIG &&
		    strncmp(err, "CORS_ALLOW_ORIGINS: ", 20) == 0 &&
		    strstr(err, bad[i].why) != NULL,
		    "origins %s%s: refused, %s", bad[i].origins,
		    bad[i].credentials ? " with credentials" : "", err);
	}
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "http://", 7);
	buf[7 + CORS_ORIGIN_MAX] = '\0';
	tap_ok(cors_check_origins(buf, 0, err, sizeof(err)) ==
	    AUTH_ERR_CONFIG, "origins: one longer than %d bytes refused",
	    CORS_ORIGIN_MAX);
}

static void
test_headers(void)
{
	static const char *const good[] = {
		"Authorization", "authorization, x-requested-with", "*", "",
		" , ", NULL
	};
	static const char *const bad[] = {
		"X-Header:", "Authorization, *", "caf\xc3\xa9", "a(b)", NULL
	};
	char	 big[CORS_HEADERS_MAX + 2], err[256];
	size_t	 i;

	for (i = 0; good[i] != NULL; i++)
		tap_ok(cors_check_headers(good[i], err, sizeof(err)) ==
		    AUTH_OK, "headers '%s': accepted", good[i]);
	for (i = 0; bad[i] != NULL; i++)
		tap_ok(cors_check_headers(bad[i], err, sizeof(err)) ==
		    AUTH_ERR_CONFIG && strncmp(err, "CORS_ALLOW_HEADERS: ",
		    20) == 0, "headers '%s': refused", bad[i]);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	tap_ok(cors_check_headers(big, err, sizeof(err)) == AUTH_ERR_CONFIG,
	    "headers: longer than %d bytes refused", CORS_HEADERS_MAX);
}

static void
test_simple(void)
{
	struct req	 r;

	setup(NULL, "Authorization", 0);
	tap_ok(run("POST", "HTTP_ORIGIN", FRONT, NULL) == 0 && status(401) &&
	    no_cors() && !capture_has("Vary: Origin"),
	    "CORS off: an Origin changes nothing");
	tap_ok(run("OPTIONS", "HTTP_ORIGIN", FRONT,
	    "HTTP_ACCESS_CONTROL_REQUEST_METHOD", "POST", NULL) == 0 &&
	    no_cors(), "CORS off: no preflight either");

	setup(FRONT ", https://app.example.com", "Authorization", 1);
	tap_ok(run("POST", "HTTP_ORIGIN", FRONT, NULL) == 0 && status(401) &&
	    capture_has("Access-Control-Allow-Origin: " FRONT) &&
	    capture_has("Vary: Origin") &&
	    capture_has("Access-Control-Allow-Credentials: true") &&
	    capture_has("WWW-Authenticate: Bearer") &&
	    capture_has("Cache-Control: no-store") &&
	    body("{\"detail\":\"Invalid email or password\"}"),
	    "allowed origin: its answer names it, credentials, Vary, and "
	    "keeps its own headers");
	tap_ok(run("POST", "HTTP_ORIGIN", "https://app.example.com", NULL) ==
	    0 && capture_has("Access-Control-Allow-Origin: https://app.example.com"),
	    "the second allowed origin too");
	tap_ok(run("POST", "HTTP_ORIGIN", "https://evil.example", NULL) == 0 &&
	    status(401) && no_cors() && !capture_has("Vary: Origin"),
	    "another origin: no CORS header at all");
	tap_ok(run("POST", "HTTP_ORIGIN", "HTTP://LOCALHOST:5173", NULL) ==
	    0 && no_cors(), "an origin is compared byte for byte");
	tap_ok(run("POST", "HTTP_ORIGIN", FRONT "/", NULL) == 0 && no_cors(),
	    "an origin with a slash is another origin");
	tap_ok(run("POST", "HTTP_ORIGIN", FRONT ", https://evil.example",
	    NULL) == 0 && no_cors(), "a list in Origin matches nothing");
	tap_ok(run("POST", NULL) == 0 && no_cors(), "no Origin: nothing");
	tap_ok(run("OPTIONS", "HTTP_ORIGIN", FRONT, NULL) == 0 &&
	    capture_has("Access-Control-Allow-Origin: " FRONT),
	    "OPTIONS without Access-Control-Request-Method is no preflight");

	setup("*", "Authorization", 0);
	tap_ok(run("POST", "HTTP_ORIGIN", "https://any.example", NULL) == 0 &&
	    capture_has("Access-Control-Allow-Origin: *") &&
	    !capture_has("Vary: Origin") &&
	    !capture_has("Access-Control-Allow-Credentials: true"),
	    "*: any origin, answered *, without Vary or credentials");

	/* capture_io: a request without any variable. */
	capture_reset();
	req_init(&r, &capture_io, NULL);
	tap_ok(cors_begin(&cfg, &r) == 0, "no variables at all: no CORS");
	req_free(&r);
}

static void
test_preflight(void)
{
	setup(FRONT, "Authorization", 1);
	tap_ok(run("OPTIONS", "HTTP_ORIGIN", FRONT,
	    "HTTP_ACCESS_CONTROL_REQUEST_METHOD", "POST",
	    "HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "content-type,authorization",
	    NULL) == 1 && status(200) &&
	    capture_has("Access-Control-Allow-Origin: " FRONT) &&
	    capture_has("Vary: Origin") &&
	    capture_has("Access-Control-Allow-Methods: POST") &&
	    capture_has("Access-Control-Allow-Headers: Accept, Accept-Language, "
	    "Content-Language, Content-Type, Authorization") &&
	    capture_has("Access-Control-Allow-Credentials: true") &&
	    capture_has("Access-Control-Max-Age: 600") &&
	    capture_has("Content-Type: application/json") &&
	    body("{\"message\":\"OK\"}"), "preflight, allowed: 200 and every "
	    "Access-Control-* header");
	tap_ok(run("OPTIONS", "HTTP_ORIGIN", FRONT,
	    "HTTP_ACCESS_CONTROL_REQUEST_METHOD", "POST", NULL) == 1 &&
	    status(200), "preflight asking no header: 200");
	tap_ok(run("OPTIONS", "HTTP_ORIGIN", "https://evil.example",
	    "HTTP_ACCESS_CONTROL_REQUEST_METHOD", "POST", NULL) == 1 &&
	    status(400) && no_cors() && capture_has("Vary: Origin") &&
	    body("{\"detail\":\"Disallowed CORS origin\"}"),
	    "preflight, another origin: 400 without CORS headers");
	tap_ok(run("OPTIONS", "HTTP_ORIGIN", FRONT,
	    "HTTP_ACCESS_CONTROL_REQUEST_METHOD", "DELETE", NULL) == 1 &&
	    status(400) && no_cors() &&
	    body("{\"detail\":\"Disallowed CORS method\"}"),
	    "preflight for a method the endpoint does not take: 400");
	tap_ok(run("OPTIONS", "HTTP_ORIGIN", FRONT,
	    "HTTP_ACCESS_CONTROL_REQUEST_METHOD", "post", NULL) == 1 &&
	    status(400), "methods are case-sensitive");
	tap_ok(run("OPTIONS", "HTTP_ORIGIN", FRONT,
	    "HTTP_ACCESS_CONTROL_REQUEST_METHOD", "POST",
	    "HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "content-type, x-evil",
	    NULL) == 1 && status(400) && no_cors() &&
	    body("{\"detail\":\"Disallowed CORS headers\"}"),
	    "preflight asking for a header not allowed: 400");
	tap_ok(run("OPTIONS", "HTTP_ORIGIN", "https://evil.example",
	    "HTTP_ACCESS_CONTROL_REQUEST_METHOD", "PUT",
	    "HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "x-evil", NULL) == 1 &&
	    body("{\"detail\":\"Disallowed CORS origin, method, headers\"}"),
	    "every failure named, as Starlette names them");
	tap_ok(run("OPTIONS", "HTTP_ORIGIN", FRONT,
	    "HTTP_ACCESS_CONTROL_REQUEST_METHOD", "POST",
	    "HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "x\r\nSet-Cookie: a=b",
	    NULL) == 1 && status(400) && strstr(capture_out, "Set-Cookie") ==
	    NULL, "a header list that is no list of names: 400, not echoed");

	setup("*", "*", 0);
	tap_ok(run("OPTIONS", "HTTP_ORIGIN", "https://any.example",
	    "HTTP_ACCESS_CONTROL_REQUEST_METHOD", "POST",
	    "HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "x-custom,content-type",
	    NULL) == 1 && status(200) &&
	    capture_has("Access-Control-Allow-Origin: *") &&
	    capture_has("Vary: Origin") &&
	    capture_has("Access-Control-Allow-Headers: x-custom, content-type") &&
	    !capture_has("Access-Control-Allow-Credentials: true"),
	    "headers *: the names asked for are allowed, and echoed");
	tap_ok(run("OPTIONS", "HTTP_ORIGIN", "https://any.example",
	    "HTTP_ACCESS_CONTROL_REQUEST_METHOD", "POST",
	    "HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "x y:z", NULL) == 1 &&
	    status(400), "headers *: what is no header name is refused");

	setup(FRONT, "", 0);
	tap_ok(run("OPTIONS", "HTTP_ORIGIN", FRONT,
	    "HTTP_ACCESS_CONTROL_REQUEST_METHOD", "POST",
	    "HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "Content-Type", NULL) == 1 &&
	    status(200) && capture_has("Access-Control-Allow-Headers: Accept, "
	    "Accept-Language, Content-Language, Content-Type") &&
	    !capture_has("Access-Control-Allow-Credentials: true"),
	    "no extra header allowed: the safelisted ones, any case");
	tap_ok(run("OPTIONS", "HTTP_ORIGIN", FRONT,
	    "HTTP_ACCESS_CONTROL_REQUEST_METHOD", "POST",
	    "HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "authorization", NULL) ==
	    1 && status(400), "... and Authorization is refused then");
}

static void
test_keep(void)
{
	struct req	 r;
	char		 big[REQ_KEEP_LEN];

	capture_reset();
	req_init(&r, &capture_io, NULL);
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	tap_ok(resp_keep(&r, "X-Bad", "a\r\nSet-Cookie: x=y") == -1 &&
	    resp_keep(&r, "X-Big", big) == -1 && r.nkeep == 0,
	    "resp_keep: a control character or a line too long is refused");
	tap_ok(resp_keep(&r, "X-1", "1") == 0 && resp_keep(&r, "X-2", "2") ==
	    0 && resp_keep(&r, "X-3", "3") == 0 && resp_keep(&r, "X-4", "4") ==
	    0 && resp_keep(&r, "X-5", "5") == -1, "resp_keep: at most %d "
	    "lines", REQ_KEEP_MAX);
	resp_error(&r, 404, "Not Found");
	tap_ok(capture_has("X-1: 1") && capture_has("X-4: 4") &&
	    !capture_has("X-5: 5") &&
	    capture_has("Cache-Control: no-store"), "kept lines are in the answer");
	req_free(&r);
}

int
main(void)
{

	test_origins();
	test_headers();
	test_simple();
	test_preflight();
	test_keep();
	return tap_done();
}
