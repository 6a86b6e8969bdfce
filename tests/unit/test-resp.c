/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for resp.c: the one writer of every answer.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "req.h"
#include "resp.h"
#include "capture.h"
#include "memwatch.h"
#include "tap.h"

static void
start(struct req *r)
{
	capture_reset();
	req_init(r, &capture_io, NULL);
}

static int
has_header(const char *h)
{
	char		 want[256];
	const char	*end = strstr(capture_out, "\r\n\r\n");

	(void)snprintf(want, sizeof(want), "\r\n%s\r\n", h);
	return end != NULL && strstr(capture_out, want) != NULL &&
	    strstr(capture_out, want) < end + 2;
}

static const char *
body(void)
{
	const char	*b = strstr(capture_out, "\r\n\r\n");

	return b == NULL ? "" : b + 4;
}

/*
 * resp_add() and resp_append() own the value whatever happens: it is in
 * the container, or it was freed (seen by memwatch, its marker in a
 * freed block).
 */
static void
test_add(void)
{
	struct json_object	*o, *a, *v;
	size_t			 n, len = 0;

	o = json_object_new_object();
	a = json_object_new_array();
	tap_ok(resp_add(o, "k", json_object_new_string("v")) == 0 &&
	    json_object_object_get_ex(o, "k", &v) &&
	    strcmp(json_object_get_string(v), "v") == 0,
	    "resp_add adds");
	tap_ok(resp_append(a, json_object_new_string("v")) == 0 &&
	    json_object_array_length(a) == 1, "resp_append appends");
	tap_ok(resp_add(o, "n", NULL) == -1 && !json_object_object_get_ex(o,
	    "n", NULL) && resp_append(a, NULL) == -1 &&
	    json_object_array_length(a) == 1,
	    "a NULL value (its constructor failed) is a failure");
	if (!memwatch_ok) {
		tap_ok(1, "# SKIP resp_add frees on failure: no memwatch here");
		tap_ok(1, "# SKIP resp_append frees on failure: no memwatch "
		    "here");
	} else {
		v = json_object_new_string("value-marker-1");
		memwatch_start("value-marker-1");
		memwatch_fail_in = 1;	/* json-c's copy of the key */
		tap_ok(resp_add(o, "new-key", v) == -1 &&
		    memwatch_found == 1 &&
		    !json_object_object_get_ex(o, "new-key", NULL),
		    "resp_add: an add that ran out of memory freed the value");
		/*
		 * Append until an append needs memory (the array's list
		 * grows): that one runs out.
		 */
		memwatch_start("value-marker-2");
		for (n = 0; n < 4096; n++) {
			len = json_object_array_length(a);
			v = json_object_new_string("value-marker-2");
			memwatch_fail_in = 1;
			if (resp_append(a, v) == -1)
				break;
			memwatch_fail_in = 0;
		}
		tap_ok(n < 4096 && memwatch_found == 1 &&
		    json_object_array_length(a) == len,
		    "resp_append: an append that ran out of memory freed the "
		    "value");
		memwatch_fail_in = 0;
		memwatch_start(NULL);
	}
	json_object_put(o);
	json_object_put(a);
}

int
main(void)
{
	static const char *const extra[] = { "Allow: POST", "Pragma: no-cache",
	    NULL };
	struct req		 r;
	struct json_object	*o;
	char			 cl[64];

	start(&r);
	resp_error(&r, 409, "Email already registered");
	tap_ok(strncmp(capture_out, "Status: 409 Conflict\r\n", 22) == 0,
	    "status line first");
	tap_ok(has_header("Content-Type: application/json"),
	    "Content-Type header");
	tap_ok(has_header("Cache-Control: no-store"), "Cache-Control header");
	tap_ok(has_header("X-Content-Type-Options: nosniff"),
	    "X-Content-Type-Options header");
	tap_ok(strcmp(body(), "{\"detail\":\"Email already registered\"}") ==
	    0, "FastAPI error body");
	(void)snprintf(cl, sizeof(cl), "Content-Length: %zu", strlen(body()));
	tap_ok(has_header(cl), "Content-Length matches the body");
	tap_ok(r.status == 409, "status recorded for the log line");

	resp_error(&r, 500, "Internal server error");
	tap_ok(strstr(capture_out, "500") == NULL && r.status == 409,
	    "a second answer is refused");
	req_free(&r);

	start(&r);
	resp_error_headers(&r, 405, "Method Not Allowed", extra);
	tap_ok(has_header("Allow: POST") && has_header("Pragma: no-cache"),
	    "extra headers written");
	req_free(&r);

	start(&r);
	o = json_object_new_object();
	json_object_object_add(o, "path", json_object_new_string("a/b\"<"));
	resp_json(&r, 201, o, NULL);
	json_object_put(o);
	tap_ok(strncmp(capture_out, "Status: 201 Created\r\n", 21) == 0 &&
	    strcmp(body(), "{\"path\":\"a/b\\\"<\"}") == 0,
	    "JSON escaped by json-c, slashes left alone");
	req_free(&r);

	start(&r);
	req_invalid(&r, "email", "Invalid email address", "value_error");
	req_invalid(&r, NULL, "JSON decode error", "json_invalid");
	resp_invalid(&r);
	tap_ok(strncmp(capture_out, "Status: 422 ", 12) == 0 && strcmp(body(),
	    "{\"detail\":[{\"loc\":[\"body\",\"email\"],\"msg\":\"Invalid "
	    "email address\",\"type\":\"value_error\"},{\"loc\":[\"body\"],"
	    "\"msg\":\"JSON decode error\",\"type\":\"json_invalid\"}]}") == 0,
	    "422 in FastAPI's shape");
	req_free(&r);

	start(&r);
	resp_json(&r, 500, NULL, NULL);
	tap_ok(strcmp(body(), "{\"detail\":\"Internal server error\"}") == 0,
	    "NULL body means internal error");
	req_free(&r);

	start(&r);
	resp_field(&r, 503, "status", "unavailable");
	tap_ok(strncmp(capture_out, "Status: 503 ", 12) == 0 &&
	    strcmp(body(), "{\"status\":\"unavailable\"}") == 0 &&
	    has_header("Cache-Control: no-store"), "a one-field object");
	req_free(&r);

	/* An authorizer's yes: its own headers only, no body. */
	start(&r);
	{
		static const char *const var[] = {
			"Variable-AUTH_USER_ID: 42", NULL
		};

		resp_bare(&r, 200, var);
	}
	tap_ok(strcmp(capture_out, "Status: 200 OK\r\n"
	    "Variable-AUTH_USER_ID: 42\r\n\r\n") == 0 && r.status == 200,
	    "a bare answer: status and the headers given, nothing else");
	resp_error(&r, 500, "Internal server error");
	tap_ok(strstr(capture_out, "500") == NULL,
	    "a bare answer is an answer: a second one is refused");
	req_free(&r);

	/* RFC 9110, 9.3.2: HEAD gets the headers of GET, no content. */
	start(&r);
	r.method = "HEAD";
	resp_field(&r, 200, "status", "ok");
	tap_ok(strncmp(capture_out, "Status: 200 OK\r\n", 16) == 0 &&
	    has_header("Content-Length: 15") && *body() == '\0' &&
	    capture_len == (size_t)(body() - capture_out),
	    "HEAD: GET's headers and Content-Length, no body");
	req_free(&r);

	test_add();

	/* Headers too long for the head: still an answer, never silence. */
	{
		static char	 big[1200];
		const char	*huge[] = { big, NULL };

		memset(big, 'a', sizeof(big) - 1);
		memcpy(big, "X-Big: ", 7);
		start(&r);
		resp_error_headers(&r, 429, "Too many requests", huge);
		tap_ok(r.status == 500 && strncmp(capture_out,
		    "Status: 500 Internal Server Error\r\n", 35) == 0 &&
		    strcmp(body(), "{\"detail\":\"Internal server "
		    "error\"}") == 0 && has_header("Cache-Control: no-store"),
		    "headers that do not fit: a 500 is sent, not nothing");
		req_free(&r);
	}
	start(&r);
	resp_text(&r, 200, "{\"a\":1}", NULL);
	tap_ok(r.status == 200 && strcmp(body(), "{\"a\":1}") == 0 &&
	    has_header("Content-Length: 7") &&
	    has_header("X-Content-Type-Options: nosniff"),
	    "resp_text sends a serialised body with every header");
	req_free(&r);

	tap_ok(strcmp(resp_reason(413), "Content Too Large") == 0 &&
	    strcmp(resp_reason(599), "Unknown") == 0, "reason phrases");
	return tap_done();
}
