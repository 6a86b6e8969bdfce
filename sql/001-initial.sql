-- SPDX-License-Identifier: ISC
-- 001: the FastAPI backend's two tables, exactly as its SQLModel models
-- created them on MySQL/MariaDB (SQLModel maps str to VARCHAR(255)), so a
-- database the FastAPI backend made is already at this step and is left
-- untouched.  Safe to apply any number of times.

CREATE TABLE IF NOT EXISTS `user` (
	id INTEGER NOT NULL AUTO_INCREMENT,
	email VARCHAR(255) NOT NULL,
	username VARCHAR(255) NOT NULL,
	hashed_password VARCHAR(255) NOT NULL,
	is_active BOOL NOT NULL,
	created_at DATETIME NOT NULL,
	PRIMARY KEY (id),
	UNIQUE INDEX ix_user_email (email),
	UNIQUE INDEX ix_user_username (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS passwordresettoken (
	id INTEGER NOT NULL AUTO_INCREMENT,
	user_id INTEGER NOT NULL,
	otp VARCHAR(255) NOT NULL,
	expires_at DATETIME NOT NULL,
	is_used BOOL NOT NULL,
	PRIMARY KEY (id),
	INDEX ix_passwordresettoken_user_id (user_id),
	FOREIGN KEY (user_id) REFERENCES `user` (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
