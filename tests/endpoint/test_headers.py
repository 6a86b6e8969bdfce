# SPDX-License-Identifier: ISC
"""The request headers the programs need reach them through the web server
(issue 5, section 4): Content-Type and Content-Length (a register that
only succeeds with both, the programs' own 415 and 413), and
Authorization, which Apache withholds from a program unless told
(CGIPassAuth On, FcgidPassHeader): every program logs authorization=yes
on its request line when the request carried one, never its value.  And
the answer headers of a path below /api/auth/ that is no endpoint: the
programs' JSON 404, on every server (issue 10)."""

import json
import re
import secrets
import time

import harness
from harness import (TAP, check_logs_clean, db_scalar, expect,
                     header_problems, new_user, post, program_log, request,
                     server, sql_quote)

ENDPOINTS = ("register", "login", "refresh-token", "forgot-password",
             "reset-password")
JSON_CT = {"Content-Type": "application/json"}


class LogMark:
    """The programs' log from here on."""

    def __init__(self):
        self.pos = len(program_log())

    def request_line(self, endpoint, status, wait=5):
        """The first 'request status=STATUS' line of auth-ENDPOINT written
        since the mark (waiting a little for it), or None."""
        pat = re.compile(r"^auth-%s\[\d+\]: info: request status=%d\b"
                         % (re.escape(endpoint), status))
        deadline = time.time() + wait
        while True:
            for ln in program_log()[self.pos:].splitlines():
                if pat.match(ln):
                    return ln
            if time.time() > deadline:
                return None
            time.sleep(0.05)


def authorization_logged(line):
    return bool(line) and re.search(r"(^| )authorization=yes( |$)",
                                    line) is not None


def test_content_headers(t):
    u = new_user("hdr")
    body = json.dumps(u).encode()
    mark = LogMark()
    r = request("POST", "/api/auth/register", body,
                headers={"Content-Type": "application/json; charset=utf-8",
                         "Content-Length": str(len(body))})
    t.ok(r.status == 201 and not header_problems(r),
         "%s: Content-Type and Content-Length reach the program (a "
         "register that needs both: 201)" % server(), repr(r))
    line = mark.request_line("register", 201)
    t.ok(line and not authorization_logged(line),
         "its request line, without authorization=yes (none was sent)",
         "line %r" % line)
    r = post(body, headers={"Content-Type": "text/plain"})
    expect(t, r, 415, "Content-Type must be application/json",
           "Content-Type text/plain: the program's 415")
    r = post(json.dumps(new_user("hdr")).encode() + b" " * 17000,
             headers=JSON_CT)
    expect(t, r, 413, "Request body too large",
           "Content-Length 17000-odd: the program's 413")


def test_authorization(t):
    schemes = {
        "register": "Bearer ",
        "login": "Basic ",
        "refresh-token": "Bearer ",
        "forgot-password": "Bearer ",
        "reset-password": "Digest ",
    }
    for ep in ENDPOINTS:
        token = schemes[ep] + "hdr" + secrets.token_hex(16)
        harness.SECRETS.append(token.split(" ", 1)[1])
        mark = LogMark()
        r = request("POST", "/api/auth/" + ep, b"{}",
                    headers={"Content-Type": "application/json",
                             "Authorization": token})
        answered = r.status < 500 and not header_problems(r)
        t.ok(answered, "%s: POST /api/auth/%s with Authorization: the "
             "program answers (JSON)" % (server(), ep), repr(r))
        line = mark.request_line(ep, r.status)
        t.ok(authorization_logged(line),
             "%s: auth-%s's request line says authorization=yes: the "
             "header reached it" % (server(), ep), "line %r" % line,
             "new log: %r" % program_log()[mark.pos:][-800:])
        t.ok(line is None or token.split(" ", 1)[1] not in line,
             "auth-%s: the header's value is not logged" % ep)

    # The same request without it: no authorization=yes.
    mark = LogMark()
    r = request("POST", "/api/auth/refresh-token", b"{}", headers=JSON_CT)
    line = mark.request_line("refresh-token", r.status)
    t.ok(line and not authorization_logged(line),
         "without Authorization: the request line has no "
         "authorization=yes", "line %r" % line)

    # A long one (4 KiB, below every server's header limit) gets there too.
    token = "Bearer " + "x" * 4000 + secrets.token_hex(8)
    mark = LogMark()
    r = request("POST", "/api/auth/refresh-token", b"{}",
                headers={"Content-Type": "application/json",
                         "Authorization": token})
    line = mark.request_line("refresh-token", r.status)
    t.ok(r.status < 500 and authorization_logged(line),
         "a 4 KiB Authorization header reaches the program",
         repr(r), "line %r" % line)


def test_not_found(t):
    """Every path below /api/auth/ that is no endpoint: 404
    {"detail": "Not Found"} with the headers of every answer, whatever
    the method, and the program it may have reached does nothing."""
    user = new_user("nf")
    login = {"email": user["email"], "password": user["password"]}
    cases = [
        ("GET", "/api/auth/nope", None),
        ("POST", "/api/auth/nope", {}),
        ("PUT", "/api/auth/nope", {}),
        ("DELETE", "/api/auth/nope", None),
        ("GET", "/api/auth/", None),
        ("POST", "/api/auth/", login),
        ("GET", "/api/auth", None),
        ("POST", "/api/auth/register2", user),
        ("POST", "/api/auth/registerx", user),
        ("POST", "/api/auth/register/x", user),
        ("POST", "/api/auth/login2", login),
        ("POST", "/api/auth/login/", login),
        ("POST", "/api/auth/refresh-token/not-found", {}),
        ("GET", "/api/auth/a/b/c?x=1", None),
        ("POST", "/api/auth/reset", {}),
    ]
    for method, path, body in cases:
        r = request(method, path, body)
        expect(t, r, 404, "Not Found", "%s: %s %s: the programs' JSON 404"
               % (server(), method, path))
    t.eq(db_scalar("SELECT COUNT(*) FROM `user` WHERE email = %s"
                   % sql_quote(user["email"])), "0",
         "%s: register2, registerx, register/x created no account"
         % server())
    r = request("POST", "/api/auth/register", user)
    t.eq(r.status, 201, "%s: /api/auth/register itself still answers"
         % server(), repr(r))
    r = request("GET", "/api/auth/login")
    expect(t, r, 405, "Method Not Allowed",
           "%s: GET /api/auth/login is still the endpoint's 405" % server())


def main():
    t = TAP()
    for fn in (test_content_headers, test_authorization, test_not_found):
        t.run(fn)
    check_logs_clean(t, "headers")
    t.done()


if __name__ == "__main__":
    main()
