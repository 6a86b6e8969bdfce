/* SPDX-License-Identifier: ISC */
/*
 * The configuration: a .env file with the FastAPI backend's keys (and a
 * few of ours), each of which the environment may override.
 */
#ifndef AUTH_CFG_H
#define AUTH_CFG_H

#include <stddef.h>

#include "client.h"
#include "dburl.h"
#include "status.h"
#include "throttle.h"

struct cfg {
	char		*mysql_db_url;		/* MYSQL_DB_URL (required) */
	struct dburl	 db;			/* MYSQL_DB_URL, parsed */
	char		*jwt_secret_key;	/* JWT_SECRET_KEY (required) */
	size_t		 jwt_secret_len;
	char		*algorithm;		/* ALGORITHM: HS256 */
	long		 access_token_expire_minutes;
	long		 refresh_token_expire_days;
	char		*mail_username;		/* MAIL_USERNAME or NULL */
	char		*mail_password;		/* MAIL_PASSWORD or NULL */
	char		*mail_from;		/* MAIL_FROM or NULL */
	long		 mail_port;		/* MAIL_PORT */
	char		*mail_server;		/* MAIL_SERVER or NULL */
	long		 bcrypt_rounds;		/* BCRYPT_ROUNDS */
	long		 bcrypt_nice;		/* BCRYPT_NICE, 0: off */
	long		 refresh_reuse_grace_seconds;
	long		 refresh_token_expire_seconds;	/* 0: use days */
	char		*mail_from_name;	/* MAIL_FROM_NAME or NULL */
	long		 mail_starttls;		/* MAIL_STARTTLS: 1 or 0 */
	long		 mail_ssl_tls;		/* MAIL_SSL_TLS: 1 or 0 */
	long		 use_credentials;	/* USE_CREDENTIALS: 1 or 0 */
	long		 validate_certs;	/* VALIDATE_CERTS: 1 or 0 */
	char		*mail_outbox_dir;	/* MAIL_OUTBOX_DIR or NULL */
	char		*otp_secret_key;	/* OTP_SECRET_KEY or NULL */
	long		 otp_expire_minutes;
	long		 otp_max_attempts;
	long		 otp_cooldown_seconds;
	long		 otp_max_per_hour;
	char		*trusted_proxies;	/* TRUSTED_PROXIES or NULL */
	struct client_proxies proxies;		/* TRUSTED_PROXIES, parsed */
	char		*log_file;		/* LOG_FILE or NULL: stderr */
	long		 throttle_limit[THROTTLE__MAX];	/* THROTTLE_X, 0: off */
	long		 throttle_window[THROTTLE__MAX];	/* THROTTLE_X_WINDOW */
	long		 verify_check_account;	/* VERIFY_CHECK_ACCOUNT: 1, 0 */
	long		 otp_max_failures_per_day;	/* 0: off */
	char		*mail_delivery_program;	/* auth-cleanup's path */
	long		 mail_delivery_slots;	/* deliveries at once */
};

/* cfg.c */
const char	*cfg_default_path(void);
long		 cfg_refresh_lifetime(const struct cfg *);
enum auth_status cfg_load(struct cfg *, const char *, int, char *, size_t);
enum auth_status cfg_load_default(struct cfg *, char *, size_t);
void		 cfg_free(struct cfg *);

#endif /* !AUTH_CFG_H */
