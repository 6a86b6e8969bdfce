# SPDX-License-Identifier: ISC
"""The error answers every program shares, through the web server, for
every endpoint: the request front end (405 with Allow, 415, 413, 422, a
path below the program, 411 where the server lets a request without
Content-Length through), and the answers to a database that fails: 503
while MariaDB is away, 500 when it refuses a statement (tables renamed
away), and every program answering again once it is back.  Each answer
is one test_openapi.py checks against openapi.json."""

import time

from harness import (TAP, db_query, env, expect, header_problems, new_user,
                     raw_request, request, server, shell)
from test_refresh import session_user

POSTS = ("register", "login", "refresh-token", "forgot-password",
         "reset-password", "logout")
JSON_CT = {"Content-Type": "application/json"}
UNAVAILABLE = "Service temporarily unavailable"
BROKEN = "Internal server error"


def path(ep):
    return "/api/auth/" + ep


def valid_bodies(t):
    """A valid body for each endpoint, reaching its database work."""
    user, uid, pair = session_user(t, "err")
    return {
        "register": lambda: new_user("err"),
        "login": lambda: {"email": user["email"],
                          "password": user["password"]},
        "refresh-token": lambda: {"refresh_token": pair["refresh_token"]},
        "forgot-password": lambda: {"email": user["email"]},
        "reset-password": lambda: {"email": user["email"], "otp": "123456",
                                   "new_password": "a fine new passphrase"},
        "logout": lambda: {"refresh_token": pair["refresh_token"]},
    }


def test_front_end(t):
    for ep in POSTS:
        r = request("GET", path(ep))
        expect(t, r, 405, "Method Not Allowed", "%s: GET %s: 405"
               % (server(), ep))
        t.eq(r.header("Allow"), "POST", "GET %s: Allow: POST" % ep)
        r = request("POST", path(ep), b"{}",
                    headers={"Content-Type": "text/plain"})
        expect(t, r, 415, "Content-Type must be application/json",
               "%s with text/plain: 415" % ep)
        r = request("POST", path(ep), b"{" + b" " * 17000 + b"}",
                    headers=JSON_CT)
        expect(t, r, 413, "Request body too large",
               "%s with 17 KB: 413" % ep)
        r = request("POST", path(ep), b"{", headers=JSON_CT)
        t.ok(r.status == 422 and not header_problems(r) and
             isinstance((r.json or {}).get("detail"), list),
             "%s with malformed JSON: 422" % ep, repr(r))
        r = request("POST", path(ep) + "/x", b"{}", headers=JSON_CT)
        expect(t, r, 404, "Not Found", "%s/x: the programs' 404" % ep)


def test_length_required(t):
    # A chunked body reaches a program without CONTENT_LENGTH only under
    # mod_cgi; lighttpd and mod_fcgid read it and give its length.
    for ep in POSTS:
        st, raw = raw_request(
            b"POST " + path(ep).encode() + b" HTTP/1.1\r\nHost: localhost"
            b"\r\nContent-Type: application/json\r\nTransfer-Encoding: "
            b"chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n")
        if server() == "apache-cgi":
            t.ok(st == 411 and b'{"detail":"Content-Length required"}' in
                 raw, "%s, chunked, through mod_cgi: 411" % ep, raw[:300])
        else:
            t.ok(st in (400, 401, 422), "%s, chunked: read whole by %s "
                 "(the program judges the body)" % (ep, server()),
                 raw[:300])


def test_database_away(t):
    bodies = valid_bodies(t)
    p = shell(env("AUTH_TEST_DB_STOP"))
    t.ok(p.returncode == 0, "MariaDB stopped", p.stderr[-500:])
    try:
        for ep in POSTS:
            # forgot-password too: it queues the request in the database
            # before it answers (the same for every address).
            r = request("POST", path(ep), bodies[ep](), timeout=20)
            expect(t, r, 503, UNAVAILABLE, "database away: %s 503" % ep)
    finally:
        p = shell(env("AUTH_TEST_DB_START"))
    t.ok(p.returncode == 0, "MariaDB started again",
         (p.stdout + p.stderr)[-800:])
    # Back: every program reconnects by itself.
    deadline = time.time() + 30
    while True:
        r = request("POST", path("register"), bodies["register"]())
        if r.status == 201 or time.time() > deadline:
            break
        time.sleep(0.5)
    t.eq(r.status, 201, "back: register 201 again", repr(r))


def test_database_refuses(t):
    bodies = valid_bodies(t)
    want = {"register": 500, "login": 500, "refresh-token": 500,
            "reset-password": 500, "logout": 500, "forgot-password": 200}
    db_query("RENAME TABLE `user` TO user_away, auth_refresh_session TO "
             "auth_refresh_session_away")
    try:
        got = {ep: request("POST", path(ep), bodies[ep]()) for ep in POSTS}
    finally:
        db_query("RENAME TABLE user_away TO `user`, "
                 "auth_refresh_session_away TO auth_refresh_session")
    for ep in POSTS:
        r = got[ep]
        if want[ep] == 500:
            expect(t, r, 500, BROKEN, "tables renamed away: %s 500 "
                   "(the database refused its statement)" % ep)
        else:
            t.eq(r.status, 200, "tables renamed away: forgot-password 200 "
                 "(answered before any statement)", repr(r))
    r = request("POST", path("register"), bodies["register"]())
    t.eq(r.status, 201, "tables back: register 201 at once", repr(r))
    user, uid, pair = session_user(t, "err")
    r = request("POST", path("logout"),
                {"refresh_token": pair["refresh_token"]})
    t.eq(r.status, 200, "tables back: logout 200", repr(r))


def main():
    t = TAP()
    for fn in (test_front_end, test_length_required, test_database_away,
               test_database_refuses):
        t.run(fn)
    t.done()


if __name__ == "__main__":
    main()
