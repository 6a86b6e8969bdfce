/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the request front end (req.c, with resp.c): every check
 * of the documented order, driven through a fake server.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "req.h"
#include "resp.h"
#include "memwatch.h"
#include "tap.h"

struct fake {
	const char	*method;
	const char	*ctype;
	const char	*clen;
	const char	*body;
	const char	*pathinfo;
	const char	*uri;
	size_t		 bodylen;
	size_t		 pos;
	size_t		 reads;		/* bytes handed to the program */
	char		 out[65536];
	size_t		 outlen;
};

static const char *
fake_param(void *arg, const char *name)
{
	struct fake	*f = arg;

	if (strcmp(name, "REQUEST_METHOD") == 0)
		return f->method;
	if (strcmp(name, "CONTENT_TYPE") == 0)
		return f->ctype;
	if (strcmp(name, "CONTENT_LENGTH") == 0)
		return f->clen;
	if (strcmp(name, "REMOTE_ADDR") == 0)
		return "192.0.2.1";
	if (strcmp(name, "PATH_INFO") == 0)
		return f->pathinfo;
	if (strcmp(name, "REQUEST_URI") == 0)
		return f->uri;
	return NULL;
}

static long
fake_read(void *arg, char *buf, size_t n)
{
	struct fake	*f = arg;

	/* Hand out at most 7 bytes at a time: short reads must be fine. */
	if (n > 7)
		n = 7;
	if (n > f->bodylen - f->pos)
		n = f->bodylen - f->pos;
	memcpy(buf, f->body + f->pos, n);
	f->pos += n;
	f->reads += n;
	return (long)n;
}

static int
fake_write(void *arg, const char *buf, size_t n)
{
	struct fake	*f = arg;

	if (n > sizeof(f->out) - f->outlen - 1)
		return -1;
	memcpy(f->out + f->outlen, buf, n);
	f->outlen += n;
	f->out[f->outlen] = '\0';
	return 0;
}

/*
 * Run the front end on one request; return 1 if it accepted the body
 * (r is then live and must be freed by the caller), else 0 with the
 * answer in f->out.
 */
static int
run(struct fake *f, struct req *r)
{
	struct req_io	 io = { fake_param, fake_read, fake_write, f };

	f->pos = f->reads = f->outlen = 0;
	f->out[0] = '\0';
	if (f->body != NULL && f->bodylen == 0)
		f->bodylen = strlen(f->body);
	req_init(r, &io, NULL);
	return req_read_json(r);
}

static int
answered(const struct fake *f, int status, const char *body)
{
	char		 line[64];
	const char	*b;

	(void)snprintf(line, sizeof(line), "Status: %d ", status);
	if (strncmp(f->out, line, strlen(line)) != 0)
		return 0;
	if ((b = strstr(f->out, "\r\n\r\n")) == NULL)
		return 0;
	return body == NULL || strcmp(b + 4, body) == 0;
}

struct case_front {
	const char	*what;
	const char	*method;
	const char	*ctype;
	const char	*clen;		/* NULL: computed from body */
	const char	*body;
	int		 status;	/* 0: accepted */
	const char	*answer;	/* expected body, or NULL */
};

#define JSON_INVALID \
	"{\"detail\":[{\"loc\":[\"body\"],\"msg\":\"JSON decode error\"," \
	"\"type\":\"json_invalid\"}]}"
#define NOT_OBJECT \
	"{\"detail\":[{\"loc\":[\"body\"],\"msg\":\"Input should be a " \
	"valid dictionary or object\",\"type\":\"model_attributes_type\"}]}"

static const struct case_front fronts[] = {
	{ "GET is 405", "GET", "application/json", NULL, "{}", 405,
	    "{\"detail\":\"Method Not Allowed\"}" },
	{ "PUT is 405", "PUT", "application/json", NULL, "{}", 405, NULL },
	{ "lower-case post is 405", "post", "application/json", NULL, "{}",
	    405, NULL },
	{ "no Content-Type is 415", "POST", NULL, NULL, "{}", 415,
	    "{\"detail\":\"Content-Type must be application/json\"}" },
	{ "text/plain is 415", "POST", "text/plain", NULL, "{}", 415, NULL },
	{ "application/jsonx is 415", "POST", "application/jsonx", NULL,
	    "{}", 415, NULL },
	{ "charset latin1 is 415", "POST",
	    "application/json; charset=latin1", NULL, "{}", 415, NULL },
	{ "other parameter is 415", "POST", "application/json; foo=bar",
	    NULL, "{}", 415, NULL },
	{ "form is 415", "POST", "application/x-www-form-urlencoded", NULL,
	    "{}", 415, NULL },
	{ "application/json accepted", "POST", "application/json", NULL,
	    "{}", 0, NULL },
	{ "Application/JSON accepted", "POST", "Application/JSON", NULL,
	    "{}", 0, NULL },
	{ "charset=utf-8 accepted", "POST",
	    "application/json; charset=utf-8", NULL, "{}", 0, NULL },
	{ "quoted charset accepted", "POST",
	    "application/json;charset=\"UTF-8\"", NULL, "{}", 0, NULL },
	{ "missing Content-Length is 411", "POST", "application/json", "",
	    "{}", 411, "{\"detail\":\"Content-Length required\"}" },
	{ "Content-Length abc is 400", "POST", "application/json", "abc",
	    "{}", 400, "{\"detail\":\"Invalid Content-Length\"}" },
	{ "Content-Length -1 is 400", "POST", "application/json", "-1",
	    "{}", 400, NULL },
	{ "Content-Length +2 is 400", "POST", "application/json", "+2",
	    "{}", 400, NULL },
	{ "Content-Length with space is 400", "POST", "application/json",
	    " 2", "{}", 400, NULL },
	{ "Content-Length 2e0 is 400", "POST", "application/json", "2e0",
	    "{}", 400, NULL },
	{ "Content-Length 16385 is 413", "POST", "application/json",
	    "16385", "{}", 413, "{\"detail\":\"Request body too large\"}" },
	{ "huge Content-Length is 413", "POST", "application/json",
	    "184467440737095516170000", "{}", 413, NULL },
	{ "short body is 400", "POST", "application/json", "10", "{}", 400,
	    "{\"detail\":\"Incomplete request body\"}" },
	{ "empty body is 422", "POST", "application/json", "0", "", 422,
	    JSON_INVALID },
	{ "malformed JSON is 422", "POST", "application/json", NULL,
	    "{\"email\":", 422, JSON_INVALID },
	{ "trailing bytes are 422", "POST", "application/json", NULL,
	    "{} x", 422, JSON_INVALID },
	{ "second value is 422", "POST", "application/json", NULL,
	    "{}{}", 422, JSON_INVALID },
	{ "single quotes are 422", "POST", "application/json", NULL,
	    "{'a':'b'}", 422, JSON_INVALID },
	{ "comment is 422", "POST", "application/json", NULL,
	    "{/*c*/}", 422, JSON_INVALID },
	{ "trailing comma is 422", "POST", "application/json", NULL,
	    "{\"a\":\"b\",}", 422, JSON_INVALID },
	{ "invalid UTF-8 is 422", "POST", "application/json", NULL,
	    "{\"a\":\"\xff\xfe\"}", 422, JSON_INVALID },
	{ "overlong UTF-8 is 422", "POST", "application/json", NULL,
	    "{\"a\":\"\xc0\xaf\"}", 422, JSON_INVALID },
	{ "UTF-8 surrogate is 422", "POST", "application/json", NULL,
	    "{\"a\":\"\xed\xa0\x80\"}", 422, JSON_INVALID },
	{ "UTF-8 above U+10FFFF is 422", "POST", "application/json", NULL,
	    "{\"a\":\"\xf4\x90\x80\x80\"}", 422, JSON_INVALID },
	{ "truncated UTF-8 is 422", "POST", "application/json", NULL,
	    "{\"a\":\"\xe2\x82\"}", 422, JSON_INVALID },
	{ "4-byte UTF-8 accepted", "POST", "application/json", NULL,
	    "{\"a\":\"\xf0\x9f\x94\x91\"}", 0, NULL },
	{ "depth 9 is 422", "POST", "application/json", NULL,
	    "{\"a\":[[[[[[[[1]]]]]]]]}", 422, JSON_INVALID },
	{ "depth 8 accepted", "POST", "application/json", NULL,
	    "{\"a\":[[[[[[[1]]]]]]]}", 0, NULL },
	{ "array is 422", "POST", "application/json", NULL, "[1,2]", 422,
	    NOT_OBJECT },
	{ "string is 422", "POST", "application/json", NULL, "\"x\"", 422,
	    NOT_OBJECT },
	{ "bare number is 422", "POST", "application/json", NULL, "12", 422,
	    NOT_OBJECT },
	{ "null is 422", "POST", "application/json", NULL, "null", 422,
	    NOT_OBJECT },
	{ "trailing white space accepted", "POST", "application/json", NULL,
	    "{\"a\":\"b\"} \r\n\t", 0, NULL },
	{ "UTF-8 accepted", "POST", "application/json", NULL,
	    "{\"a\":\"p\xc3\xa4ss\"}", 0, NULL },
	/* RFC 8259, 7; json-c takes them raw even in strict mode. */
	{ "raw LF in a string is 422", "POST", "application/json", NULL,
	    "{\"a\":\"x\ny\"}", 422, JSON_INVALID },
	{ "raw tab in a string is 422", "POST", "application/json", NULL,
	    "{\"a\":\"x\ty\"}", 422, JSON_INVALID },
	{ "raw control character in a string is 422", "POST",
	    "application/json", NULL, "{\"a\":\"x\x01y\"}", 422,
	    JSON_INVALID },
	{ "raw control character in a key is 422", "POST",
	    "application/json", NULL, "{\"a\x1f\":\"x\"}", 422,
	    JSON_INVALID },
	{ "control character between tokens is 422", "POST",
	    "application/json", NULL, "{\"a\":\x0b\"x\"}", 422,
	    JSON_INVALID },
	{ "escaped controls accepted", "POST", "application/json", NULL,
	    "{\"a\\u0001\":\"x\\n\\t\\\"\\\\\\u001f\"}", 0, NULL },
};

static void
test_fronts(void)
{
	const struct case_front	*c;
	struct fake		*f;
	struct req		 r;
	char			 clen[32];
	size_t			 i;
	int			 ok;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		abort();
	for (i = 0; i < sizeof(fronts) / sizeof(fronts[0]); i++) {
		c = &fronts[i];
		memset(f, 0, sizeof(*f));
		f->method = c->method;
		f->ctype = c->ctype;
		f->body = c->body;
		f->bodylen = strlen(c->body);
		if (c->clen == NULL) {
			(void)snprintf(clen, sizeof(clen), "%zu", f->bodylen);
			f->clen = clen;
		} else
			f->clen = *c->clen == '\0' ? NULL : c->clen;
		ok = run(f, &r);
		if (c->status == 0)
			tap_ok(ok == 1 && r.json != NULL && f->outlen == 0,
			    "%s", c->what);
		else
			tap_ok(ok == 0 && answered(f, c->status, c->answer),
			    "%s", c->what);
		req_free(&r);
	}
	free(f);
}

static void
test_limits(void)
{
	struct fake	*f;
	struct req	 r;
	char		*big;

	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (big = malloc(REQ_BODY_MAX + 2)) == NULL)
		abort();
	memset(big, ' ', REQ_BODY_MAX + 1);
	memcpy(big, "{\"a\":\"b\"}", 9);
	big[REQ_BODY_MAX + 1] = '\0';

	f->method = "POST";
	f->ctype = "application/json";
	f->body = big;
	f->bodylen = REQ_BODY_MAX + 1;
	f->clen = "16385";
	tap_ok(run(f, &r) == 0 && answered(f, 413, NULL) && f->reads == 0,
	    "413 is answered before any byte of the body is read");
	req_free(&r);

	f->bodylen = REQ_BODY_MAX;
	f->clen = "16384";
	tap_ok(run(f, &r) == 1 && f->reads == REQ_BODY_MAX,
	    "a body of exactly 16384 bytes is read whole and accepted");
	req_free(&r);

	f->bodylen = REQ_BODY_MAX;
	f->clen = "9";
	tap_ok(run(f, &r) == 1 && f->reads == 9,
	    "exactly Content-Length bytes are read, no more");
	req_free(&r);

	f->method = "GET";
	f->clen = "16385";
	tap_ok(run(f, &r) == 0 && answered(f, 405, NULL) &&
	    strstr(f->out, "\r\nAllow: POST\r\n") != NULL,
	    "405 comes first and says Allow: POST");
	req_free(&r);
	free(big);
	free(f);
}

static void
test_fields(void)
{
	struct fake	*f;
	struct req	 r;
	const char	*s;
	size_t		 len;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		abort();
	f->method = "POST";
	f->ctype = "application/json";
	f->clen = NULL;
	f->body = "{\"email\":\"a@b.co\",\"n\":5,\"z\":null,"
	    "\"nul\":\"ab\\u0000cd\",\"extra\":{\"x\":1}}";
	f->bodylen = strlen(f->body);
	{
		char	 clen[16];

		(void)snprintf(clen, sizeof(clen), "%zu", f->bodylen);
		f->clen = clen;
		tap_ok(run(f, &r) == 1, "fields: body accepted");
	}
	s = req_string(&r, "email", &len);
	tap_ok(s != NULL && strcmp(s, "a@b.co") == 0 && len == 6,
	    "a string field is returned with its length");
	tap_ok(!req_has_errors(&r), "no errors after a good field");
	tap_ok(req_string(&r, "missing", &len) == NULL && len == 0,
	    "a missing field is NULL");
	tap_ok(req_string(&r, "n", &len) == NULL,
	    "a number is not a string");
	tap_ok(req_string(&r, "z", &len) == NULL, "null is not a string");
	tap_ok(json_object_array_length(r.errors) == 3 &&
	    strstr(json_object_to_json_string(r.errors),
	    "\"z\" ], \"msg\": \"Input should be a valid string\"") != NULL,
	    "null is string_type, as FastAPI says, not missing");
	tap_ok(req_string(&r, "nul", &len) == NULL,
	    "a string with an embedded NUL is refused");
	tap_ok(req_has_errors(&r), "errors recorded");
	resp_invalid(&r);
	s = strstr(f->out, "\r\n\r\n");
	tap_ok(answered(f, 422, NULL) && s != NULL && strcmp(s + 4,
	    "{\"detail\":["
	    "{\"loc\":[\"body\",\"missing\"],\"msg\":\"Field required\","
	    "\"type\":\"missing\"},"
	    "{\"loc\":[\"body\",\"n\"],\"msg\":\"Input should be a valid "
	    "string\",\"type\":\"string_type\"},"
	    "{\"loc\":[\"body\",\"z\"],\"msg\":\"Input should be a valid "
	    "string\",\"type\":\"string_type\"},"
	    "{\"loc\":[\"body\",\"nul\"],\"msg\":\"String must not contain "
	    "NUL characters\",\"type\":\"string_type\"}]}") == 0,
	    "422 lists every invalid field in FastAPI's shape");
	tap_ok(strcmp(r.client, "192.0.2.1") == 0, "client address noted");
	req_free(&r);
	free(f);
}

/*
 * req_route(): which URLs are the endpoint's own, before any other
 * check.
 */
static void
test_route(void)
{
	static const struct {
		const char	*pathinfo;
		const char	*uri;
		int		 own;
	} cases[] = {
		{ NULL, "/api/auth/login", 1 },
		{ "", "/api/auth/login", 1 },
		{ NULL, "/api/auth/login?x=1", 1 },
		{ NULL, "/v1/login", 1 },		/* mounted elsewhere */
		{ NULL, "/api/auth/log%69n", 1 },	/* as servers decode */
		{ NULL, "/api/auth/log%69N", 0 },
		{ NULL, NULL, 1 },			/* no REQUEST_URI */
		{ "/x", "/api/auth/login/x", 0 },
		{ "/not-found", "/api/auth/nope", 0 },
		{ "/x", NULL, 0 },
		{ NULL, "/api/auth/login2", 0 },	/* lighttpd's prefix */
		{ NULL, "/api/auth/logi", 0 },
		{ NULL, "/api/auth/", 0 },
		{ NULL, "/api/auth", 0 },
		{ NULL, "/api/auth/login/", 0 },
		{ NULL, "/api/auth/nope?/login", 0 },
		{ NULL, "/api/auth/login%00", 0 },
		{ NULL, "/api/auth/login%2", 0 },
		{ NULL, "/api/auth/%zzlogin", 0 },
		{ NULL, "", 0 },
	};
	struct fake	*f;
	struct req	 r;
	size_t		 i;
	int		 got;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		abort();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* No method, no body: the route comes first. */
		f->method = "GET";
		f->pathinfo = cases[i].pathinfo;
		f->uri = cases[i].uri;
		f->outlen = 0;
		f->out[0] = '\0';
		{
			struct req_io io = { fake_param, fake_read, fake_write,
			    f };

			req_init(&r, &io, NULL);
		}
		got = req_route(&r, "login");
		tap_ok(cases[i].own ? got == 1 && r.status == 0 : got == 0 &&
		    answered(f, 404, "{\"detail\":\"Not Found\"}"),
		    "route: PATH_INFO %s, REQUEST_URI %s: %s",
		    cases[i].pathinfo ? cases[i].pathinfo : "unset",
		    cases[i].uri ? cases[i].uri : "unset",
		    cases[i].own ? "the endpoint" : "404");
		req_free(&r);
	}
	free(f);
}

/*
 * Bytes after the JSON value: white space only, and a NUL is none
 * (RFC 8259, 2).
 */
/* A body, and whether it parses: len 0 for strlen(body). */
struct body_case {
	const char	*what;
	const char	*body;
	size_t		 len;
	int		 ok;
};

/*
 * Send each of the n bodies of cases as a JSON POST: accepted, or a 422
 * decode error; each check named by where and the case.
 */
static void
check_bodies(const struct body_case *cases, size_t n, const char *where)
{
	struct fake	*f;
	struct req	 r;
	char		 clen[24];
	size_t		 i;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		abort();
	f->method = "POST";
	f->ctype = "application/json";
	for (i = 0; i < n; i++) {
		f->body = cases[i].body;
		f->bodylen = cases[i].len != 0 ? cases[i].len :
		    strlen(cases[i].body);
		(void)snprintf(clen, sizeof(clen), "%zu", f->bodylen);
		f->clen = clen;
		if (cases[i].ok)
			tap_ok(run(f, &r) == 1, "%s%s: accepted", where,
			    cases[i].what);
		else
			tap_ok(run(f, &r) == 0 && answered(f, 422,
			    JSON_INVALID), "%s%s: 422", where, cases[i].what);
		req_free(&r);
	}
	free(f);
}

static void
test_trailing(void)
{
	static const struct body_case cases[] = {
		{ "two NUL bytes", "{\"a\":\"b\"}\0\0", 11, 0 },
		{ "one NUL byte", "{\"a\":\"b\"}\0", 10, 0 },
		{ "a NUL and x", "{\"a\":\"b\"}\0x", 11, 0 },
		{ "a space and a NUL", "{\"a\":\"b\"} \0", 11, 0 },
		{ "CR LF tab space", "{\"a\":\"b\"}\r\n\t ", 13, 1 },
		{ "nothing", "{\"a\":\"b\"}", 9, 1 },
	};

	check_bodies(cases, sizeof(cases) / sizeof(cases[0]),
	    "after the object, ");
}

/*
 * json-c's strict mode still takes a member name in single quotes (and
 * what the fuzzer found behind one: braces that are no nesting); JSON
 * has no single quote outside a string.
 */
static void
test_single_quotes(void)
{
	static const struct body_case cases[] = {
		{ "a member name in single quotes",
		    "{'email':\"a@example.com\"}", 0, 0 },
		{ "a value in single quotes", "{\"email\":'a@example.com'}",
		    0, 0 },
		{ "a repeated name, once in single quotes",
		    "{\"password\":\"x\",'password':\"y\"}", 0, 0 },
		{ "the fuzzer's: 40 braces in a single-quoted name",
		    "{'a\"p\"]]{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{]]':1}", 0,
		    0 },
		{ "a single quote in a string", "{\"a\":\"it's\"}", 0, 1 },
		{ "an escaped quote, then a single quote in the string",
		    "{\"a\":\"\\\"'\"}", 0, 1 },
	};

	check_bodies(cases, sizeof(cases) / sizeof(cases[0]), "");
}

#define SECRET	"Secret-Marker-7f3a9c"
#define LONG	"0123456789abcdef0123456789abcdef0123456789abcdef"

/*
 * Nothing that held a secret of the body is freed unwiped, whatever the
 * request's fate: the body buffer, json-c's tokener buffer, the string
 * objects (nested ones too), a value a duplicate key would replace.
 */
static void
test_wiped(void)
{
	static const struct {
		const char	*what;
		const char	*body;
		const char	*clen;	/* NULL: the body's length */
		int		 status;	/* 0: accepted */
	} cases[] = {
		{ "accepted", "{\"email\":\"a@b.co\",\"password\":\""
		    SECRET "\"}", NULL, 0 },
		{ "a long value (the tokener's buffer grows)",
		    "{\"password\":\"" LONG LONG SECRET LONG LONG "\"}",
		    NULL, 0 },
		{ "nested in an object and an array", "{\"a\":{\"password\":"
		    "\"" SECRET "\"},\"b\":[\"" SECRET "\"]}", NULL, 0 },
		{ "with escapes", "{\"password\":\"\\\"" SECRET "\\u00e4\"}",
		    NULL, 0 },
		{ "a duplicate key", "{\"password\":\"" SECRET "\","
		    "\"password\":\"other\"}", NULL, 422 },
		{ "a duplicate key with an escape", "{\"password\":\"" SECRET
		    "\",\"p\\u0061ssword\":\"other\"}", NULL, 422 },
		{ "a duplicate nested key", "{\"a\":[{\"k\":\"" SECRET "\","
		    "\"k\":1}]}", NULL, 422 },
		{ "a short body", "{\"password\":\"" SECRET, "200", 400 },
		{ "a bad escape after it", "{\"password\":\"" SECRET "\","
		    "\"x\":\"\\q\"}", NULL, 422 },
		{ "an unterminated string", "{\"password\":\"" SECRET, NULL,
		    422 },
		{ "trailing bytes", "{\"password\":\"" SECRET "\"} x", NULL,
		    422 },
		{ "too deep", "{\"password\":\"" SECRET "\",\"a\":"
		    "[[[[[[[[1]]]]]]]]}", NULL, 422 },
		{ "not an object", "[\"" SECRET "\"]", NULL, 422 },
		{ "a bare string", "\"" SECRET "\"", NULL, 422 },
	};
	struct fake	*f;
	struct req	 r;
	char		 clen[24];
	size_t		 i;
	int		 got;

	if (!memwatch_ok) {
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			tap_ok(1, "# SKIP wiped, %s: no memwatch here",
			    cases[i].what);
		return;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL)
		abort();
	f->method = "POST";
	f->ctype = "application/json";
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f->body = cases[i].body;
		f->bodylen = strlen(cases[i].body);
		(void)snprintf(clen, sizeof(clen), "%zu", f->bodylen);
		f->clen = cases[i].clen != NULL ? cases[i].clen : clen;
		memwatch_start(SECRET);
		got = run(f, &r);
		req_free(&r);
		tap_ok(memwatch_found == 0 && (cases[i].status == 0 ? got == 1 :
		    got == 0 && answered(f, cases[i].status, NULL)),
		    "%s: %s, and no freed block holds the secret (%lu did)",
		    cases[i].what, cases[i].status == 0 ? "accepted" :
		    "refused", memwatch_found);
	}
	/* A number keeps its text beside its value (json-c, for doubles). */
	f->body = "{\"otp\":31415.9265358979e-4}";
	f->bodylen = strlen(f->body);
	(void)snprintf(clen, sizeof(clen), "%zu", f->bodylen);
	f->clen = clen;
	memwatch_start("31415.9265358979");
	got = run(f, &r);
	req_free(&r);
	tap_ok(got == 1 && memwatch_found == 0,
	    "a number's text is wiped too (%lu blocks held it)",
	    memwatch_found);
	memwatch_start(NULL);
	free(f);
}

/*
 * Run req_check_method() on one request; return its result, the answer
 * (if any) in f->out.
 */
static int
run_method(struct fake *f, struct req *r, const char *allow)
{
	struct req_io	 io = { fake_param, fake_read, fake_write, f };

	f->pos = f->reads = f->outlen = 0;
	f->out[0] = '\0';
	req_init(r, &io, NULL);
	return req_check_method(r, allow);
}

struct case_method {
	const char	*method;
	const char	*allow;
	int		 status;	/* 0: accepted */
};

static const struct case_method methods[] = {
	{ "GET", "GET, HEAD", 0 },
	{ "HEAD", "GET, HEAD", 0 },
	{ "POST", "GET, HEAD", 405 },
	{ "get", "GET, HEAD", 405 },
	{ "GE", "GET, HEAD", 405 },
	{ "GETS", "GET, HEAD", 405 },
	{ "HEAD,", "GET, HEAD", 405 },
	{ "", "GET, HEAD", 405 },
	{ "DELETE", "*", 0 },
	{ "", "*", 0 },
};

/*
 * req_check_method(): the methods of a program that takes no body, and
 * never a byte of the body read.
 */
static void
test_method(void)
{
	struct fake	*f;
	struct req	 r;
	size_t		 i;
	int		 ok;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		abort();
	/* A body that must never be read. */
	f->ctype = "text/plain";
	f->clen = "5";
	f->body = "hello";
	f->bodylen = 5;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		f->method = methods[i].method;
		ok = run_method(f, &r, methods[i].allow);
		tap_ok(methods[i].status == 0 ? ok == 1 && f->outlen == 0 :
		    ok == 0 && answered(f, methods[i].status, NULL),
		    "method \"%s\" allowing \"%s\": %d", methods[i].method,
		    methods[i].allow, methods[i].status);
		if (methods[i].status == 405)
			tap_ok(strstr(f->out, "\r\nAllow: GET, HEAD\r\n") !=
			    NULL, "method: 405 names Allow: GET, HEAD");
		tap_ok(f->reads == 0, "method: no byte of the body read");
		req_free(&r);
	}
	free(f);
}

static void
test_bool(void)
{
	struct fake	*f;
	struct req	 r;
	char		 clen[16];
	int		 v;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		abort();
	f->method = "POST";
	f->ctype = "application/json";
	f->body = "{\"t\":true,\"f\":false,\"s\":\"true\",\"n\":1,"
	    "\"z\":null,\"a\":[]}";
	f->bodylen = strlen(f->body);
	(void)snprintf(clen, sizeof(clen), "%zu", f->bodylen);
	f->clen = clen;
	tap_ok(run(f, &r) == 1, "bool: body accepted");
	tap_ok(req_bool(&r, "t", 0, &v) == 0 && v == 1, "bool: true is 1");
	tap_ok(req_bool(&r, "f", 1, &v) == 0 && v == 0, "bool: false is 0");
	tap_ok(req_bool(&r, "missing", 1, &v) == 0 && v == 1 &&
	    req_bool(&r, "missing", 0, &v) == 0 && v == 0,
	    "bool: a missing field is the default");
	tap_ok(!req_has_errors(&r), "bool: no error yet");
	tap_ok(req_bool(&r, "s", 0, &v) == -1 && v == 0 &&
	    req_bool(&r, "n", 0, &v) == -1 && req_bool(&r, "z", 0, &v) == -1 &&
	    req_bool(&r, "a", 0, &v) == -1,
	    "bool: \"true\", 1, null and [] are refused");
	tap_ok(json_object_array_length(r.errors) == 4 &&
	    strstr(json_object_to_json_string_ext(r.errors,
	    JSON_C_TO_STRING_PLAIN), "{\"loc\":[\"body\",\"s\"],\"msg\":"
	    "\"Input should be a valid boolean\",\"type\":\"bool_type\"}") !=
	    NULL, "bool: pydantic's bool_type detail, one per field");
	req_free(&r);
	free(f);
}

int
main(void)
{

	test_fronts();
	test_limits();
	test_fields();
	test_route();
	test_trailing();
	test_single_quotes();
	test_wiped();
	test_method();
	test_bool();
	return tap_done();
}
