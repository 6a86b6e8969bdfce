/* SPDX-License-Identifier: ISC */
/*
 * Status codes returned by every function in common/ that can fail.
 * AUTH_OK is zero so that "if (rc != AUTH_OK)" reads naturally.
 */
#ifndef AUTH_STATUS_H
#define AUTH_STATUS_H

enum auth_status {
	AUTH_OK = 0,
	AUTH_ERR_NOMEM,		/* allocation failed */
	AUTH_ERR_SYSTEM,	/* a system call failed; errno says why */
	AUTH_ERR_CONFIG,	/* configuration missing or invalid */
	AUTH_ERR_INVALID,	/* malformed input */
	AUTH_ERR_CRYPTO,	/* libcrypt or OpenSSL failed */
	AUTH_ERR_DB_UNAVAIL,	/* database unreachable now: retry later */
	AUTH_ERR_DB,		/* database answered with an error */
	AUTH_ERR_DB_DUPLICATE,	/* a unique index refused the row */
	AUTH_ERR_DUP_EMAIL,	/* unique index on user.email hit */
	AUTH_ERR_DUP_USERNAME,	/* unique index on user.username hit */
	AUTH_ERR_NOT_FOUND,	/* no such row */
	AUTH_ERR_DB_COMMIT_UNKNOWN, /* connection lost during a commit:
				   the write may or may not have landed */
	AUTH_ERR__MAX
};

/* status.c */
const char	*auth_strerror(enum auth_status);

#endif /* !AUTH_STATUS_H */
