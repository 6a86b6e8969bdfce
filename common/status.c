/* SPDX-License-Identifier: ISC */
/*
 * Human-readable names for enum auth_status, for log lines.
 */
#include "config.h"

#include "status.h"

static const char *const auth_status_names[AUTH_ERR__MAX] = {
	"success", /* AUTH_OK */
	"out of memory", /* AUTH_ERR_NOMEM */
	"system call failed", /* AUTH_ERR_SYSTEM */
	"invalid configuration", /* AUTH_ERR_CONFIG */
	"invalid input", /* AUTH_ERR_INVALID */
	"cryptographic operation failed", /* AUTH_ERR_CRYPTO */
	"database unavailable", /* AUTH_ERR_DB_UNAVAIL */
	"database error", /* AUTH_ERR_DB */
	"duplicate key", /* AUTH_ERR_DB_DUPLICATE */
	"email already registered", /* AUTH_ERR_DUP_EMAIL */
	"username already taken", /* AUTH_ERR_DUP_USERNAME */
	"not found", /* AUTH_ERR_NOT_FOUND */
	"database commit outcome unknown", /* AUTH_ERR_DB_COMMIT_UNKNOWN */
};

/*
 * Return a static string naming status s; never NULL.
 */
const char *
auth_strerror(enum auth_status s)
{

	if ((unsigned int)s >= AUTH_ERR__MAX)
		return "unknown error";
	return auth_status_names[s];
}
