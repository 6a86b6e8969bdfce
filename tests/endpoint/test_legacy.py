# SPDX-License-Identifier: ISC
"""What accounts, clients and operators of the FastAPI backend rely on: a
password longer than 72 bytes logs in by its first 72 bytes, as passlib's
bcrypt read it (and a cheap hash of such an account is rehashed from those
bytes); registration and reset keep refusing such passwords; 401 answers
carry WWW-Authenticate: Bearer, as FastAPI's OAuth2 helpers send it, and
no other answer does; the FastAPI backend's .env works as it is, every
value quoted or not, with its 7-day access tokens and a warning about
them (the program run as plain CGI with such a file)."""

import base64
import json
import os
import re
import warnings

from harness import (TAP, cgi, config_values, db_query, db_scalar, env, err,
                     expect, expect_422, new_user, password, post, request,
                     sql_quote, write_file)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt                            # libxcrypt, as the programs'

LOGIN = "/api/auth/login"
REFRESH = "/api/auth/refresh-token"
RESET = "/api/auth/reset-password"
INVALID = "Invalid email or password"
BCRYPT10 = re.compile(r"^\$2b\$10\$")


def login(email, pw):
    return request("POST", LOGIN, {"email": email, "password": pw})


def long_password():
    """80 bytes: 72 ASCII (a fresh password, padded), then 8 bytes of
    UTF-8 that bcrypt never reads."""
    p = password()
    return (p + "x" * 72)[:72] + "\u00e9" * 4


def registered(t, user):
    r = post(user)
    t.ok(r.status == 201, "register %s: 201" % user["username"], repr(r))
    return r.json["id"] if r.status == 201 else -1


def test_long_password(t):
    user = new_user("lg")
    pw = long_password()
    user["password"] = pw[:72]
    uid = registered(t, user)
    r = login(user["email"], pw)
    t.ok(r.status == 200, "an 80-byte password whose first 72 bytes are the "
         "account's logs in, as bcrypt read it for the FastAPI backend",
         repr(r))
    r = login(user["email"], pw[:72])
    t.eq(r.status, 200, "its first 72 bytes log in")
    r = login(user["email"], pw[:71])
    expect(t, r, 401, INVALID, "its first 71 bytes do not")
    r = login(user["email"], "y" + pw[1:])
    expect(t, r, 401, INVALID, "80 bytes that differ in the first byte: 401")
    r = login(user["email"], pw[:71] + "z" + pw[72:])
    expect(t, r, 401, INVALID, "80 bytes that differ in the 72nd byte: 401")
    t.eq(int(db_scalar("SELECT COUNT(*) FROM auth_refresh_session WHERE "
                       "user_id = %d" % uid)), 2,
         "the two logins started two sessions")


def test_long_password_rehash(t):
    """An account of the FastAPI backend with a cheap hash of a long
    password: the login succeeds and the hash is replaced by one at
    BCRYPT_ROUNDS of the same 72 bytes."""
    pw = long_password()
    cheap = crypt.crypt(pw, "$2b$04$" + "abcdefghijklmnopqrstuu")
    t.ok(cheap.startswith("$2b$04$") and
         crypt.crypt(pw[:72], cheap) == cheap,
         "fixture: libxcrypt's $2b$04$ hash of 80 bytes is that of 72", cheap)
    name = new_user("lr")["username"]
    email = name + "@example.com"
    db_query("INSERT INTO `user` (email, username, hashed_password, "
             "is_active, created_at) VALUES (%s, %s, %s, 1, UTC_TIMESTAMP())"
             % (sql_quote(email), sql_quote(name), sql_quote(cheap)))
    r = login(email, pw)
    t.ok(r.status == 200, "the FastAPI backend's account with a long "
         "password logs in", repr(r))
    h = db_scalar("SELECT hashed_password FROM `user` WHERE email = %s"
                  % sql_quote(email))
    t.ok(BCRYPT10.match(h or ""), "its $2b$04$ hash is replaced at "
         "BCRYPT_ROUNDS", h)
    t.eq(login(email, pw).status, 200, "the rehashed account logs in with "
         "the long password")
    t.eq(login(email, pw[:72]).status, 200, "... and with its first 72 "
         "bytes")


def test_long_password_refused(t):
    user = new_user("lf")
    user["password"] = long_password()
    r = post(user)
    expect_422(t, r, [err("password", "Password must be at most 72 bytes",
                          "value_error")],
               "register: a password over 72 bytes is still refused")
    r = request("POST", RESET, {"email": user["email"], "otp": "123456",
                                "new_password": user["password"]})
    expect_422(t, r, [err("new_password", "Password must be at most 72 "
                          "bytes", "value_error")],
               "reset-password: a new password over 72 bytes is still "
               "refused")


def test_www_authenticate(t):
    user = new_user("wa")
    registered(t, user)
    cases = [
        ("login, wrong password",
         lambda: login(user["email"], user["password"] + "x"), 401),
        ("login, unknown email",
         lambda: login("nobody-" + user["email"], "whatever-pass"), 401),
        ("refresh-token, not a token",
         lambda: request("POST", REFRESH, {"refresh_token": "x.y.z"}), 401),
        ("login, right password",
         lambda: login(user["email"], user["password"]), 200),
        ("login, 422", lambda: request("POST", LOGIN, {}), 422),
        ("refresh-token, 422", lambda: request("POST", REFRESH, {}), 422),
        ("login, 405", lambda: request("GET", LOGIN), 405),
        ("register, 409", lambda: post(user), 409),
    ]
    for name, fn, status in cases:
        r = fn()
        want = "Bearer" if status == 401 else None
        t.ok(r.status == status and r.header("www-authenticate") == want,
             "%s: %d, WWW-Authenticate %s" % (name, status, want), repr(r))
    db_query("UPDATE `user` SET is_active = 0 WHERE email = %s"
             % sql_quote(user["email"]))
    r = login(user["email"], user["password"])
    t.ok(r.status == 403 and r.header("www-authenticate") is None,
         "login, disabled account: 403 without WWW-Authenticate", repr(r))


# The FastAPI backend's .env, as collab-auth.env.example lists its keys.
SEED_KEYS = ("MYSQL_DB_URL", "JWT_SECRET_KEY", "ALGORITHM",
             "ACCESS_TOKEN_EXPIRE_MINUTES", "REFRESH_TOKEN_EXPIRE_DAYS",
             "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_FROM", "MAIL_PORT",
             "MAIL_SERVER")


def seed_env(quote, **over):
    """The FastAPI backend's .env for the test database, every value in
    quote ('"', "'" or ''), with over's values."""
    base = config_values()
    vals = {"MYSQL_DB_URL": base["MYSQL_DB_URL"],
            "JWT_SECRET_KEY": base["JWT_SECRET_KEY"], "ALGORITHM": "HS256",
            "ACCESS_TOKEN_EXPIRE_MINUTES": "10080",
            "REFRESH_TOKEN_EXPIRE_DAYS": "21", "MAIL_USERNAME": "",
            "MAIL_PASSWORD": "", "MAIL_FROM": "noreply@example.com",
            "MAIL_PORT": "587", "MAIL_SERVER": ""}
    vals.update(over)
    return "".join("%s=%s%s%s\n" % (k, quote, vals[k], quote)
                   for k in SEED_KEYS)


def warnings_of(r):
    return [ln for ln in r.stderr.splitlines() if ": warn: " in ln]


def test_seed_env(t):
    tmp = os.path.join(env("AUTH_TEST_TMPDIR"), "seed-env")
    os.makedirs(tmp, exist_ok=True)
    user = new_user("se")
    registered(t, user)
    for name, quote in (("unquoted", ""), ("double-quoted", '"'),
                        ("single-quoted", "'")):
        path = write_file(tmp, "seed-%s.env" % name, seed_env(quote))
        r = cgi({"email": user["email"], "password": user["password"]},
                config=path, prog="auth-login",
                extra_env={"BCRYPT_ROUNDS": None})
        ok = r.status == 200 and isinstance(r.json, dict)
        t.ok(ok, "the FastAPI backend's .env, every value %s: login 200"
             % name, repr(r))
        if not ok:
            continue
        seg = r.json["access_token"].split(".")[1]
        c = json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))
        t.ok(r.json.get("expires_in") == 604800 and
             c["exp"] - c["iat"] == 604800,
             "%s: access tokens live ACCESS_TOKEN_EXPIRE_MINUTES=10080 "
             "minutes (7 days)" % name, repr(r.json), repr(c))
        w = warnings_of(r)
        t.ok(len(w) == 1 and "ACCESS_TOKEN_EXPIRE_MINUTES=10080" in w[0] and
             "7 days" in w[0] and "cannot revoke" in w[0] and
             "we recommend 15" in w[0],
             "%s: one warning at start: 7-day access tokens cannot be "
             "revoked, 15 minutes recommended" % name, *w)
    for minutes, warned in (("60", False), ("61", True), ("525600", True)):
        path = write_file(tmp, "seed-%s.env" % minutes,
                          seed_env("", ACCESS_TOKEN_EXPIRE_MINUTES=minutes))
        r = cgi(b"", method="GET", content_type=None, content_length=None,
                config=path, prog="auth-login")
        t.ok(r.status == 405 and bool(warnings_of(r)) == warned,
             "ACCESS_TOKEN_EXPIRE_MINUTES=%s: starts, %s" % (
                 minutes, "warns" if warned else "without a warning"),
             repr(r))
    path = write_file(tmp, "seed-525601.env",
                      seed_env("", ACCESS_TOKEN_EXPIRE_MINUTES="525601"))
    r = cgi(b"", method="GET", content_type=None, content_length=None,
            config=path, prog="auth-login")
    t.ok(r.returncode == 2 and "ACCESS_TOKEN_EXPIRE_MINUTES" in r.stderr,
         "ACCESS_TOKEN_EXPIRE_MINUTES over a year is refused", repr(r))


def main():
    t = TAP()
    for fn in (test_long_password, test_long_password_rehash,
               test_long_password_refused, test_www_authenticate,
               test_seed_env):
        t.run(fn)
    t.done()


if __name__ == "__main__":
    main()
