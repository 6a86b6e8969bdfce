-- SPDX-License-Identifier: ISC
-- 006: password-recovery mail apart from the answer, and the per-account
-- guessing budget.  Safe to apply any number of times; the FastAPI
-- backend's tables are not touched.
--
-- auth_mail_queue: one row per forgot-password request, then per message.
-- A request row holds only the address that was asked for (email); the
-- delivery process resolves it to an account and, in the transaction that
-- writes the code into passwordresettoken, turns the row into a message:
-- email NULL, user_id, token_id and nonce set.  The code is never stored:
-- it is derived from the nonce with a key made from OTP_SECRET_KEY (or
-- JWT_SECRET_KEY), which the database does not hold.  A sender claims a
-- row (claim, claim_until) before working on it, so two senders never
-- send one message together; attempts and next_attempt_at drive the
-- retries, expires_at (the code's expiry) ends them.

CREATE TABLE IF NOT EXISTS auth_mail_queue (
	id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
	email VARBINARY(1016) NULL,
	user_id INTEGER NULL,
	token_id INTEGER NULL,
	nonce CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
	created_at DATETIME NOT NULL,
	expires_at DATETIME NOT NULL,
	next_attempt_at DATETIME NOT NULL,
	attempts INTEGER UNSIGNED NOT NULL DEFAULT 0,
	claim CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
	claim_until DATETIME NOT NULL DEFAULT '1970-01-01 00:00:00',
	PRIMARY KEY (id),
	INDEX ix_auth_mail_queue_claim (claim),
	INDEX ix_auth_mail_queue_expires_at (expires_at),
	CONSTRAINT fk_auth_mail_queue_user FOREIGN KEY (user_id)
	    REFERENCES `user` (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- auth_mail_slot: the delivery processes allowed at once over every host
-- sharing the database (MAIL_DELIVERY_SLOTS of these rows are used).  A
-- process leases a row (holder, lease_until) and renews the lease while it
-- works; a lease that ran out is free again, so a process that died holds
-- nothing for long.
CREATE TABLE IF NOT EXISTS auth_mail_slot (
	slot TINYINT UNSIGNED NOT NULL,
	holder CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
	lease_until DATETIME NOT NULL DEFAULT '1970-01-01 00:00:00',
	PRIMARY KEY (slot)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

INSERT IGNORE INTO auth_mail_slot (slot) VALUES
	(1), (2), (3), (4), (5), (6), (7), (8),
	(9), (10), (11), (12), (13), (14), (15), (16),
	(17), (18), (19), (20), (21), (22), (23), (24),
	(25), (26), (27), (28), (29), (30), (31), (32);

-- auth_reset_account: one row per account that was ever issued a code,
-- written by every transaction that issues one.  Row locks (SELECT ...
-- FOR UPDATE) hold on one node of a Galera cluster only: two senders on
-- two nodes could each see no code within the cooldown and issue one.
-- Both write this row, so certification lets one commit; the other's
-- transaction is run again and sees the cooldown.
CREATE TABLE IF NOT EXISTS auth_reset_account (
	user_id INTEGER NOT NULL,
	issued_at DATETIME NOT NULL,
	PRIMARY KEY (user_id),
	CONSTRAINT fk_auth_reset_account_user FOREIGN KEY (user_id)
	    REFERENCES `user` (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- auth_reset_failure: one row per failed reset-password, keyed by a
-- SHA-256 of the normalised address (an unknown address is counted like
-- an account, so a refusal says nothing about which it is), for
-- OTP_MAX_FAILURES_PER_DAY.  auth-cleanup deletes rows over a day old.
CREATE TABLE IF NOT EXISTS auth_reset_failure (
	id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
	key_hash BINARY(32) NOT NULL,
	failed_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	INDEX ix_auth_reset_failure_key (key_hash, failed_at),
	INDEX ix_auth_reset_failure_failed_at (failed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
