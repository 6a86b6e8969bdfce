# SPDX-License-Identifier: ISC
# passes: lighttpd apache-cgi nginx -- as FastCGI, and as plain CGI
"""POST /api/auth/refresh-token through the web server: rotation, the reuse
grace window (inside and outside, three holders racing, tokens from
before generations were in the jti), reuse detection revoking the session,
revoked, expired and orphaned sessions, forged and malformed tokens, the
absolute session lifetime, the 422s, and 20 concurrent refreshes with one
token."""

import base64
import hashlib
import hmac
import json
import re
import secrets
import socket
import threading
import time
import urllib.parse

from harness import (TAP, LockHolder, cgi, check_logs_clean, config_values,
                     db_query, env, err, expect, expect_422, header_problems,
                     new_user, post, program_log, race, request, sql_quote,
                     write_file)

LOGIN = "/api/auth/login"
REFRESH = "/api/auth/refresh-token"
INVALID = "Invalid refresh token"
JSON_CT = {"Content-Type": "application/json"}
HEX32 = re.compile(r"^[0-9a-f]{32}$")

TOKENS = []         # every token handed out: none may show in a log


# -- helpers ------------------------------------------------------------------

def cfg_int(name, default):
    return int(config_values().get(name, default))


def access_ttl():
    return cfg_int("ACCESS_TOKEN_EXPIRE_MINUTES", "15") * 60


def grace():
    return cfg_int("REFRESH_REUSE_GRACE_SECONDS", "10")


def secret():
    return config_values()["JWT_SECRET_KEY"].encode()


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def secrets_hex(n):
    """n random lower-case hexadecimal digits."""
    return secrets.token_hex((n + 1) // 2)[:n]


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def payload(tok):
    try:
        return json.loads(b64d(tok.split(".")[1]))
    except Exception:
        return {}


def sign(claims, key=None, alg="HS256", header=None, digest=hashlib.sha256):
    """A compact JWS of claims with the given header, signed with HMAC."""
    h = header if header is not None else {"alg": alg, "typ": "JWT"}
    hp = b64e(json.dumps(h, separators=(",", ":")).encode()) + "." + \
        b64e(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(key if key is not None else secret(), hp.encode(),
                   digest).digest()
    return hp + "." + b64e(mac)


def refresh(tok, **kw):
    r = request("POST", REFRESH, {"refresh_token": tok}, **kw)
    if isinstance(r.json, dict):
        TOKENS.extend(v for k, v in r.json.items()
                      if k.endswith("_token") and isinstance(v, str))
    return r


def register(t, user):
    r = post(user)
    ok = r.status == 201 and isinstance(r.json, dict) and \
        isinstance(r.json.get("id"), int)
    t.ok(ok, "register %s: 201" % user["username"], repr(r))
    return r.json["id"] if ok else -1


def login(t, user, uid):
    r = request("POST", LOGIN, {"email": user["email"],
                                "password": user["password"]})
    body = r.json if isinstance(r.json, dict) else {}
    ok = r.status == 200 and "refresh_token" in body
    t.ok(ok, "login %s: 200 with a pair" % user["username"], repr(r))
    if not ok:
        raise RuntimeError("login failed: %r" % r)
    TOKENS.extend([body["access_token"], body["refresh_token"]])
    return body


def session_user(t, prefix):
    """A new user and one login: (user, uid, login body)."""
    user = new_user(prefix)
    uid = register(t, user)
    return user, uid, login(t, user, uid)


def srow(sid):
    """generation, current_jti, previous_jti, revoked_at of session sid,
    or None."""
    rows = db_query("SELECT generation, current_jti, previous_jti, "
                    "revoked_at FROM auth_refresh_session WHERE id = %s"
                    % sql_quote(sid))
    if not rows:
        return None
    g, cur, prev, rev = rows[0]
    return {"generation": int(g), "current": cur, "previous": prev,
            "revoked": rev}


def check_pair(t, r, uid, desc):
    """A 200 pair as login answers it.  Returns the refresh payload."""
    bad = header_problems(r)
    if r.status != 200:
        bad.insert(0, "status %s, want 200" % r.status)
    if (r.header("Pragma") or "").lower() != "no-cache":
        bad.append("Pragma %r, want no-cache" % r.header("Pragma"))
    body = r.json if isinstance(r.json, dict) else {}
    if sorted(body) != ["access_token", "expires_in", "refresh_token",
                        "token_type"]:
        bad.append("keys %r" % sorted(body))
    if body.get("token_type") != "bearer" or \
            body.get("expires_in") != access_ttl():
        bad.append("token_type %r expires_in %r" % (
            body.get("token_type"), body.get("expires_in")))
    rp = payload(body.get("refresh_token", ""))
    ap = payload(body.get("access_token", ""))
    if ap.get("sub") != str(uid) or ap.get("type") != "access":
        bad.append("access payload %r" % ap)
    if rp.get("sub") != str(uid) or rp.get("type") != "refresh" or \
            not HEX32.match(str(rp.get("sid"))) or \
            not HEX32.match(str(rp.get("jti"))):
        bad.append("refresh payload %r" % rp)
    t.ok(not bad, "%s: 200 pair (bearer, expires_in, no-store, no-cache, "
         "sub=%s)" % (desc, uid), *(bad + [repr(r)] if bad else []))
    return rp


class LogMark:
    def __init__(self):
        self.pos = len(program_log())

    def lines(self, pattern, want=1):
        deadline = time.time() + 3
        while True:
            new = program_log()[self.pos:]
            got = [ln for ln in new.splitlines() if re.search(pattern, ln)]
            if len(got) >= want or time.time() > deadline:
                return got
            time.sleep(0.05)


# -- tests --------------------------------------------------------------------

def test_rotation(t):
    user, uid, pair = session_user(t, "rr")
    r1 = pair["refresh_token"]
    p1 = payload(r1)
    sid = p1.get("sid", "")
    mark = LogMark()
    r = refresh(r1)
    p2 = check_pair(t, r, uid, "refresh with the login's token")
    t.ok(mark.lines(r"^auth-refresh-token\[\d+\]: info: refresh rotated "
                    r"user=%d session=%s client=127\.0\.0\.1$"
                    % (uid, sid[:8])),
         "log: refresh rotated user=%d session=%s..." % (uid, sid[:8]))
    r2 = (r.json or {}).get("refresh_token", "")
    t.ok(r2 and r2 != r1, "the new refresh token differs from the old")
    t.ok(p2.get("sid") == sid and p2.get("jti") != p1.get("jti"),
         "same session (sid), new generation (jti)", repr(p1), repr(p2))
    t.eq(p2.get("exp"), p1.get("exp"),
         "rotation does not move the session's end (same exp)")
    row = srow(sid)
    t.eq(row, {"generation": 2, "current": p2.get("jti"),
               "previous": p1.get("jti"), "revoked": None},
         "session row: generation 2, current = new jti, previous = old jti")
    r = refresh(r2)
    p3 = check_pair(t, r, uid, "the rotated token works next")
    t.ok(p3.get("sid") == sid and p3.get("jti") not in (p1.get("jti"),
                                                        p2.get("jti")),
         "second rotation: same sid, a third jti", repr(p3))
    t.eq((srow(sid) or {}).get("generation"), 3, "generation 3")
    r = refresh(pair["access_token"])
    expect(t, r, 401, INVALID, "the login's access token at refresh-token: "
           "401")


def test_grace(t):
    g = grace()
    t.diag("REFRESH_REUSE_GRACE_SECONDS = %d" % g)
    # Inside the window.
    user, uid, pair = session_user(t, "rg")
    r1 = pair["refresh_token"]
    sid = payload(r1).get("sid", "")
    r = refresh(r1)
    p2 = check_pair(t, r, uid, "grace: rotation")
    r2 = (r.json or {}).get("refresh_token", "")
    mark = LogMark()
    r = refresh(r1)
    pg = check_pair(t, r, uid, "grace: the previous token again at once")
    t.ok(pg.get("sid") == sid and pg.get("jti") == p2.get("jti"),
         "grace: the answer is the current generation (the rotation's sid "
         "and jti)", "rotation: %r" % p2, "grace: %r" % pg)
    t.ok(mark.lines(r"^auth-refresh-token\[\d+\]: info: refresh grace "
                    r"user=%d session=%s " % (uid, sid[:8])),
         "log: refresh grace user=%d" % uid)
    row = srow(sid) or {}
    t.eq((row.get("generation"), row.get("current"), row.get("revoked")),
         (2, p2.get("jti"), None),
         "grace: the session did not advance and is not revoked")
    r = refresh(r2)
    check_pair(t, r, uid, "grace: the rotation's token still rotates")

    # Outside the window.
    user, uid, pair = session_user(t, "rgo")
    s1 = pair["refresh_token"]
    sid = payload(s1).get("sid", "")
    r = refresh(s1)
    check_pair(t, r, uid, "outside the window: rotation")
    s2 = (r.json or {}).get("refresh_token", "")
    time.sleep(g + 1.5)
    mark = LogMark()
    r = refresh(s1)
    expect(t, r, 401, INVALID, "the previous token %.1f s after the "
           "rotation (grace %d s): 401" % (g + 1.5, g))
    t.ok(srow(sid) and srow(sid)["revoked"] is not None,
         "outside the window: the session is revoked", repr(srow(sid)))
    t.ok(mark.lines(r"^auth-refresh-token\[\d+\]: warn: refresh reuse "
                    r"detected.* user=%d session=%s " % (uid, sid[:8])),
         "log: reuse detected, session revoked user=%d" % uid)
    r = refresh(s2)
    expect(t, r, 401, INVALID, "outside the window: the newest token of "
           "the revoked session is dead too")
    t.eq((srow(sid) or {}).get("generation"), 2,
         "the revoked session did not advance")


def cgi_refresh(tok, grace_s):
    """One refresh through the program run as plain CGI with
    REFRESH_REUSE_GRACE_SECONDS=grace_s (a short window for tests that
    must outlast it)."""
    r = cgi({"refresh_token": tok}, prog="auth-refresh-token",
            extra_env={"REFRESH_REUSE_GRACE_SECONDS": str(grace_s)})
    if isinstance(r.json, dict):
        TOKENS.extend(v for k, v in r.json.items()
                      if k.endswith("_token") and isinstance(v, str))
    return r


def test_reuse(t):
    """An old generation replaced outside the grace window revokes the
    session, also once a new burst of rotations has begun."""
    g = 2
    user, uid, a = session_user(t, "ru")
    b = login(t, user, uid)
    a1 = a["refresh_token"]
    sid = payload(a1).get("sid", "")
    r = cgi_refresh(a1, g)
    a2 = (r.json or {}).get("refresh_token", "")
    t.ok(r.status == 200 and a2, "reuse: first rotation (CGI, grace %d s)"
         % g, repr(r))
    time.sleep(g + 1.5)
    r = cgi_refresh(a2, g)
    a3 = (r.json or {}).get("refresh_token", "")
    t.ok(r.status == 200 and a3, "reuse: second rotation %.1f s later"
         % (g + 1.5), repr(r))
    r = cgi_refresh(a1, g)
    t.ok(r.status == 401 and r.json == {"detail": INVALID},
         "reuse: the token replaced %.1f s ago (grace %d s), two "
         "rotations back: 401" % (g + 1.5, g), repr(r))
    row = srow(sid) or {}
    t.ok(row.get("revoked") is not None and row.get("generation") == 3,
         "reuse: the session is revoked at generation 3", repr(row))
    r = refresh(a3)
    expect(t, r, 401, INVALID, "reuse: the newest token is dead too")
    r = refresh(a2)
    expect(t, r, 401, INVALID, "reuse: the middle token is dead too")
    bsid = payload(b["refresh_token"]).get("sid", "")
    t.eq((srow(bsid) or {}).get("revoked", "missing"), None,
         "reuse: the user's other session is not revoked")
    r = refresh(b["refresh_token"])
    check_pair(t, r, uid, "reuse: the user's other session still rotates")


def test_three_holders(t):
    """Issue 10: B's rotation loses to A's (T1 -> T2), a T2 holder
    rotates to T3 before B reads: B's T1 was replaced within the window
    and gets the grace answer, not a revoked session."""
    user, uid, pair = session_user(t, "r3")
    t1 = pair["refresh_token"]
    sid = payload(t1).get("sid", "")
    r = refresh(t1)                                 # A: T1 -> T2
    p2 = check_pair(t, r, uid, "three holders: A rotates T1")
    t2 = (r.json or {}).get("refresh_token", "")
    r = refresh(t2)                                 # C: T2 -> T3
    p3 = check_pair(t, r, uid, "three holders: C rotates T2")
    t3 = (r.json or {}).get("refresh_token", "")
    t.eq([int(payload(x).get("jti", "0" * 8)[:8], 16) for x in
          (t1, t2, t3)], [1, 2, 3], "each token's jti starts with its "
         "generation in 8 hex digits")
    r = refresh(t1)                                 # B: T1, two back
    pb = check_pair(t, r, uid, "three holders: B's T1, two generations "
                    "back but replaced just now: the grace answer")
    t.ok(pb.get("jti") == p3.get("jti") and pb.get("sid") == sid,
         "three holders: B gets the current generation (T3's)", repr(pb),
         repr(p3))
    r = refresh(t2)
    pa = check_pair(t, r, uid, "three holders: T2 again: the grace answer")
    t.eq(pa.get("jti"), p3.get("jti"), "three holders: also T3's")
    row = srow(sid) or {}
    t.eq((row.get("generation"), row.get("revoked")), (3, None),
         "three holders: generation 3, not revoked")
    del p2

    # The same race for real: three holders of one token, each rotating
    # what it got at once, then presenting the first token again.
    user, uid, pair = session_user(t, "r3c")
    tok = pair["refresh_token"]
    sid = payload(tok).get("sid", "")
    def holder(i):
        out = []
        cur = tok
        for _ in range(3):
            r = request("POST", REFRESH, {"refresh_token": cur}, timeout=20)
            out.append(r.status)
            if r.status == 200:
                cur = r.json["refresh_token"]
                TOKENS.append(cur)
        r = request("POST", REFRESH, {"refresh_token": tok}, timeout=20)
        out.append(r.status)
        return out

    results = race(3, holder)
    t.diag("three concurrent holders: %r" % results)
    t.ok(all(x == [200] * 4 for x in results),
         "three concurrent holders, each rotating three times and then "
         "presenting the first token again: every answer 200", repr(results))
    row = srow(sid) or {}
    t.ok(row.get("revoked") is None and 4 <= row.get("generation", 0) <= 10,
         "three concurrent holders: the session is not revoked", repr(row))


def test_legacy_tokens(t):
    """Tokens issued before generations were written into the jti (a
    random jti) keep working: the current one rotates, the one just
    replaced gets the grace answer."""
    user, uid, pair = session_user(t, "rl")
    c = payload(pair["refresh_token"])
    sid = c.get("sid", "")
    old = "f" + secrets_hex(31)
    db_query("UPDATE auth_refresh_session SET current_jti = %s, "
             "generation = 5 WHERE id = %s" % (sql_quote(old),
                                                sql_quote(sid)))
    legacy = sign(dict(c, jti=old))
    TOKENS.append(legacy)
    r = refresh(legacy)
    p = check_pair(t, r, uid, "a token from before (random jti) that is "
                   "current rotates")
    t.ok(p.get("jti", "")[:8] == "00000006" and
         (srow(sid) or {}).get("generation") == 6,
         "and the session goes to generation 6, written in the new jti",
         repr(p), repr(srow(sid)))
    r = refresh(legacy)
    pg = check_pair(t, r, uid, "the token from before, just replaced: "
                    "the grace answer")
    t.eq(pg.get("jti"), p.get("jti"), "with the current generation")
    t.eq((srow(sid) or {}).get("revoked"), None, "not revoked")


def refresh_behind(t, row_sql, seconds, tok):
    """Refresh tok through the program as plain CGI with
    DB_LOCK_WAIT_TIMEOUT=1 while another session holds the locks of
    row_sql for seconds."""
    holder = LockHolder(row_sql, seconds)
    t0 = time.monotonic()
    r = cgi({"refresh_token": tok}, prog="auth-refresh-token",
            extra_env={"DB_LOCK_WAIT_TIMEOUT": "1"})
    took = time.monotonic() - t0
    holder.wait()
    t.diag("rotation behind a %s s lock: %s in %.2f s"
           % (seconds, r.status, took))
    return r


def test_lock_waits(t):
    """Behind a lock another session holds on the session row: a short
    per-session wait (DB_LOCK_WAIT_TIMEOUT), and the rotation run again
    after a lock-wait time-out instead of a 503 at the first."""
    user, uid, pair = session_user(t, "rk")
    tok = pair["refresh_token"]
    sid = payload(tok).get("sid", "")
    row = "SELECT id FROM auth_refresh_session WHERE id = %s FOR UPDATE" \
        % sql_quote(sid)
    # Held 1.5 s, each wait 1 s: the first run times out, the second
    # gets the row.  (The server-wide wait is 1 s too, so that a program
    # that neither sets its own nor runs again answers 503 here.)
    db_query("SET GLOBAL innodb_lock_wait_timeout = 1")
    try:
        r = refresh_behind(t, row, 1.5, tok)
    finally:
        db_query("SET GLOBAL innodb_lock_wait_timeout = 50")
    t.ok(r.status == 200 and "refresh_token" in (r.json or {}),
         "a rotation that timed out on a lock held 1.5 s runs again and "
         "succeeds (DB_LOCK_WAIT_TIMEOUT=1)", repr(r))
    t.ok(re.search(r"warn: db conflict retried query=\d+ "
                   r"errno=1205 runs=2", r.stderr) and
         ": error: " not in r.stderr,
         "log: the lock-wait time-out and the second run, in one warning "
         "(no error: the rotation passed)", r.stderr[-600:])
    if isinstance(r.json, dict):
        TOKENS.append(r.json.get("refresh_token", ""))
        tok = r.json.get("refresh_token", tok)
    # Held 5 s: two waits of 1 s, then 503 long before the lock goes.
    r = refresh_behind(t, row, 5, tok)
    t.ok(r.status == 503 and r.json == {"detail": "Service temporarily "
                                         "unavailable"},
         "behind a lock held 5 s, DB_LOCK_WAIT_TIMEOUT=1: 503 after two "
         "short waits, not 200 after the holder lets go", repr(r))
    r = refresh(tok)
    check_pair(t, r, uid, "once the lock is gone the same token rotates")


class CutProxy:
    """A TCP proxy to MariaDB's unix socket that reads the client/server
    protocol's packets (3-byte length, sequence number, payload) and, once,
    cuts the connection around the execution of the statement whose SQL
    holds `target`: "before" drops the execution unsent; "after"
    sends it, lets the server answer (an autocommit UPDATE has then
    landed) and drops the answer.  Everything else passes through."""

    COM_STMT_PREPARE = 0x16
    COM_STMT_EXECUTE = 0x17

    def __init__(self, target, mode):
        self.target = target.encode()
        self.mode = mode
        self.armed = True
        self.want_id = False        # the next prepare answer is the target's
        self.stmt_id = None
        self.cut_answer = False
        self.cut_done = threading.Event()
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @staticmethod
    def _packet(sock):
        head = b""
        while len(head) < 4:
            chunk = sock.recv(4 - len(head))
            if not chunk:
                return None
            head += chunk
        n = int.from_bytes(head[:3], "little")
        body = b""
        while len(body) < n:
            chunk = sock.recv(n - len(body))
            if not chunk:
                return None
            body += chunk
        return head + body

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            u = socket.socket(socket.AF_UNIX)
            u.connect(env("AUTH_TEST_DB_SOCKET"))
            threading.Thread(target=self._up, args=(c, u), daemon=True).start()
            threading.Thread(target=self._down, args=(u, c),
                             daemon=True).start()

    def _cut(self, *socks):
        for x in socks:
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            x.close()
        self.cut_done.set()

    def _up(self, c, u):
        while True:
            pkt = self._packet(c)
            if pkt is None:
                return self._cut(c, u)
            seq, body = pkt[3], pkt[4:]
            if seq == 0 and body[:1] == bytes([self.COM_STMT_PREPARE]) and \
                    self.target in body[1:]:
                self.want_id = True
            if seq == 0 and body[:1] == bytes([self.COM_STMT_EXECUTE]) and \
                    self.armed and body[1:5] == self.stmt_id:
                self.armed = False
                if self.mode == "before":
                    return self._cut(c, u)
                self.cut_answer = True
            u.sendall(pkt)

    def _down(self, u, c):
        while True:
            pkt = self._packet(u)
            if pkt is None:
                return self._cut(c, u)
            if self.want_id and pkt[3] == 1 and pkt[4] == 0:
                self.want_id = False
                self.stmt_id = pkt[5:9]
            if self.cut_answer:
                self.cut_answer = False
                return self._cut(c, u)
            c.sendall(pkt)

    def close(self):
        self.lsock.close()


def test_rotation_outcome_lost(t):
    """A rotation whose connection dies before its answer comes back
    (CR_SERVER_LOST on the UPDATE): the program reads the session again on
    a new connection and answers by it: the pair it wrote if the UPDATE
    landed, 503 (the same token still good) if it did not."""
    base = config_values()
    url = urllib.parse.urlsplit(base["MYSQL_DB_URL"])
    user, uid, pair = session_user(t, "rlost")
    tok = pair["refresh_token"]
    sid = payload(tok).get("sid", "")
    for mode in ("after", "before"):
        proxy = CutProxy("current_jti = ?, generation = generation + 1",
                         mode)
        conf = write_file(env("AUTH_TEST_TMPDIR"), "lost-%s.env" % mode,
                          "".join("%s=%s\n" % (k, v) for k, v in base.items()
                                  if k != "MYSQL_DB_URL") +
                          "MYSQL_DB_URL=%s://%s@127.0.0.1:%d%s\n"
                          % (url.scheme, url.netloc.rsplit("@", 1)[0],
                             proxy.port, url.path))
        before = srow(sid) or {}
        r = cgi({"refresh_token": tok}, prog="auth-refresh-token",
                config=conf)
        cut = proxy.cut_done.wait(5)
        proxy.close()
        row = srow(sid) or {}
        t.ok(cut and "rotation outcome unknown" in r.stderr,
             "outcome lost %s the UPDATE: the connection was cut, and the "
             "program said it would read the session again" % mode,
             r.stderr[-600:])
        if mode == "after":
            p = payload((r.json or {}).get("refresh_token", ""))
            t.ok(r.status == 200 and row.get("generation") ==
                 before.get("generation", 0) + 1 and
                 p.get("jti") == row.get("current"),
                 "the UPDATE landed, its answer lost: 200 with the pair "
                 "it wrote (the session's current generation)", repr(r),
                 repr(row))
            if r.status == 200:
                tok = r.json["refresh_token"]
                TOKENS.append(tok)
        else:
            t.ok(r.status == 503 and row == before,
                 "the UPDATE never reached the server: 503, the session "
                 "unchanged", repr(r), repr(row))
    r = refresh(tok)
    check_pair(t, r, uid, "afterwards the newest token rotates through the "
               "web server")


def test_dead_sessions(t):
    # Revoked.
    user, uid, pair = session_user(t, "rv")
    sid = payload(pair["refresh_token"]).get("sid", "")
    db_query("UPDATE auth_refresh_session SET revoked_at = created_at "
             "WHERE id = %s" % sql_quote(sid))
    r = refresh(pair["refresh_token"])
    expect(t, r, 401, INVALID, "revoked session: 401")
    # Expired in the database while the token's exp is still ahead.
    user, uid, pair = session_user(t, "rx")
    sid = payload(pair["refresh_token"]).get("sid", "")
    db_query("UPDATE auth_refresh_session SET expires_at = created_at - "
             "INTERVAL 1 SECOND WHERE id = %s" % sql_quote(sid))
    r = refresh(pair["refresh_token"])
    expect(t, r, 401, INVALID, "session past its expires_at (token exp "
           "ahead): 401")
    t.eq((srow(sid) or {}).get("generation"), 1,
         "the expired session did not advance")
    # User deleted (the session goes with it).
    user, uid, pair = session_user(t, "rd")
    sid = payload(pair["refresh_token"]).get("sid", "")
    db_query("DELETE FROM `user` WHERE id = %d" % uid)
    t.eq(srow(sid), None, "deleting the user deleted its session (cascade)")
    r = refresh(pair["refresh_token"])
    expect(t, r, 401, INVALID, "deleted user: 401")
    # User disabled.
    user, uid, pair = session_user(t, "ri")
    sid = payload(pair["refresh_token"]).get("sid", "")
    db_query("UPDATE `user` SET is_active = 0 WHERE id = %d" % uid)
    r = refresh(pair["refresh_token"])
    expect(t, r, 401, INVALID, "disabled user: 401")
    t.eq((srow(sid) or {}).get("generation"), 1,
         "the disabled user's session did not advance")
    # A session of another user named in a token for this one.
    user, uid, pair = session_user(t, "ro")
    other, ouid, opair = session_user(t, "ro")
    c = payload(opair["refresh_token"])
    c["sub"] = str(uid)
    r = refresh(sign(c))
    expect(t, r, 401, INVALID, "a validly signed token naming another "
           "user's session: 401")
    t.eq((srow(c.get("sid", "")) or {}).get("generation"), 1,
         "the other user's session did not advance")


def forgeries():
    """(name, function of (token, its claims, the other user's token,
    the login's access token, now) giving the forged string)."""
    def parts(tok):
        return tok.split(".")

    def flip(s):
        return s[:10] + ("A" if s[10] != "A" else "B") + s[11:]

    def plain(c):
        return b64e(json.dumps(c, separators=(",", ":")).encode())

    return [
        ("bad signature", lambda tk, c, o, a, now:
         ".".join(parts(tk)[:2] + [flip(parts(tk)[2])])),
        ("the signature of another token", lambda tk, c, o, a, now:
         ".".join(parts(tk)[:2] + [parts(o)[2]])),
        ("tampered payload (exp + 1 day), original signature",
         lambda tk, c, o, a, now: parts(tk)[0] + "." +
         plain(dict(c, exp=c["exp"] + 86400)) + "." + parts(tk)[2]),
        ("the other user's payload, this signature",
         lambda tk, c, o, a, now: ".".join(
             [parts(tk)[0], parts(o)[1], parts(tk)[2]])),
        ("alg none, empty signature", lambda tk, c, o, a, now:
         sign(c, alg="none").rsplit(".", 1)[0] + "."),
        ("alg none, HS256 signature", lambda tk, c, o, a, now:
         sign(c, alg="none")),
        ("alg None", lambda tk, c, o, a, now: sign(c, alg="None")),
        ("alg HS512, signed with SHA-512 and our key",
         lambda tk, c, o, a, now: sign(c, alg="HS512",
                                       digest=hashlib.sha512)),
        ("alg HS384, signed with SHA-384 and our key",
         lambda tk, c, o, a, now: sign(c, alg="HS384",
                                       digest=hashlib.sha384)),
        ("alg HS512 header, HS256 signature", lambda tk, c, o, a, now:
         sign(c, alg="HS512")),
        ("alg RS256 header, HS256 signature", lambda tk, c, o, a, now:
         sign(c, alg="RS256")),
        ("no alg in the header", lambda tk, c, o, a, now:
         sign(c, header={"typ": "JWT"})),
        ("HS256 with a foreign key", lambda tk, c, o, a, now:
         sign(c, key=b"another-secret-of-at-least-32-bytes-xyz")),
        ("HS256 with the key's first 32 bytes", lambda tk, c, o, a, now:
         sign(c, key=secret()[:32])),
        ("expired 120 s ago (beyond the 60 s leeway)",
         lambda tk, c, o, a, now: sign(dict(c, iat=now - 1000,
                                            exp=now - 120))),
        ("iat 10 min in the future", lambda tk, c, o, a, now:
         sign(dict(c, iat=now + 600, exp=now + 3600))),
        ("type access with sid and jti", lambda tk, c, o, a, now:
         sign(dict(c, type="access"))),
        ("no type", lambda tk, c, o, a, now:
         sign({k: v for k, v in c.items() if k != "type"})),
        ("jti in upper case", lambda tk, c, o, a, now:
         sign(dict(c, jti=c["jti"].upper()))),
        ("sub a number", lambda tk, c, o, a, now:
         sign(dict(c, sub=int(c["sub"])))),
        ("exp a string", lambda tk, c, o, a, now:
         sign(dict(c, exp=str(c["exp"])))),
        ("the login's access token", lambda tk, c, o, a, now: a),
        ("empty string", lambda tk, c, o, a, now: ""),
        ("one part", lambda tk, c, o, a, now: "abc"),
        ("two parts", lambda tk, c, o, a, now: ".".join(parts(tk)[:2])),
        ("four parts", lambda tk, c, o, a, now: tk + "." + parts(tk)[2]),
        ("empty signature", lambda tk, c, o, a, now:
         ".".join(parts(tk)[:2]) + "."),
        ("trailing space", lambda tk, c, o, a, now: tk + " "),
        ("leading space", lambda tk, c, o, a, now: " " + tk),
        ("trailing newline", lambda tk, c, o, a, now: tk + "\n"),
        ("Bearer prefix", lambda tk, c, o, a, now: "Bearer " + tk),
        ("base64 padding on the signature", lambda tk, c, o, a, now:
         tk + "="),
        ("standard base64 alphabet and padding in the signature",
         lambda tk, c, o, a, now: ".".join(parts(tk)[:2]) + "." +
         base64.b64encode(b64d(parts(tk)[2])).decode()),
        ("15 KB of junk", lambda tk, c, o, a, now:
         "a" * 8000 + "." + "b" * 7000 + "." + "c" * 43),
    ]


def test_forged(t):
    user, uid, pair = session_user(t, "rf")
    other, ouid, opair = session_user(t, "rf")
    moved = []
    for name, make in forgeries():
        tok = pair["refresh_token"]
        c = payload(tok)
        sid = c.get("sid", "")
        r = refresh(make(tok, c, opair["refresh_token"],
                         pair["access_token"], int(time.time())))
        expect(t, r, 401, INVALID, "refresh with %s: 401" % name)
        row = srow(sid) or {}
        if (row.get("generation"), row.get("current"),
                row.get("revoked")) != (1, c.get("jti"), None):
            moved.append("%s: %r" % (name, row))
            pair = login(t, user, uid)    # a fresh session for the next
    t.ok(not moved, "none of these advanced or revoked the session",
         *moved)
    # The control: the same claims signed properly are accepted, so each
    # rejection above is the flaw it names.
    c = payload(pair["refresh_token"])
    r = refresh(sign(dict(c, iat=int(time.time()))))
    check_pair(t, r, uid, "the same claims signed by the test with "
               "HS256 and JWT_SECRET_KEY")
    t.eq((srow(c.get("sid", "")) or {}).get("generation"), 2,
         "that rotated the session")


def test_422(t):
    nonstr = "Input should be a valid string"
    for name, body, want in (
            ("no field", {}, [err("refresh_token", "Field required",
                                  "missing")]),
            ("other field", {"token": "x"},
             [err("refresh_token", "Field required", "missing")]),
            ("a number", {"refresh_token": 1}, [err("refresh_token", nonstr,
                                                    "string_type")]),
            ("null", {"refresh_token": None}, [err("refresh_token", nonstr,
                                                   "string_type")]),
            ("a list", {"refresh_token": ["a.b.c"]},
             [err("refresh_token", nonstr, "string_type")]),
            ("an object", {"refresh_token": {"a": 1}},
             [err("refresh_token", nonstr, "string_type")]),
            ("a NUL inside", {"refresh_token": "a.b\x00.c"},
             [err("refresh_token", "String must not contain NUL "
                  "characters", "string_type")])):
        r = request("POST", REFRESH, body)
        expect_422(t, r, want, "refresh 422: " + name)
    r = request("POST", REFRESH, b"{", headers=JSON_CT)
    expect_422(t, r, [err(None, "JSON decode error", "json_invalid")],
               "refresh 422: malformed JSON")
    r = request("GET", REFRESH)
    expect(t, r, 405, "Method Not Allowed", "GET refresh-token: 405")


def test_lifetime(t):
    user = new_user("rl")
    uid = register(t, user)
    t0 = int(time.time())
    r = cgi({"email": user["email"], "password": user["password"]},
            prog="auth-login",
            extra_env={"REFRESH_TOKEN_EXPIRE_SECONDS": "3"})
    body = r.json if isinstance(r.json, dict) else {}
    t.ok(r.status == 200 and "refresh_token" in body and r.returncode == 0,
         "lifetime: CGI login with REFRESH_TOKEN_EXPIRE_SECONDS=3: 200",
         repr(r))
    t.ok(re.search(r"login success user=%d " % uid, r.stderr),
         "lifetime: CGI login logged its success", r.stderr[-400:])
    r1 = body.get("refresh_token", "")
    TOKENS.append(r1)
    p1 = payload(r1)
    sid = p1.get("sid", "")
    t.eq(p1.get("exp", 0) - p1.get("iat", 0), 3,
         "lifetime: refresh token exp = iat + 3", repr(p1))
    t.ok(t0 <= p1.get("iat", 0) <= t0 + 2, "lifetime: iat is the login time",
         "t0 %d, %r" % (t0, p1))
    end = p1.get("iat", t0) + 3
    r = refresh(r1)
    p2 = check_pair(t, r, uid, "lifetime: rotation inside the lifetime")
    t.ok(0 < p2.get("exp", 0) <= end,
         "lifetime: the rotated token's exp does not pass login + 3 s",
         "exp %r, end %d" % (p2.get("exp"), end))
    r2 = (r.json or {}).get("refresh_token", "")
    time.sleep(max(0.0, end + 1.2 - time.time()))
    r = refresh(r2)
    expect(t, r, 401, INVALID, "lifetime: past login + 3 s the current "
           "token is refused (its exp is within the JWT leeway)")
    t.eq((srow(sid) or {}).get("generation"), 2,
         "lifetime: the expired session did not advance")


def test_concurrent(t):
    user, uid, pair = session_user(t, "rc")
    tok = pair["refresh_token"]
    sid = payload(tok).get("sid", "")
    def one(i):
        r = request("POST", REFRESH, {"refresh_token": tok}, timeout=20)
        return (r.status, r.json)

    results = race(20, one)
    results = [r if isinstance(r, tuple) else ("exception", r)
               for r in results]
    statuses = [r[0] if r else None for r in results]
    t.diag("20 concurrent refreshes: %r" % sorted(map(str, statuses)))
    t.ok(all(s in (200, 401) for s in statuses),
         "concurrent: every answer is 200 or 401 (no 5xx, no error)",
         repr(results))
    row = srow(sid) or {}
    t.eq((row.get("generation"), row.get("revoked")), (2, None),
         "concurrent: exactly one rotation (generation 1 -> 2), not revoked")
    oks = [r[1] for r in results if r and r[0] == 200]
    for b in oks:
        TOKENS.extend([b.get("access_token", ""), b.get("refresh_token", "")])
    claims = set()
    for b in oks:
        p = payload(b.get("refresh_token", ""))
        claims.add((p.get("sid"), p.get("jti"), p.get("exp")))
    t.ok(oks and claims == {(sid, row.get("current"),
                             payload(tok).get("exp"))},
         "concurrent: every 200 carries the same refresh token (the "
         "session's current sid and jti; %d of 20 were 200)" % len(oks),
         repr(claims), "current %r" % row.get("current"))
    if oks:
        r = refresh(oks[0]["refresh_token"])
        check_pair(t, r, uid, "concurrent: the one current token rotates "
                   "next")
    else:
        t.ok(False, "concurrent: the one current token rotates next")


def test_logs(t):
    log = program_log()
    lines = [ln for ln in log.splitlines()
             if ln.startswith("auth-refresh-token[")]
    bad = [ln for ln in lines
           if not re.match(r"^auth-refresh-token\[\d+\]: [a-z]+: \S+", ln)]
    t.ok(lines and not bad, "every auth-refresh-token log line is "
         "'auth-refresh-token[pid]: level: event ...'", repr(bad[:5]))
    leaked = [tk[:12] + "..." for tk in TOKENS
              if tk and len(tk) > 40 and tk.split(".")[-1] in log]
    t.ok(not leaked, "no token handed out appears in the programs' log",
         repr(leaked[:3]))
    check_logs_clean(t, "refresh")


def main():
    t = TAP()
    for fn in (test_rotation, test_grace, test_reuse, test_three_holders,
               test_legacy_tokens, test_lock_waits,
               test_rotation_outcome_lost, test_dead_sessions,
               test_forged, test_422, test_lifetime, test_concurrent,
               test_logs):
        t.run(fn)
    t.done()


if __name__ == "__main__":
    main()
