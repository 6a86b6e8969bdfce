# SPDX-License-Identifier: ISC
"""CORS through the web server, as Starlette's CORSMiddleware answered for
the FastAPI backend: preflights (OPTIONS) reach the programs on every
server and are answered 200 with every Access-Control-* header for an
allowed origin, 400 without them for another; every answer to an allowed
origin names it, whatever its status; another origin gets no CORS header.
scripts/test's config allows FRONTS with credentials.  Off by default: a
config without CORS_ALLOW_ORIGINS answers a preflight 405 (the program
run as plain CGI), and a config with a bad one is refused at start."""

import os
import re

from harness import (TAP, cgi, config_values, env, expect, new_user, post,
                     program_log, request, write_file)

FRONT = "http://localhost:5173"
OTHER = "https://evil.example"
LOGIN = "/api/auth/login"
# Each endpoint and the methods it takes.
ENDPOINTS = (("register", "POST"), ("login", "POST"),
             ("refresh-token", "POST"), ("forgot-password", "POST"),
             ("reset-password", "POST"), ("logout", "POST"),
             ("health", "GET, HEAD"))


def preflight(path, origin=FRONT, method="POST", headers="content-type"):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers is not None:
        h["Access-Control-Request-Headers"] = headers
    return request("OPTIONS", path, None, headers=h)


def cors_headers(r):
    return {k: v for k, v in r.headers.items()
            if k.startswith("access-control-")}


def check_allowed(t, r, desc):
    bad = []
    if r.header("access-control-allow-origin") != FRONT:
        bad.append("Access-Control-Allow-Origin %r"
                   % r.header("access-control-allow-origin"))
    if r.header("access-control-allow-credentials") != "true":
        bad.append("no Access-Control-Allow-Credentials: true")
    if "Origin" not in (r.header("vary") or ""):
        bad.append("Vary %r" % r.header("vary"))
    return t.ok(not bad, desc, *(bad + [repr(r)] if bad else []))


def test_preflight(t):
    for name, methods in ENDPOINTS:
        path = "/api/auth/" + name
        r = preflight(path, method=methods.split(",")[0],
                      headers="content-type,authorization")
        want = {
            "access-control-allow-origin": FRONT,
            "access-control-allow-methods": methods,
            "access-control-allow-headers": "Accept, Accept-Language, "
            "Content-Language, Content-Type, Authorization",
            "access-control-allow-credentials": "true",
            "access-control-max-age": "600",
        }
        t.ok(r.status == 200 and cors_headers(r) == want and
             r.header("vary") == "Origin" and r.json == {"message": "OK"},
             "%s: a preflight from the front end is answered 200 with "
             "every Access-Control-* header" % name, repr(r))
        r = preflight(path, origin=OTHER, method=methods.split(",")[0])
        t.ok(r.status == 400 and not cors_headers(r),
             "%s: a preflight from another origin: 400, no "
             "Access-Control-* header" % name, repr(r))
        r = request("OPTIONS", path, None, headers={"Origin": FRONT})
        t.ok(r.status == 405 and r.header("allow") == methods,
             "%s: OPTIONS that is no preflight: 405, Allow: %s"
             % (name, methods), repr(r))
    r = preflight(LOGIN, origin=OTHER)
    expect(t, r, 400, "Disallowed CORS origin",
           "a preflight from another origin: 400")
    t.ok(not cors_headers(r), "... without any Access-Control-* header",
         repr(r))
    r = preflight(LOGIN, method="DELETE")
    expect(t, r, 400, "Disallowed CORS method",
           "a preflight for a method the endpoint does not take: 400")
    r = preflight(LOGIN, headers="content-type, x-not-allowed")
    expect(t, r, 400, "Disallowed CORS headers",
           "a preflight asking for a header not allowed: 400")
    r = preflight(LOGIN, headers=None)
    t.eq(r.status, 200, "a preflight asking for no header: 200")
    r = preflight("/api/auth/nope")
    expect(t, r, 404, "Not Found", "a preflight for no endpoint: 404")
    r = request("OPTIONS", LOGIN, None, headers={"Origin": FRONT})
    expect(t, r, 405, "Method Not Allowed", "OPTIONS without "
           "Access-Control-Request-Method is no preflight: 405")
    check_allowed(t, r, "... and its 405 names the front end")
    r = request("OPTIONS", LOGIN)
    expect(t, r, 405, "Method Not Allowed", "OPTIONS without Origin: 405")


def test_simple(t):
    user = new_user("co")
    front = {"Origin": FRONT}
    r = post(user, headers=front)
    t.eq(r.status, 201, "register from the front end: 201")
    check_allowed(t, r, "... naming the front end")
    cases = [
        ("login 200", lambda h: request("POST", LOGIN, {
            "email": user["email"], "password": user["password"]},
            headers=h), 200),
        ("login 401", lambda h: request("POST", LOGIN, {
            "email": user["email"], "password": "wrong-password"},
            headers=h), 401),
        ("login 422", lambda h: request("POST", LOGIN, {}, headers=h), 422),
        ("register 409", lambda h: post(user, headers=h), 409),
        ("login 415", lambda h: request("POST", LOGIN, "{}", headers=dict(
            h, **{"Content-Type": "text/plain"})), 415),
        ("GET login 405", lambda h: request("GET", LOGIN, headers=h), 405),
        ("unknown path 404", lambda h: request("POST", "/api/auth/nope",
                                               {}, headers=h), 404),
        ("forgot-password 200", lambda h: request(
            "POST", "/api/auth/forgot-password",
            {"email": "nobody-" + user["email"]}, headers=h), 200),
    ]
    for name, fn, status in cases:
        r = fn(front)
        t.eq(r.status, status, "%s from the front end" % name)
        check_allowed(t, r, "%s: names the front end" % name)
        r = fn({"Origin": OTHER})
        t.ok(r.status == status and not cors_headers(r),
             "%s from another origin: no CORS header" % name, repr(r))
        r = fn({})
        t.ok(r.status == status and not cors_headers(r) and
             r.header("vary") is None,
             "%s without Origin: no CORS header, no Vary" % name, repr(r))


def test_config(t):
    tmp = os.path.join(env("AUTH_TEST_TMPDIR"), "cors")
    os.makedirs(tmp, exist_ok=True)
    base = {k: v for k, v in config_values().items()
            if not k.startswith("CORS_")}

    def cfg(name, **over):
        vals = dict(base, **over)
        return write_file(tmp, name, "".join(
            "%s=%s\n" % kv for kv in vals.items() if kv[1] is not None))

    pre = {"HTTP_ORIGIN": FRONT,
           "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "POST"}
    r = cgi(b"", method="OPTIONS", content_type=None, content_length=None,
            config=cfg("off.env"), extra_env=pre, prog="auth-login")
    t.ok(r.status == 405 and r.header("access-control-allow-origin") is
         None and r.header("allow") == "POST",
         "CORS off (no CORS_ALLOW_ORIGINS): a preflight gets 405, as FastAPI "
         "without the middleware", repr(r))
    r = cgi(b"", method="OPTIONS", content_type=None, content_length=None,
            config=cfg("on.env", CORS_ALLOW_ORIGINS="'%s'" % FRONT),
            extra_env=pre, prog="auth-login")
    t.ok(r.status == 200 and r.header("access-control-allow-origin") ==
         FRONT and r.header("access-control-allow-credentials") is None and
         r.header("access-control-max-age") == "600",
         "CORS_ALLOW_ORIGINS alone: allowed, without credentials, max age "
         "600", repr(r))
    r = cgi(b"", method="OPTIONS", content_type=None, content_length=None,
            config=cfg("age.env", CORS_ALLOW_ORIGINS=FRONT,
                       CORS_MAX_AGE="86400", CORS_ALLOW_HEADERS=""),
            extra_env=dict(pre, HTTP_ACCESS_CONTROL_REQUEST_HEADERS=
                           "content-type"), prog="auth-login")
    t.ok(r.status == 200 and r.header("access-control-max-age") == "86400"
         and r.header("access-control-allow-headers") == "Accept, "
         "Accept-Language, Content-Language, Content-Type",
         "CORS_MAX_AGE and an empty CORS_ALLOW_HEADERS", repr(r))
    for name, over, key in (
            ("slash.env", {"CORS_ALLOW_ORIGINS": FRONT + "/"},
             "CORS_ALLOW_ORIGINS"),
            ("star.env", {"CORS_ALLOW_ORIGINS": "*",
                          "CORS_ALLOW_CREDENTIALS": "true"},
             "CORS_ALLOW_ORIGINS"),
            ("cred.env", {"CORS_ALLOW_ORIGINS": FRONT,
                          "CORS_ALLOW_CREDENTIALS": "maybe"},
             "CORS_ALLOW_CREDENTIALS"),
            ("age-bad.env", {"CORS_ALLOW_ORIGINS": FRONT,
                             "CORS_MAX_AGE": "-1"}, "CORS_MAX_AGE"),
            ("hdr.env", {"CORS_ALLOW_ORIGINS": FRONT,
                         "CORS_ALLOW_HEADERS": "X-A:"}, "CORS_ALLOW_HEADERS")):
        r = cgi(b"", method="GET", content_type=None, content_length=None,
                config=cfg(name, **over), prog="auth-login")
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        t.ok(r.returncode != 0 and len(lines) == 1 and key in lines[0],
             "%s: the program refuses to start, naming %s"
             % (", ".join("%s=%s" % kv for kv in over.items()), key),
             repr(r))


def main():
    t = TAP()
    for fn in (test_preflight, test_simple, test_config):
        t.run(fn)
    t.done()


if __name__ == "__main__":
    main()
