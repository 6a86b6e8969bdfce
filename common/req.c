/* SPDX-License-Identifier: ISC */
/*
 * The request front end.  Checks run in the documented order, each
 * failure answered at once by resp.c:
 *	method (405), Content-Type (415), CONTENT_LENGTH (411, 400, 413
 *	before any byte of the body is read), the body read exactly, then
 *	strict JSON (422): UTF-8, depth, no trailing bytes, an object.
 * Fields are then taken one by one with req_string(), which records a
 * FastAPI-shaped 422 detail for each missing or mistyped field.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>

#include "client.h"
#include "log.h"
#include "req.h"
#include "resp.h"

static const char *
req_trim_left(const char *s)
{

	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/*
 * Return 1 if the Content-Type is application/json, in any case, with at
 * most a charset parameter naming UTF-8 (RFC 8259, 8.1: JSON is UTF-8).
 */
static int
req_content_type_ok(const char *ct)
{
	static const char	 json[] = "application/json";
	const char		*p;
	size_t			 n;

	if (ct == NULL)
		return 0;
	ct = req_trim_left(ct);
	if (strncasecmp(ct, json, sizeof(json) - 1) != 0)
		return 0;
	p = req_trim_left(ct + sizeof(json) - 1);
	if (*p == '\0')
		return 1;
	if (*p++ != ';')
		return 0;
	p = req_trim_left(p);
	if (strncasecmp(p, "charset=", 8) != 0)
		return 0;
	p += 8;
	if (*p == '"') {
		p++;
		n = strcspn(p, "\"");
		if (p[n] != '"')
			return 0;
	} else
		n = strcspn(p, " \t;");
	if (!((n == 5 && strncasecmp(p, "utf-8", 5) == 0) ||
	    (n == 4 && strncasecmp(p, "utf8", 4) == 0)))
		return 0;
	p += n;
	if (*p == '"')
		p++;
	return *req_trim_left(p) == '\0';
}

/*
 * Parse CONTENT_LENGTH strictly: decimal digits only.  Returns 0 and
 * sets *len (capped at REQ_BODY_MAX + 1, so huge values stay "too
 * large" rather than overflowing), or -1 if it is not a number.
 */
static int
req_content_length(const char *s, size_t *len)
{
	size_t	 v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (size_t)(*s - '0');
		if (v > REQ_BODY_MAX)
			v = REQ_BODY_MAX + 1;
	}
	*len = v;
	return 0;
}

/*
 * Read exactly len bytes of body into a fresh buffer.  Returns 0, or -1
 * if the input ended early or failed.
 */
static int
req_read_body(struct req *r, size_t len)
{
	size_t	 got = 0;
	long	 n;

	/* Two spare bytes: a space that ends a bare number, and a NUL. */
	if ((r->body = malloc(len + 2)) == NULL)
		return -1;
	while (got < len) {
		n = r->io.read(r->io.arg, r->body + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	r->bodylen = len;
	r->body[len] = ' ';
	r->body[len + 1] = '\0';
	return 0;
}

/*
 * Return 1 if the n bytes at s are well-formed UTF-8 (RFC 3629, 4):
 * no overlong forms, no surrogates, nothing above U+10FFFF.  json-c's own
 * check lets overlong forms through.
 */
static int
req_utf8_ok(const unsigned char *s, size_t n)
{
	size_t		 i = 0, k, need;
	unsigned char	 c, lo, hi;

	while (i < n) {
		c = s[i++];
		if (c < 0x80)
			continue;
		lo = 0x80;
		hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf)
			need = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			if (c == 0xe0)
				lo = 0xa0;	/* overlong */
			else if (c == 0xed)
				hi = 0x9f;	/* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			if (c == 0xf0)
				lo = 0x90;	/* overlong */
			else if (c == 0xf4)
				hi = 0x8f;	/* above U+10FFFF */
		} else
			return 0;
		if (n - i < need)
			return 0;
		for (k = 0; k < need; k++, lo = 0x80, hi = 0xbf)
			if (s[i + k] < lo || s[i + k] > hi)
				return 0;
		i += need;
	}
	return 1;
}

/*
 * Return 1 if the n bytes at s hold no control character (RFC 8259: none
 * in a string, only tab, LF and CR between tokens), else 0.  json-c takes
 * raw ones inside strings even in strict mode, and a NUL after the value
 * would pass the check for trailing white space.
 */
static int
req_controls_ok(const unsigned char *s, size_t n)
{
	size_t	 i;
	int	 instr = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < 0x20 && (instr ||
		    (s[i] != '\t' && s[i] != '\n' && s[i] != '\r')))
			return 0;
		if (instr && s[i] == '\\') {
			if (++i < n && s[i] < 0x20)
				return 0;
		} else if (s[i] == '"')
			instr = !instr;
	}
	return 1;
}

static void
req_json_invalid(struct req *r, const char *msg, const char *type)
{

	req_invalid(r, NULL, msg, type);
	resp_invalid(r);
}

/*
 * Parse the body as one JSON object with json-c in strict mode: UTF-8
 * validated, nesting at most REQ_JSON_DEPTH, nothing but white space
 * after the value.  Returns 1 with r->json set, or 0 after answering 422.
 */
static int
req_parse_json(struct req *r)
{
	struct json_tokener	*tok;
	struct json_object	*obj;
	size_t			 end, i;
	int			 ok = 0;

	if (!req_utf8_ok((const unsigned char *)r->body, r->bodylen) ||
	    !req_controls_ok((const unsigned char *)r->body, r->bodylen)) {
		req_json_invalid(r, "JSON decode error", "json_invalid");
		return 0;
	}
	/* json-c's depth counts one more than the levels it allows. */
	if ((tok = json_tokener_new_ex(REQ_JSON_DEPTH + 1)) == NULL) {
		resp_error(r, 500, "Internal server error");
		return 0;
	}
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	/* The spare space after the body ends a bare top-level number. */
	obj = json_tokener_parse_ex(tok, r->body, (int)r->bodylen + 1);
	if (json_tokener_get_error(tok) != json_tokener_success)
		goto out;	/* a body of "null" parses to NULL: fine here */
	end = json_tokener_get_parse_end(tok);
	for (i = end; i < r->bodylen + 1; i++)
		if (strchr(" \t\r\n", r->body[i]) == NULL)
			goto out;
	ok = 1;
out:
	json_tokener_free(tok);
	if (!ok) {
		json_object_put(obj);
		req_json_invalid(r, "JSON decode error", "json_invalid");
		return 0;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		req_json_invalid(r,
		    "Input should be a valid dictionary or object",
		    "model_attributes_type");
		return 0;
	}
	r->json = obj;
	return 1;
}

/*
 * Start request r on the given I/O: note the time and the client's
 * address (REMOTE_ADDR, or behind the trusted proxies what they forward;
 * proxies may be NULL).  Nothing is read yet.
 */
void
req_init(struct req *r, const struct req_io *io,
    const struct client_proxies *proxies)
{
	const char	*s;

	memset(r, 0, sizeof(*r));
	r->io = *io;
	(void)clock_gettime(CLOCK_MONOTONIC, &r->start);
	s = req_param(r, "REQUEST_METHOD");
	r->method = s != NULL ? s : "";
	client_address(proxies, req_param(r, "REMOTE_ADDR"),
	    req_param(r, "HTTP_X_FORWARDED_FOR"), r->client,
	    sizeof(r->client));
}

/*
 * Return the server variable name (a CGI meta-variable such as
 * CONTENT_TYPE), borrowed until the request ends, or NULL.
 */
const char *
req_param(struct req *r, const char *name)
{

	return r->io.param(r->io.arg, name);
}

/*
 * Run every check on the request line, headers and body, and parse the
 * body.  Returns 1 when r->json holds the body's JSON object, or 0 when
 * the request has already been answered: 404, 405, 415, 411, 400, 413,
 * 422, or 500.
 */
int
req_read_json(struct req *r)
{
	static const char *const allow[] = { "Allow: POST", NULL };
	const char	*s;
	size_t		 len;

	/* Servers route by prefix: /api/auth/register/x is no endpoint. */
	if ((s = req_param(r, "PATH_INFO")) != NULL && *s != '\0') {
		resp_error(r, 404, "Not Found");
		return 0;
	}
	if (strcmp(r->method, "POST") != 0) {
		resp_error_headers(r, 405, "Method Not Allowed", allow);
		return 0;
	}
	if (!req_content_type_ok(req_param(r, "CONTENT_TYPE"))) {
		resp_error(r, 415, "Content-Type must be application/json");
		return 0;
	}
	if ((s = req_param(r, "CONTENT_LENGTH")) == NULL || *s == '\0') {
		resp_error(r, 411, "Content-Length required");
		return 0;
	}
	if (req_content_length(s, &len) == -1) {
		resp_error(r, 400, "Invalid Content-Length");
		return 0;
	}
	if (len > REQ_BODY_MAX) {
		resp_error(r, 413, "Request body too large");
		return 0;
	}
	if (req_read_body(r, len) == -1) {
		resp_error(r, 400, "Incomplete request body");
		return 0;
	}
	return req_parse_json(r);
}

/*
 * Return the string field name of the body, with its length in *lenp,
 * borrowed from r->json.  A field that is missing, not a string, or
 * holds a NUL byte is recorded as a 422 detail and NULL is returned.
 * Other fields of the body are ignored, as FastAPI does.
 */
const char *
req_string(struct req *r, const char *name, size_t *lenp)
{
	struct json_object	*v;
	const char		*s;
	size_t			 len;

	*lenp = 0;
	if (r->json == NULL)
		return NULL;
	if (!json_object_object_get_ex(r->json, name, &v)) {
		req_invalid(r, name, "Field required", "missing");
		return NULL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		req_invalid(r, name, "Input should be a valid string",
		    "string_type");
		return NULL;
	}
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (strlen(s) != len) {
		req_invalid(r, name, "String must not contain NUL characters",
		    "string_type");
		return NULL;
	}
	*lenp = len;
	return s;
}

/*
 * Record a 422 detail {"loc": ["body", field], "msg", "type"} (field NULL
 * for the body as a whole).  The answer is sent by resp_invalid().
 */
void
req_invalid(struct req *r, const char *field, const char *msg,
    const char *type)
{
	struct json_object	*e = NULL, *loc = NULL;

	if (r->errors == NULL && (r->errors = json_object_new_array()) == NULL)
		return;
	if ((e = json_object_new_object()) == NULL ||
	    (loc = json_object_new_array()) == NULL)
		goto fail;
	if (json_object_array_add(loc, json_object_new_string("body")) != 0 ||
	    (field != NULL && json_object_array_add(loc,
	    json_object_new_string(field)) != 0))
		goto fail;
	if (json_object_object_add(e, "loc", loc) != 0) {
		loc = NULL;
		goto fail;
	}
	loc = NULL;
	if (json_object_object_add(e, "msg",
	    json_object_new_string(msg)) != 0 ||
	    json_object_object_add(e, "type",
	    json_object_new_string(type)) != 0 ||
	    json_object_array_add(r->errors, e) != 0)
		goto fail;
	return;
fail:
	json_object_put(loc);
	json_object_put(e);
}

/*
 * Return 1 if any 422 detail has been recorded, else 0.
 */
int
req_has_errors(const struct req *r)
{

	return r->errors != NULL && json_object_array_length(r->errors) > 0;
}

/*
 * Ask for fn(arg) to run after the answer has been delivered and the
 * connection to the web server finished, so that slow work (sending
 * mail) neither delays the client nor shows in the response time.  arg
 * must outlive the request: it is not the request's.
 */
void
req_after(struct req *r, void (*fn)(void *), void *arg)
{

	r->after = fn;
	r->after_arg = arg;
}

/*
 * Return the milliseconds since req_init().
 */
long
req_elapsed_ms(const struct req *r)
{
	struct timespec	 now;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - r->start.tv_sec) * 1000 +
	    (long)(now.tv_nsec - r->start.tv_nsec) / 1000000;
}

/*
 * Release everything the request holds; the body, which may hold a
 * password, is wiped first.
 */
void
req_free(struct req *r)
{
	struct json_object_iterator	 it, end;
	struct json_object		*v;

	/* json-c keeps its own copies of the strings: wipe those too. */
	if (r->json != NULL) {
		it = json_object_iter_begin(r->json);
		end = json_object_iter_end(r->json);
		for (; !json_object_iter_equal(&it, &end);
		    json_object_iter_next(&it)) {
			v = json_object_iter_peek_value(&it);
			if (json_object_is_type(v, json_type_string))
				explicit_bzero(
				    (char *)(uintptr_t)json_object_get_string(v),
				    (size_t)json_object_get_string_len(v));
		}
	}
	json_object_put(r->json);
	json_object_put(r->errors);
	if (r->body != NULL) {
		explicit_bzero(r->body, r->bodylen + 2);
		free(r->body);
	}
	memset(r, 0, sizeof(*r));
}
