/* SPDX-License-Identifier: ISC */
/*
 * libFuzzer target for the JSON layer of the front end: the input is a
 * request body, sent with the right method, type and length, through
 * req_read_json() (strict json-c, UTF-8, depth, trailing bytes), then
 * every field the endpoints read and every key of the object through
 * req_string(), and "all" through req_bool() (the type checks and 422
 * details).
 *
 * Properties (any broken one aborts):
 *  - a refused body gets exactly one 422 answer for the body as a whole;
 *  - an accepted body is one that a byte scan does not rule out (no
 *    control characters, no bytes UTF-8 forbids, braces at both ends)
 *    and no value in it lies inside more than REQ_JSON_DEPTH objects
 *    and arrays;
 *  - req_string() returns a string exactly as long as it says, without
 *    a NUL, or NULL with a 422 detail naming that field, and never both;
 *    req_bool() gives 0 or 1, or -1 with a detail;
 *  - an accepted body re-serialised by json-c is accepted again with the
 *    same value for every field (nothing depends on the spelling);
 *  - the 422 answer lists exactly the fields refused, and the 200 answer
 *    echoing the object is well-formed.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "oracle.h"
#include "req.h"
#include "resp.h"

#define FUZZ_NAMES	8

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The fields the endpoints read. */
static const char *const fuzz_fields[] = {
	"email", "username", "password", "refresh_token", "code",
	"new_password",
};

struct fuzz_field {
	const char	*name;
	const char	*value;		/* borrowed from the request, or NULL */
	size_t		 len;
};

/*
 * Send body (len bytes) as a well-formed POST to a fresh request r on f.
 * Returns what req_read_json() returned.
 */
static int
fuzz_send(struct oracle_io *f, struct req *r, const char *body, size_t len)
{
	static char	 clen[32];
	struct req_io	 io;

	oracle_io_init(f, &io);
	(void)snprintf(clen, sizeof(clen), "%zu", len);
	if (oracle_io_add(f, "REQUEST_METHOD", "POST") == -1 ||
	    oracle_io_add(f, "CONTENT_TYPE", "application/json") == -1 ||
	    oracle_io_add(f, "CONTENT_LENGTH", clen) == -1 ||
	    oracle_io_add(f, "REMOTE_ADDR", "192.0.2.7") == -1)
		abort();
	f->body = body;
	f->bodylen = len;
	f->chunk = len % 7;
	req_init(r, &io, NULL);
	return req_read_json(r);
}

/*
 * Return 1 if the 422 answer's details hold one for field name, or for
 * the body as a whole when name is NULL.
 */
static int
fuzz_detail_for(struct json_object *resp, const char *name)
{
	struct json_object	*d, *e, *loc, *v;
	size_t			 i;

	if (!json_object_object_get_ex(resp, "detail", &d))
		return 0;
	for (i = 0; i < json_object_array_length(d); i++) {
		e = json_object_array_get_idx(d, i);
		if (!json_object_object_get_ex(e, "loc", &loc))
			continue;
		if (name == NULL && json_object_array_length(loc) == 1)
			return 1;
		if (name != NULL && json_object_array_length(loc) == 2 &&
		    (v = json_object_array_get_idx(loc, 1)) != NULL &&
		    strcmp(json_object_get_string(v), name) == 0)
			return 1;
	}
	return 0;
}

/*
 * Read the fields and up to FUZZ_NAMES - 1 keys of r's object into
 * fields; return how many.  Checks each answer of req_string().
 */
static size_t
fuzz_fields_read(struct req *r, struct fuzz_field *fields, size_t max)
{
	struct json_object_iterator	 it, end;
	size_t				 n = 0, i;

	for (i = 0; i < sizeof(fuzz_fields) / sizeof(fuzz_fields[0]) &&
	    n < max; i++)
		fields[n++].name = fuzz_fields[i];
	it = json_object_iter_begin(r->json);
	end = json_object_iter_end(r->json);
	for (; !json_object_iter_equal(&it, &end) && n < max;
	    json_object_iter_next(&it))
		fields[n++].name = json_object_iter_peek_name(&it);
	for (i = 0; i < n; i++) {
		fields[i].value = req_string(r, fields[i].name,
		    &fields[i].len);
		if (fields[i].value == NULL ? fields[i].len != 0 :
		    strlen(fields[i].value) != fields[i].len)
			oracle_fail("req_string(\"%s\"): length %zu wrong",
			    fields[i].name, fields[i].len);
		if (fields[i].value == NULL && !req_has_errors(r))
			oracle_fail("req_string(\"%s\"): NULL without a 422 "
			    "detail", fields[i].name);
	}
	return n;
}

/*
 * The libFuzzer entry point.  Always returns 0.
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct oracle_io	 f, f2;
	struct fuzz_field	 a[FUZZ_NAMES], b[FUZZ_NAMES];
	struct oracle_resp	 resp;
	struct req		 r, r2;
	const char		*text, *body = (const char *)data;
	char			*copy;
	size_t			 n, i, refused = 0;
	int			 all, all2, rb;

	if (size > REQ_BODY_MAX)
		return 0;
	if (!fuzz_send(&f, &r, body, size)) {
		oracle_response(&f, &resp);
		if (resp.status != 422 || !fuzz_detail_for(resp.json, NULL))
			oracle_fail("refused body: status %d", resp.status);
		oracle_resp_free(&resp);
		req_free(&r);
		return 0;
	}
	if (f.outlen != 0)
		oracle_fail("accepted body, but something was written");
	if (oracle_json_refused(body, size))
		oracle_fail("accepted a body that is not a JSON object");
	if (oracle_json_depth(body, size) > REQ_JSON_DEPTH)
		oracle_fail("accepted a body nested deeper than %d",
		    REQ_JSON_DEPTH);
	n = fuzz_fields_read(&r, a, FUZZ_NAMES);
	rb = req_bool(&r, "all", 0, &all);
	if ((rb != 0 && rb != -1) || (all != 0 && all != 1) ||
	    (rb == -1 && all != 0))
		oracle_fail("req_bool(\"all\"): %d, %d", rb, all);

	/* The same object, as json-c writes it, must mean the same. */
	text = json_object_to_json_string_ext(r.json,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (text == NULL || (copy = strdup(text)) == NULL)
		abort();
	if (strlen(copy) > REQ_BODY_MAX)
		goto answer;
	if (!fuzz_send(&f2, &r2, copy, strlen(copy)))
		oracle_fail("re-serialised body refused: %s", copy);
	if (fuzz_fields_read(&r2, b, FUZZ_NAMES) != n)
		oracle_fail("re-serialised body has other keys");
	for (i = 0; i < n; i++)
		if (strcmp(a[i].name, b[i].name) != 0 ||
		    (a[i].value == NULL) != (b[i].value == NULL) ||
		    a[i].len != b[i].len || (a[i].value != NULL &&
		    memcmp(a[i].value, b[i].value, a[i].len) != 0))
			oracle_fail("field \"%s\" changed when re-serialised",
			    a[i].name);
	if (req_bool(&r2, "all", 0, &all2) != rb || all2 != all)
		oracle_fail("field \"all\" changed when re-serialised");
	req_free(&r2);

answer:
	free(copy);
	if (req_has_errors(&r))
		resp_invalid(&r);
	else
		resp_json(&r, 200, r.json, NULL);
	oracle_response(&f, &resp);
	for (i = 0; i < n; i++) {
		if (a[i].value != NULL)
			continue;
		refused++;
		if (resp.status != 422 ||
		    !fuzz_detail_for(resp.json, a[i].name))
			oracle_fail("no 422 detail for \"%s\"", a[i].name);
	}
	if (rb == -1) {
		refused++;
		if (resp.status != 422 || !fuzz_detail_for(resp.json, "all"))
			oracle_fail("no 422 detail for \"all\"");
	}
	if ((refused == 0) != (resp.status == 200))
		oracle_fail("status %d with %zu fields refused", resp.status,
		    refused);
	oracle_resp_free(&resp);
	req_free(&r);
	return 0;
}
