/* SPDX-License-Identifier: ISC */
/*
 * Responses.  resp_json() is the one place a status line, headers and
 * body are written: every answer carries the same headers, and a request
 * is answered once only.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "log.h"
#include "req.h"
#include "resp.h"

#define RESP_HEAD_MAX	1024

/*
 * Add v to the JSON object o under key, or (resp_append) to the end of
 * the array a.  v is the call's whatever happens: json-c keeps a value
 * it could not add (out of memory only), so it is put here then.  A NULL
 * v (its constructor ran out of memory) is a failure too, so that
 * constructors can be nested in the call.  Return 0, or -1 on failure.
 */
int
resp_add(struct json_object *o, const char *key, struct json_object *v)
{

	if (v == NULL)
		return -1;
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

int
resp_append(struct json_object *a, struct json_object *v)
{

	if (v == NULL)
		return -1;
	if (json_object_array_add(a, v) != 0) {
		json_object_put(v);
		return -1;
	}
	return 0;
}

/*
 * Return the reason phrase of an HTTP status (RFC 9110, 15), or
 * "Unknown".
 */
const char *
resp_reason(int status)
{

	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

/*
 * Write the head of an answer into head (headsz bytes): the status line,
 * the headers every JSON answer carries (unless bare), the
 * NULL-terminated list of header lines extra (may be NULL), and the
 * empty line.  Returns its length, or -1 if it does not fit.
 */
static int
resp_head(char *head, size_t headsz, int status, int bare, size_t bodylen,
    const char *const *extra)
{
	size_t	 len;
	int	 n;

	if (bare)
		n = snprintf(head, headsz, "Status: %d %s\r\n", status,
		    resp_reason(status));
	else
		n = snprintf(head, headsz,
		    "Status: %d %s\r\n"
		    "Content-Type: application/json\r\n"
		    "Content-Length: %zu\r\n"
		    "Cache-Control: no-store\r\n"
		    "X-Content-Type-Options: nosniff\r\n",
		    status, resp_reason(status), bodylen);
	if (n < 0 || (size_t)n >= headsz)
		return -1;
	len = (size_t)n;
	for (; extra != NULL && *extra != NULL; extra++) {
		n = snprintf(head + len, headsz - len, "%s\r\n", *extra);
		if (n < 0 || (size_t)n >= headsz - len)
			return -1;
		len += (size_t)n;
	}
	if (len + 2 >= headsz || len > INT_MAX - 2)
		return -1;
	head[len++] = '\r';
	head[len++] = '\n';
	return (int)len;
}

/*
 * Claim request r for an answer of status.  Returns 0, or -1 (logged)
 * when it has been answered already: a request is answered once only.
 */
static int
resp_claim(struct req *r, int status)
{

	if (r->status != 0) {
		log_err("response", "second answer refused status=%d first=%d",
		    status, r->status);
		return -1;
	}
	return 0;
}

/*
 * Answer r with status and text, a JSON text already serialised (NULL,
 * used only when memory ran out, sends 500 "Internal server error"),
 * adding the NULL-terminated list of header lines extra (may be NULL).
 * Every answer says Content-Type application/json, Cache-Control
 * no-store and X-Content-Type-Options nosniff.  Headers that do not fit
 * (our bug, never the client's) become that 500 too: something is always
 * sent.  A second answer to one request is refused and logged.  text is
 * the caller's, who wipes it if it holds a secret.  The answer to HEAD
 * has the headers of GET's and no content (RFC 9110, 9.3.2).
 */
void
resp_text(struct req *r, int status, const char *text,
    const char *const *extra)
{
	static const char	 internal[] =
	    "{\"detail\":\"Internal server error\"}";
	char			 head[RESP_HEAD_MAX];
	size_t			 tlen;
	int			 hlen;

	if (resp_claim(r, status) == -1)
		return;
	if (text == NULL) {
		text = internal;
		status = 500;
		extra = NULL;
	}
	if ((hlen = resp_head(head, sizeof(head), status, 0, strlen(text),
	    extra)) == -1) {
		log_err("response", "headers too long status=%d", status);
		text = internal;
		status = 500;
		hlen = resp_head(head, sizeof(head), status, 0, strlen(text),
		    NULL);
	}
	r->status = status;
	tlen = r->method != NULL && strcmp(r->method, "HEAD") == 0 ? 0 :
	    strlen(text);
	if (r->io.write(r->io.arg, head, (size_t)hlen) == -1 ||
	    (tlen > 0 && r->io.write(r->io.arg, text, tlen) == -1))
		log_warn("response", "write failed status=%d client=%s",
		    status, r->client);
}

/*
 * Answer r with status and the header lines extra only: no body and no
 * header of our own.  This is a FastCGI authorizer's yes (FastCGI 1.0,
 * 6.3): the server passes its Variable-* headers to the program it
 * guards, and some (mod_authnz_fcgi) pass any other header on to the
 * client's answer too.  Headers that do not fit answer 500, as
 * resp_text() does; a second answer is refused as there.
 */
void
resp_bare(struct req *r, int status, const char *const *extra)
{
	char	 head[RESP_HEAD_MAX];
	int	 hlen;

	if (resp_claim(r, status) == -1)
		return;
	if ((hlen = resp_head(head, sizeof(head), status, 1, 0, extra)) ==
	    -1) {
		log_err("response", "headers too long status=%d", status);
		resp_text(r, 500, NULL, NULL);
		return;
	}
	r->status = status;
	if (r->io.write(r->io.arg, head, (size_t)hlen) == -1)
		log_warn("response", "write failed status=%d client=%s",
		    status, r->client);
}

/*
 * Answer r with status and the JSON value body (borrowed; NULL, used
 * only when memory ran out, sends 500 "Internal server error"), adding
 * the NULL-terminated list of header lines extra (may be NULL): see
 * resp_text().  json-c keeps the serialised text in body, and grows it
 * with realloc(), unwiped: a body that holds a secret is answered with
 * resp_text() instead (see token.c).
 */
void
resp_json(struct req *r, int status, struct json_object *body,
    const char *const *extra)
{
	const char	*text = NULL;

	if (body != NULL)
		text = json_object_to_json_string_ext(body,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	resp_text(r, status, text, extra);
}

/*
 * Answer r with status, the extra header lines (NULL-terminated, may be
 * NULL) and FastAPI's error body {"detail": detail}.
 */
void
resp_error_headers(struct req *r, int status, const char *detail,
    const char *const *extra)
{
	struct json_object	*o;

	if ((o = json_object_new_object()) == NULL ||
	    resp_add(o, "detail", json_object_new_string(detail)) == -1) {
		json_object_put(o);
		resp_json(r, 500, NULL, NULL);
		return;
	}
	resp_json(r, status, o, extra);
	json_object_put(o);
}

/*
 * Answer r with status and the object of one string field {name: value}
 * ({"message": ...}, {"status": ...}).
 */
void
resp_field(struct req *r, int status, const char *name, const char *value)
{
	struct json_object	*o;

	if ((o = json_object_new_object()) == NULL ||
	    resp_add(o, name, json_object_new_string(value)) == -1) {
		json_object_put(o);
		resp_json(r, 500, NULL, NULL);
		return;
	}
	resp_json(r, status, o, NULL);
	json_object_put(o);
}

/*
 * Answer r with status and {"detail": detail}.
 */
void
resp_error(struct req *r, int status, const char *detail)
{

	resp_error_headers(r, status, detail, NULL);
}

/*
 * Answer r with 422 and every detail recorded by req_invalid() and
 * req_string(), in FastAPI's shape {"detail": [{"loc", "msg", "type"}]},
 * or 500 if memory ran out while one was recorded.
 */
void
resp_invalid(struct req *r)
{
	struct json_object	*o;

	if (r->errors == NULL ||
	    json_object_array_length(r->errors) != r->ninvalid ||
	    (o = json_object_new_object()) == NULL) {
		resp_error(r, 500, "Internal server error");
		return;
	}
	if (resp_add(o, "detail", json_object_get(r->errors)) == -1) {
		json_object_put(o);
		resp_error(r, 500, "Internal server error");
		return;
	}
	resp_json(r, 422, o, NULL);
	json_object_put(o);
}
