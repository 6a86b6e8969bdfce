/* SPDX-License-Identifier: ISC */
/*
 * auth-verify: the access-token check that web servers run in front of
 * the platform's other programs, as a FastCGI authorizer (FCGI_ROLE
 * AUTHORIZER: Apache mod_authnz_fcgi, lighttpd mod_fastcgi "mode" =>
 * "authorizer") or as a responder (nginx auth_request, plain CGI).  Not
 * an endpoint of the API: it answers for whatever request it guards,
 * whatever its method and path, and never reads a body.
 *
 * The request must carry "Authorization: Bearer <access token>", which
 * is verified as every program verifies tokens (jwt_verify(): HS256
 * only, the key from JWT_SECRET_KEY, type "access", expiry with
 * JWT_LEEWAY), without the database unless VERIFY_CHECK_ACCOUNT is set,
 * when the account must also exist and be active.  Answers
 *	200 with "Variable-AUTH_USER_ID: N" and nothing else as an
 *	    authorizer (the server hands AUTH_USER_ID=N to the program it
 *	    guards), or {"user_id": N} with "X-Auth-User-Id: N" as a
 *	    responder (for nginx's auth_request_set);
 *	401 {"detail": "Not authenticated"} with "WWW-Authenticate: Bearer"
 *	    without bearer credentials, and {"detail": "Could not validate
 *	    credentials"} with 'WWW-Authenticate: Bearer
 *	    error="invalid_token"' for a token that is malformed, does not
 *	    verify, or whose account is gone or disabled (RFC 6750, 3);
 *	503 when VERIFY_CHECK_ACCOUNT is set and the database is away (the
 *	    check fails closed), 500 on internal failure.
 * A yes writes no log line; a no writes its reason.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "app.h"
#include "bearer.h"
#include "jwt.h"
#include "log.h"
#include "req.h"
#include "resp.h"
#include "user.h"

/*
 * Answer r 401 for the reason given (logged), with the challenge of RFC
 * 6750, 3: an error code only when a token was presented.
 */
static void
verify_deny(struct req *r, int presented, const char *reason)
{
	static const char *const none[] = {
		"WWW-Authenticate: Bearer", NULL
	};
	static const char *const invalid[] = {
		"WWW-Authenticate: Bearer error=\"invalid_token\"", NULL
	};

	log_info("verify", "denied reason=%s client=%s", reason, r->client);
	if (presented)
		resp_error_headers(r, 401, "Could not validate credentials",
		    invalid);
	else
		resp_error_headers(r, 401, "Not authenticated", none);
}

/*
 * Answer r 200 for user uid.  An authorizer's yes is the id in a
 * Variable- header and nothing else, since a server may pass any other
 * header on to the answer of the program it guards; a responder's (for
 * nginx's auth_request_set) names it in X-Auth-User-Id, and the body
 * says it too.
 */
static void
verify_allow(struct req *r, long long uid)
{
	char			 hdr[64];
	const char		*headers[2], *role;
	struct json_object	*o;

	headers[0] = hdr;
	headers[1] = NULL;
	role = req_param(r, "FCGI_ROLE");
	if (role != NULL && strcmp(role, "AUTHORIZER") == 0) {
		(void)snprintf(hdr, sizeof(hdr), "Variable-AUTH_USER_ID: %lld",
		    uid);
		resp_bare(r, 200, headers);
		return;
	}
	(void)snprintf(hdr, sizeof(hdr), "X-Auth-User-Id: %lld", uid);
	if ((o = json_object_new_object()) == NULL ||
	    resp_add(o, "user_id", json_object_new_int64(uid)) == -1) {
		json_object_put(o);
		resp_error(r, 500, "Internal server error");
		return;
	}
	resp_json(r, 200, o, headers);
	json_object_put(o);
}

static void
verify_handle(struct app *app, struct req *r)
{
	const char		*tok;
	size_t			 len;
	struct jwt_claims	 c;
	enum auth_status	 rc;
	int			 active;

	switch (bearer_token(req_param(r, "HTTP_AUTHORIZATION"), &tok, &len)) {
	case BEARER_TOKEN:
		break;
	case BEARER_MALFORMED:
		verify_deny(r, 1, "malformed");
		return;
	default:
		verify_deny(r, 0, "no-bearer-token");
		return;
	}
	if (jwt_verify((const unsigned char *)app->cfg.jwt_secret_key,
	    app->cfg.jwt_secret_len, tok, len, JWT_ACCESS,
	    (long long)time(NULL), &c) != AUTH_OK) {
		verify_deny(r, 1, "token");
		return;
	}
	if (app->cfg.verify_check_account) {
		if ((rc = user_active(app->db, c.sub, &active)) != AUTH_OK) {
			app_fail(r, rc);
			return;
		}
		if (!active) {
			verify_deny(r, 1, "account");
			return;
		}
	}
	verify_allow(r, c.sub);
}

int
main(void)
{
	static const struct app_endpoint ep = {
		.prog = "auth-verify",
		.handle = verify_handle,
		.allow = "*",
		.flags = APP_ANY_PATH | APP_QUIET | APP_LAZY_DB,
	};

	return app_main(&ep);
}
