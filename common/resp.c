/* SPDX-License-Identifier: ISC */
/*
 * Responses.  resp_json() is the one place a status line, headers and
 * body are written: every answer carries the same headers, and a request
 * is answered once only.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "log.h"
#include "req.h"
#include "resp.h"

#define RESP_HEAD_MAX	1024

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
 * Claim request r for an answer of status.  Returns 0, or -1 (logged)
 * if r has been answered already: a request is answered once only.
 */
static int
resp_claim(struct req *r, int status)
{

	if (r->status != 0) {
		log_err("response", "second answer refused status=%d first=%d",
		    status, r->status);
		return -1;
	}
	r->status = status;
	return 0;
}

/*
 * Send the answer of status whose first header lines are the hlen bytes
 * in head (RESP_HEAD_MAX bytes): add the header lines extra (may be
 * NULL), the blank line, and the tlen bytes of text.
 */
static void
resp_send(struct req *r, int status, char *head, size_t hlen,
    const char *const *extra, const char *text, size_t tlen)
{
	int	 n;

	for (; extra != NULL && *extra != NULL; extra++) {
		n = snprintf(head + hlen, RESP_HEAD_MAX - hlen, "%s\r\n",
		    *extra);
		if (n < 0 || (size_t)n >= RESP_HEAD_MAX - hlen) {
			log_err("response", "headers too long status=%d",
			    status);
			return;
		}
		hlen += (size_t)n;
	}
	if (hlen + 2 >= RESP_HEAD_MAX)
		return;
	head[hlen++] = '\r';
	head[hlen++] = '\n';
	/* RFC 9110, 9.3.2: HEAD gets GET's headers and no content. */
	if (r->method != NULL && strcmp(r->method, "HEAD") == 0)
		tlen = 0;
	if (r->io.write(r->io.arg, head, hlen) == -1 ||
	    (tlen > 0 && r->io.write(r->io.arg, text, tlen) == -1))
		log_warn("response", "write failed status=%d client=%s",
		    status, r->client);
}

/*
 * Answer r with status and the JSON value body (borrowed; NULL, used
 * only when memory ran out, sends 500 "Internal server error"), adding
 * the NULL-terminated list of header lines extra (may be NULL).  Every
 * answer says Content-Type application/json, Cache-Control no-store and
 * X-Content-Type-Options nosniff.  A second answer to one request is
 * refused and logged.
 */
void
resp_json(struct req *r, int status, struct json_object *body,
    const char *const *extra)
{
	char		 head[RESP_HEAD_MAX];
	const char	*text;
	size_t		 tlen;
	int		 n;

	if (resp_claim(r, status) == -1)
		return;
	text = body == NULL ? NULL : json_object_to_json_string_ext(body,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text == NULL) {
		text = "{\"detail\":\"Internal server error\"}";
		status = r->status = 500;
	}
	tlen = strlen(text);
	n = snprintf(head, sizeof(head),
	    "Status: %d %s\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n",
	    status, resp_reason(status), tlen);
	if (n < 0 || (size_t)n >= sizeof(head))
		return;
	resp_send(r, status, head, (size_t)n, extra, text, tlen);
}

/*
 * Answer r with status and the header lines extra only: no body and no
 * header of our own.  This is a FastCGI authorizer's yes (FastCGI 1.0,
 * 6.3): the server passes its Variable-* headers to the program it
 * guards, and some (mod_authnz_fcgi) pass any other header on to the
 * client's answer too.  A second answer is refused as by resp_json().
 */
void
resp_bare(struct req *r, int status, const char *const *extra)
{
	char	 head[RESP_HEAD_MAX];
	int	 n;

	if (resp_claim(r, status) == -1)
		return;
	n = snprintf(head, sizeof(head), "Status: %d %s\r\n", status,
	    resp_reason(status));
	if (n < 0 || (size_t)n >= sizeof(head))
		return;
	resp_send(r, status, head, (size_t)n, extra, NULL, 0);
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
	    json_object_object_add(o, "detail",
	    json_object_new_string(detail)) != 0) {
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
	    json_object_object_add(o, name,
	    json_object_new_string(value)) != 0) {
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
 * req_string(), in FastAPI's shape {"detail": [{"loc", "msg", "type"}]}.
 */
void
resp_invalid(struct req *r)
{
	struct json_object	*o;

	if (r->errors == NULL || (o = json_object_new_object()) == NULL) {
		resp_error(r, 500, "Internal server error");
		return;
	}
	if (json_object_object_add(o, "detail",
	    json_object_get(r->errors)) != 0) {
		json_object_put(o);
		resp_error(r, 500, "Internal server error");
		return;
	}
	resp_json(r, 422, o, NULL);
	json_object_put(o);
}
