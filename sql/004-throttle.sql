-- SPDX-License-Identifier: ISC
-- 004: throttle counters, shared by every process on every web server.
-- One row per (limit, key, fixed window); the key is a SHA-256 of the
-- normalised email or the client's address (IPv6 by /64), so the table
-- holds no address or email in clear.  kind numbers are fixed in
-- common/throttle.c and never reused.  auth-cleanup deletes rows whose
-- window has ended.  Needs MariaDB 10.5 or later (INSERT ... RETURNING).
-- Safe to apply any number of times.

CREATE TABLE IF NOT EXISTS auth_throttle (
	kind TINYINT UNSIGNED NOT NULL,
	key_hash BINARY(32) NOT NULL,
	window_start DATETIME NOT NULL,
	hits INTEGER UNSIGNED NOT NULL,
	expires_at DATETIME NOT NULL,
	PRIMARY KEY (kind, key_hash, window_start),
	INDEX ix_auth_throttle_expires_at (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
