# SPDX-License-Identifier: ISC
# passes: lighttpd nginx -- what the programs do before the migrations
"""Before the migrations are applied (a database with none of collab-auth's
tables, as the FastAPI backend left it, or none at all): every endpoint
that needs the database answers the same status whether its throttle or
its handler meets the missing table first, the log names the missing table
and says to apply the migrations, and no line of the log claims another
status than the one the client got.  The programs run as plain CGI on a
database of their own."""

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import shlex
import subprocess
import time
import urllib.parse

from harness import TAP, cgi, config_values, env, write_file

SCRATCH = "collab_auth_schema_test"


def admin(sql):
    p = subprocess.run(shlex.split(env("AUTH_TEST_MARIADB")) + ["-e", sql],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(p.stderr)


def config(throttles):
    """The test config on the scratch database, with the throttles on (their
    defaults) or off."""
    base = config_values()
    url = urllib.parse.urlsplit(base["MYSQL_DB_URL"])
    base["MYSQL_DB_URL"] = url._replace(path="/" + SCRATCH).geturl()
    if throttles:
        base = {k: v for k, v in base.items() if not k.startswith("THROTTLE_")}
    tmp = os.path.join(env("AUTH_TEST_TMPDIR"), "schema")
    os.makedirs(tmp, exist_ok=True)
    return write_file(tmp, "throttles-%s.env" % ("on" if throttles else
                                                 "off"),
                      "".join("%s=%s\n" % kv for kv in base.items()))


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def refresh_token():
    """A refresh token signed with the test key: only the database can
    tell it from a good one."""
    now = int(time.time())
    hp = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps({
        "sub": "1", "type": "refresh", "iat": now, "exp": now + 600,
        "sid": secrets.token_hex(16), "jti": secrets.token_hex(16)}).encode())
    key = config_values()["JWT_SECRET_KEY"].encode()
    return hp + "." + b64(hmac.new(key, hp.encode(), hashlib.sha256).digest())


def requests():
    return (
        ("auth-login", {"email": "nobody@example.com",
                        "password": "pass-word-1"}),
        ("auth-register", {"email": "nobody@example.com",
                           "username": "nobody",
                           "password": "a-good-pass-phrase-1"}),
        ("auth-refresh-token", {"refresh_token": refresh_token()}),
        ("auth-reset-password", {"email": "nobody@example.com",
                                 "otp": "123456",
                                 "new_password": "a-good-pass-phrase-1"}),
    )

CLAIM = re.compile(r"answering (\d{3})")
STATUS = re.compile(r"info: request status=(\d{3}) ")


def check(t, prog, body, cfg, what):
    r = cgi(body, config=cfg, prog=prog)
    lines = r.stderr.splitlines()
    logged = [int(m.group(1)) for ln in lines for m in [STATUS.search(ln)]
              if m]
    claims = [int(m.group(1)) for ln in lines for m in [CLAIM.search(ln)]
              if m]
    t.ok(r.status == 500 and logged == [500],
         "%s, %s: 500, and the request line says so" % (prog, what),
         repr(r))
    t.ok(all(c == r.status for c in claims),
         "%s, %s: no line claims another answer" % (prog, what),
         *[ln for ln in lines if CLAIM.search(ln)])
    t.ok(any("doesn't exist" in ln and "scripts/migrate" in ln
             for ln in lines),
         "%s, %s: the log names the missing table and the migrations"
         % (prog, what), r.stderr[-800:])


def main():
    t = TAP()
    admin("DROP DATABASE IF EXISTS %s; CREATE DATABASE %s CHARACTER SET "
          "utf8mb4 COLLATE utf8mb4_unicode_ci" % (SCRATCH, SCRATCH))
    try:
        user = urllib.parse.urlsplit(config_values()["MYSQL_DB_URL"]).username
        admin("GRANT SELECT, INSERT, UPDATE, DELETE ON %s.* TO '%s'@'localhost'"
              % (SCRATCH, urllib.parse.unquote(user)))
        for throttles in (True, False):
            cfg = config(throttles)
            for prog, body in requests():
                check(t, prog, body, cfg, "throttles %s"
                      % ("on" if throttles else "off"))
    finally:
        admin("DROP DATABASE IF EXISTS %s" % SCRATCH)
    t.done()


if __name__ == "__main__":
    main()
