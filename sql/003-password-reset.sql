-- SPDX-License-Identifier: ISC
-- 003: password recovery.  The FastAPI backend's passwordresettoken keeps
-- its columns (otp now holds an HMAC of the code, never the code); what
-- is new lives in auth_reset_code: when each code was issued (for the
-- per-account cooldown and hourly cap, which must outlive the code's
-- row) and how often it was guessed.  Indexes let auth-cleanup delete in
-- batches without scanning.  Safe to apply any number of times.

CREATE TABLE IF NOT EXISTS auth_reset_code (
	token_id INTEGER NOT NULL,
	user_id INTEGER NOT NULL,
	created_at DATETIME NOT NULL,
	attempts INTEGER UNSIGNED NOT NULL DEFAULT 0,
	PRIMARY KEY (token_id),
	INDEX ix_auth_reset_code_user_created (user_id, created_at),
	INDEX ix_auth_reset_code_created_at (created_at),
	CONSTRAINT fk_auth_reset_code_user FOREIGN KEY (user_id)
	    REFERENCES `user` (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE INDEX IF NOT EXISTS ix_passwordresettoken_user_used
    ON passwordresettoken (user_id, is_used);
CREATE INDEX IF NOT EXISTS ix_passwordresettoken_expires_at
    ON passwordresettoken (expires_at);
CREATE INDEX IF NOT EXISTS ix_passwordresettoken_is_used
    ON passwordresettoken (is_used);
