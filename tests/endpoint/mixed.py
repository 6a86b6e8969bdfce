# SPDX-License-Identifier: ISC
"""Mixed traffic for the fault tests and the soak: register, login,
refresh-token, forgot-password, reset-password, logout and health at
once, from several threads, through a web server, with every answer
recorded, and what each answer claims checked against the database
afterwards.

The clients behave as real ones do: a refresh session is used by one
client at a time, which sends the token of the last 200 it got; a reset
code is sent, with one new password, until the answer is not a 503;
every account asks forgot-password once, so that it has one code.

Used by test_db_kill.py (MariaDB killed under this load) and
tests/soak/run (the same load for minutes, watching the programs)."""

import base64
import email
import email.policy
import json
import os
import queue
import random
import re
import threading
import time

from harness import (db_query, env, header_problems, new_user, password,
                     race, request, sql_quote)

PATHS = {
    "register": "/api/auth/register",
    "login": "/api/auth/login",
    "refresh": "/api/auth/refresh-token",
    "forgot": "/api/auth/forgot-password",
    "reset": "/api/auth/reset-password",
    "logout": "/api/auth/logout",
    "health": "/api/auth/health",
}
OPS = tuple(PATHS)
# What each program may answer under this load, the database coming and
# going: the 401 of refresh-token only after a lost answer (see
# Mixed.chain_problems), the 400 of reset-password only for a code used
# by an earlier try whose answer was lost (see Mixed.reset_problems).
# forgot-password answers before it touches the database (and issues the
# code after the answer), so never 503 while the throttles are off.
ALLOWED = {
    "register": {201, 503},
    "login": {200, 503},
    "refresh": {200, 401, 503},
    "forgot": {200, 503},
    "reset": {200, 400, 503},
    "logout": {200, 503},
    "health": {200, 503},
}
CODE_RE = re.compile(r"\b(\d{6})\b")


def claims(token):
    """The payload of a JWT, unverified (the test reads its own token)."""
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class Answer:
    """One request and what came back."""

    __slots__ = ("op", "status", "json", "problems", "started", "elapsed")

    def __init__(self, op, started):
        self.op = op
        self.status = None
        self.json = None
        self.problems = []
        self.started = started
        self.elapsed = None

    def __repr__(self):
        return "%s %s after %.1f s at +%.1f s %r %s" % (
            self.op, self.status, self.elapsed or -1, self.started,
            self.json, "; ".join(self.problems))


class Chain:
    """A refresh session and its one client."""

    def __init__(self, user, token):
        self.user = user
        self.token = token
        c = claims(token)
        self.sid = c["sid"]
        self.jti = c["jti"]
        self.since_200 = []      # statuses after the last 200
        self.logged_out = False  # logout answered 200


class Account:
    """An account that asked for a reset code once, and what its client
    did with it."""

    def __init__(self, user):
        self.user = user
        self.new_password = password()
        self.code = None
        self.statuses = []


class Spool:
    """The codes the test SMTP server received, by recipient."""

    def __init__(self):
        self.dir = env("AUTH_TEST_SMTP_SPOOL")
        self.seen = set()
        self.codes = {}
        self.lock = threading.Lock()

    def code(self, addr):
        with self.lock:
            if addr.lower() not in self.codes:
                self._scan()
            return self.codes.get(addr.lower())

    def _scan(self):
        for name in os.listdir(self.dir):
            if not name.endswith(".json") or name in self.seen:
                continue
            try:
                with open(os.path.join(self.dir, name)) as f:
                    m = json.load(f)
            except (OSError, ValueError):
                continue        # still being written: next time
            self.seen.add(name)
            msg = email.message_from_string(m.get("data", ""),
                                            policy=email.policy.default)
            try:
                found = CODE_RE.findall(msg.get_content())
            except (KeyError, LookupError, AttributeError):
                found = []
            for rcpt in m.get("rcpt_tos") or []:
                if found:
                    self.codes[rcpt.lower()] = found[0]


class Mixed:
    """The traffic.  prepare() makes accounts with refresh sessions and
    reset codes; start() sends requests from `workers` threads, each
    taking the programs in turn, until stop() is called; then the
    *_problems() methods say what went wrong."""

    def __init__(self, url=None, workers=8, timeout=30, pause=0.0):
        self.url = url
        self.workers = workers
        self.timeout = timeout
        self.pause = pause
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.answers = []
        self.registered = []            # users answered 201
        self.logins = []                # users to log in as
        self.chains = queue.Queue()     # idle refresh clients
        self.all_chains = []
        self.fresh = queue.Queue()      # accounts yet to ask for a code
        self.waiting = []               # accounts waiting for their code
        self.accounts = []
        self.spool = Spool()
        self.counts = {op: 0 for op in OPS}

    # -- requests ------------------------------------------------------------

    def call(self, op, body):
        a = Answer(op, time.monotonic() - self.t0)
        t = time.monotonic()
        try:
            r = request("GET" if body is None else "POST", PATHS[op], body,
                        timeout=self.timeout, url=self.url)
            a.status = r.status
            a.json = r.json
            a.problems = header_problems(r)
            if r.status not in ALLOWED[op]:
                a.problems.append("status %s not in %s"
                                  % (r.status, sorted(ALLOWED[op])))
        except Exception as e:
            a.problems.append("no answer: %r" % e)
        a.elapsed = time.monotonic() - t
        with self.lock:
            self.answers.append(a)
            self.counts[op] += 1
        return a

    def do_register(self):
        user = new_user("mx")
        a = self.call("register", user)
        if a.status != 201:
            return
        with self.lock:
            self.registered.append(user)
            # Half the accounts log in, the others reset their password.
            to_login = len(self.registered) % 2 == 1
            if to_login and len(self.logins) < 50:
                self.logins.append(user)
        if not to_login:
            self.fresh.put(Account(user))

    def do_login(self):
        if not self.logins:
            return
        user = random.choice(self.logins)
        a = self.call("login", {"email": user["email"],
                                "password": user["password"]})
        if a.status == 200 and self.chains.qsize() < 4 * self.workers:
            chain = Chain(user, a.json["refresh_token"])
            with self.lock:
                self.all_chains.append(chain)
            self.chains.put(chain)

    def idle_chain(self):
        """A refresh session no client uses now, or None."""
        try:
            return self.chains.get_nowait()
        except queue.Empty:
            return None

    def do_refresh(self):
        if (chain := self.idle_chain()) is None:
            return
        a = self.call("refresh", {"refresh_token": chain.token})
        if a.status == 200:
            chain.token = a.json["refresh_token"]
            chain.jti = claims(chain.token)["jti"]
            chain.since_200 = []
        else:
            chain.since_200.append(a.status)
        if a.status != 401:
            self.chains.put(chain)

    def maybe_logout(self):
        """Log out one time in four (so that most sessions go on)."""
        if random.random() < 0.25:
            self.do_logout()

    def do_logout(self):
        if (chain := self.idle_chain()) is None:
            return
        a = self.call("logout", {"refresh_token": chain.token})
        if a.status == 200:
            chain.logged_out = True
        else:
            chain.since_200.append(a.status)
            self.chains.put(chain)

    def do_health(self):
        self.call("health", None)

    def do_forgot(self):
        try:
            acct = self.fresh.get_nowait()
        except queue.Empty:
            return
        a = self.call("forgot", {"email": acct.user["email"]})
        if a.status == 200:
            with self.lock:
                self.accounts.append(acct)
                self.waiting.append(acct)
        else:
            self.fresh.put(acct)    # ask again

    def do_reset(self):
        acct = None
        with self.lock:
            for i, cand in enumerate(self.waiting):
                if cand.code is None:
                    cand.code = self.spool.code(cand.user["email"])
                if cand.code is not None:
                    acct = self.waiting.pop(i)
                    break
        if acct is None:
            return
        a = self.call("reset", {"email": acct.user["email"],
                                "otp": acct.code,
                                "new_password": acct.new_password})
        acct.statuses.append(a.status)
        if a.status == 503:
            with self.lock:
                self.waiting.append(acct)   # the same code, again

    def worker(self, stop, n):
        ops = [self.do_register, self.do_login, self.do_refresh,
               self.do_forgot, self.do_reset, self.maybe_logout,
               self.do_health]
        i = n
        while not stop.is_set():
            ops[i % len(ops)]()
            i += 1
            if self.pause:
                stop.wait(self.pause)

    def prepare(self, users=6):
        """2 * users accounts: users of them logged in once (a refresh
        session each), the others with a code asked for, waiting
        (bounded) until the codes arrive."""
        for _ in range(2 * users):
            self.do_register()
        for user in list(self.logins):
            a = self.call("login", {"email": user["email"],
                                    "password": user["password"]})
            if a.status == 200:
                chain = Chain(user, a.json["refresh_token"])
                self.all_chains.append(chain)
                self.chains.put(chain)
        for _ in range(users):
            self.do_forgot()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(
                self.spool.code(a.user["email"]) is None
                for a in self.waiting):
            time.sleep(0.2)
        with self.lock:
            for a in self.waiting:
                a.code = self.spool.code(a.user["email"])
        return (len(self.all_chains) == users and
                len(self.waiting) == users and
                all(a.code for a in self.waiting))

    def start(self):
        """Start the workers; returns the event that stops them."""
        stop = threading.Event()
        self.threads = [threading.Thread(target=self.worker, args=(stop, i),
                                         daemon=True)
                        for i in range(self.workers)]
        for th in self.threads:
            th.start()
        return stop

    def stop(self, stop):
        stop.set()
        for th in self.threads:
            th.join(self.timeout + 10)

    # -- checks --------------------------------------------------------------

    def answer_problems(self, bound):
        """Answers that were not the JSON a program gives, or had a status
        their program may not answer here, or took more than bound s."""
        bad = []
        for a in self.answers:
            if a.problems or a.elapsed is None or a.elapsed > bound:
                bad.append(a)
        return bad

    def register_problems(self):
        """Users answered 201 whose row is not there."""
        emails = [u["email"] for u in self.registered]
        found = set()
        for i in range(0, len(emails), 200):
            part = emails[i:i + 200]
            found |= {r[0] for r in db_query(
                "SELECT email FROM `user` WHERE email IN (%s)"
                % ",".join(sql_quote(e) for e in part))}
        return [e for e in emails if e not in found]

    def chain_problems(self):
        """Refresh sessions whose row disagrees with what their client
        was told.  The token of the last 200 must be the current one;
        or the one before it, when a later rotation's answer was lost
        (a 503 since); or the session was revoked for a reuse, which a
        lost answer followed by the old token again explains (a 503, then
        a 401).  A 200 whose rotation did not land fits none of these."""
        if not self.all_chains:
            return []
        rows = {}
        ids = [c.sid for c in self.all_chains]
        for i in range(0, len(ids), 200):
            for r in db_query(
                    "SELECT id, current_jti, previous_jti, revoked_at IS NOT "
                    "NULL FROM auth_refresh_session WHERE id IN (%s)"
                    % ",".join(sql_quote(s) for s in ids[i:i + 200])):
                rows[r[0]] = r
        bad = []
        for c in self.all_chains:
            r = rows.get(c.sid)
            if r is None:
                bad.append("session %s: no row" % c.sid[:8])
                continue
            _, cur, prev, revoked = r
            after = c.since_200
            lost = 503 in after
            if c.logged_out:
                if revoked != "1":
                    bad.append("session %s: logged out (200), not revoked"
                               % c.sid[:8])
                continue
            if cur == c.jti:
                continue
            if prev == c.jti and lost:
                continue
            if (revoked == "1" and lost and 401 in after and
                    after.index(503) < after.index(401)):
                continue
            bad.append("session %s: client holds %s after %r; row: current "
                       "%s, previous %s, revoked %s" % (
                           c.sid[:8], c.jti[:8], after, (cur or "-")[:8],
                           (prev or "-")[:8], revoked))
        return bad

    def reset_problems(self, login):
        """Accounts whose password and code disagree: a changed password
        must have used the code (its one code used, with an attempt
        counted), an unchanged one must not have; a 200 or a 400 (the
        code gone, to an earlier try whose answer was lost) means the
        password changed.  login(user, password) -> status says which
        password the account has now."""
        bad = []
        for acct in self.accounts:
            uid = db_query("SELECT id FROM `user` WHERE email = %s"
                           % sql_quote(acct.user["email"]))[0][0]
            tokens = db_query(
                "SELECT t.is_used, COALESCE(c.attempts, 0), "
                "c.token_id IS NULL FROM passwordresettoken t LEFT JOIN "
                "auth_reset_code c ON c.token_id = t.id "
                "WHERE t.user_id = %s" % uid)
            # forgot-password answers before it issues the code: with the
            # database away, it answered 200 and issued none.
            if not tokens and not acct.statuses:
                continue
            if len(tokens) != 1 or tokens[0][2] != "0":
                bad.append("%s: reset codes %r (want one, with its "
                           "auth_reset_code row); answers %r" % (
                               acct.user["email"], tokens, acct.statuses))
                continue
            used = tokens[0][0] == "1" and int(tokens[0][1]) >= 1
            new = login(acct.user, acct.new_password) == 200
            old = login(acct.user, acct.user["password"]) == 200
            answered = [s for s in acct.statuses if s in (200, 400)]
            if new == old or new != used or (answered and not new):
                bad.append("%s: answers %r; code used %s; new password "
                           "works %s, old works %s" % (
                               acct.user["email"], acct.statuses, used, new,
                               old))
        return bad

    def summary(self):
        by = {}
        for a in self.answers:
            by.setdefault(a.op, {}).setdefault(a.status, 0)
            by[a.op][a.status] += 1
        return ", ".join("%s %s" % (op, dict(sorted(
            by.get(op, {}).items(), key=lambda kv: str(kv[0])))) for op in OPS)


# -- After a fault ------------------------------------------------------------

def _probes(user, url, timeout):
    """One request per program that needs the database, each a function
    returning whether the answer was the one it gives when all is well:
    user is an account that logs in (its password never changes)."""
    def post(op, body):
        return request("POST", PATHS[op], body, timeout=timeout, url=url)

    def nobody():
        return "nobody-%s@example.com" % new_user("nb")["username"]

    def login():
        return post("login", {"email": user["email"],
                              "password": user["password"]})

    def refresh():
        r = login()
        return r.status == 200 and post("refresh", {
            "refresh_token": r.json["refresh_token"]}).status == 200

    def logout():
        r = login()
        return r.status == 200 and post("logout", {
            "refresh_token": r.json["refresh_token"]}).status == 200

    def health():
        return request("GET", PATHS["health"], timeout=timeout,
                       url=url).status == 200

    return {
        "logout": logout,
        "health": health,
        "register": lambda: post("register", new_user("pr")).status == 201,
        "login": lambda: login().status == 200,
        "refresh": refresh,
        "forgot": lambda: post("forgot", {"email": nobody()}).status == 200,
        "reset": lambda: post("reset", {
            "email": nobody(), "otp": "123456",
            "new_password": "Another-good-pw-1"}).status == 400,
    }


def probe_round(user, url=None, width=4, timeout=30):
    """width probes of every program at once (so that each of a
    program's processes is likely to get one): op -> all answered
    well."""
    probes = _probes(user, url, timeout)
    jobs = [op for op in probes for _ in range(width)]
    got = race(len(jobs), lambda i: probes[jobs[i]]())
    return {op: all(g is True for j, g in zip(jobs, got) if j == op)
            for op in probes}


def recovered(user, url=None, rounds=8, timeout=30):
    """Probe rounds, a second apart, until one is all well (at most
    rounds of them); returns them all, the last one last."""
    seen = []
    for _ in range(rounds):
        seen.append(probe_round(user, url, timeout=timeout))
        if all(seen[-1].values()):
            break
        time.sleep(1)
    return seen
