/* SPDX-License-Identifier: ISC */
/*
 * Issue a token pair for a session and answer with it, in the FastAPI
 * backend's shape plus expires_in:
 *	{"access_token", "refresh_token", "token_type": "bearer",
 *	 "expires_in": <access lifetime in seconds>}
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
