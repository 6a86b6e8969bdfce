/* SPDX-License-Identifier: ISC */
/*
 * Issue a token pair for a session and answer with it, in the FastAPI
 * backend's shape plus expires_in:
 *	{"access_token", "refresh_token", "token_type": "bearer",
 *	 "expires_in": <access lifetime in seconds>}
 * and check a refresh token presented back (refresh-token, logout).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "app.h"
#include "jwt.h"
#include "log.h"
#include "req.h"
#include "resp.h"
#include "session.h"
#include "throttle.h"
#include "token.h"

/*
 * Return 1 if tok is made of base64url characters and dots only, as
 * every token jwt_sign() makes is, so that it stands in a JSON string as
 * it is (RFC 8259, 7: nothing to escape); else 0.
 */
static int
token_plain(const char *tok)
{
	static const char	 b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_.";

	return *tok != '\0' && strspn(tok, b64url) == strlen(tok);
}

/*
 * Answer r with 200 and a new pair for session s at time now: an access
 * token for ACCESS_TOKEN_EXPIRE_MINUTES, and a refresh token naming the
 * session and its current generation that expires with the session.
 * Tokens are never cached (Cache-Control: no-store, Pragma: no-cache).
 * Answers 500 if signing fails.
 *
 * The body is written here into a buffer of ours, which is wiped after,
 * not by json-c: json-c grows its serialisation buffer with realloc()
 * and frees the old ones unwiped, so every token would be left behind
 * in freed memory.  Both tokens are checked to need no escaping; the
 * other members are constants and an integer.
 */
void
token_respond(struct app *app, struct req *r, const struct session *s,
    long long now)
{
	static const char *const nocache[] = { "Pragma: no-cache", NULL };
	const struct cfg	*cfg = &app->cfg;
	struct jwt_claims	 c;
	char			 access[JWT_MAX + 1], refresh[JWT_MAX + 1];
	char			 body[2 * JWT_MAX + 128];
	const unsigned char	*key;
	long long		 ttl;
	int			 n;

	key = (const unsigned char *)cfg->jwt_secret_key;
	ttl = (long long)cfg->access_token_expire_minutes * 60;
	memset(&c, 0, sizeof(c));
	c.type = JWT_ACCESS;
	c.sub = s->user_id;
	c.iat = now;
	c.exp = now + ttl;
	if (jwt_sign(key, cfg->jwt_secret_len, &c, access, sizeof(access)) !=
	    AUTH_OK)
		goto fail;
	c.type = JWT_REFRESH;
	c.exp = s->expires_at;
	memcpy(c.sid, s->id, sizeof(c.sid));
	memcpy(c.jti, s->jti, sizeof(c.jti));
	if (jwt_sign(key, cfg->jwt_secret_len, &c, refresh,
	    sizeof(refresh)) != AUTH_OK)
		goto fail;
	if (!token_plain(access) || !token_plain(refresh))
		goto fail;
	n = snprintf(body, sizeof(body), "{\"access_token\":\"%s\","
	    "\"refresh_token\":\"%s\",\"token_type\":\"bearer\","
	    "\"expires_in\":%lld}", access, refresh, ttl);
	if (n < 0 || (size_t)n >= sizeof(body))
		goto fail;
	resp_text(r, 200, body, nocache);
	goto out;
fail:
	log_err("token", "cannot issue tokens user=%lld", s->user_id);
	resp_error(r, 500, "Internal server error");
out:
	OPENSSL_cleanse(access, sizeof(access));
	OPENSSL_cleanse(refresh, sizeof(refresh));
	OPENSSL_cleanse(body, sizeof(body));
}

/*
 * Answer r for a refused refresh token: count the failure against the
 * client's address (THROTTLE_REFRESH_ADDRESS: refresh-token and logout
 * count together, failures only, since a valid signed token cannot be
 * guessed) and answer 401 {"detail": "Invalid refresh token"}, or 429
 * once the address is past the limit (503 if the count cannot be made).
 */
void
token_refresh_refuse(struct app *app, struct req *r)
{
	struct throttle_hit	 hit;

	hit.kind = THROTTLE_REFRESH_ADDRESS;
	hit.key = r->client;
	if (app_throttle(app, r, &hit, 1))
		resp_unauthorized(r, "Invalid refresh token");
}

/*
 * Verify token, len bytes, as a refresh token at time now into *c: one
 * of ours (jwt_verify()) or, while LEGACY_TOKENS allows, one the FastAPI
 * backend issued (jwt_verify_legacy()), and set *legacy to say which.
 * Ours are tried first: they are nearly every token presented, and the
 * two kinds are disjoint (ours name a session, legacy ones must not), so
 * the order changes only what a token costs.  Returns 1 with *c set, or
 * 0 once r has been answered by token_refresh_refuse() for a token that
 * does not verify, logged as the event given ("refresh", "logout") with
 * "failure reason=token".  A token that verifies costs no statement.
 */
int
token_refresh_claims(struct app *app, struct req *r, const char *event,
    const char *token, size_t len, long long now, struct jwt_claims *c,
    int *legacy)
{
	const unsigned char	*key;
	size_t			 keylen;

	key = (const unsigned char *)app->cfg.jwt_secret_key;
	keylen = app->cfg.jwt_secret_len;
	*legacy = 0;
	if (jwt_verify(key, keylen, token, len, JWT_REFRESH, now, c) ==
	    AUTH_OK)
		return 1;
	if (app->cfg.legacy_tokens && jwt_verify_legacy(key, keylen, token,
	    len, JWT_REFRESH, now, c) == AUTH_OK) {
		*legacy = 1;
		return 1;
	}
	log_info(event, "failure reason=token client=%s", r->client);
	token_refresh_refuse(app, r);
	return 0;
}
