/* SPDX-License-Identifier: ISC */
/*
 * The request front end.  Checks run in the documented order, each
 * failure answered at once by resp.c:
 *	the path (404, req_route()), method (405), Content-Type (415),
 *	CONTENT_LENGTH (411, 400, 413 before any byte of the body is
 *	read), the body read exactly, then strict JSON (422): UTF-8, no
 *	repeated member name, depth, no trailing bytes, an object.
 * Fields are then taken one by one with req_string(), which records a
 * FastAPI-shaped 422 detail for each missing or mistyped field.
 *
 * The body holds passwords, codes and tokens.  Every copy this process
 * makes of it is wiped before it is freed (req_free(), req_tokenize()).
 * Copies out of our reach: libfcgi reads FCGI_STDIN records into its
 * stream's buffer (private to fcgiapp.c), where they stay until the next
 * request's records overwrite them; the web server's own buffers; and
 * the member names json-c duplicates while parsing, which name fields.
 * Plain CGI reads stdin with read(2), into our buffer only.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <json-c/json.h>
#include <json-c/printbuf.h>

#include "client.h"
#include "log.h"
#include "req.h"
#include "resp.h"
#include "rng.h"
#include "valid.h"

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
 * if the input ended early or failed.  Whatever happens, r->bodysize
 * says how much to wipe.
 */
static int
req_read_body(struct req *r, size_t len)
{
	size_t	 got = 0;
	long	 n;

	/* Two spare bytes: a space that ends a bare number, and a NUL. */
	if ((r->body = calloc(1, len + 2)) == NULL)
		return -1;
	r->bodysize = len + 2;
	while (got < len) {
		n = r->io.read(r->io.arg, r->body + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	r->bodylen = len;
	r->body[len] = ' ';
	return 0;
}

static int
req_json_space(char c)
{

	/* RFC 8259, 2; a NUL is not one (strchr(" \t\r\n", c) says it is). */
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Return 1 if the n bytes at s start with four hex digits, else 0.
 */
static int
req_hex4(const char *s, size_t n)
{
	size_t	 i;

	if (n < 4)
		return 0;
	for (i = 0; i < 4; i++)
		if (rng_hex_value((unsigned char)s[i]) == -1)
			return 0;
	return 1;
}

/*
 * Return a copy of the n bytes of JSON text at s in which every string
 * that is not a member name has its content replaced by "x"s, escape
 * sequences included, so that the copy parses exactly when s does but
 * holds none of its values; an escape json-c would refuse is kept, so
 * that the copy fails to parse as s would.  *members is set to the number
 * of ":" outside strings: in a text that parses, the number of members
 * of all its objects.  Returns NULL when out of memory.  The caller
 * wipes and frees the copy: the string that json-c would stop in (at an
 * end of input or a bad escape) is left as it is, and all after it.
 */
static char *
req_skeleton(const char *s, size_t n, size_t *members)
{
	char	*k;
	size_t	 i, j, start = 0;
	int	 in = 0;

	*members = 0;
	if ((k = malloc(n)) == NULL)
		return NULL;
	memcpy(k, s, n);
	for (i = 0; i < n; i++) {
		if (!in) {
			if (s[i] == '"') {
				in = 1;
				start = i + 1;
			} else if (s[i] == ':')
				(*members)++;
			continue;
		}
		if (s[i] == '\\') {
			if (i + 1 < n && s[i + 1] != '\0' &&
			    strchr("\"\\/bfnrt", s[i + 1]) != NULL)
				i++;
			else if (i + 1 < n && s[i + 1] == 'u' &&
			    req_hex4(s + i + 2, n - i - 2))
				i += 5;
			else	/* json-c stops here: so does the copy */
				break;
			continue;
		}
		if (s[i] != '"')
			continue;
		in = 0;
		for (j = i + 1; j < n && req_json_space(s[j]); j++)
			continue;
		if (j < n && s[j] == ':')
			continue;		/* a member name: kept */
		memset(k + start, 'x', i - start);
	}
	return k;
}

/*
 * Wipe every string below v (values, and the member names json-c keeps),
 * however deep, before it is freed: json-c frees without wiping.
 */
static void
req_wipe_json(struct json_object *v)
{
	struct json_object_iterator	 it, end;
	size_t				 i, n;
	char				*u;

	if (v == NULL)
		return;
	switch (json_object_get_type(v)) {
	case json_type_string:
		explicit_bzero((char *)(uintptr_t)json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
		break;
	case json_type_array:
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			req_wipe_json(json_object_array_get_idx(v, i));
		break;
	case json_type_object:
		it = json_object_iter_begin(v);
		end = json_object_iter_end(v);
		for (; !json_object_iter_equal(&it, &end);
		    json_object_iter_next(&it)) {
			req_wipe_json(json_object_iter_peek_value(&it));
			explicit_bzero((char *)(uintptr_t)
			    json_object_iter_peek_name(&it),
			    strlen(json_object_iter_peek_name(&it)));
		}
		break;
	case json_type_double:
		/* The tokener keeps a double's text, for printing it back. */
		if ((u = json_object_get_userdata(v)) != NULL)
			explicit_bzero(u, strlen(u));
		break;
	default:
		break;
	}
}

/*
 * Return the number of members of every object in v, however deep.
 */
static size_t
req_json_members(struct json_object *v)
{
	struct json_object_iterator	 it, end;
	size_t				 i, n, sum = 0;

	if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			sum += req_json_members(
			    json_object_array_get_idx(v, i));
	} else if (json_object_is_type(v, json_type_object)) {
		it = json_object_iter_begin(v);
		end = json_object_iter_end(v);
		for (; !json_object_iter_equal(&it, &end);
		    json_object_iter_next(&it), sum++)
			sum += req_json_members(
			    json_object_iter_peek_value(&it));
	}
	return sum;
}

/*
 * Parse the n bytes at s (the last one white space, which ends a bare
 * number) as one JSON value with json-c in strict mode: UTF-8 validated,
 * nesting at most REQ_JSON_DEPTH, nothing but white space after the
 * value.  Returns 1 and sets *out (which may be NULL for "null"), 0 if s
 * is no such text, or -1 when out of memory.
 *
 * json-c copies every string into its tokener's buffer, and grows that
 * buffer with realloc(), which leaves the old one behind unwiped: the
 * buffer is made as large as s first (no string is longer), so it never
 * moves, and wiped before it is freed.  (json-c 0.16 has no other way in:
 * tok->pb is deprecated but public.)  What json-c frees on its own during
 * the parse is left alone here: see req_parse_json().
 */
static int
req_tokenize(const char *s, size_t n, struct json_object **out)
{
	struct json_tokener	*tok;
	struct json_object	*obj;
	size_t			 i;
	int			 ok = 0;

	*out = NULL;
	/* json-c's depth counts one more than the levels it allows. */
	if (n > INT_MAX - 8 ||
	    (tok = json_tokener_new_ex(REQ_JSON_DEPTH + 1)) == NULL)
		return -1;
	if (printbuf_memset(tok->pb, 0, 0, (int)n + 8) == -1) {
		json_tokener_free(tok);
		return -1;
	}
	printbuf_reset(tok->pb);
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, s, (int)n);
	if (json_tokener_get_error(tok) == json_tokener_success) {
		ok = 1;
		for (i = json_tokener_get_parse_end(tok); i < n; i++)
			if (!req_json_space(s[i]))
				ok = 0;
	}
	explicit_bzero(tok->pb->buf, (size_t)tok->pb->size);
	json_tokener_free(tok);
	if (!ok) {
		req_wipe_json(obj);
		json_object_put(obj);
		return 0;
	}
	*out = obj;
	return 1;
}

/*
 * Return 1 if the n bytes at s hold none of what RFC 8259 forbids and
 * json-c takes even in strict mode, else 0: a control character (none in
 * a string, only tab, LF and CR between tokens), and a single quote
 * outside a string (json-c takes a member name in single quotes, which
 * req_skeleton() would not see as one).
 */
static int
req_strict_ok(const unsigned char *s, size_t n)
{
	size_t	 i;
	int	 instr = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < 0x20 && (instr ||
		    (s[i] != '\t' && s[i] != '\n' && s[i] != '\r')))
			return 0;
		if (!instr && s[i] == '\'')
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
 * Parse the body as one JSON object (see req_tokenize()).  Returns 1
 * with r->json set, or 0 after answering 422 (or 500).
 *
 * An object with a repeated member name is refused: json-c keeps the
 * last value and frees the one it replaces without wiping it, in the
 * middle of the parse.  So the body's skeleton (req_skeleton(): the same
 * text, every value blanked) is parsed first; if it does not parse,
 * neither would the body, and if json-c's objects hold fewer members than
 * the skeleton has, a name was repeated (by json-c's own rules: after
 * unescaping, up to a NUL).  Only a body that parses with no repeated
 * name is parsed for real, and such a parse frees nothing of it: every
 * copy of its strings is then in r->json, wiped by req_free().  What
 * cannot be wiped: member names, which json-c duplicates while parsing;
 * they name fields and hold no secret.
 */
static int
req_parse_json(struct req *r)
{
	struct json_object	*obj = NULL;
	char			*skel;
	size_t			 members, n = r->bodylen + 1;
	int			 rc;

	/* json-c lets overlong forms, controls and single quotes through. */
	if (!valid_utf8(r->body, r->bodylen) ||
	    !req_strict_ok((const unsigned char *)r->body, r->bodylen)) {
		req_json_invalid(r, "JSON decode error", "json_invalid");
		return 0;
	}
	if ((skel = req_skeleton(r->body, n, &members)) == NULL) {
		resp_error(r, 500, "Internal server error");
		return 0;
	}
	rc = req_tokenize(skel, n, &obj);
	if (rc == 1 && req_json_members(obj) != members)
		rc = 2;
	req_wipe_json(obj);
	json_object_put(obj);
	explicit_bzero(skel, n);
	free(skel);
	obj = NULL;
	if (rc == 1)
		rc = req_tokenize(r->body, n, &obj);
	switch (rc) {
	case 1:
		break;
	case 2:
		req_json_invalid(r, "JSON object has a repeated key",
		    "json_invalid");
		return 0;
	case 0:
		req_json_invalid(r, "JSON decode error", "json_invalid");
		return 0;
	default:
		resp_error(r, 500, "Internal server error");
		return 0;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		req_wipe_json(obj);
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
 * the request has already been answered: 405, 415, 411, 400, 413, 422,
 * or 500.
 */
int
req_read_json(struct req *r)
{
	static const char *const allow[] = { "Allow: POST", NULL };
	const char	*s;
	size_t		 len;

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
 * Return 1 if method is one of the methods in allow, a list as an Allow
 * header gives it ("GET, HEAD"), or allow is "*"; else 0.  Methods are
 * case-sensitive (RFC 9110, 9.1).
 */
static int
req_method_allowed(const char *method, const char *allow)
{
	const char	*p = allow;
	size_t		 n, mlen = strlen(method);

	if (strcmp(allow, "*") == 0)
		return 1;
	while (*p != '\0') {
		n = strcspn(p, ", \t");
		if (n == mlen && mlen > 0 && strncmp(p, method, n) == 0)
			return 1;
		p += n;
		p += strspn(p, ", \t");
	}
	return 0;
}

/*
 * The method check of a request to a program that takes no body: one of
 * allow ("GET, HEAD"; "*" for any), or 405 with "Allow: <allow>".  No
 * byte of a body is read, and Content-Type and Content-Length are not
 * looked at.  Returns 1 when the handler may answer, or 0 when the
 * request has been answered.  The path is req_route()'s business.
 */
int
req_check_method(struct req *r, const char *allow)
{
	char		 hdr[128];
	const char	*headers[2];

	if (req_method_allowed(r->method, allow))
		return 1;
	(void)snprintf(hdr, sizeof(hdr), "Allow: %s", allow);
	headers[0] = hdr;
	headers[1] = NULL;
	resp_error_headers(r, 405, "Method Not Allowed", headers);
	return 0;
}

/*
 * Read the optional boolean field name of the body into *out: def when
 * the field is absent, else its value, which must be a JSON true or
 * false (no "true", 1 or null: pydantic's strict bool).  Returns 0, or
 * -1 after recording a 422 detail.
 */
int
req_bool(struct req *r, const char *name, int def, int *out)
{
	struct json_object	*v;

	*out = def;
	if (r->json == NULL ||
	    !json_object_object_get_ex(r->json, name, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean)) {
		req_invalid(r, name, "Input should be a valid boolean",
		    "bool_type");
		return -1;
	}
	*out = json_object_get_boolean(v) ? 1 : 0;
	return 0;
}

/*
 * Return 1 if the n bytes at s, percent-decoded (RFC 3986, 2.1), are
 * name, else 0 (a malformed escape is no match).
 */
static int
req_segment_is(const char *s, size_t n, const char *name)
{
	size_t	 i;
	int	 hi, lo;

	for (i = 0; i < n; i++, name++) {
		if (*name == '\0')
			return 0;
		if (s[i] != '%') {
			if (s[i] != *name)
				return 0;
			continue;
		}
		if (n - i < 3 ||
		    (hi = rng_hex_value((unsigned char)s[i + 1])) == -1 ||
		    (lo = rng_hex_value((unsigned char)s[i + 2])) == -1 ||
		    hi * 16 + lo != (unsigned char)*name)
			return 0;
		i += 2;
	}
	return *name == '\0';
}

/*
 * Return 1 if request r is for the endpoint name (a program serves the
 * URL path that ends in its name: auth-login /api/auth/login, wherever
 * the API is mounted), else answer 404 {"detail": "Not Found"}, as
 * FastAPI does for a path it has no route for, whatever the method, and
 * return 0.  A request is not for the endpoint when the web server found
 * a path below it (PATH_INFO: /api/auth/login/x, and the servers' routes
 * for the paths that are no endpoint, see httpd-conf/), or when the last
 * segment of the path the client asked for (REQUEST_URI, up to its
 * query) is not name: lighttpd hands /api/auth/login2 to the program of
 * /api/auth/login as it is.  Without REQUEST_URI (a server that does not
 * set it) only PATH_INFO is checked.  Checked before anything else, so
 * an unknown path gets 404 even with another method or no body.
 */
int
req_route(struct req *r, const char *name)
{
	const char	*s, *last;
	size_t		 n;

	if ((s = req_param(r, "PATH_INFO")) != NULL && *s != '\0')
		goto notfound;
	if ((s = req_param(r, "REQUEST_URI")) == NULL)
		return 1;
	n = strcspn(s, "?#");
	for (last = s + n; last > s && last[-1] != '/'; last--)
		continue;
	if (req_segment_is(last, (size_t)(s + n - last), name))
		return 1;
notfound:
	resp_error(r, 404, "Not Found");
	return 0;
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

	/* Counted even if memory runs out below: resp_invalid() then 500s. */
	r->ninvalid++;
	if (r->errors == NULL && (r->errors = json_object_new_array()) == NULL)
		return;
	if ((e = json_object_new_object()) == NULL ||
	    (loc = json_object_new_array()) == NULL)
		goto fail;
	if (resp_append(loc, json_object_new_string("body")) == -1 ||
	    (field != NULL &&
	    resp_append(loc, json_object_new_string(field)) == -1)) {
		json_object_put(loc);
		goto fail;
	}
	if (resp_add(e, "loc", loc) == -1 ||
	    resp_add(e, "msg", json_object_new_string(msg)) == -1 ||
	    resp_add(e, "type", json_object_new_string(type)) == -1)
		goto fail;
	(void)resp_append(r->errors, e);
	return;
fail:
	json_object_put(e);
}

/*
 * Return 1 if any 422 detail has been recorded, else 0.
 */
int
req_has_errors(const struct req *r)
{

	return r->ninvalid > 0;
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
 * Release everything the request holds; what may hold a password, code
 * or token (the body buffer, whole, however much of it was read, and
 * every string json-c made of it) is wiped first.
 */
void
req_free(struct req *r)
{

	req_wipe_json(r->json);
	json_object_put(r->json);
	json_object_put(r->errors);
	if (r->body != NULL) {
		explicit_bzero(r->body, r->bodysize);
		free(r->body);
	}
	memset(r, 0, sizeof(*r));
}
