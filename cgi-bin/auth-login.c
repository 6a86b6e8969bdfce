/* SPDX-License-Identifier: ISC */
/*
 * POST /api/auth/login: check a password, start a refresh session and
 * issue a token pair.
 *
 * Body {"email", "password"}.  Answers
 *	200 {"access_token", "refresh_token", "token_type", "expires_in"};
 *	401 {"detail": "Invalid email or password"}, the same bytes for an
 *	    unknown email (or a look-alike of a stored one) as for a wrong
 *	    password, after the same bcrypt work whatever the stored hash;
 *	403 {"detail": "Account is disabled"}, only once the password is
 *	    right;
 *	422 for a missing or mistyped field or an email no account can
 *	    have (valid_email_lookup(): UTF-8 addresses are fine);
 *	429 with Retry-After past THROTTLE_LOGIN_ACCOUNT (failures per
 *	    email, known or not), THROTTLE_LOGIN_ADDRESS_FAILURES or
 *	    THROTTLE_LOGIN_ADDRESS (attempts per client address);
 *	404, 405, 411, 413, 415, 400 from the front end (req.c);
 *	503 when the database is away, 500 on internal failure.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "app.h"
#include "log.h"
#include "pw.h"
#include "req.h"
#include "resp.h"
#include "session.h"
#include "throttle.h"
#include "token.h"
#include "user.h"
#include "valid.h"

/*
 * If the stored hash is cheaper than BCRYPT_ROUNDS, store one at the
 * configured cost.  Returns 1 if it did; a failure is logged and does not
 * fail the login.
 */
static int
login_upgrade_hash(struct app *app, const struct user_login *u,
    const char *password)
{
	char	 hash[PW_HASH_MAX];
	int	 done = 0;

	if (pw_cost(u->hash) >= app->cfg.bcrypt_rounds)
		return 0;
	if (pw_hash(password, app->cfg.bcrypt_rounds, hash, sizeof(hash)) ==
	    AUTH_OK && user_rehash(app->db, u->id, u->hash, hash) == AUTH_OK)
		done = 1;
	else
		log_warn("login", "rehash failed user=%lld", u->id);
	OPENSSL_cleanse(hash, sizeof(hash));
	return done;
}

/*
 * Take the body's fields: the email, normalised for a lookup into email
 * (VALID_EMAIL_LOOKUP_MAX + 1 bytes), and the password, borrowed from the
 * request.  Returns 1, or 0 after answering 422.
 */
static int
login_read(struct req *r, char *email, size_t emailsz,
    const char **password)
{
	const char	*raw, *msg;
	size_t		 elen, plen;

	raw = req_string(r, "email", &elen);
	*password = req_string(r, "password", &plen);
	if (raw != NULL && (msg = valid_email_lookup(raw, elen, email,
	    emailsz)) != NULL)
		req_invalid(r, "email", msg, "value_error");
	if (req_has_errors(r)) {
		resp_invalid(r);
		return 0;
	}
	return 1;
}

/*
 * Count the attempt against the login throttles.  Decided before the
 * account is looked up, on the email as given: a throttled unknown email
 * looks exactly like a throttled account.  Failures are counted now and
 * taken back on success.  Returns 1 if the login may go on, else 0 once
 * answered (429 or 503).
 */
static int
login_throttle(struct app *app, struct req *r, const char *email)
{
	struct throttle_hit	 hits[3];

	hits[0].kind = THROTTLE_LOGIN_ACCOUNT;
	hits[0].key = email;
	hits[1].kind = THROTTLE_LOGIN_ADDRESS_FAILURES;
	hits[1].key = r->client;
	hits[2].kind = THROTTLE_LOGIN_ADDRESS;
	hits[2].key = r->client;
	return app_throttle(app, r, hits, 3);
}

/*
 * The password was right: answer 403 for a disabled account, else rehash
 * a cheap hash, clear the failure counts, start a session and answer 200
 * with its token pair (503 or 500 if the session cannot be stored).
 */
static void
login_succeed(struct app *app, struct req *r, const struct user_login *u,
    const char *email, const char *password)
{
	struct session		 s;
	enum auth_status	 rc;
	long long		 now;
	int			 rehashed;

	if (!u->is_active) {
		log_info("login", "failure reason=disabled user=%lld client=%s",
		    u->id, r->client);
		resp_error(r, 403, "Account is disabled");
		return;
	}
	rehashed = login_upgrade_hash(app, u, password);
	now = (long long)time(NULL);
	if ((rc = throttle_login_ok(app->db, &app->cfg, email, r->client,
	    now)) != AUTH_OK)
		log_warn("login", "cannot clear failure counts user=%lld "
		    "status=%s", u->id, auth_strerror(rc));
	rc = session_start(app->db, u->id, now,
	    cfg_refresh_lifetime(&app->cfg), &s);
	if (rc != AUTH_OK) {
		app_fail(r, rc);
		return;
	}
	log_info("login", "success user=%lld client=%s%s", u->id, r->client,
	    rehashed ? " rehashed=yes" : "");
	token_respond(app, r, &s, now);
}

/*
 * The account is the one whose stored address is the email given
 * (user_by_email(): ASCII case is the only fold, a look-alike is no
 * account).  Every failure, whatever the account (none, a look-alike,
 * a hash that is no bcrypt, a hash from before BCRYPT_ROUNDS was raised),
 * costs the bcrypt work of one check at BCRYPT_ROUNDS (pw_check()) and
 * answers the same 401 bytes.
 */
static void
login_handle(struct app *app, struct req *r)
{
	char			 email[VALID_EMAIL_LOOKUP_MAX + 1];
	const char		*password;
	struct user_login	 u;
	enum auth_status	 rc;

	if (!login_read(r, email, sizeof(email), &password) ||
	    !login_throttle(app, r, email))
		return;
	rc = user_by_email(app->db, email, &u);
	if (rc != AUTH_OK && rc != AUTH_ERR_NOT_FOUND) {
		app_fail(r, rc);
		return;
	}
	if (pw_check(password, rc == AUTH_OK ? u.hash : NULL,
	    app->cfg.bcrypt_rounds))
		login_succeed(app, r, &u, email, password);
	else {
		if (rc == AUTH_OK)
			log_info("login", "failure reason=password user=%lld "
			    "client=%s", u.id, r->client);
		else
			log_info("login", "failure reason=unknown-email "
			    "client=%s", r->client);
		resp_error(r, 401, "Invalid email or password");
	}
	OPENSSL_cleanse(&u, sizeof(u));
}

int
main(void)
{
	static const struct app_endpoint ep = {
		.prog = "auth-login",
		.handle = login_handle,
		.flags = APP_BCRYPT,
	};

	return app_main(&ep);
}
