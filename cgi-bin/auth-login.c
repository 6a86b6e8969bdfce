/* SPDX-License-Identifier: ISC */
/*
 * POST /api/auth/login: check a password, start a refresh session and
 * issue a token pair.
 *
 * Body {"email", "password"}.  Answers
 *	200 {"access_token", "refresh_token", "token_type", "expires_in"};
 *	401 {"detail": "Invalid email or password"}, the same bytes for an
 *	    unknown email as for a wrong password, after the same bcrypt
 *	    work (a dummy hash made at start-up stands in for the account);
 *	403 {"detail": "Account is disabled"}, only once the password is
 *	    right;
 *	422 for a missing or mistyped field or a malformed email;
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
#include "rng.h"
#include "session.h"
#include "throttle.h"
#include "token.h"
#include "user.h"
#include "valid.h"

static const enum db_q login_queries[] = {
	DB_Q_USER_BY_EMAIL,
	DB_Q_USER_REHASH,
	DB_Q_SESSION_INSERT,
	DB_Q_THROTTLE_HIT1,
	DB_Q_THROTTLE_HIT2,
	DB_Q_THROTTLE_HIT3,
	DB_Q_THROTTLE_LOGIN_OK,
};

/* Made once per process: verified against when no account matches. */
static char	 login_dummy_hash[PW_HASH_MAX];

/*
 * Make the dummy hash at the configured cost from a random password
 * nobody knows, so a miss costs what a hit costs.
 */
static int
login_init(struct app *app)
{
	char	 pw[33];

	if (rng_hex(pw, sizeof(pw), 16) != AUTH_OK ||
	    pw_hash(pw, app->cfg.bcrypt_rounds, login_dummy_hash,
	    sizeof(login_dummy_hash)) != AUTH_OK) {
		log_err("startup", "cannot make the dummy hash");
		OPENSSL_cleanse(pw, sizeof(pw));
		return -1;
	}
	OPENSSL_cleanse(pw, sizeof(pw));
	return 0;
}

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

static void
login_handle(struct app *app, struct req *r)
{
	char			 email[VALID_EMAIL_MAX + 1];
	const char		*rawemail, *password, *msg;
	size_t			 elen, plen;
	struct user_login	 u;
	struct session		 s;
	struct throttle_hit	 hits[3];
	enum auth_status	 rc;
	long long		 now;
	int			 ok, rehashed;

	rawemail = req_string(r, "email", &elen);
	password = req_string(r, "password", &plen);
	if (rawemail != NULL && (msg = valid_email(rawemail, elen, email,
	    sizeof(email))) != NULL)
		req_invalid(r, "email", msg, "value_error");
	if (req_has_errors(r)) {
		resp_invalid(r);
		return;
	}
	/*
	 * Decided before the account is looked up, on the email as given:
	 * a throttled unknown email looks exactly like a throttled account.
	 * Failures are counted now and taken back on success.
	 */
	hits[0].kind = THROTTLE_LOGIN_ACCOUNT;
	hits[0].key = email;
	hits[1].kind = THROTTLE_LOGIN_ADDRESS_FAILURES;
	hits[1].key = r->client;
	hits[2].kind = THROTTLE_LOGIN_ADDRESS;
	hits[2].key = r->client;
	if (!app_throttle(app, r, hits, 3))
		return;

	rc = user_by_email(app->db, email, &u);
	if (rc == AUTH_ERR_NOT_FOUND) {
		(void)pw_verify(password, login_dummy_hash);
		log_info("login", "failure reason=unknown-email client=%s",
		    r->client);
		resp_error(r, 401, "Invalid email or password");
		return;
	}
	if (rc != AUTH_OK) {
		app_fail(r, rc);
		return;
	}
	/*
	 * A stored value that is no bcrypt hash (a disabled "!" or "*", an
	 * old DES hash) never verifies; spend the same bcrypt work on the
	 * dummy so the time does not tell such an account apart.
	 */
	if (pw_cost(u.hash) == -1) {
		(void)pw_verify(password, login_dummy_hash);
		ok = 0;
	} else
		ok = pw_verify(password, u.hash);
	if (!ok) {
		log_info("login", "failure reason=password user=%lld client=%s",
		    u.id, r->client);
		resp_error(r, 401, "Invalid email or password");
		goto out;
	}
	if (!u.is_active) {
		log_info("login", "failure reason=disabled user=%lld client=%s",
		    u.id, r->client);
		resp_error(r, 403, "Account is disabled");
		goto out;
	}
	rehashed = login_upgrade_hash(app, &u, password);
	now = (long long)time(NULL);
	if ((rc = throttle_login_ok(app->db, &app->cfg, email, r->client,
	    now)) != AUTH_OK)
		log_warn("login", "cannot clear failure counts user=%lld "
		    "status=%s", u.id, auth_strerror(rc));
	rc = session_start(app->db, u.id, now,
	    cfg_refresh_lifetime(&app->cfg), &s);
	if (rc != AUTH_OK) {
		app_fail(r, rc);
		goto out;
	}
	log_info("login", "success user=%lld client=%s%s", u.id, r->client,
	    rehashed ? " rehashed=yes" : "");
	token_respond(app, r, &s, now);
out:
	OPENSSL_cleanse(&u, sizeof(u));
}

int
main(void)
{
	static const struct app_endpoint ep = {
		"auth-login",
		login_queries,
		sizeof(login_queries) / sizeof(login_queries[0]),
		login_init,
		login_handle,
		NULL,		/* POST with a JSON body */
		0,
	};

	return app_main(&ep);
}
