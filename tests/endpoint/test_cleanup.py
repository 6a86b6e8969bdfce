# SPDX-License-Identifier: ISC
# passes: lighttpd -- it runs auth-cleanup itself
"""auth-cleanup (cron/) against the real MariaDB: which rows go and which
stay, the summary line, batches larger than one DELETE (in a total order
ending with the primary key, read off an index), the dry run (each row counted once), the lock shared by every
host (taken again after a reconnect), the pacing while other sessions
work, the time limit, the mail it delivers, and each exit status.

Rows are seeded with SQL through the admin client, all belonging to a user
made here and removed (with everything that cascades from it) at the end
of each test.  Times are written with UTC_TIMESTAMP(): the tables hold
naive UTC, and the server runs in a zone that is not UTC.

The program is AUTH_TEST_CLEANUP if set, else AUTH_TEST_TOP/cron/auth-cleanup.
"""

import os
import re
import secrets
import shlex
import subprocess
import threading
import time
import urllib.parse

from harness import (TAP, clean_env, config_values, db_query, db_scalar, env,
                     secrets_in, sql_quote, unique, write_file)

LOCK = "collab-auth-cleanup"
BATCH = 1000
JOBS = ("passwordresettoken_expired", "passwordresettoken_used",
        "auth_reset_code", "auth_reset_failure", "auth_mail_queue",
        "auth_refresh_session_expired", "auth_refresh_session_revoked",
        "auth_throttle", "auth_legacy_refresh", "auth_legacy_cutoff")
USAGE = "usage: auth-cleanup [-nq] [-p percent] [-t seconds]"
SUMMARY = re.compile(r"^auth-cleanup:( dry-run)?((?: [a-z_]+=[0-9]+)+) "
                     r"seconds=[0-9]+\.[0-9]+$")
# Keys the test sets itself; a developer's shell must not set them.
OWN_KEYS = ("OTP_EXPIRE_MINUTES",)

TMP = None


def program():
    return os.environ.get("AUTH_TEST_CLEANUP") or os.path.join(
        env("AUTH_TEST_TOP"), "cron", "auth-cleanup")


class Run:
    def __init__(self, p, seconds):
        self.returncode = p.returncode
        self.stdout = p.stdout.decode("utf-8", errors="replace")
        self.stderr = p.stderr.decode("utf-8", errors="replace")
        self.seconds = seconds

    def summary(self):
        """(dry_run, {job: rows}) from the summary line, or None."""
        lines = self.stdout.splitlines()
        if len(lines) != 1:
            return None
        m = SUMMARY.match(lines[0])
        if m is None:
            return None
        counts = {}
        for kv in m.group(2).split():
            k, v = kv.split("=")
            counts[k] = int(v)
        self.paused_ms = counts.pop("paused_ms", None)
        return (m.group(1) is not None, counts)

    def __repr__(self):
        return "exit %s after %.1f s, stdout %r, stderr %r" % (
            self.returncode, self.seconds, self.stdout[-600:],
            self.stderr[-600:])


def cleanup(*args, config=None, extra_env=None, timeout=120):
    """Run auth-cleanup with the test config (or config) in AUTH_CONFIG."""
    e = clean_env(AUTH_CONFIG=config or env("AUTH_TEST_CONFIG"))
    for k in OWN_KEYS:
        e.pop(k, None)
    for k, v in (extra_env or {}).items():
        if v is None:
            e.pop(k, None)
        else:
            e[k] = v
    t0 = time.monotonic()
    p = subprocess.run([program()] + list(args), env=e, capture_output=True,
                       timeout=timeout)
    return Run(p, time.monotonic() - t0)


def counts(**over):
    c = {k: 0 for k in JOBS}
    c.update(over)
    return c


def write(name, text, mode=0o600):
    return write_file(TMP, name, text, mode)


def config_text(**over):
    """The test config's lines, keys replaced or (None) left out."""
    values = config_values()
    values.update(over)
    return "".join("%s=%s\n" % (k, v) for k, v in values.items()
                   if v is not None)


def no_secret(t, r, desc):
    leaked = secrets_in(r.stdout + r.stderr)
    t.ok(not leaked, desc, "a secret of the test config was printed")


# -- Seeding -----------------------------------------------------------------

def insert_id(sql):
    return int(db_scalar(sql + "; SELECT LAST_INSERT_ID()"))


def new_user():
    name = unique("cl")
    return insert_id(
        "INSERT INTO `user` (email, username, hashed_password, is_active, "
        "created_at) VALUES (%s, %s, '*', 1, UTC_TIMESTAMP())"
        % (sql_quote(name + "@example.com"), sql_quote(name)))


def drop_user(uid):
    db_query("DELETE FROM `user` WHERE id = %d" % uid)


def token(uid, label, expires, used=0):
    """A passwordresettoken row; label goes into otp, expires is SQL."""
    return insert_id(
        "INSERT INTO passwordresettoken (user_id, otp, expires_at, is_used) "
        "VALUES (%d, %s, %s, %d)" % (uid, sql_quote(label), expires, used))


def reset_code(uid, token_id, created):
    db_query("INSERT INTO auth_reset_code (token_id, user_id, created_at, "
             "attempts) VALUES (%d, %d, %s, 0)" % (token_id, uid, created))


def session(uid, expires, revoked="NULL"):
    sid = secrets.token_hex(16)
    db_query("INSERT INTO auth_refresh_session (id, user_id, generation, "
             "current_jti, created_at, expires_at, revoked_at) VALUES "
             "(%s, %d, 1, %s, UTC_TIMESTAMP() - INTERVAL 3 DAY, %s, %s)"
             % (sql_quote(sid), uid, sql_quote(secrets.token_hex(16)),
                expires, revoked))
    return sid


def ago(spec):
    return "UTC_TIMESTAMP() - INTERVAL %s" % spec


def ahead(spec):
    return "UTC_TIMESTAMP() + INTERVAL %s" % spec


def tokens_of(uid):
    return {r[0] for r in db_query(
        "SELECT otp FROM passwordresettoken WHERE user_id = %d" % uid)}


def codes_of(uid):
    return {int(r[0]) for r in db_query(
        "SELECT token_id FROM auth_reset_code WHERE user_id = %d" % uid)}


def sessions_of(uid):
    return {r[0] for r in db_query(
        "SELECT id FROM auth_refresh_session WHERE user_id = %d" % uid)}


def otp_window(minutes=None):
    """Seconds a reset code row is kept: OTP_EXPIRE_MINUTES and an hour."""
    if minutes is None:
        minutes = int(config_values().get("OTP_EXPIRE_MINUTES") or 30)
    return minutes * 60 + 3600


class Seed:
    """One of each kind of row, as named in the test descriptions.  With
    overlap, also a code both used and expired and a session both expired
    and revoked over a day ago (each counted once, as expired)."""

    def __init__(self, overlap=False):
        self.uid = new_user()
        uid = self.uid
        w = otp_window()
        token(uid, "expired", ago("1 HOUR"))
        token(uid, "used", ahead("20 MINUTE"), used=1)
        if overlap:
            token(uid, "used-expired", ago("2 HOUR"), used=1)
        fresh = token(uid, "fresh", ahead("20 MINUTE"))
        self.old_code = token(uid, "code-old", ahead("20 MINUTE"))
        self.young_code = fresh
        self.new_code = token(uid, "code-new", ahead("20 MINUTE"))
        reset_code(uid, self.old_code, ago("%d SECOND" % (w + 600)))
        reset_code(uid, self.young_code, ago("%d SECOND" % (w - 600)))
        reset_code(uid, self.new_code, "UTC_TIMESTAMP()")
        self.s_expired_2d = session(uid, ago("2 DAY"))
        self.s_expired_1h = session(uid, ago("1 HOUR"))
        self.s_revoked_2d = session(uid, ahead("10 DAY"), ago("2 DAY"))
        self.s_revoked_1h = session(uid, ahead("10 DAY"), ago("1 HOUR"))
        self.s_live = session(uid, ahead("10 DAY"))
        if overlap:
            self.s_both = session(uid, ago("2 DAY"), ago("3 DAY"))
        self.tokens = tokens_of(uid)
        self.codes = codes_of(uid)
        self.sessions = sessions_of(uid)

    def survivors(self):
        return {"fresh", "code-old", "code-new"}

    def drop(self):
        drop_user(self.uid)


def drain(t):
    """Delete what earlier tests left, so counts are this test's own: the
    mail queue first, so that no run has mail to send (and log)."""
    db_query("DELETE FROM auth_mail_queue")
    db_query("DELETE FROM auth_reset_failure")
    # The throttle windows of earlier tests end while this one runs (the
    # test config's are a few seconds to a minute long): none may be
    # counted as this test's own.
    db_query("DELETE FROM auth_throttle")
    r = cleanup("-q")
    if r.returncode != 0:
        t.ok(False, "auth-cleanup ran before seeding", repr(r))
        return False
    return True


# -- Tests -------------------------------------------------------------------

def test_usage(t):
    for args, what in ((["-x"], "an unknown option"),
                       (["-t"], "-t without a value"),
                       (["-t", "abc"], "-t abc"),
                       (["-t", "-1"], "-t -1"),
                       (["-t", "10s"], "-t 10s"),
                       (["-t", "86401"], "-t above a day"),
                       (["-t", "99999999999999999999999"], "-t overflowing"),
                       (["extra"], "an operand"),
                       (["-p", "0"], "-p 0"),
                       (["-p", "101"], "-p above 100"),
                       (["-p"], "-p without a value"),
                       (["--slot", "1"], "--slot without --holder"),
                       (["--deliver", "--slot", "1", "--holder", "xyz"],
                        "--holder that is not 32 hex digits")):
        r = cleanup(*args)
        t.ok(r.returncode == 2 and r.stdout == "" and
             USAGE in r.stderr,
             "%s: exit 2 with the usage line on stderr" % what, repr(r))


def test_config_errors(t):
    r = cleanup(config=write("mode-644.env", config_text(), 0o644))
    lines = r.stderr.splitlines()
    t.ok(r.returncode == 2 and r.stdout == "" and len(lines) == 1 and
         "mode-644.env" in lines[0],
         "a config file others can read: exit 2, one line naming it",
         repr(r))
    no_secret(t, r, "mode 0644: no secret in the message")

    missing = os.path.join(TMP, "no-such.env")
    r = cleanup(config=missing)
    t.ok(r.returncode == 2 and missing in r.stderr,
         "AUTH_CONFIG naming a missing file: exit 2", repr(r))

    r = cleanup(config=write("no-url.env", config_text(MYSQL_DB_URL=None)))
    t.ok(r.returncode == 2 and "MYSQL_DB_URL" in r.stderr and
         len(r.stderr.splitlines()) == 1,
         "no MYSQL_DB_URL: exit 2, one line naming the key", repr(r))

    r = cleanup(extra_env={"OTP_EXPIRE_MINUTES": "0"})
    t.ok(r.returncode == 2 and "OTP_EXPIRE_MINUTES" in r.stderr,
         "OTP_EXPIRE_MINUTES out of range: exit 2", repr(r))


def test_db_errors(t):
    pw = "Db-" + secrets.token_hex(8)
    bad_sock = os.path.join(TMP, "no-such-dir", "mysqld.sock")
    url = ("mysql+pymysql://collab_auth:%s@localhost/%s?unix_socket=%s"
           % (pw, env("AUTH_TEST_DB_NAME"), bad_sock))
    r = cleanup(config=write("bad-socket.env", config_text(MYSQL_DB_URL=url)))
    t.ok(r.returncode == 1 and r.stdout == "" and bad_sock in r.stderr,
         "a missing unix socket: exit 1, the socket named on stderr",
         repr(r))
    t.ok(pw not in r.stderr and urllib.parse.quote(pw) not in r.stderr,
         "the password of MYSQL_DB_URL is not printed")
    no_secret(t, r, "a missing unix socket: no secret printed")

    r = cleanup(extra_env={"MYSQL_DB_URL": url})
    t.ok(r.returncode == 1 and bad_sock in r.stderr,
         "MYSQL_DB_URL in the environment wins over the file: exit 1",
         repr(r))

    good = config_values()["MYSQL_DB_URL"]
    u = urllib.parse.urlsplit(good)
    netloc = "%s:%s@%s" % (u.username, "wrong-" + secrets.token_hex(6),
                           u.hostname or "")
    r = cleanup(extra_env={"MYSQL_DB_URL": urllib.parse.urlunsplit(
        (u.scheme, netloc, u.path, u.query, u.fragment))})
    t.ok(r.returncode == 1 and r.stdout == "",
         "a wrong database password: exit 1", repr(r))
    no_secret(t, r, "a wrong database password: no secret printed")

    r = cleanup(extra_env={"MYSQL_DB_URL": urllib.parse.urlunsplit(
        (u.scheme, u.netloc, "/no_such_db_" + secrets.token_hex(3),
         u.query, u.fragment))})
    t.ok(r.returncode == 1 and r.stdout == "",
         "a database that does not exist: exit 1", repr(r))


def test_deletes(t):
    if not drain(t):
        return
    s = Seed(overlap=True)
    try:
        r = cleanup()
        t.eq(r.returncode, 0, "a run exits 0", repr(r))
        t.eq(r.stderr, "", "a run writes nothing on stderr")
        t.eq(r.summary(), (False, counts(passwordresettoken_expired=2,
                                         passwordresettoken_used=1,
                                         auth_reset_code=1,
                                         auth_refresh_session_expired=2,
                                         auth_refresh_session_revoked=1)),
             "one summary line with the rows per kind and the seconds",
             repr(r))
        t.eq(r.paused_ms, 0, "an idle server: no pause (paused_ms=0)")
        t.eq(tokens_of(s.uid), s.survivors(),
             "expired and used reset codes gone, fresh ones kept")
        t.eq(codes_of(s.uid), {s.young_code, s.new_code},
             "auth_reset_code rows older than OTP_EXPIRE_MINUTES and an "
             "hour gone, younger ones kept (even past the code's own "
             "expiry)")
        t.eq(sessions_of(s.uid), {s.s_expired_1h, s.s_revoked_1h, s.s_live},
             "sessions expired or revoked over a day ago gone; those "
             "within the day and live ones kept")
        r = cleanup()
        t.ok(r.returncode == 0 and r.summary() == (False, counts()),
             "a second run finds nothing", repr(r))
        t.eq(db_scalar("SELECT IS_USED_LOCK(%s)" % sql_quote(LOCK)), None,
             "the lock is free after the run")
    finally:
        s.drop()


def test_quiet(t):
    if not drain(t):
        return
    s = Seed()
    try:
        r = cleanup("-q")
        t.ok(r.returncode == 0 and r.stdout == "" and r.stderr == "",
             "-q: exit 0, nothing printed", repr(r))
        t.eq(tokens_of(s.uid), s.survivors(), "-q: the rows are deleted")
    finally:
        s.drop()


def test_dry_run(t):
    """-n counts each row once: a code both used and expired, a session
    both expired and revoked, as the real run deletes them."""
    if not drain(t):
        return
    s = Seed(overlap=True)
    try:
        want = counts(passwordresettoken_expired=2, passwordresettoken_used=1,
                      auth_reset_code=1, auth_refresh_session_expired=2,
                      auth_refresh_session_revoked=1)
        r = cleanup("-n")
        t.eq(r.returncode, 0, "-n exits 0", repr(r))
        t.eq(r.summary(), (True, want),
             "-n: a dry-run summary with what would go, a row used (or "
             "revoked) and expired counted once", repr(r))
        t.ok(tokens_of(s.uid) == s.tokens and codes_of(s.uid) == s.codes and
             sessions_of(s.uid) == s.sessions, "-n deletes nothing")
        r = cleanup()
        t.eq(r.summary(), (False, want),
             "the real run then deletes what -n counted", repr(r))
    finally:
        s.drop()


def test_otp_window(t):
    """auth_reset_code rows (the guesses at a live code, the cooldown and
    hourly cap) are kept OTP_EXPIRE_MINUTES and an hour: a host whose
    clock runs ahead never deletes the row of a live code."""
    if not drain(t):
        return
    uid = new_user()
    try:
        ids = {}
        for m in (50, 100, 125, 170, 190):
            # Every code is live: its row must outlive it.
            ids[m] = token(uid, "w%d" % m, ahead("20 MINUTE"))
            reset_code(uid, ids[m], ago("%d MINUTE" % m))
        r = cleanup(extra_env={"OTP_EXPIRE_MINUTES": "120"})
        t.ok(r.returncode == 0 and r.summary() is not None and
             r.summary()[1]["auth_reset_code"] == 1,
             "OTP_EXPIRE_MINUTES=120: one code row deleted (over 180 "
             "minutes old)", repr(r))
        t.eq(codes_of(uid), {ids[50], ids[100], ids[125], ids[170]},
             "OTP_EXPIRE_MINUTES=120: the row of a code issued 125 minutes "
             "ago (as a clock 10 minutes ahead sees one issued 115 minutes "
             "ago, still live) is kept, and every row under 180 minutes")
        r = cleanup(extra_env={"OTP_EXPIRE_MINUTES": "30"})
        t.eq(codes_of(uid), {ids[50]},
             "OTP_EXPIRE_MINUTES=30: rows kept 90 minutes", repr(r))
    finally:
        drop_user(uid)


def test_failures_and_queue(t):
    """auth_reset_failure rows go after a day and an hour; queue rows an
    hour after their end (a message no sender reached)."""
    if not drain(t):
        return
    uid = new_user()
    try:
        for h in (1, 23, 24, 26, 30):
            db_query("INSERT INTO auth_reset_failure (key_hash, failed_at) "
                     "VALUES (UNHEX(SHA2('cleanup-test', 256)), %s)"
                     % ago("%d HOUR" % h))
        email = db_scalar("SELECT email FROM `user` WHERE id = %d" % uid)
        for m in (30, 90):
            db_query("INSERT INTO auth_mail_queue (email, created_at, "
                     "expires_at, next_attempt_at, claim, claim_until) "
                     "VALUES (%s, %s, %s, %s, 'x', %s)"
                     % (sql_quote(email), ago("3 HOUR"), ago("%d MINUTE" % m),
                        ago("3 HOUR"), ahead("1 HOUR")))
        r = cleanup()
        t.ok(r.returncode == 0 and r.summary() is not None and
             r.summary()[1]["auth_reset_failure"] == 2 and
             r.summary()[1]["auth_mail_queue"] == 1, "auth_reset_failure: 2 "
             "rows over 25 hours old deleted; auth_mail_queue: 1 row ended "
             "over an hour ago deleted", repr(r))
        t.eq(db_query("SELECT TIMESTAMPDIFF(HOUR, failed_at, "
                      "UTC_TIMESTAMP()) FROM auth_reset_failure ORDER BY 1"),
             [["1"], ["23"], ["24"]], "the failures of the last 25 hours "
             "are kept")
        t.eq(db_scalar("SELECT COUNT(*) FROM auth_mail_queue"), "1",
             "the queue row that ended 30 minutes ago is kept")
    finally:
        db_query("DELETE FROM auth_reset_failure")
        db_query("DELETE FROM auth_mail_queue")
        drop_user(uid)


def primary_key(table):
    """The primary key columns of table, in order."""
    return [r[0] for r in db_query(
        "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND "
        "CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION"
        % sql_quote(table))]


def test_primary_key_order(t):
    """Each DELETE takes its rows in one total order, ending with the
    primary key: a statement-based binlog replica (or a Galera node)
    applying it deletes the same rows.  The statements are read from the
    server's general log as it ran them."""
    if not drain(t):
        return
    s = Seed(overlap=True)
    db_query("SET GLOBAL log_output = 'TABLE'")
    db_query("TRUNCATE mysql.general_log")
    db_query("SET GLOBAL general_log = 1")
    try:
        r = cleanup()
    finally:
        db_query("SET GLOBAL general_log = 0")
        s.drop()
    rows = db_query("SELECT CONVERT(argument USING utf8mb4) FROM "
                    "mysql.general_log WHERE command_type = 'Execute' AND "
                    "argument LIKE 'DELETE%'")
    db_query("TRUNCATE mysql.general_log")
    t.eq(r.returncode, 0, "the run exits 0", repr(r))
    stmts = [" ".join(row[0].split()) for row in rows]
    tables = {}
    for st in stmts:
        m = re.match(r"DELETE FROM `?(\w+)`? WHERE .* ORDER BY (.*) "
                     r"LIMIT \d+$", st)
        tables.setdefault(m.group(1) if m else st, []).append(
            m.group(2).replace(" ", "").split(",") if m else None)
    t.ok(len(stmts) >= len(JOBS), "the general log holds the run's %d "
         "DELETEs" % len(stmts), *stmts)
    bad = ["%s: ORDER BY %r, primary key %r" % (tb, o, primary_key(tb))
           for tb, orders in tables.items() for o in orders
           if o is None or o[-len(primary_key(tb)):] != primary_key(tb)]
    t.ok(not bad, "every DELETE ... LIMIT is ORDER BY columns ending with "
         "the table's primary key (%s)" % ", ".join(sorted(tables)),
         *(bad + stmts))


def sort_rows():
    return int(db_query("SHOW GLOBAL STATUS LIKE 'Sort_rows'")[0][1])


def test_no_sort(t):
    """A batch reads its rows off the cutoff column's index, in the
    index's order: it never sorts the expired rows (ORDER BY the primary
    key alone sorted every one of them for each batch, so that a large
    backlog took time quadratic in its size).  Seen in the server's
    Sort_rows, with thousands of expired sessions and reset codes among
    live ones, and the tables' statistics up to date, as in production
    (with few rows, or statistics from before a bulk insert, the optimizer
    may choose a plan that hides the sort)."""
    n, live = 5 * BATCH, BATCH // 2
    if not drain(t):
        return
    uid = new_user()
    try:
        for expires, rows in ((ago("2 DAY"), n), (ahead("10 DAY"), live)):
            db_query("INSERT INTO auth_refresh_session (id, user_id, "
                     "generation, current_jti, created_at, expires_at) "
                     "SELECT MD5(CONCAT(RAND(), seq)), %d, 1, MD5(RAND()), "
                     "%s, %s FROM seq_1_to_%d"
                     % (uid, ago("30 DAY"), expires, rows))
        seed_expired(uid, n)
        db_query("INSERT INTO passwordresettoken (user_id, otp, expires_at, "
                 "is_used) SELECT %d, 'fresh', %s, 0 FROM seq_1_to_%d"
                 % (uid, ahead("20 MINUTE"), live))
        db_query("ANALYZE TABLE auth_refresh_session, passwordresettoken")
        before = sort_rows()
        r = cleanup()
        sorted_rows = sort_rows() - before
        sm = r.summary()
        t.ok(r.returncode == 0 and sm is not None and
             sm[1]["auth_refresh_session_expired"] == n and
             sm[1]["passwordresettoken_expired"] == n,
             "%d expired sessions and %d expired codes deleted" % (n, n),
             repr(r))
        t.ok(sorted_rows < BATCH, "in index order: %d rows sorted (the "
             "rows sorted by ORDER BY the primary key: about %d)"
             % (sorted_rows, n * 6), repr(r))
        t.eq((len(sessions_of(uid)), count_tokens(uid)), (live, live),
             "the %d live sessions and %d fresh codes are kept"
             % (live, live))
    finally:
        drop_user(uid)


def com_delete():
    rows = db_query("SHOW GLOBAL STATUS LIKE 'Com_delete'")
    return int(rows[0][1])


def test_batching(t):
    n = 2 * BATCH + BATCH // 2
    if not drain(t):
        return
    uid = new_user()
    try:
        db_query("INSERT INTO passwordresettoken (user_id, otp, expires_at, "
                 "is_used) SELECT %d, CONCAT('batch-', seq), "
                 "UTC_TIMESTAMP() - INTERVAL 1 DAY, 0 FROM seq_1_to_%d"
                 % (uid, n))
        keep = token(uid, "fresh", ahead("20 MINUTE"))
        t.eq(int(db_scalar("SELECT COUNT(*) FROM passwordresettoken "
                           "WHERE user_id = %d" % uid)), n + 1,
             "%d expired reset codes seeded" % n)
        before = com_delete()
        r = cleanup()
        deletes = com_delete() - before
        t.eq(r.returncode, 0, "batched run exits 0", repr(r))
        t.eq(r.summary(), (False, counts(passwordresettoken_expired=n)),
             "the summary counts all %d rows" % n, repr(r))
        t.eq(db_query("SELECT id FROM passwordresettoken WHERE user_id = %d"
                      % uid), [[str(keep)]],
             "all %d expired rows gone, the fresh one kept" % n)
        # 3 batches of expired codes (1000, 1000, 500) and one DELETE for
        # each of the other kinds.
        t.eq(deletes, 3 + len(JOBS) - 1,
             "in DELETEs of at most %d rows" % BATCH)
    finally:
        drop_user(uid)


def lock_holder():
    """An admin session holding the cleanup lock; returns (process, its
    connection id)."""
    cmd = shlex.split(env("AUTH_TEST_MARIADB")) + [
        "--batch", "--skip-column-names", "-e",
        "SELECT GET_LOCK(%s, 0); SELECT SLEEP(60)" % sql_quote(LOCK),
        env("AUTH_TEST_DB_NAME")]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        holder = db_scalar("SELECT IS_USED_LOCK(%s)" % sql_quote(LOCK))
        if holder is not None:
            return p, int(holder)
        time.sleep(0.1)
    p.kill()
    p.wait()
    raise RuntimeError("the admin client did not take the lock")


def release_holder(p):
    """End lock_holder()'s session p (if any), and with it the lock."""
    if p is None:
        return
    p.kill()
    p.wait()
    holder = db_scalar("SELECT IS_USED_LOCK(%s)" % sql_quote(LOCK))
    if holder is not None:
        db_query("KILL %d" % int(holder))


def test_lock(t):
    if not drain(t):
        return
    uid = new_user()
    p = None
    try:
        token(uid, "expired", ago("1 HOUR"))
        p, conn = lock_holder()
        r = cleanup(timeout=30)
        t.eq(r.returncode, 0, "lock held elsewhere: exit 0", repr(r))
        t.eq(r.stdout, "auth-cleanup: another run is in progress\n",
             "lock held elsewhere: says another run is in progress",
             repr(r))
        t.ok(r.seconds < 10, "lock held elsewhere: does not wait", repr(r))
        t.eq(tokens_of(uid), {"expired"}, "lock held elsewhere: nothing "
             "deleted")
        r = cleanup("-q", timeout=30)
        t.ok(r.returncode == 0 and r.stdout == "" and r.stderr == "",
             "lock held elsewhere, -q: exit 0, silent", repr(r))
        r = cleanup("-n", timeout=30)
        t.ok(r.returncode == 0 and "another run is in progress" in r.stdout,
             "lock held elsewhere, -n: the dry run takes the lock too",
             repr(r))
        db_query("KILL %d" % conn)
        p.wait(timeout=15)
        p = None
        r = cleanup()
        t.ok(r.returncode == 0 and r.summary() is not None and
             r.summary()[1]["passwordresettoken_expired"] == 1 and
             tokens_of(uid) == set(),
             "lock released: the next run deletes", repr(r))
    finally:
        release_holder(p)
        drop_user(uid)


def row_locker(token_id):
    """An admin session holding an InnoDB lock on one reset code row;
    returns (process, its connection id)."""
    marker = 60 + secrets.randbelow(1000) / 1000.0
    cmd = shlex.split(env("AUTH_TEST_MARIADB")) + [
        "--batch", "--skip-column-names", "-e",
        "SET autocommit = 0; SELECT id FROM passwordresettoken "
        "WHERE id = %d FOR UPDATE; SELECT SLEEP(%.3f)" % (token_id, marker),
        env("AUTH_TEST_DB_NAME")]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        conn = db_scalar("SELECT ID FROM information_schema.PROCESSLIST "
                         "WHERE INFO = 'SELECT SLEEP(%.3f)'" % marker)
        if conn is not None:
            return p, int(conn)
        time.sleep(0.1)
    p.kill()
    p.wait()
    raise RuntimeError("the admin client did not lock the row")


def test_db_error_midrun(t):
    """A statement that fails after the lock is taken (here a row lock
    wait timeout): exit 1, the rest left alone, the lock freed."""
    if not drain(t):
        return
    uid = new_user()
    p = None
    old = db_scalar("SELECT @@GLOBAL.innodb_lock_wait_timeout")
    try:
        locked = token(uid, "expired", ago("1 HOUR"))
        token(uid, "used", ahead("20 MINUTE"), used=1)
        p, conn = row_locker(locked)
        # New sessions, the program's, wait 1 s for a row lock.
        db_query("SET GLOBAL innodb_lock_wait_timeout = 1")
        r = cleanup(timeout=60, extra_env={"DB_LOCK_WAIT_TIMEOUT": "1"})
        db_query("SET GLOBAL innodb_lock_wait_timeout = %d" % int(old))
        t.eq(r.returncode, 1, "an error during the run: exit 1", repr(r))
        t.ok(r.stdout == "" and "passwordresettoken_expired" in r.stderr,
             "an error during the run: no summary, the failing step on "
             "stderr", repr(r))
        t.eq(tokens_of(uid), {"expired", "used"},
             "an error during the run: no later step runs")
        t.eq(db_scalar("SELECT IS_USED_LOCK(%s)" % sql_quote(LOCK)), None,
             "an error during the run: the lock is free")
        db_query("KILL %d" % conn)
        p.wait(timeout=15)
        p = None
        r = cleanup()
        t.ok(r.returncode == 0 and tokens_of(uid) == set(),
             "row lock gone: the next run deletes", repr(r))
    finally:
        db_query("SET GLOBAL innodb_lock_wait_timeout = %d" % int(old))
        if p is not None:
            p.kill()
            p.wait()
        drop_user(uid)


class BusySession:
    """An admin session running SELECT SLEEP(seconds): a statement of
    another session, as a long request would be.  stop() ends it on the
    server too: killing the client alone leaves the SLEEP running there
    (the server notices no closed connection while it sleeps), and the
    next tests would run beside it."""

    def __init__(self, seconds):
        marker = seconds + secrets.randbelow(1000) / 1000.0
        self.sql = "SELECT SLEEP(%.3f)" % marker
        cmd = shlex.split(env("AUTH_TEST_MARIADB")) + [
            "--batch", "--skip-column-names", "-e", self.sql,
            env("AUTH_TEST_DB_NAME")]
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.server_ids():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the admin client did not start its SLEEP")

    def server_ids(self):
        return [int(r[0]) for r in db_query(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = %s"
            % sql_quote(self.sql))]

    def stop(self):
        stop(self.p)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            ids = self.server_ids()
            if not ids:
                return
            for i in ids:
                # Gone meanwhile: an error, and the next look tells.
                subprocess.run(shlex.split(env("AUTH_TEST_MARIADB")) + [
                    "-e", "KILL %d" % i], capture_output=True, timeout=30)
            time.sleep(0.1)
        raise RuntimeError("the SLEEP of the admin client would not end")


def running_others():
    """How many sessions but this one run a statement now."""
    return int(db_scalar("SELECT COUNT(*) FROM information_schema.PROCESSLIST"
                         " WHERE COMMAND NOT IN ('Sleep', 'Daemon') AND "
                         "ID <> CONNECTION_ID()"))


def stop(p):
    if p is not None and p.poll() is None:
        p.kill()
        p.wait()


def seed_expired(uid, n):
    db_query("INSERT INTO passwordresettoken (user_id, otp, expires_at, "
             "is_used) SELECT %d, CONCAT('batch-', seq), UTC_TIMESTAMP() - "
             "INTERVAL 1 DAY, 0 FROM seq_1_to_%d" % (uid, n))


def count_tokens(uid):
    return int(db_scalar("SELECT COUNT(*) FROM passwordresettoken WHERE "
                         "user_id = %d" % uid))


def check_no_pause(t, uid, pace, desc):
    """Seed 3 batches of expired rows for uid and run with -p pace: all
    deleted, no pause."""
    seed_expired(uid, 3 * BATCH)
    r = cleanup("-p", pace)
    t.ok(r.returncode == 0 and r.summary() is not None and
         r.paused_ms == 0 and count_tokens(uid) == 0, desc, repr(r))


def test_pacing(t):
    """-p: while another session runs a statement, the run pauses so that
    deleting takes at most that share of its time; on an idle server it
    does not pause."""
    if not drain(t):
        return
    uid = new_user()
    busy = None
    try:
        check_no_pause(t, uid, "20", "idle server, -p 20: all deleted, "
                       "paused_ms=0")
        seed_expired(uid, 3 * BATCH)
        busy = BusySession(60)
        r = cleanup("-p", "20")
        sm = r.summary()
        t.ok(r.returncode == 0 and sm is not None and
             sm[1]["passwordresettoken_expired"] == 3 * BATCH and
             count_tokens(uid) == 0, "busy server, -p 20: all deleted",
             repr(r))
        work = r.seconds * 1000 - (r.paused_ms or 0)
        t.ok(r.paused_ms is not None and r.paused_ms > 0 and
             r.paused_ms >= 2 * work * 0.5,
             "busy server, -p 20: it paused (%s ms) about 4 times what the "
             "deleting took (%.0f ms, 3 batches, the last not followed by a "
             "pause)" % (r.paused_ms, work), repr(r))
        check_no_pause(t, uid, "100", "busy server, -p 100: no pause")
    finally:
        if busy is not None:
            busy.stop()
        drop_user(uid)


class Chatter:
    """An admin session answering a short statement every few milliseconds
    and idle in between, as a server's requests are (a millisecond or less
    each): at any moment it is almost never running one.  It waits for
    each answer before it sends the next, as a client does, so statements
    never queue up; answered counts them."""

    def __init__(self, gap=0.005):
        cmd = shlex.split(env("AUTH_TEST_MARIADB")) + [
            "--batch", "--unbuffered", "--skip-column-names",
            env("AUTH_TEST_DB_NAME")]
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
        self.gap = gap
        self.answered = 0
        self.stopping = False
        self.thread = threading.Thread(target=self.run)
        self.thread.start()
        # At work before the cleanup starts, or the test says why not.
        deadline = time.monotonic() + 15
        while self.answered < 10 and time.monotonic() < deadline and \
                self.thread.is_alive():
            time.sleep(0.05)
        if self.answered < 10:
            self.stop()
            raise RuntimeError("the admin client answered no statement")

    def run(self):
        try:
            while not self.stopping:
                self.p.stdin.write(b"SELECT 1;\n")
                self.p.stdin.flush()
                if self.p.stdout.readline() != b"1\n":
                    return
                self.answered += 1
                time.sleep(self.gap)
        except OSError:
            pass

    def stop(self):
        self.stopping = True
        self.thread.join(10)
        stop(self.p)


def test_pacing_short_statements(t):
    """-p with another session issuing short statements, never running one
    for long (a server's requests take a millisecond or less), so that
    Threads_running, looked at once, is almost always the run's own: the
    run still sees the work of others, from the statements they issued
    since its previous look, and paces itself after every batch; once that
    session is gone, it does not."""
    if not drain(t):
        return
    uid = new_user()
    chatter = None
    try:
        t.eq(running_others(), 0, "no other session runs a statement")
        seed_expired(uid, 4 * BATCH)
        chatter = Chatter()
        before = chatter.answered
        r = cleanup("-p", "20")
        during = chatter.answered - before
        t.ok(r.returncode == 0 and r.summary() is not None and
             count_tokens(uid) == 0, "with short statements of another "
             "session, -p 20: all deleted", repr(r))
        # Each of the 4 full batches is followed by a pause 4 times as
        # long, (100 - 20) / 20; the wall time also holds what is not a
        # batch (starting, connecting, the empty batches of the other
        # kinds), hence the margin.  Unpaced, it pauses 0 ms, or 4 times
        # one batch when a look happens to meet a statement running: less
        # than the rest of its time either way.
        work = r.seconds * 1000 - (r.paused_ms or 0)
        t.ok(r.paused_ms is not None and r.paused_ms >= work,
             "it paused (%s ms) more than the rest of its time "
             "(%.0f ms; 4 batches, each followed by a pause 4 times as "
             "long); the other session ran %d statements meanwhile"
             % (r.paused_ms, work, during), repr(r))
        chatter.stop()
        chatter = None
        check_no_pause(t, uid, "20", "that session gone, -p 20: no pause "
                       "(paused_ms=0)")
    finally:
        if chatter is not None:
            chatter.stop()
        drop_user(uid)


def app_connections():
    """The ids of the app user's connections now."""
    return {int(r[0]) for r in db_query(
        "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s"
        % sql_quote(urllib.parse.urlsplit(
            config_values()["MYSQL_DB_URL"]).username))}


def test_lock_after_reconnect(t):
    """The run's connection is killed while it pauses between batches and
    another run takes the lock: the run, whose next batch would connect
    again without a word, sees that the new session holds no lock, finds
    it taken, and stops: it never deletes without the lock."""
    if not drain(t):
        return
    uid = new_user()
    busy = holder = proc = None
    try:
        seed_expired(uid, 6 * BATCH)
        busy = BusySession(120)
        before = app_connections()
        proc = subprocess.Popen(
            [program(), "-p", "1"], env=dict(clean_env(
                AUTH_CONFIG=env("AUTH_TEST_CONFIG"))),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        conn = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and conn is None:
            new = app_connections() - before
            left = count_tokens(uid)
            if new and left <= 5 * BATCH:
                cid = min(new)
                cmd = db_scalar("SELECT COMMAND FROM information_schema."
                                "PROCESSLIST WHERE ID = %d" % cid)
                if cmd == "Sleep":
                    conn = cid
                    break
            time.sleep(0.05)
        t.ok(conn is not None, "the run's connection found, pausing after "
             "a batch")
        if conn is None:
            return
        db_query("KILL CONNECTION %d" % conn)
        holder, _ = lock_holder()
        at_kill = count_tokens(uid)
        out, err = proc.communicate(timeout=60)
        proc = None
        err = err.decode(errors="replace")
        t.ok(0 < at_kill < 6 * BATCH, "killed between batches: %d rows "
             "deleted, %d left" % (6 * BATCH - at_kill, at_kill))
        t.eq(count_tokens(uid), at_kill, "no row deleted after the kill, "
             "while another session held the lock (%d left)" % at_kill,
             err)
        t.ok("another run holds the lock now" in err, "it says it lost "
             "the lock and stopped", err)
    finally:
        stop(proc)
        if busy is not None:
            busy.stop()
        release_holder(holder)
        drop_user(uid)


def test_time_limit(t):
    if not drain(t):
        return
    uid = new_user()
    try:
        token(uid, "expired", ago("1 HOUR"))
        r = cleanup("-t", "0")
        t.eq(r.returncode, 0, "-t 0: exit 0", repr(r))
        t.ok("limit" in r.stderr and len(r.stderr.splitlines()) == 1,
             "-t 0: says the time limit stopped it, on one line", repr(r))
        t.eq(r.summary(), (False, counts()), "-t 0: no batch started",
             repr(r))
        t.eq(tokens_of(uid), {"expired"}, "-t 0: nothing deleted")
        r = cleanup("-t", "60")
        t.ok(r.returncode == 0 and r.stderr == "" and
             tokens_of(uid) == set(), "-t 60: the run completes", repr(r))
    finally:
        drop_user(uid)


def test_legacy_records(t):
    """The records of the FastAPI backend's refresh tokens (legacy.c,
    migration 008): a first use goes a day after its token expired (a
    token inside JWT_LEEWAY must still meet it), a cutoff once
    REFRESH_TOKEN_EXPIRE_DAYS (21) and a day old.  And a code issue record
    whose code the FastAPI backend's own cleanup deleted goes by its age
    like any other: a young one still counts for the cooldown and cap."""
    if not drain(t):
        return
    uid, uid2 = new_user(), new_user()
    try:
        for label, expires in (("gone", ago("25 HOUR")),
                               ("leeway", ago("1 HOUR")),
                               ("live", ahead("1 DAY"))):
            db_query("INSERT INTO auth_legacy_refresh (token_hash, user_id, "
                     "session_id, used_at, expires_at) VALUES (UNHEX(SHA2("
                     "%s, 256)), %d, REPEAT('0', 32), %s, %s)"
                     % (sql_quote(label + str(uid)), uid, ago("3 DAY"),
                        expires))
        for u, revoked in ((uid, ago("23 DAY")), (uid2, ago("21 DAY"))):
            db_query("INSERT INTO auth_legacy_cutoff (user_id, revoked_at) "
                     "VALUES (%d, %s)" % (u, revoked))
        old = token(uid, "orphan-old", ahead("10 MINUTE"))
        young = token(uid, "orphan-young", ahead("10 MINUTE"))
        reset_code(uid, old, ago("3 HOUR"))
        reset_code(uid, young, ago("10 MINUTE"))
        # The FastAPI backend's cleanup: the codes are gone, not the rows.
        db_query("DELETE FROM passwordresettoken WHERE id IN (%d, %d)"
                 % (old, young))
        r = cleanup()
        t.eq(r.summary(), (False, counts(auth_legacy_refresh=1,
                                         auth_legacy_cutoff=1,
                                         auth_reset_code=1)),
             "one first use, one cutoff and one orphan code record deleted",
             repr(r))
        t.eq(sorted(x[0] for x in db_query(
            "SELECT expires_at > UTC_TIMESTAMP() FROM auth_legacy_refresh "
            "WHERE user_id = %d" % uid)), ["0", "1"],
             "the use of a token expired an hour ago, and a live one's, "
             "kept")
        t.eq(db_query("SELECT user_id FROM auth_legacy_cutoff WHERE "
                      "user_id IN (%d, %d)" % (uid, uid2)), [[str(uid2)]],
             "a cutoff of 21 days kept, one of 23 gone")
        t.eq(codes_of(uid), {young}, "an orphan code record 10 minutes "
             "old kept (it counts for the cap), one 3 hours old gone")
    finally:
        drop_user(uid)
        drop_user(uid2)


def main():
    global TMP
    TMP = os.path.join(env("AUTH_TEST_TMPDIR"), "cleanup")
    os.makedirs(TMP, exist_ok=True)
    t = TAP()
    if not os.access(program(), os.X_OK):
        t.ok(False, "auth-cleanup is built", "%s: not found" % program())
        t.done()
    for fn in (test_usage, test_config_errors, test_db_errors, test_deletes,
               test_quiet, test_dry_run, test_otp_window,
               test_failures_and_queue, test_primary_key_order,
               test_no_sort, test_batching, test_pacing,
               test_pacing_short_statements, test_lock,
               test_lock_after_reconnect, test_db_error_midrun,
               test_time_limit, test_legacy_records):
        t.run(fn)
    t.done()


if __name__ == "__main__":
    main()
