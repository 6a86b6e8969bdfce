# SPDX-License-Identifier: ISC
"""POST /api/auth/logout through the web server: the session ends and its
refresh token is dead at refresh-token; a retried logout is 200; every
generation an attacker may hold (current, just replaced, older, of a
session of another user, expired, forged, not a refresh token); "all":
true and what it must not do with a stale token; the 422s ("all" only a
JSON boolean); concurrent logouts and a logout racing a refresh; the
throttle it shares with refresh-token (lighttpd pass); plain CGI."""

import os
import threading
import time

from harness import (TAP, cgi, check_logs_clean, config_values, db_query,
                     err, expect, expect_422, header_problems, race,
                     request, server, sql_quote)
from test_refresh import (INVALID, TOKENS, LogMark, check_pair, forgeries,
                          grace, login, payload, refresh, session_user,
                          sign, srow)

LOGOUT = "/api/auth/logout"
REFRESH = "/api/auth/refresh-token"
LOGGED_OUT = {"message": "Logged out"}
BOOL = "Input should be a valid boolean"


def logout(tok, all_=None, **kw):
    body = {"refresh_token": tok}
    if all_ is not None:
        body["all"] = all_
    return request("POST", LOGOUT, body, **kw)


def expect_out(t, r, desc):
    bad = header_problems(r)
    if r.status != 200:
        bad.insert(0, "status %s, want 200" % r.status)
    if r.json != LOGGED_OUT:
        bad.append("body %r, want %r" % (r.json, LOGGED_OUT))
    return t.ok(not bad, desc, *(bad + [repr(r)] if bad else []))


def revoked(tok):
    row = srow(payload(tok).get("sid", "")) or {}
    return row.get("revoked") is not None


def live_sessions(uid):
    return int(db_query("SELECT COUNT(*) FROM auth_refresh_session WHERE "
                        "user_id = %d AND revoked_at IS NULL" % uid)[0][0])


def test_logout(t):
    user, uid, pair = session_user(t, "lo")
    tok = pair["refresh_token"]
    mark = LogMark()
    r = logout(tok)
    expect_out(t, r, "%s: logout with the login's refresh token: 200 "
               "{\"message\": \"Logged out\"}" % server())
    t.ok(revoked(tok), "the session is revoked", repr(srow(payload(tok)
                                                          ["sid"])))
    t.ok(mark.lines(r"^auth-logout\[\d+\]: info: logout ended user=%d "
                    r"session=%s all=no client=127\.0\.0\.1$"
                    % (uid, payload(tok)["sid"][:8])),
         "log: logout ended user=%d session=..." % uid)
    r = refresh(tok)
    expect(t, r, 401, INVALID, "the request after the logout: refresh with "
           "the same token is 401")
    r = logout(tok)
    expect_out(t, r, "a retried logout with the same token: 200 again")
    t.ok(mark.lines(r"^auth-logout\[\d+\]: info: logout already-ended "
                    r"user=%d " % uid),
         "log: logout already-ended")

    # After a rotation: the current generation ends the session.
    pair = login(t, user, uid)
    r = refresh(pair["refresh_token"])
    check_pair(t, r, uid, "rotation")
    cur = r.json["refresh_token"]
    expect_out(t, logout(cur), "logout with the rotated (current) token: 200")
    t.ok(revoked(cur), "... the session is revoked")
    expect(t, refresh(cur), 401, INVALID, "... and its token is dead")


def test_generations(t):
    user, uid, pair = session_user(t, "lg")
    # The generation just replaced, inside the grace window: a client
    # that lost the refresh answer may still log out.
    t1 = pair["refresh_token"]
    r = refresh(t1)
    t2 = r.json["refresh_token"]
    expect_out(t, logout(t1), "the generation just replaced, inside the "
               "grace window: 200")
    t.ok(revoked(t2), "... the session is revoked")
    expect(t, refresh(t2), 401, INVALID, "... its current token is dead")

    # Two rotations back, both inside the grace window: a burst of
    # concurrent holders, judged as refresh-token judges it.
    pair = login(t, user, uid)
    b1 = pair["refresh_token"]
    b2 = refresh(b1).json["refresh_token"]
    b3 = refresh(b2).json["refresh_token"]
    expect_out(t, logout(b1), "the token two rotations back, replaced "
               "inside the grace window: 200")
    t.ok(revoked(b3), "... the session is revoked")

    # An older generation of a live session, replaced outside the grace
    # window: a copied token.
    pair = login(t, user, uid)
    a1 = pair["refresh_token"]
    a2 = refresh(a1).json["refresh_token"]
    time.sleep(grace() + 1.5)
    a3 = refresh(a2).json["refresh_token"]
    mark = LogMark()
    r = logout(a1)
    expect(t, r, 401, INVALID, "logout with the token two rotations back, "
           "replaced outside the grace window: 401")
    t.ok(revoked(a3), "... and the session is revoked, as refresh-token "
         "would revoke it")
    t.ok(mark.lines(r"^auth-logout\[\d+\]: warn: logout reuse detected, "
                    r"session revoked user=%d " % uid),
         "log: reuse detected, session revoked")
    expect(t, refresh(a3), 401, INVALID, "... its newest token is dead")
    # The session has ended: a logout with any of its tokens is now 200.
    expect_out(t, logout(a1), "the old token again, session ended: 200")


def test_other_user(t):
    a, auid, apair = session_user(t, "lu")
    b, buid, bpair = session_user(t, "lu")
    bc = payload(bpair["refresh_token"])
    # A token naming user A and B's session (which only a holder of the
    # key could make): the database binds session and user.
    forged = sign(dict(bc, sub=str(auid)))
    for all_ in (None, True):
        r = logout(forged, all_)
        expect_out(t, r, "sub of A, session of B%s: 200 (nothing of it "
                   "exists)" % (", all" if all_ else ""))
    t.ok(not revoked(bpair["refresh_token"]), "B's session is not ended")
    t.eq(live_sessions(auid), 1, "A's session is not ended either")
    check_pair(t, refresh(bpair["refresh_token"]), buid,
               "B refreshes as before")
    # B's own token ends B's session, not A's.
    b2 = login(t, b, buid)
    expect_out(t, logout(b2["refresh_token"]), "B logs out with B's token")
    t.eq(live_sessions(auid), 1, "A's session still lives")


def test_forged(t):
    user, uid, pair = session_user(t, "lf")
    other, ouid, opair = session_user(t, "lf")
    moved = []
    now = int(time.time())
    tok = pair["refresh_token"]
    c = payload(tok)
    for name, make in forgeries():
        forged = make(tok, c, opair["refresh_token"], pair["access_token"],
                      now)
        for all_ in (None, True):
            r = logout(forged, all_)
            expect(t, r, 401, INVALID, "logout%s with %s: 401"
                   % (" all" if all_ else "", name))
        if revoked(tok) or live_sessions(ouid) != 1:
            moved.append(name)
            pair = login(t, user, uid)
            tok = pair["refresh_token"]
            c = payload(tok)
    t.ok(not moved, "none of these ended a session", *moved)
    # The control: the same claims, signed with the key, end it.
    expect_out(t, logout(sign(dict(c, iat=int(time.time())))),
               "the same claims signed with JWT_SECRET_KEY: 200")
    t.ok(revoked(tok), "... that ended the session")


def test_all(t):
    user, uid, a = session_user(t, "la")
    b = login(t, user, uid)
    c = login(t, user, uid)
    other, ouid, opair = session_user(t, "la")
    t.eq(live_sessions(uid), 3, "three sessions of one user")
    mark = LogMark()
    r = logout(a["refresh_token"], True)
    expect_out(t, r, "logout with \"all\": true: 200")
    t.eq(live_sessions(uid), 0, "every session of the user has ended")
    t.ok(mark.lines(r"^auth-logout\[\d+\]: info: logout ended user=%d "
                    r"session=\S+ all=yes " % uid), "log: all=yes")
    for name, p in (("b", b), ("c", c)):
        expect(t, refresh(p["refresh_token"]), 401, INVALID,
               "session %s's refresh token is dead" % name)
    t.eq(live_sessions(ouid), 1, "another user's session lives on")
    check_pair(t, refresh(opair["refresh_token"]), ouid,
               "the other user refreshes as before")
    expect_out(t, logout(a["refresh_token"], True), "logout all retried: "
               "200")

    # A stale token (of a session ended before) must not end the others.
    d = login(t, user, uid)
    e = login(t, user, uid)
    expect_out(t, logout(d["refresh_token"]), "logout of one session")
    expect_out(t, logout(d["refresh_token"], True), "\"all\" with that "
               "ended session's token: 200")
    t.ok(not revoked(e["refresh_token"]), "... but the other session lives")
    check_pair(t, refresh(e["refresh_token"]), uid, "... and refreshes")
    # Nor an older generation of a live session.
    f1 = login(t, user, uid)["refresh_token"]
    f2 = refresh(f1).json["refresh_token"]
    time.sleep(grace() + 1.5)
    refresh(f2)
    g = login(t, user, uid)
    expect(t, logout(f1, True), 401, INVALID, "\"all\" with a token two "
           "rotations back, outside the grace window: 401")
    t.ok(not revoked(g["refresh_token"]), "... the user's other session "
         "lives")
    t.ok(revoked(f1), "... its own session is revoked (reuse)")
    # "all": false is the default.
    h = login(t, user, uid)
    expect_out(t, logout(g["refresh_token"], False), "\"all\": false: 200")
    t.ok(not revoked(h["refresh_token"]), "... ends only its own session")


def test_expired(t):
    user, uid, pair = session_user(t, "le")
    c = payload(pair["refresh_token"])
    now = int(time.time())
    r = logout(sign(dict(c, iat=now - 1000, exp=now - 120)))
    expect(t, r, 401, INVALID, "an expired refresh token (120 s ago, beyond "
           "the 60 s leeway): 401")
    t.ok(not revoked(pair["refresh_token"]), "... the session lives")
    # Within the leeway the token verifies, but the session has ended.
    db_query("UPDATE auth_refresh_session SET expires_at = UTC_TIMESTAMP() "
             "- INTERVAL 10 SECOND WHERE id = %s" % sql_quote(c["sid"]))
    r = logout(sign(dict(c, exp=now - 10)))
    expect_out(t, r, "a session that expired 10 s ago (within the leeway): "
               "200, nothing to end")
    t.ok(not revoked(pair["refresh_token"]), "... it is left as it was")


def test_422(t):
    user, uid, pair = session_user(t, "lv")
    tok = pair["refresh_token"]
    for bad in ("true", 1, 0, None, [], {}, "yes"):
        r = request("POST", LOGOUT, {"refresh_token": tok, "all": bad})
        expect_422(t, r, [err("all", BOOL, "bool_type")],
                   "\"all\": %r: 422" % (bad,))
    r = request("POST", LOGOUT, {"all": True})
    expect_422(t, r, [err("refresh_token", "Field required", "missing")],
               "no refresh_token: 422")
    r = request("POST", LOGOUT, {"refresh_token": 123, "all": "x"})
    expect_422(t, r, [err("refresh_token", "Input should be a valid string",
                          "string_type"), err("all", BOOL, "bool_type")],
               "both fields wrong: 422 with both details")
    r = request("POST", LOGOUT, b"[]",
                headers={"Content-Type": "application/json"})
    expect_422(t, r, [err(None, "Input should be a valid dictionary or "
                          "object", "model_attributes_type")],
               "a JSON array: 422")
    t.ok(not revoked(tok), "none of these ended the session")
    r = request("GET", LOGOUT)
    expect(t, r, 405, "Method Not Allowed", "GET: 405")
    t.eq(r.header("Allow"), "POST", "GET: Allow: POST")
    r = request("POST", LOGOUT, "refresh_token=" + tok,
                headers={"Content-Type": "application/x-www-form-urlencoded"})
    expect(t, r, 415, "Content-Type must be application/json",
           "a form body: 415")
    t.ok(not revoked(tok), "the session still lives")


def test_concurrent(t):
    user, uid, pair = session_user(t, "lc")
    tok = pair["refresh_token"]
    n = 10
    out = race(n, lambda i: logout(tok).status)
    t.eq(out, [200] * n, "%d concurrent logouts with one token: all 200" % n)
    t.ok(revoked(tok), "... and the session ended")

    # A logout racing a refresh of the same token: whoever wins, the
    # session ends and no token of it refreshes afterwards.
    for round_ in range(3):
        pair = login(t, user, uid)
        tok = pair["refresh_token"]
        res = {}
        barrier = threading.Barrier(2)

        def go(name, fn):
            barrier.wait(timeout=30)
            res[name] = fn(tok)

        ths = [threading.Thread(target=go, args=("logout", logout)),
               threading.Thread(target=go, args=("refresh", refresh))]
        for th in ths:
            th.start()
        for th in ths:
            th.join(60)
        lo, rf = res.get("logout"), res.get("refresh")
        new = (rf.json or {}).get("refresh_token") if rf is not None and \
            rf.status == 200 else None
        after = refresh(new).status if new else None
        t.ok(lo is not None and lo.status == 200 and rf is not None and
             rf.status in (200, 401) and revoked(tok) and
             after in (None, 401),
             "race %d: logout 200, refresh %s, session ended, the refresh's "
             "new token %s" % (round_ + 1, rf.status if rf else None,
                               after), repr(lo), repr(rf))


def test_throttle(t):
    if server() != "lighttpd":
        # As in test_throttle.py: the counters are in the database, not
        # the web server; the lighttpd pass proves them.
        t.ok(True, "# SKIP the throttle is tested in the lighttpd pass")
        return
    from test_throttle import Lighttpd, address, aligned, call, is_429
    base = config_values()
    conf = os.path.join(os.environ["AUTH_TEST_TMPDIR"], "logout.env")
    with open(conf, "w") as f:
        for k, v in base.items():
            if not k.startswith("THROTTLE_REFRESH") and \
                    k != "TRUSTED_PROXIES":
                f.write("%s=%s\n" % (k, v))
        f.write("TRUSTED_PROXIES=127.0.0.1\nTHROTTLE_REFRESH_ADDRESS=3\n"
                "THROTTLE_REFRESH_ADDRESS_WINDOW=600\n")
    os.chmod(conf, 0o600)
    srv = Lighttpd("logout-throttle", conf)
    try:
        srv.start()
        aligned(600, 30)
        client = address()
        codes = [call(srv, LOGOUT, {"refresh_token": "x.y.z"}, client).status
                 for _ in range(3)]
        t.eq(codes, [401] * 3, "3 logouts from one address are served")
        r = call(srv, LOGOUT, {"refresh_token": "x.y.z"}, client)
        is_429(t, r, 600, "the 4th logout from the address: 429")
        r = call(srv, REFRESH, {"refresh_token": "x.y.z"}, client)
        is_429(t, r, 600, "refresh-token from that address: 429 too (one "
               "counter for both)")
        client = address()
        codes = [call(srv, REFRESH, {"refresh_token": "x.y.z"},
                      client).status for _ in range(3)]
        r = call(srv, LOGOUT, {"refresh_token": "x.y.z"}, client)
        is_429(t, r, 600, "3 refreshes, then a logout from another "
               "address: 429")
        r = call(srv, LOGOUT, {"refresh_token": "x.y.z"}, address())
        t.eq(r.status, 401, "a third address is served", repr(r))
    finally:
        srv.stop()


def test_cgi(t):
    user, uid, pair = session_user(t, "lcg")
    r = cgi({"refresh_token": pair["refresh_token"]}, prog="auth-logout")
    t.ok(r.status == 200 and r.json == LOGGED_OUT and r.returncode == 0,
         "CGI: logout 200", repr(r))
    t.ok(revoked(pair["refresh_token"]), "CGI: the session ended")


def main():
    t = TAP()
    for fn in (test_logout, test_generations, test_other_user, test_forged,
               test_all, test_expired, test_422, test_concurrent,
               test_throttle, test_cgi):
        t.run(fn)
    check_logs_clean(t, "logout")
    found = [tk[:12] for tk in TOKENS if len(tk) > 40 and
             tk in open(os.environ["AUTH_TEST_PROGRAM_LOG"],
                        errors="replace").read()]
    t.ok(not found, "no token in the program log", *found)
    t.done()


if __name__ == "__main__":
    main()
