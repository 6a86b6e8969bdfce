# SPDX-License-Identifier: ISC
# passes: lighttpd nginx -- what the programs do with a stalled database
"""MariaDB that answers nothing: frozen (SIGSTOP) for 20 s, and a row held
locked by another session.  The programs must give up within the bounds
their time-outs set, answer 503, and serve again once MariaDB does.

The bounds (README, "Configuration"; common/db.c):
- DB_TIMEOUT, each read or write of the database: a statement on an open
  connection to a frozen server gives up after it;
- DB_CONNECT_TIMEOUT: a connection to a frozen server gives up after it
  (the kernel accepts the connection; nobody greets);
- DB_LOCK_WAIT_TIMEOUT, set for each connection: a statement waiting for
  a row lock gives up after it, and a statement alone (not in a
  transaction) runs once more (README, "Database"), so twice that;
- a transaction (the password recovery's) that times out behind a lock
  runs again whole, as a statement alone does (db_txn(), common/db.c
  DB_LOCK_WAIT_TRIES: twice in all), and one whose connection is lost
  does not, so its bound is DB_TIMEOUT and a connection frozen, 2 x
  DB_LOCK_WAIT_TIMEOUT behind a lock.
Each request here must end within its bound plus MARGIN seconds (bcrypt,
a busy machine), far below the 20 s the freeze lasts: a program that
waited for MariaDB to come back would miss it.

This file runs its own lighttpd (the shipped config) with short time-outs
in its config, so that the waits are short, and runs in the lighttpd pass
only: the waiting happens in the programs' database client, the same
under every web server (whose own time-outs, FcgidIOTimeout 60 s, are
longer)."""

import os
import re
import signal
import threading
import time

from harness import (TAP, Lighttpd, LockHolder, config_values, db_scalar,
                     env, new_user, request, server, sql_quote, write_file)
from mixed import PATHS, Spool, claims, recovered

# DB_CONNECT_TIMEOUT, DB_TIMEOUT, DB_LOCK_WAIT_TIMEOUT: the lock wait well
# below the I/O time-out, so that MariaDB gives up a lock wait (and rolls
# the statement back) before the program gives up on MariaDB.
CONNECT, IO, LOCK = 2, 5, 2
MARGIN = 6
FROZEN = 20
TRIES = 2       # runs of a transaction after a lock wait (db.c)
RUNS = 2        # runs of a lone statement after a lock wait (README)
UNAVAILABLE = {"detail": "Service temporarily unavailable"}
KEYS = ("DB_CONNECT_TIMEOUT", "DB_TIMEOUT", "DB_LOCK_WAIT_TIMEOUT")


def db_pid():
    with open(env("AUTH_TEST_DB_PID_FILE")) as f:
        return int(f.read().strip())


def timed(srv, op, body, timeout):
    """(status or an exception's text, seconds, response)."""
    t0 = time.monotonic()
    try:
        r = request("POST", PATHS[op], body, timeout=timeout, url=srv.url)
        return r.status, time.monotonic() - t0, r
    except Exception as e:
        return "no answer (%r)" % e, time.monotonic() - t0, None


class Accounts:
    """Accounts on the private server: some logged in (refresh tokens),
    some with a reset code."""

    def __init__(self, srv):
        self.srv = srv
        self.spool = Spool()

    def user(self):
        u = new_user("st")
        r = request("POST", PATHS["register"], u, url=self.srv.url)
        if r.status != 201:
            raise RuntimeError("register: %r" % r)
        return u

    def token(self, u):
        r = request("POST", PATHS["login"], {"email": u["email"],
                                             "password": u["password"]},
                    url=self.srv.url)
        if r.status != 200:
            raise RuntimeError("login: %r" % r)
        return r.json["refresh_token"]

    def code(self, u):
        request("POST", PATHS["forgot"], {"email": u["email"]},
                url=self.srv.url)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            c = self.spool.code(u["email"])
            if c:
                return c
            time.sleep(0.2)
        raise RuntimeError("no code mailed to %s" % u["email"])


def keys_known(srv):
    """False when the programs' log says the time-out keys are unknown
    (a build without them)."""
    return not re.search(r"unknown key .*(%s)" % "|".join(KEYS), srv.log())


def test_frozen(t, srv, acc):
    u = acc.user()
    token = acc.token(u)
    ru = acc.user()
    code = acc.code(ru)
    bound_stmt = IO + MARGIN
    bound_txn = IO + (TRIES - 1) * CONNECT + MARGIN
    pid = db_pid()
    results = []
    lock = threading.Lock()

    def send(op, body, bound, wave):
        st, secs, r = timed(srv, op, body, bound + 10)
        with lock:
            results.append((op, wave, bound, st, secs, r))

    def wave(n):
        bodies = [
            ("register", new_user("st"), bound_stmt),
            ("login", {"email": u["email"], "password": u["password"]},
             bound_stmt),
            ("refresh", {"refresh_token": token}, bound_stmt),
            ("reset", {"email": ru["email"], "otp": code,
                       "new_password": "Frozen-pw-%d-ok" % n}, bound_txn),
        ]
        ths = [threading.Thread(target=send, args=(op, b, bd, n))
               for op, b, bd in bodies]
        for th in ths:
            th.start()
        return ths

    os.kill(pid, signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        # The first wave finds the connections open; the second, sent
        # once the first gave up, must connect to the frozen server.
        ths = wave(1)
        for th in ths:
            th.join(FROZEN)
        ths = wave(2)
        for th in ths:
            th.join(max(0.0, FROZEN - (time.monotonic() - t0)) + 1)
        frozen_for = time.monotonic() - t0
        time.sleep(max(0.0, FROZEN - frozen_for))
    finally:
        os.kill(pid, signal.SIGCONT)
    for th in ths:
        th.join(30)
    bad = []
    for op, w, bound, st, secs, r in sorted(results, key=lambda x: x[:2]):
        if st != 503 or r.json != UNAVAILABLE or secs > bound:
            bad.append("wave %d %s: %s after %.1f s (bound %d s) %r" % (
                w, op, st, secs, bound, r.json if r else None))
    t.ok(len(results) == 8 and not bad,
         "MariaDB frozen: every request a JSON 503 within its bound "
         "(statements %d s, recovery transactions %d s)" % (bound_stmt,
                                                            bound_txn),
         *(bad + ["%s wave %d: %s after %.1f s" % (op, w, st, secs)
                  for op, w, _, st, secs, _ in results]))
    t.ok(frozen_for < FROZEN, "... all of them answered while it was still "
         "frozen (%.1f s of %d)" % (frozen_for, FROZEN))

    rounds = recovered(u, srv.url)
    t.ok(all(rounds[-1].values()), "thawed: every program answers "
         "normally again (rounds: %d)" % len(rounds), repr(rounds))


def test_row_lock(t, srv, acc):
    u = acc.user()
    token = acc.token(u)
    ru = acc.user()
    code = acc.code(ru)
    sid = claims(token)["sid"]
    log0 = len(srv.log())

    cases = [
        ("refresh", "SELECT id FROM auth_refresh_session WHERE id = %s "
         "FOR UPDATE" % sql_quote(sid), {"refresh_token": token},
         RUNS * LOCK + MARGIN),
        ("reset", "SELECT id FROM `user` WHERE email = %s FOR UPDATE"
         % sql_quote(ru["email"]),
         {"email": ru["email"], "otp": code,
          "new_password": "Locked-pw-ok-1"}, TRIES * LOCK + MARGIN),
        # The code's row: reset-password waits while reading the rows of
        # its query, after MariaDB has sent the result's columns, so the
        # error comes with the rows, not with the execution.
        ("reset", "SELECT id FROM passwordresettoken WHERE user_id = %s "
         "FOR UPDATE" % db_scalar("SELECT id FROM `user` WHERE email = %s"
                                  % sql_quote(ru["email"])),
         {"email": ru["email"], "otp": code,
          "new_password": "Locked-pw-ok-2"}, TRIES * LOCK + MARGIN),
    ]
    for op, sql, body, bound in cases:
        # Held for as long as the request may wait, and a little more.
        holder = LockHolder(sql, bound + 1)
        try:
            st, secs, r = timed(srv, op, body, bound + 10)
        finally:
            holder.wait()
        t.ok(st == 503 and r.json == UNAVAILABLE and LOCK - 0.5 <= secs
             <= bound, "%s behind a lock on %s held by another session: "
             "a JSON 503 after waiting %.1f s (at least the lock wait, %d "
             "s; at most %d s)" % (op, sql.split()[3], secs, LOCK, bound),
             "%s %r" % (st, r.json if r else None))
    # A lone statement's runs are logged in one line when they are over
    # ("db conflict persists ... errno=1205 runs=2"), a transaction run by
    # hand's where each happens.
    waits = sum(int(m.group(1) or 1) for m in re.finditer(
        r"errno=1205\b(?: runs=(\d+))?", srv.log()[log0:]))
    t.ok(waits >= RUNS + 2 * TRIES, "the log says why: a lock wait timeout "
         "(errno 1205) for each try (%d)" % waits)
    st = timed(srv, "refresh", {"refresh_token": token}, 30)[0]
    t.eq(st, 200, "lock released: the same refresh token works (the wait "
         "changed nothing)")
    st = timed(srv, "reset", {"email": ru["email"], "otp": code,
                              "new_password": "Unlocked-pw-ok-1"}, 30)[0]
    t.eq(st, 200, "lock released: the same reset code works")


def main():
    t = TAP()
    if server() != "lighttpd":
        t.ok(True, "# SKIP the time-outs are the programs' own: tested in "
             "the lighttpd pass")
        t.done()
    cfg = config_values()
    cfg.update(DB_CONNECT_TIMEOUT=str(CONNECT), DB_TIMEOUT=str(IO),
               DB_LOCK_WAIT_TIMEOUT=str(LOCK))
    conf = write_file(env("AUTH_TEST_TMPDIR"), "stall.env", "".join(
        "%s=%s\n" % kv for kv in cfg.items()))
    srv = Lighttpd("stall", conf)
    try:
        srv.start()
        acc = Accounts(srv)
        t.run(test_row_lock, srv, acc)
        t.run(test_frozen, srv, acc)
        if not keys_known(srv):
            t.diag("The programs do not know %s: this build lacks them "
                   "(they come with helper core-a's change); the bounds "
                   "above are those keys' values." % ", ".join(KEYS))
    finally:
        srv.stop()
    t.done()


if __name__ == "__main__":
    main()
