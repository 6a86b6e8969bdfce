-- SPDX-License-Identifier: ISC
-- 005: the grace window of a burst of refresh-token rotations.  Each
-- refresh token now carries its generation in the first 8 hexadecimal
-- digits of its jti; grace_generation is the first generation replaced in
-- the current burst of rotations (each within REFRESH_REUSE_GRACE_SECONDS
-- of the one before), written by the rotation UPDATE itself.  A token of
-- any generation from there on, presented while the burst's last rotation
-- is inside the window, gets the current pair instead of revoking the
-- session.  NULL (rows rotated before this column existed): only the
-- generation just replaced.  Only collab-auth's own table changes.  Safe
-- to apply any number of times.

ALTER TABLE auth_refresh_session
    ADD COLUMN IF NOT EXISTS grace_generation INTEGER UNSIGNED NULL
    AFTER generation;
