# SPDX-License-Identifier: ISC
# passes: lighttpd -- it runs the programs itself
"""The configuration as the programs read it at start: file permissions,
required and invalid keys, the .env syntax, the environment overriding the
file, and secrets kept out of the messages.  The program runs as plain CGI
with AUTH_CONFIG pointing at files made here."""

import grp
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.parse

from harness import (TAP, cgi, config_values, env, new_user, secrets_in,
                     write_file)

TMP = None
BASE = None


def write(name, text, mode=0o600):
    return write_file(TMP, name, text, mode)


def lines(**over):
    """Config lines from the test config with keys replaced or (None)
    left out."""
    values = dict(BASE)
    values.pop("BCRYPT_ROUNDS", None)
    values.update(over)
    return "".join("%s=%s\n" % (k, v) for k, v in values.items()
                   if v is not None)


def refused(t, r, must_name, desc, secret=None):
    errlines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    bad = []
    if r.returncode == 0:
        bad.append("exit status 0")
    if len(errlines) != 1:
        bad.append("%d stderr lines, want 1" % len(errlines))
    text = "\n".join(errlines)
    for m in must_name:
        if m not in text:
            bad.append("stderr does not name %r" % m)
    leaked = secrets_in(text, [secret] if secret else [])
    if leaked:
        bad.append("stderr shows a secret")
    return t.ok(not bad, desc, *(bad + ["stderr: %r" % r.stderr[-600:]]
                                 if bad else []))


def started(t, r, desc):
    """It read the config, connected, and answered a GET with 405."""
    return t.ok(r.returncode == 0 and r.status == 405, desc, repr(r))


def get(path, **kw):
    return cgi(b"", method="GET", content_type=None, content_length=None,
               config=path, **kw)


def test_install_layout(t):
    """README's install steps, as written there: the config installed with
    the mode, owner and group of its "install -m ... collab-auth.env.example"
    line must be readable by the web server's user (www-data) and by the
    account auth-cleanup runs as from cron/crontab.example and
    auth-cleanup.service (collab-auth, put in www-data's group by the same
    steps; uid 65534 stands for it here).  As root only: it changes
    owners and runs programs as other users, from a directory under /tmp
    that they can reach."""
    if os.geteuid() != 0:
        t.ok(True, "# SKIP not root: cannot run programs as other users")
        return
    with open(os.path.join(env("AUTH_TEST_TOP"), "README.md")) as f:
        m = re.search(r"install -m (0[0-7]{3}) -o (\S+) -g (\S+) "
                      r"collab-auth\.env\.example", f.read())
    if not t.ok(m is not None, "README has the config's install line"):
        return
    mode, owner, group = int(m.group(1), 8), m.group(2), m.group(3)
    web = grp.getgrnam("www-data").gr_gid
    # Other users must be able to walk from / to the files.  A throwaway
    # root made with mktemp -d (a chroot for tests) is mode 0700; an
    # installed system's / is searchable (scripts/lib.sh does the same
    # for Apache's user, ca_apache_stage).
    root = os.stat("/").st_mode & 0o7777
    if not root & 0o001:
        os.chmod("/", root | 0o001)
    d = tempfile.mkdtemp(prefix="cfg-layout-", dir="/tmp")
    try:
        os.chmod(d, 0o755)
        prog = os.path.join(d, "auth-cleanup")
        shutil.copy(env("AUTH_TEST_CLEANUP"), prog)
        os.chmod(prog, 0o755)
        conf = os.path.join(d, "collab-auth.env")
        with open(conf, "w") as f:
            f.write(lines())
        shutil.chown(conf, owner, group)
        os.chmod(conf, mode)
        for who, uid, gid, extra in (
                ("the web server's user (www-data)", 33, web, []),
                ("auth-cleanup's own account, in www-data's group", 65534,
                 65534, [web])):
            r = subprocess.run([prog, "-n"], capture_output=True,
                               timeout=120, user=uid, group=gid,
                               extra_groups=extra,
                               env={"PATH": "/usr/bin:/bin",
                                    "AUTH_CONFIG": conf})
            t.ok(r.returncode == 0, "config installed as README says "
                 "(mode %04o, %s:%s): auth-cleanup -n runs as %s"
                 % (mode, owner, group, who),
                 "exit %d, stderr %r" % (r.returncode, r.stderr[-400:]))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    global TMP, BASE
    TMP = os.path.join(env("AUTH_TEST_TMPDIR"), "config")
    os.makedirs(TMP, exist_ok=True)
    BASE = config_values()
    t = TAP()

    # Permissions: others may neither read nor write, group not write.
    for mode in (0o644, 0o604, 0o602, 0o660, 0o620, 0o666):
        p = write("mode-%o.env" % mode, lines(), mode)
        refused(t, get(p), [p, "%o" % mode],
                "mode %04o refused, naming the file and mode" % mode)
    for mode in (0o600, 0o640, 0o400):
        p = write("mode-%o.env" % mode, lines(), mode)
        started(t, get(p), "mode %04o accepted" % mode)

    # The owner: root or the user the program runs as (issue 10).
    p = write("owner.env", lines())
    os.chown(p, 65534, -1)
    refused(t, get(p), [p, "owned by uid 65534"],
            "a file owned by another user (uid 65534) refused, naming it")
    os.chown(p, 0, -1)
    started(t, get(p), "the same file owned by root accepted")

    t.run(test_install_layout)

    # Missing and invalid values.
    p = write("no-jwt.env", lines(JWT_SECRET_KEY=None))
    refused(t, get(p), ["JWT_SECRET_KEY"], "missing JWT_SECRET_KEY refused")
    short = "s" * 31
    p = write("short-jwt.env", lines(JWT_SECRET_KEY=short))
    refused(t, get(p), ["JWT_SECRET_KEY"],
            "31-byte JWT_SECRET_KEY refused, without showing it",
            secret=short)
    p = write("jwt-32.env", lines(JWT_SECRET_KEY="k" * 32))
    started(t, get(p), "32-byte JWT_SECRET_KEY accepted")
    p = write("no-url.env", lines(MYSQL_DB_URL=None))
    refused(t, get(p), ["MYSQL_DB_URL"], "missing MYSQL_DB_URL refused")
    p = write("rounds-9.env", lines(BCRYPT_ROUNDS="9"))
    refused(t, get(p, extra_env={"BCRYPT_ROUNDS": None}), ["BCRYPT_ROUNDS"],
            "BCRYPT_ROUNDS=9 refused")
    p = write("alg.env", lines(ALGORITHM="RS256"))
    refused(t, get(p), ["ALGORITHM"], "ALGORITHM=RS256 refused")
    p = write("alg-ok.env", lines(ALGORITHM="HS256"))
    started(t, get(p), "ALGORITHM=HS256 accepted")
    for spec in ("0.0.0.0/0", "::/0", "127.0.0.1, ::ffff:0:0/96"):
        p = write("proxies.env", lines(TRUSTED_PROXIES=spec))
        refused(t, get(p), ["TRUSTED_PROXIES", "wider than"],
                "TRUSTED_PROXIES=%s (trusts the internet) refused" % spec)
    clear = dict(MAIL_SERVER="smtp.example.com", MAIL_USERNAME="u",
                 MAIL_PASSWORD="Mail-" + os.urandom(6).hex(),
                 MAIL_STARTTLS="false", MAIL_SSL_TLS="false",
                 USE_CREDENTIALS="true")
    p = write("mail-clear.env", lines(**clear))
    refused(t, get(p), ["MAIL_STARTTLS", "MAIL_SSL_TLS", "MAIL_SERVER"],
            "an SMTP password in clear to a remote server refused, without "
            "showing it", secret=clear["MAIL_PASSWORD"])
    p = write("mail-local.env", lines(**dict(clear, MAIL_SERVER="127.0.0.1")))
    started(t, get(p), "the same to a loopback MAIL_SERVER accepted")
    for key, bad in (("DB_CONNECT_TIMEOUT", "0"), ("DB_TIMEOUT", "x"),
                     ("DB_LOCK_WAIT_TIMEOUT", "3601")):
        p = write("db-time.env", lines(**{key: bad}))
        refused(t, get(p), [key], "%s=%s refused" % (key, bad))
    p = write("db-time-wait.env", lines(DB_TIMEOUT="4",
                                        DB_LOCK_WAIT_TIMEOUT="4"))
    refused(t, get(p), ["DB_LOCK_WAIT_TIMEOUT", "DB_TIMEOUT"],
            "a lock wait as long as the read time-out refused")
    p = write("db-time-ok.env", lines(DB_CONNECT_TIMEOUT="2", DB_TIMEOUT="3",
                                      DB_LOCK_WAIT_TIMEOUT="1"))
    started(t, get(p), "DB_CONNECT_TIMEOUT, DB_TIMEOUT and "
            "DB_LOCK_WAIT_TIMEOUT accepted")
    missing = os.path.join(TMP, "does-not-exist.env")
    refused(t, get(missing), [missing], "a missing config file refused")
    p = write("bad-line.env", "# comment\n" + lines() + "this is not a key\n")
    nline = 2 + len(lines().splitlines())
    refused(t, get(p), [p, str(nline)],
            "a malformed line refused, naming file and line")
    p = write("unknown.env", lines() + "NO_SUCH_KEY=1\n")
    r = get(p)
    t.ok(r.returncode == 0 and r.status == 405
         and "NO_SUCH_KEY" in r.stderr,
         "an unknown key is a warning (naming it), not an error", repr(r))

    # A database that refuses us: one line, no password.
    url = urllib.parse.urlsplit(BASE["MYSQL_DB_URL"])
    wrong = "Wrong-%s" % os.urandom(6).hex()
    bad_url = url._replace(netloc="%s:%s@%s" % (
        url.username, wrong, url.hostname)).geturl()
    p = write("bad-db-pw.env", lines(MYSQL_DB_URL=bad_url))
    r = get(p)
    t.ok(not secrets_in(r.stderr, [wrong]),
         "a database refusing the login: its password is not shown",
         r.stderr[-600:])
    r = cgi(json.dumps(new_user("dbpw")), config=p)
    t.ok(r.status == 503 or (r.returncode != 0 and r.status is None
                             and len(r.stderr.strip().splitlines()) == 1),
         "a database refusing the login: a request gets 503, or the "
         "program does not start, saying so in one line", repr(r))
    t.ok(not secrets_in(r.stderr, [wrong]),
         "a database refusing the login: no password in the request's log",
         r.stderr[-600:])

    # The environment wins over the file.
    p = write("env-rounds.env", lines(BCRYPT_ROUNDS="9"))
    started(t, get(p, extra_env={"BCRYPT_ROUNDS": "10"}),
            "BCRYPT_ROUNDS=10 in the environment wins over 9 in the file")
    p = write("env-jwt.env", lines(JWT_SECRET_KEY=None))
    started(t, get(p, extra_env={"JWT_SECRET_KEY": "e" * 40}),
            "JWT_SECRET_KEY from the environment fills a missing key")
    p = write("env-url.env", lines(MYSQL_DB_URL="mysql://nobody@localhost/x"))
    started(t, get(p, extra_env={"MYSQL_DB_URL": BASE["MYSQL_DB_URL"]}),
            "MYSQL_DB_URL from the environment wins over the file")

    # The .env syntax of the FastAPI backend's file.
    text = ("# collab-auth\n\n"
            "export MYSQL_DB_URL=\"%s\"\n"
            "JWT_SECRET_KEY='%s'\n"
            "   \n"
            "# BCRYPT_ROUNDS=4\n"
            "ACCESS_TOKEN_EXPIRE_MINUTES=30\n"
            "REFRESH_TOKEN_EXPIRE_DAYS=7\n"
            % (BASE["MYSQL_DB_URL"], BASE["JWT_SECRET_KEY"]))
    p = write("syntax.env", text)
    user = new_user("cfg")
    r = cgi(json.dumps(user), config=p)
    t.ok(r.returncode == 0 and r.status == 201,
         "export, double and single quotes, comments, blank lines: the "
         "config works (201)", repr(r))

    # ${NAME} as python-dotenv expands it: the database password from a
    # key of its own, the JWT secret from the environment.
    pw = urllib.parse.unquote(url.password or "")
    text = ("DB_USER=%s\n"
            "DB_PASSWORD='%s'\n"
            "MYSQL_DB_URL=\"%s://${DB_USER}:${DB_PASSWORD}@%s/%s%s\"\n"
            "JWT_SECRET_KEY=${CFG_TEST_JWT:-not-this-default-0123456789ab}\n"
            % (url.username, urllib.parse.quote(pw, safe=""), url.scheme,
               url.netloc.rsplit("@", 1)[1], url.path.lstrip("/"),
               "?" + url.query if url.query else ""))
    p = write("expand.env", text)
    user = new_user("cfx")
    r = cgi(json.dumps(user), config=p,
            extra_env={"CFG_TEST_JWT": BASE["JWT_SECRET_KEY"]})
    t.ok(r.returncode == 0 and r.status == 201,
         "${DB_USER}, ${DB_PASSWORD} and ${CFG_TEST_JWT:-...} expanded as "
         "python-dotenv does: the config works (201)", repr(r))
    t.done()


if __name__ == "__main__":
    main()
