# SPDX-License-Identifier: ISC
# passes: lighttpd -- it runs lighttpd instances of its own
"""Throttles (issue 6), through real lighttpd instances against MariaDB.

The suite's own web server runs with every throttle off, because all test
files share 127.0.0.1.  This file starts two more lighttpd instances of
its own from the shipped httpd-conf/lighttpd-collab-auth.conf (through
scripts/lib.sh, as scripts/test does), on their own ports with their own
FastCGI processes, with the throttles at their defaults and
TRUSTED_PROXIES=127.0.0.1, so each check can speak for a client address
of its own through X-Forwarded-For.  Counters must be shared: both
instances count into the one database.

Throttle windows are fixed (they start at multiples of their length), so
a burst is started early in a window (aligned()) to stay inside one.
"""

import hashlib
import os
import secrets
import socket
import statistics
import subprocess
import time

from harness import (TAP, Lighttpd, LockHolder, cgi, config_values, db_query,
                     env, new_user, password, program_headers, request,
                     unique)

LOGIN = "/api/auth/login"
REGISTER = "/api/auth/register"
FORGOT = "/api/auth/forgot-password"
RESET = "/api/auth/reset-password"
REFRESH = "/api/auth/refresh-token"

# The login account window is short so that its end can be watched.
ACCOUNT_WINDOW = 8
DEFAULTS = {
    "login-account": (5, ACCOUNT_WINDOW),
    "login-address-failures": (20, 300),
    "login-address": (60, 300),
    "register": (20, 3600),
    "forgot": (10, 300),
    "reset": (20, 300),
    "refresh": (300, 300),
}
TOO_MANY = {"detail": "Too many requests"}

_addr_serial = 0


def address(v6=False):
    """A client address of its own (documentation ranges, random)."""
    global _addr_serial
    _addr_serial += 1
    if v6:
        return "2001:db8:%x:%x::%x" % (secrets.randbelow(65536),
                                       secrets.randbelow(65536),
                                       _addr_serial)
    return "198.51.%d.%d" % (secrets.randbelow(256),
                             1 + secrets.randbelow(254))


def call(server, path, body, client, headers=None):
    h = {"X-Forwarded-For": client}
    h.update(headers or {})
    old = os.environ["AUTH_TEST_URL"]
    os.environ["AUTH_TEST_URL"] = "http://127.0.0.1:%d" % server.port
    try:
        return request("POST", path, body, headers=h)
    finally:
        os.environ["AUTH_TEST_URL"] = old


def aligned(window, need):
    """Wait, if need be, until at least need seconds of the current fixed
    window of length window are left."""
    left = window - time.time() % window
    if left < need:
        time.sleep(left + 0.05)


def is_429(t, r, window, desc):
    bad = []
    if r.status != 429:
        bad.append("status %s, want 429" % r.status)
    if r.json != TOO_MANY:
        bad.append("body %r" % (r.json,))
    ra = r.header("retry-after")
    if ra is None or not ra.isdigit() or not 1 <= int(ra) <= window:
        bad.append("Retry-After %r, want 1..%d" % (ra, window))
    for name, want in (("content-type", "application/json"),
                       ("cache-control", "no-store")):
        if (r.header(name) or "").lower() != want:
            bad.append("%s: %r" % (name, r.header(name)))
    return t.ok(not bad, desc, *(bad + [repr(r)] if bad else []))


def register(server, client=None):
    u = new_user("t")
    r = call(server, REGISTER, u, client or address())
    if r.status != 201:
        raise RuntimeError("register: %r" % r)
    return u


def login(server, email, pw, client):
    return call(server, LOGIN, {"email": email, "password": pw}, client)


def test_login_account(t, a, b):
    window = ACCOUNT_WINDOW
    u = register(a)
    other = register(a)
    aligned(window, 5)
    codes = [login(a if i % 2 else b, u["email"], "wrong-" + password(),
                   address()).status for i in range(5)]
    t.eq(codes, [401] * 5, "login: 5 failures for one account are served "
         "(from 5 addresses, through both servers)")
    r = login(a, u["email"], u["password"], address())
    is_429(t, r, window, "login: the 6th attempt on the account is 429, "
           "even with the right password")
    client = address()
    r = login(b, u["email"], "wrong-" + password(), client)
    is_429(t, r, window, "login: the other server refuses it too (one "
           "shared count)")
    t.ok(log_has(b, "throttle refused limit=THROTTLE_LOGIN_ACCOUNT "
                 "client=%s " % client),
         "log: that refusal names THROTTLE_LOGIN_ACCOUNT")
    r = login(a, other["email"], other["password"], address())
    t.eq(r.status, 200, "login: another account is not affected", repr(r))
    # The window ends: the account may try again.
    time.sleep(window - time.time() % window + 0.2)
    r = login(a, u["email"], u["password"], address())
    t.eq(r.status, 200, "login: after the window ends the account logs in "
         "again (no lockout)", repr(r))


def test_login_unknown(t, a):
    window = ACCOUNT_WINDOW
    u = register(a)
    unknown = unique("nobody") + "@example.com"
    aligned(window, 6)
    for email in (u["email"], unknown):
        for _ in range(5):
            login(a, email, "wrong-" + password(), address())
    known = login(a, u["email"], "wrong-" + password(), address())
    unk = login(a, unknown, "wrong-" + password(), address())
    is_429(t, unk, window, "login: an unknown email is throttled too")
    t.ok(known.status == unk.status and known.body == unk.body and
         program_headers(known, ("retry-after",)) ==
         program_headers(unk, ("retry-after",)),
         "login: a throttled unknown email looks exactly like a throttled "
         "account", repr(known), repr(unk))
    tk, tu = [], []
    for _ in range(7):
        for email, times in ((u["email"], tk), (unknown, tu)):
            t0 = time.monotonic()
            login(a, email, "wrong-" + password(), address())
            times.append(time.monotonic() - t0)
    mk, mu = statistics.median(tk), statistics.median(tu)
    t.diag("throttled login medians: known %.1f ms, unknown %.1f ms"
           % (mk * 1000, mu * 1000))
    t.ok(mk < 0.05 and mu < 0.05 and abs(mk - mu) < 0.02,
         "login: throttled answers for a known and an unknown email take "
         "the same (short) time, no bcrypt behind them",
         "known %.4f s, unknown %.4f s" % (mk, mu))


def test_login_success_clears(t, a):
    window = ACCOUNT_WINDOW
    u = register(a)
    aligned(window, 6)
    first = [login(a, u["email"], "wrong-" + password(), address()).status
             for _ in range(4)]
    ok = login(a, u["email"], u["password"], address())
    after = [login(a, u["email"], "wrong-" + password(), address()).status
             for _ in range(5)]
    last = login(a, u["email"], "wrong-" + password(), address())
    t.ok(first == [401] * 4 and ok.status == 200 and after == [401] * 5,
         "login: a success clears the account's failures (4 + success + 5 "
         "more served)", first, ok, after)
    is_429(t, last, window, "login: and the 6th failure after it is 429")


def test_login_address(t, a):
    window = DEFAULTS["login-address-failures"][1]
    client = address()
    aligned(window, 30)
    # 20 failures over 5 unknown emails (4 each: no account limit).
    emails = [unique("nobody") + "@example.com" for _ in range(5)]
    codes = [login(a, emails[i % 5], "wrong-" + password(), client).status
             for i in range(20)]
    t.eq(codes, [401] * 20, "login: 20 failures from one address are "
         "served")
    r = login(a, unique("nobody") + "@example.com", "x" * 10, client)
    is_429(t, r, window, "login: the 21st failure from the address is 429")
    t.ok(log_has(a, "throttle refused limit=THROTTLE_LOGIN_ADDRESS_FAILURES "
                 "client=%s " % client),
         "log: the refusal names the limit that tripped "
         "(THROTTLE_LOGIN_ADDRESS_FAILURES), not the request's first")
    r = login(a, unique("nobody") + "@example.com", "x" * 10, address())
    t.eq(r.status, 401, "login: another address is not affected", repr(r))
    v6 = address(v6=True)
    same64 = v6.rsplit(":", 1)[0] + ":ffff"
    for i in range(20):
        login(a, emails[i % 5], "wrong-" + password(), v6)
    r = login(a, emails[0], "wrong-" + password(), same64)
    is_429(t, r, window, "login: IPv6 addresses count by /64")


def test_login_any(t, a):
    window = DEFAULTS["login-address"][1]
    client = address()
    users = [register(a) for _ in range(3)]
    aligned(window, 60)
    codes = [login(a, users[i % 3]["email"], users[i % 3]["password"],
                   client).status for i in range(60)]
    t.eq(codes, [200] * 60, "login: 60 attempts from one address are "
         "served")
    r = login(a, users[0]["email"], users[0]["password"], client)
    is_429(t, r, window, "login: the 61st attempt from the address is 429")


def test_per_address(t, a, name, path, body_fn, ok_status):
    limit, window = DEFAULTS[name]
    client = address()
    aligned(window, 60)
    codes = [call(a, path, body_fn(i), client).status for i in range(limit)]
    bad = [c for c in codes if c not in ok_status]
    t.ok(not bad, "%s: %d requests from one address are served"
         % (name, limit), "statuses: %r" % sorted(set(codes)))
    r = call(a, path, body_fn(limit), client)
    is_429(t, r, window, "%s: request %d from the address is 429"
           % (name, limit + 1))
    r = call(a, path, body_fn(limit + 1), address())
    t.ok(r.status in ok_status, "%s: another address is served" % name,
         repr(r))


def log_has(server, text):
    """Whether text shows in server's program log within 3 s."""
    deadline = time.time() + 3
    while text not in server.log():
        if time.time() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_mapped(t, a):
    """Issue 10: IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, which
    dual-stack proxies write) count as the IPv4 address they map, not all
    in one bucket."""
    limit, window = DEFAULTS["forgot"]
    one, two = address(), address()
    while two == one:
        two = address()
    aligned(window, 60)
    body = {"email": "mapped@example.com"}
    codes = [call(a, FORGOT, body, "::ffff:" + one).status
             for _ in range(limit)]
    t.eq(codes, [200] * limit, "mapped: %d requests from ::ffff:%s are "
         "served" % (limit, one))
    r = call(a, FORGOT, body, "::ffff:" + one)
    is_429(t, r, window, "mapped: the next one from ::ffff:%s is 429" % one)
    r = call(a, FORGOT, body, "::ffff:" + two)
    t.eq(r.status, 200, "mapped: another mapped address, ::ffff:%s, does "
         "not share the bucket" % two, repr(r))
    r = call(a, FORGOT, body, one)
    is_429(t, r, window, "mapped: %s and ::ffff:%s are one client" %
           (one, one))
    t.ok(log_has(a, "limit=THROTTLE_FORGOT_ADDRESS client=%s " % one) and
         "::ffff:" + one not in a.log(),
         "mapped: the log shows the client as %s" % one)
    r = call(a, FORGOT, body, "[::FFFF:%s]" % two)
    t.eq(r.status, 200, "mapped: ::ffff:%s again, bracketed and in upper "
         "case: its own count (2 of %d)" % (two, limit), repr(r))


def key_hash(ipv4):
    """The throttle key of an IPv4 address (throttle.c)."""
    return hashlib.sha256(b"4:" + socket.inet_aton(ipv4)).hexdigest()


def stmt_executes():
    return int(db_query("SHOW GLOBAL STATUS LIKE 'Com_stmt_execute'")[0][1])


def test_refresh_failures_only(t, a):
    """Issue 13: THROTTLE_REFRESH_ADDRESS counts failures only, so a
    successful rotation costs one statement; failures still count."""
    limit, window = DEFAULTS["refresh"]
    client = address()
    u = register(a, client)
    r = login(a, u["email"], u["password"], client)
    if r.status != 200:
        raise RuntimeError("login: %r" % r)
    tok = r.json["refresh_token"]
    aligned(window, 60)
    codes = []
    for _ in range(limit + 5):
        r = call(a, REFRESH, {"refresh_token": tok}, client)
        codes.append(r.status)
        if r.status != 200:
            break
        tok = r.json["refresh_token"]
    t.eq(codes, [200] * (limit + 5), "refresh: %d successful rotations "
         "from one address are all served (limit %d: successes do not "
         "count)" % (limit + 5, limit))
    rows = db_query("SELECT hits FROM auth_throttle WHERE kind = 7 AND "
                    "key_hash = UNHEX('%s')" % key_hash(client))
    t.eq(rows, [], "refresh: no counter for them")
    deltas, codes = [], []
    for _ in range(5):
        before = stmt_executes()
        r = call(a, REFRESH, {"refresh_token": tok}, client)
        deltas.append(stmt_executes() - before)
        codes.append(r.status)
        tok = (r.json or {}).get("refresh_token", tok)
    t.diag("statements executed per successful refresh: %r" % deltas)
    t.ok(codes == [200] * 5 and min(deltas) == 1, "refresh: a successful "
         "rotation executes one statement (the rotation UPDATE)",
         repr(codes), repr(deltas))
    r = call(a, REFRESH, {"refresh_token": "not.a.token"}, client)
    rows = db_query("SELECT hits FROM auth_throttle WHERE kind = 7 AND "
                    "key_hash = UNHEX('%s')" % key_hash(client))
    t.ok(r.status == 401 and rows == [["1"]], "refresh: a failure from "
         "the same address counts (1)", repr(r), rows)


def test_lock_waits(t):
    """Behind locks another session holds, the throttle's upsert and the
    user INSERT run again after a lock-wait time-out instead of
    answering 503 at the first (issue 10).  The program runs as plain
    CGI with the register throttle on and DB_LOCK_WAIT_TIMEOUT=1; the
    server-wide wait is 1 s too, so that a program that neither sets its
    own wait nor runs the statement again answers 503 here."""
    env_on = {"THROTTLE_REGISTER_ADDRESS": "1000", "DB_LOCK_WAIT_TIMEOUT": "1"}
    cases = (
        ("the throttle's upsert", "SELECT kind FROM auth_throttle "
         "FOR UPDATE", None),
        ("the user INSERT", "SELECT id FROM `user` WHERE email = '%s' "
         "FOR UPDATE", new_user("lk")),
    )
    db_query("SET GLOBAL innodb_lock_wait_timeout = 1")
    try:
        for what, sql, user in cases:
            user = user or new_user("lk")
            holder = LockHolder(sql.replace("%s", user["email"])
                                if "%s" in sql else sql, 1.5)
            r = cgi(user, prog="auth-register", extra_env=env_on)
            holder.wait()
            t.ok(r.status == 201 and "errno=1205 runs=2" in r.stderr,
                 "register behind a lock held 1.5 s on %s: run again, 201"
                 % what, repr(r))
            t.ok(": warn: db conflict retried " in r.stderr and
                 ": error: " not in r.stderr, "and logged once, as a "
                 "warning: a lock wait that a second run got past is no "
                 "error (issue 14)", r.stderr[-600:])
    finally:
        db_query("SET GLOBAL innodb_lock_wait_timeout = 50")


def test_fail_closed(t, a):
    client = address()
    db_query("RENAME TABLE auth_throttle TO auth_throttle_away")
    try:
        r = call(a, FORGOT, {"email": "x@example.com"}, client)
    finally:
        db_query("RENAME TABLE auth_throttle_away TO auth_throttle")
    # A missing table is a refusal of the database: 500, as for any other
    # statement (test_schema.py); a database that is away is 503
    # (test_db_outage.py).  Either way the throttle fails closed.
    t.ok(r.status == 500 and r.json == {"detail": "Internal server error"},
         "the throttle table missing: 500, fail closed (not the 200)",
         repr(r))
    r = call(a, FORGOT, {"email": "x@example.com"}, client)
    t.eq(r.status, 200, "and served again once it is back", repr(r))
    # Counters that cannot be reached: locked past both runs of the
    # upsert (DB_LOCK_WAIT_TIMEOUT=1 on this server).
    holder = LockHolder("SELECT kind FROM auth_throttle FOR UPDATE", 4)
    r = call(a, FORGOT, {"email": "x@example.com"}, client)
    holder.wait()
    t.ok(r.status == 503 and r.json ==
         {"detail": "Service temporarily unavailable"},
         "the throttle's counters locked past its retries: 503, fail "
         "closed (not the 200)", repr(r))


def test_switched_off(t):
    # The suite's own server runs with every limit set to 0.
    codes = [request("POST", FORGOT, {"email": "off@example.com"}).status
             for _ in range(DEFAULTS["forgot"][0] + 2)]
    t.eq(set(codes), {200}, "a limit of 0 is off: %d forgot-password "
         "requests from one address all served" % len(codes))


def test_cleanup(t):
    prog = os.environ.get("AUTH_TEST_CLEANUP") or os.path.join(
        env("AUTH_TEST_TOP"), "cron", "auth-cleanup")
    old = secrets.token_hex(32)
    live = secrets.token_hex(32)
    db_query("INSERT INTO auth_throttle VALUES (4, UNHEX('%s'), "
             "UTC_TIMESTAMP() - INTERVAL 2 HOUR, 3, "
             "UTC_TIMESTAMP() - INTERVAL 1 HOUR), (4, UNHEX('%s'), "
             "UTC_TIMESTAMP(), 3, UTC_TIMESTAMP() + INTERVAL 1 HOUR)"
             % (old, live))
    e = {k: v for k, v in os.environ.items() if not k.startswith("HTTP_")}
    e["AUTH_CONFIG"] = env("AUTH_TEST_CONFIG")
    p = subprocess.run([prog, "-q"], env=e, capture_output=True, timeout=60)
    left = {r[0] for r in db_query(
        "SELECT LOWER(HEX(key_hash)) FROM auth_throttle WHERE "
        "key_hash IN (UNHEX('%s'), UNHEX('%s'))" % (old, live))}
    t.ok(p.returncode == 0 and left == {live}, "auth-cleanup removes ended "
         "throttle windows and keeps live ones", p, left)


def main():
    t = TAP()
    if os.environ.get("AUTH_TEST_SERVER", "lighttpd") != "lighttpd":
        # The counters live in the database, not in the web server: the
        # lighttpd pass proves them, with a pair of its own.
        t.ok(True, "# SKIP throttles are tested in the lighttpd pass")
        t.done()
    base = config_values()
    conf = os.path.join(env("AUTH_TEST_TMPDIR"), "throttle.env")
    with open(conf, "w") as f:
        for k, v in base.items():
            if not k.startswith("THROTTLE_") and k != "TRUSTED_PROXIES":
                f.write("%s=%s\n" % (k, v))
        f.write("TRUSTED_PROXIES=127.0.0.1\n")
        # test_fail_closed's lock: two waits of a second, not of five.
        f.write("DB_LOCK_WAIT_TIMEOUT=1\n")
        f.write("THROTTLE_LOGIN_ACCOUNT_WINDOW=%d\n" % ACCOUNT_WINDOW)
    os.chmod(conf, 0o600)
    a = Lighttpd("throttle-a", conf)
    b = Lighttpd("throttle-b", conf)
    try:
        a.start()
        b.start()
        t.run(test_login_account, a, b)
        t.run(test_login_unknown, a)
        t.run(test_login_success_clears, a)
        t.run(test_login_address, a)
        t.run(test_login_any, a)
        t.run(test_per_address, a, "register", REGISTER,
              lambda i: new_user("t"), (201,))
        t.run(test_per_address, a, "forgot", FORGOT,
              lambda i: {"email": unique("f") + "@example.com"}, (200,))
        t.run(test_per_address, a, "reset", RESET,
              lambda i: {"email": unique("r") + "@example.com",
                         "otp": "123456", "new_password": password()},
              (400,))
        t.run(test_per_address, a, "refresh", REFRESH,
              lambda i: {"refresh_token": "not.a.token"}, (401,))
        t.run(test_mapped, a)
        t.run(test_refresh_failures_only, a)
        t.run(test_lock_waits)
        t.run(test_fail_closed, a)
        t.run(test_switched_off)
        t.run(test_cleanup)
        for srv in (a, b):
            log = srv.log()
            leaked = [p for p in __import__("harness").SECRETS if p in log]
            t.ok(not leaked and "throttle refused" in log,
                 "throttle log lines, and no password in the log (%s)"
                 % os.path.basename(srv.var), leaked[:3])
    finally:
        a.stop()
        b.stop()
    t.done()


if __name__ == "__main__":
    main()
