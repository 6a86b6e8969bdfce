/* SPDX-License-Identifier: ISC */
/*
 * POST /api/auth/register: create an account.
 *
 * Body {"email", "username", "password"}.  Answers
 *	201 {"id", "email", "username", "is_active", "created_at"};
 *	409 {"detail": "Email already registered"} or
 *	    {"detail": "Username already taken"}, decided by the unique
 *	    indexes, so concurrent registrations cannot both win;
 *	422 listing every invalid field;
 *	429 with Retry-After past THROTTLE_REGISTER_ADDRESS;
 *	404, 405, 411, 413, 415, 400 from the front end (req.c);
 *	503 when the database is away, 500 on internal failure.
 */
#include "config.h"

#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <json-c/json.h>

#include "app.h"
#include "log.h"
#include "pw.h"
#include "req.h"
#include "resp.h"
#include "throttle.h"
#include "user.h"
#include "valid.h"

/*
 * Answer 201 with the new account, never its hash.  created_at is ISO
 * 8601 in UTC, with the Z that the FastAPI backend's naive datetimes
 * lacked.
 */
static void
register_created(struct req *r, const struct user *u)
{
	struct json_object	*o;
	struct tm		 tm;
	time_t			 t = (time_t)u->created_at;
	char			 when[32];

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0 ||
	    (o = json_object_new_object()) == NULL) {
		resp_error(r, 500, "Internal server error");
		return;
	}
	if (resp_add(o, "id", json_object_new_int64(u->id)) == -1 ||
	    resp_add(o, "email", json_object_new_string(u->email)) == -1 ||
	    resp_add(o, "username",
	    json_object_new_string(u->username)) == -1 ||
	    resp_add(o, "is_active",
	    json_object_new_boolean(u->is_active)) == -1 ||
	    resp_add(o, "created_at", json_object_new_string(when)) == -1)
		resp_error(r, 500, "Internal server error");
	else
		resp_json(r, 201, o, NULL);
	json_object_put(o);
}

static void
register_handle(struct app *app, struct req *r)
{
	char			 email[VALID_EMAIL_MAX + 1];
	char			 hash[PW_HASH_MAX];
	const char		*rawemail, *username, *password, *msg;
	size_t			 elen, ulen, plen;
	int			 email_ok = 0, username_ok = 0;
	enum auth_status	 rc;
	struct user		 u;
	struct throttle_hit	 hit;

	hash[0] = '\0';
	rawemail = req_string(r, "email", &elen);
	username = req_string(r, "username", &ulen);
	password = req_string(r, "password", &plen);
	if (rawemail != NULL) {
		if ((msg = valid_email(rawemail, elen, email,
		    sizeof(email))) != NULL)
			req_invalid(r, "email", msg, "value_error");
		else
			email_ok = 1;
	}
	if (username != NULL) {
		if ((msg = valid_username(username, ulen)) != NULL)
			req_invalid(r, "username", msg, "value_error");
		else
			username_ok = 1;
	}
	if (password != NULL && (msg = valid_password(password, plen,
	    email_ok ? email : NULL, username_ok ? username : NULL)) != NULL)
		req_invalid(r, "password", msg, "value_error");
	if (req_has_errors(r)) {
		resp_invalid(r);
		return;
	}
	hit.kind = THROTTLE_REGISTER_ADDRESS;
	hit.key = r->client;
	if (!app_throttle(app, r, &hit, 1))
		return;

	if ((rc = pw_hash(password, app->cfg.bcrypt_rounds, hash,
	    sizeof(hash))) != AUTH_OK) {
		app_fail(r, rc);
		return;
	}
	rc = user_create(app->db, email, username, hash, &u);
	OPENSSL_cleanse(hash, sizeof(hash));
	switch (rc) {
	case AUTH_OK:
		log_info("register", "user=%lld", u.id);
		register_created(r, &u);
		break;
	case AUTH_ERR_DUP_EMAIL:
		resp_error(r, 409, "Email already registered");
		break;
	case AUTH_ERR_DUP_USERNAME:
		resp_error(r, 409, "Username already taken");
		break;
	default:
		app_fail(r, rc);
		break;
	}
}

int
main(void)
{
	static const struct app_endpoint ep = {
		.prog = "auth-register",
		.handle = register_handle,
		.flags = APP_BCRYPT,
	};

	return app_main(&ep);
}
