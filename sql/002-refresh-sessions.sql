-- SPDX-License-Identifier: ISC
-- 002: refresh sessions, collab-auth's own state in a table of its own,
-- so the FastAPI backend's tables stay as they were.  One row per login;
-- the refresh token names the row (sid) and its current generation (jti).
-- Safe to apply any number of times.

CREATE TABLE IF NOT EXISTS auth_refresh_session (
	id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	user_id INTEGER NOT NULL,
	generation INTEGER UNSIGNED NOT NULL,
	current_jti CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	previous_jti CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,
	created_at DATETIME NOT NULL,
	rotated_at DATETIME NULL,
	expires_at DATETIME NOT NULL,
	revoked_at DATETIME NULL,
	PRIMARY KEY (id),
	INDEX ix_auth_refresh_session_user_id (user_id),
	INDEX ix_auth_refresh_session_expires_at (expires_at),
	INDEX ix_auth_refresh_session_revoked_at (revoked_at),
	CONSTRAINT fk_auth_refresh_session_user FOREIGN KEY (user_id)
	    REFERENCES `user` (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
