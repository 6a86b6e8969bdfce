/* SPDX-License-Identifier: ISC */
/*
 * JSON Web Tokens (RFC 7519) signed with HS256 (RFC 7518, 3.2): the
 * access and refresh tokens the API hands out.
 */
#ifndef AUTH_JWT_H
#define AUTH_JWT_H

#include <stddef.h>

#include "status.h"

#define JWT_MAX		1024	/* bytes of a token we make or accept */
#define JWT_ID_LEN	32	/* sid and jti: 128 random bits in hex */
#define JWT_LEEWAY	60	/* seconds of clock skew tolerated */

enum jwt_type {
	JWT_ACCESS,
	JWT_REFRESH,
	JWT_TYPE__MAX
};

struct jwt_claims {
	enum jwt_type	 type;			/* "type" */
	long long	 sub;			/* "sub": user id, a string */
	long long	 iat;			/* "iat" */
	long long	 exp;			/* "exp" */
	char		 sid[JWT_ID_LEN + 1];	/* "sid": refresh only */
	char		 jti[JWT_ID_LEN + 1];	/* "jti": refresh only */
};

/* jwt.c */
size_t		 jwt_b64url_encode(const unsigned char *, size_t, char *,
		    size_t);
int		 jwt_b64url_decode(const char *, size_t, unsigned char *,
		    size_t, size_t *);
int		 jwt_hs256_check(const unsigned char *, size_t, const char *,
		    size_t);
enum auth_status jwt_sign(const unsigned char *, size_t,
		    const struct jwt_claims *, char *, size_t);
enum auth_status jwt_verify(const unsigned char *, size_t, const char *,
		    size_t, enum jwt_type, long long, struct jwt_claims *);
enum auth_status jwt_verify_legacy(const unsigned char *, size_t,
		    const char *, size_t, enum jwt_type, long long,
		    struct jwt_claims *);

#endif /* !AUTH_JWT_H */
