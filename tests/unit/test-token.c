/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for token.c: the pair a login or refresh answers with.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "app.h"
#include "jwt.h"
#include "req.h"
#include "session.h"
#include "capture.h"
#include "memwatch.h"
#include "tap.h"
#include "token.h"

#define SECRET	"an-example-secret-of-at-least-32-bytes"

static const char *
field(struct json_object *o, const char *name)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

int
main(void)
{
	struct app		 app;
	struct req		 r;
	struct session		 s;
	struct jwt_claims	 c;
	struct json_object	*o, *v;
	const unsigned char	*key = (const unsigned char *)SECRET;
	const char		*b, *at, *rt;
	char			 sig[64], asig[64];
	unsigned long		 found;
	long long		 now = 1800000000;

	memset(&app, 0, sizeof(app));
	app.cfg.jwt_secret_key = (char *)(uintptr_t)SECRET;
	app.cfg.jwt_secret_len = strlen(SECRET);
	app.cfg.access_token_expire_minutes = 15;
	memset(&s, 0, sizeof(s));
	(void)snprintf(s.id, sizeof(s.id), "%s",
	    "0123456789abcdef0123456789abcdef");
	(void)snprintf(s.jti, sizeof(s.jti), "%s",
	    "fedcba9876543210fedcba9876543210");
	s.user_id = 42;
	s.expires_at = now + 21 * 86400;

	req_init(&r, &capture_io, NULL);
	token_respond(&app, &r, &s, now);
	tap_ok(r.status == 200 &&
	    strncmp(capture_out, "Status: 200 OK\r\n", 16) == 0,
	    "answers 200");
	tap_ok(strstr(capture_out, "\r\nCache-Control: no-store\r\n") != NULL &&
	    strstr(capture_out, "\r\nPragma: no-cache\r\n") != NULL,
	    "Cache-Control: no-store and Pragma: no-cache");
	b = strstr(capture_out, "\r\n\r\n");
	o = b != NULL ? json_tokener_parse(b + 4) : NULL;
	tap_ok(o != NULL, "body is JSON");
	tap_ok(strcmp(field(o, "token_type"), "bearer") == 0,
	    "token_type bearer");
	tap_ok(json_object_object_get_ex(o, "expires_in", &v) &&
	    json_object_is_type(v, json_type_int) &&
	    json_object_get_int64(v) == 900, "expires_in is 15 minutes");

	at = field(o, "access_token");
	rt = field(o, "refresh_token");
	tap_ok(jwt_verify(key, strlen(SECRET), at, strlen(at), JWT_ACCESS, now,
	    &c) == AUTH_OK && c.sub == 42 && c.iat == now &&
	    c.exp == now + 900, "access token: sub, iat, exp");
	tap_ok(jwt_verify(key, strlen(SECRET), at, strlen(at), JWT_REFRESH,
	    now, &c) != AUTH_OK, "the access token is no refresh token");
	tap_ok(jwt_verify(key, strlen(SECRET), rt, strlen(rt), JWT_REFRESH,
	    now, &c) == AUTH_OK && c.sub == 42 &&
	    strcmp(c.sid, s.id) == 0 && strcmp(c.jti, s.jti) == 0 &&
	    c.exp == s.expires_at, "refresh token: sid, jti, session's end");
	tap_ok(jwt_verify(key, strlen(SECRET), rt, strlen(rt), JWT_ACCESS, now,
	    &c) != AUTH_OK, "the refresh token is no access token");

	/*
	 * No freed block holds a token's signature (what makes it worth
	 * stealing): the same pair is made again, the same to the byte,
	 * with the heap watched for both signatures.
	 */
	if (!memwatch_ok)
		tap_ok(1, "# SKIP no freed block holds a token: no memwatch");
	else {
		(void)snprintf(sig, sizeof(sig), "%s", strrchr(rt, '.') + 1);
		(void)snprintf(asig, sizeof(asig), "%s", strrchr(at, '.') + 1);
		json_object_put(o);
		req_free(&r);
		capture_reset();
		req_init(&r, &capture_io, NULL);
		memwatch_start(sig);
		token_respond(&app, &r, &s, now);
		req_free(&r);
		found = memwatch_found;
		memwatch_start(asig);
		capture_reset();
		req_init(&r, &capture_io, NULL);
		token_respond(&app, &r, &s, now);
		req_free(&r);
		memwatch_start(NULL);
		tap_ok(strstr(capture_out, asig) != NULL && found == 0 &&
		    memwatch_found == 0, "no freed block holds the refresh "
		    "or the access token's signature (%lu, %lu did)", found,
		    memwatch_found);
		return tap_done();
	}
	json_object_put(o);
	req_free(&r);
	return tap_done();
}
