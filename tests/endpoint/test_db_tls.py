# SPDX-License-Identifier: ISC
# passes: lighttpd apache-cgi -- it runs the programs itself; apache-cgi runs the static-libs build
"""MariaDB over real TLS: the programs connect as MYSQL_DB_URL says to the
suite's MariaDB on its loopback TCP port, which presents a certificate
that a test CA issued for the DNS name "localhost" only (scripts/lib.sh,
ca_db_tls_certs), and to a second, small MariaDB that has no TLS at all.

Each case runs auth-register once as plain CGI (and auth-cleanup, the cron
program, for two of them) with a config of its own, and looks at what
matters: the answer (201 when the connection is allowed, a JSON 503 when
it is refused), the program's log (one line saying why), and the
server's count of TLS handshakes (Ssl_accepts), so that "it worked" means
"it worked over TLS".  A refusal is always paired with a case on the same
server and host that is let through, so that it cannot be an unreachable
server in disguise.

Which host names: "localhost" is the certificate's name; "127.0.0.1" is
the same server under a name the certificate does not carry (the wrong
host name); a name the URL parser does not take for loopback but that
resolves to 127.0.0.1 stands for a remote host: the machine's host name
when it resolves there, else "127.1" (inet_aton's short form, which the
parser's inet_pton refuses as an address and the resolver accepts).  No
/etc/hosts entry is needed.

The programs run as plain CGI, not through the web server under test: the
property belongs to the programs' database client, not to the web server.
So this file runs in the lighttpd pass, with the programs as built, and in
the apache-cgi pass, which runs the --enable-static-libs build (OpenSSL
and the connector linked in statically)."""

import os
import re
import shlex
import socket
import subprocess
import urllib.parse

from harness import (TAP, cgi, clean_env, config_values, db_scalar, env,
                     header_problems, lib_sh, free_port, new_user, server,
                     sql_quote, write_file)

UNAVAILABLE = {"detail": "Service temporarily unavailable"}
TLS_ERRNO = "2026"      # CR_SSL_CONNECTION_ERROR


def tmp(*names):
    return os.path.join(env("AUTH_TEST_TMPDIR"), "db-tls", *names)


def db_url(host, port, query, password_file=None):
    with open(password_file or env("AUTH_TEST_DB_PASSWORD_FILE")) as f:
        pw = f.read().strip()
    return "mysql+pymysql://collab_auth:%s@%s:%d/%s%s" % (
        urllib.parse.quote(pw, safe=""), host, port, env("AUTH_TEST_DB_NAME"),
        ("?" + query) if query else "")


_serial = [0]


def config_for(url):
    """A config like the suite's, with MYSQL_DB_URL=url."""
    _serial[0] += 1
    lines = ["%s=%s" % (k, v) for k, v in config_values().items()
             if k != "MYSQL_DB_URL"]
    lines.append("MYSQL_DB_URL=" + url)
    return write_file(tmp(), "c%d.env" % _serial[0], "\n".join(lines) + "\n")


def ssl_accepts():
    """The server's count of TLS handshakes, read without one (the admin
    client would otherwise use TLS on the unix socket too)."""
    p = subprocess.run(
        shlex.split(env("AUTH_TEST_MARIADB")) + [
            "--skip-ssl", "--batch", "--skip-column-names", "-e",
            "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
            "WHERE VARIABLE_NAME = 'SSL_ACCEPTS'"],
        capture_output=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("mariadb: %s" % p.stderr.decode(errors="replace"))
    return int(p.stdout)


def register(url):
    """auth-register once as plain CGI against url: (result, the user)."""
    user = new_user("tls")
    return cgi(user, config=config_for(url)), user


def stored(user):
    return db_scalar("SELECT COUNT(*) FROM `user` WHERE email = %s"
                     % sql_quote(user["email"])) == "1"


def problem_lines(stderr):
    """The log lines above level info."""
    return [ln for ln in stderr.splitlines()
            if re.search(r"\]: (warn|error|crit)[a-z]*: ", ln)]


def expect_works(t, url, desc, tls=True):
    before = ssl_accepts()
    r, user = register(url)
    handshakes = ssl_accepts() - before
    bad = []
    if r.status != 201 or not stored(user):
        bad.append("status %r, row stored: %r" % (r.status, stored(user)))
    if tls and handshakes < 1:
        bad.append("the server counted no TLS handshake")
    if not tls and handshakes != 0:
        bad.append("the server counted %d TLS handshake(s)" % handshakes)
    return t.ok(not bad, "%s: 201, and the server counted %s" % (
        desc, "a TLS handshake" if tls else "no TLS handshake"),
        *(bad + [repr(r)]))


def expect_refused(t, url, desc, why, mode):
    """A JSON 503, nothing stored, and one log line above info: the
    failed connection, naming the TLS mode, errno 2026 and why."""
    r, user = register(url)
    bad = header_problems(r)
    if r.status != 503 or r.json != UNAVAILABLE:
        bad.append("want 503 %r" % UNAVAILABLE)
    if stored(user):
        bad.append("the user was stored")
    t.ok(not bad, "%s: refused, a JSON 503" % desc, *(bad + [repr(r)]))
    lines = problem_lines(r.stderr)
    want = re.compile(r"error: db connect failed host=\S+ port=\d+ "
                      r"socket=- tls=%s errno=%s error=.*%s"
                      % (mode, TLS_ERRNO, why))
    t.ok(len(lines) == 1 and want.search(lines[0]),
         "%s: one log line says why (tls=%s errno=%s, %s)"
         % (desc, mode, TLS_ERRNO, why), "lines above info:", *lines)


def other_ca():
    """A CA of its own, which never signed the server's certificate."""
    d = tmp("other-ca")
    os.makedirs(d, exist_ok=True)
    p = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-keyout",
         os.path.join(d, "ca-key.pem"), "-out", os.path.join(d, "ca.pem"),
         "-days", "2", "-subj", "/CN=another test CA"],
        capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("openssl: %s" % p.stderr.decode(errors="replace"))
    return os.path.join(d, "ca.pem")


def remote_name():
    """A host name the URL parser does not take for loopback that resolves
    to 127.0.0.1, where the server listens."""
    name = socket.gethostname()
    try:
        addrs = {a[4][0] for a in socket.getaddrinfo(
            name, None, socket.AF_INET, socket.SOCK_STREAM)}
    except OSError:
        addrs = set()
    if name and name.lower() != "localhost" and addrs == {"127.0.0.1"}:
        return name
    return "127.1"


def cleanup(config):
    e = clean_env(AUTH_CONFIG=config)
    return subprocess.run([env("AUTH_TEST_CLEANUP"), "-n"], env=e,
                          capture_output=True, timeout=60)


def test_tls_server(t, port, ca):
    ident = "ssl_mode=VERIFY_IDENTITY&ssl_ca=" + ca
    expect_works(t, db_url("localhost", port, ident),
                 "VERIFY_IDENTITY, the right CA, host localhost")

    wrong = other_ca()
    expect_refused(t, db_url("localhost", port,
                             "ssl_mode=VERIFY_IDENTITY&ssl_ca=" + wrong),
                   "VERIFY_IDENTITY, another CA", "certificate",
                   "VERIFY_IDENTITY")
    expect_refused(t, db_url("localhost", port,
                             "ssl_mode=VERIFY_CA&ssl_ca=" + wrong),
                   "VERIFY_CA, another CA", "certificate", "VERIFY_CA")
    # Connector/C checks the chain whenever it is given a CA, also under
    # REQUIRED (as MySQL's client does): naming a CA is never ignored.
    expect_refused(t, db_url("localhost", port,
                             "ssl_mode=REQUIRED&ssl_ca=" + wrong),
                   "REQUIRED with another CA named", "certificate",
                   "REQUIRED")

    expect_refused(t, db_url("127.0.0.1", port, ident),
                   "VERIFY_IDENTITY, host 127.0.0.1 (not in the "
                   "certificate)", "certificate", "VERIFY_IDENTITY")
    expect_works(t, db_url("127.0.0.1", port, "ssl_mode=VERIFY_CA&ssl_ca="
                           + ca),
                 "VERIFY_CA, host 127.0.0.1 (the name is not checked)")
    expect_works(t, db_url("localhost", port, "ssl_mode=REQUIRED"),
                 "REQUIRED without a CA (encrypted, not verified)")
    expect_works(t, "mysql+pymysql://collab_auth:%s@localhost/%s?"
                 "unix_socket=%s&ssl_mode=REQUIRED" % (
                     urllib.parse.quote(open(env(
                         "AUTH_TEST_DB_PASSWORD_FILE")).read().strip(),
                         safe=""),
                     env("AUTH_TEST_DB_NAME"), env("AUTH_TEST_DB_SOCKET")),
                 "REQUIRED on the unix socket")

    # The defaults: verified for a remote host, plain text on loopback.
    name = remote_name()
    t.diag("remote host name: %s" % name)
    expect_refused(t, db_url(name, port, ""),
                   "%s with no ssl_ mode nor CA (the system's CAs do not "
                   "know the test CA)" % name, "certificate",
                   "VERIFY_IDENTITY")
    expect_refused(t, db_url(name, port, "ssl_ca=" + ca),
                   "%s with the right CA and no ssl_mode (the host name "
                   "is checked by default)" % name, "certificate",
                   "VERIFY_IDENTITY")
    expect_works(t, db_url(name, port, "ssl_mode=VERIFY_CA&ssl_ca=" + ca),
                 "%s under VERIFY_CA (so the refusals above are the "
                 "verification)" % name)
    expect_works(t, db_url("localhost", port, ""),
                 "localhost with no ssl_mode: loopback, plain text", tls=False)

    # The cron program reads the same URL the same way.
    before = ssl_accepts()
    p = cleanup(config_for(db_url("localhost", port, ident)))
    t.ok(p.returncode == 0 and ssl_accepts() > before,
         "auth-cleanup -n over VERIFY_IDENTITY: exit 0, over TLS", p)
    p = cleanup(config_for(db_url("127.0.0.1", port, ident)))
    err = p.stderr.decode(errors="replace")
    t.ok(p.returncode == 1 and re.search(
        r"tls=VERIFY_IDENTITY errno=%s" % TLS_ERRNO, err),
        "auth-cleanup -n, VERIFY_IDENTITY to 127.0.0.1: exit 1, the TLS "
        "refusal in its log", p)


def test_plain_server(t, ca):
    """A second MariaDB, listening on loopback TCP without TLS."""
    var = tmp("plain-db")
    port = free_port()
    p = lib_sh(var, "ca_db_start && ca_db_setup && ca_migrate >/dev/null",
               CA_DB_PORT=str(port), CA_DB_TLS_DIR="", timeout=180)
    try:
        if not t.ok(p.returncode == 0, "a second MariaDB without TLS on "
                    "127.0.0.1:%d" % port,
                    p.stderr.decode(errors="replace")[-2000:]):
            return
        pwfile = os.path.join(var, "db-password")
        r, user = register(db_url("localhost", port, "ssl_mode=DISABLED",
                                  pwfile))
        t.ok(r.status == 201, "without TLS, DISABLED: 201 (the server "
             "serves the programs)", r)
        expect_refused(t, db_url("localhost", port, "ssl_mode=REQUIRED",
                                 pwfile),
                       "without TLS, REQUIRED", "SSL|TLS", "REQUIRED")
        expect_refused(t, db_url("localhost", port, "ssl_mode=VERIFY_CA&"
                                 "ssl_ca=" + ca, pwfile),
                       "without TLS, VERIFY_CA", "SSL|TLS", "VERIFY_CA")
        expect_refused(t, db_url(remote_name(), port, "", pwfile),
                       "without TLS, a remote host by default", "SSL|TLS",
                       "VERIFY_IDENTITY")
    finally:
        lib_sh(var, "ca_db_stop")


def main():
    t = TAP()
    # The lighttpd pass runs the programs as built; the apache-cgi pass
    # runs the --enable-static-libs build, with OpenSSL and the connector
    # linked in, whose TLS must hold as well.
    if server() not in ("lighttpd", "apache-cgi"):
        t.ok(True, "# SKIP the programs run as plain CGI here: tested in "
             "the lighttpd and apache-cgi passes")
        t.done()
    os.makedirs(tmp(), exist_ok=True)
    port = int(env("AUTH_TEST_DB_PORT"))
    ca = os.path.join(env("AUTH_TEST_DB_TLS_DIR"), "ca.pem")
    t.run(test_tls_server, port, ca)
    t.run(test_plain_server, ca)
    t.done()


if __name__ == "__main__":
    main()
