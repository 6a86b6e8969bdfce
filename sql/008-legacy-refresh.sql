-- SPDX-License-Identifier: ISC
-- 008: refresh tokens the FastAPI backend issued before the switch
-- ({"sub", "type": "refresh", "exp"}, no session), each traded once for
-- a session of collab-auth's (common/legacy.c).  The FastAPI backend's
-- tables are not touched.  Safe to apply any number of times.
--
-- auth_legacy_refresh: one row per legacy token presented, keyed by a
-- SHA-256 of the token (never the token): the unique key decides which of
-- two presentations is the first; a later one, after the grace window,
-- is reuse and revokes the session the first started.  auth-cleanup
-- deletes a row once its token has expired (expires_at, the token's exp):
-- it can never be presented again.
CREATE TABLE IF NOT EXISTS auth_legacy_refresh (
	token_hash BINARY(32) NOT NULL,
	user_id INTEGER NOT NULL,
	session_id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	used_at DATETIME NOT NULL,
	expires_at DATETIME NOT NULL,
	PRIMARY KEY (token_hash),
	INDEX ix_auth_legacy_refresh_expires_at (expires_at),
	CONSTRAINT fk_auth_legacy_refresh_user FOREIGN KEY (user_id)
	    REFERENCES `user` (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- auth_legacy_cutoff: when every session of an account was last revoked
-- (a password reset).  A legacy token issued before that is refused: a
-- reset ends the sessions the FastAPI backend's tokens would start too.
-- auth-cleanup deletes a row once every legacy token it could refuse has
-- expired.
CREATE TABLE IF NOT EXISTS auth_legacy_cutoff (
	user_id INTEGER NOT NULL,
	revoked_at DATETIME NOT NULL,
	PRIMARY KEY (user_id),
	INDEX ix_auth_legacy_cutoff_revoked_at (revoked_at),
	CONSTRAINT fk_auth_legacy_cutoff_user FOREIGN KEY (user_id)
	    REFERENCES `user` (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
