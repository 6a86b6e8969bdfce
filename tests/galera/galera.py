# SPDX-License-Identifier: ISC
"""What the cluster pass's test files share: the two web servers, the
three nodes, the programs' logs and outboxes.

Standard library only; run by Debian's /usr/bin/python3 from
tests/galera/run, which sets:

  GALERA_TEST_TOP   top of the source tree
  GALERA_TEST_VAR   ./var/test (the cluster is under its galera/)
  GALERA_TEST_WEB1  base URL of web server 1, on node 1
  GALERA_TEST_WEB2  base URL of web server 2, on node 2
  GALERA_TEST_TZ    the services' time zone

Nodes are reached with the admin client on their unix sockets, and
stopped and started through tests/galera/cluster.sh (bash -c), the same
functions tests/galera/run started them with.
"""

import base64
import http.client
import json
import os
import secrets
import shlex
import subprocess
import sys
import threading
import time
import urllib.parse

TOP = os.environ.get("GALERA_TEST_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(TOP, "tests", "endpoint"))

from harness import TAP, new_user, password, unique  # noqa: E402,F401

REGISTER = "/api/auth/register"
LOGIN = "/api/auth/login"
REFRESH = "/api/auth/refresh-token"
FORGOT = "/api/auth/forgot-password"
RESET = "/api/auth/reset-password"
UNAVAILABLE = {"detail": "Service temporarily unavailable"}
NODES = (1, 2, 3)
# A request that takes longer than this has hung: the programs bound each
# database wait (connect 5 s, each read or write 10 s).
TIMEOUT = 25


def env(name):
    value = os.environ.get(name)
    if not value:
        print("Bail out! %s is not set: run this through tests/galera/run"
              % name)
        sys.exit(2)
    return value


VAR = env("GALERA_TEST_VAR")
GDIR = os.path.join(VAR, "galera")
WEB = {1: env("GALERA_TEST_WEB1"), 2: env("GALERA_TEST_WEB2")}


# -- HTTP --------------------------------------------------------------------

class Answer:
    """One request's outcome: status (None if there was no answer: then
    error says why), JSON body, headers, and how long it took."""

    def __init__(self, web, path, status=None, body=b"", headers=None,
                 error=None, start=0.0, seconds=0.0):
        self.web = web
        self.path = path
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.error = error
        self.start = start
        self.seconds = seconds
        try:
            self.json = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            self.json = None

    def __repr__(self):
        if self.status is None:
            return "web %d %s: no answer after %.1f s: %s" % (
                self.web, self.path, self.seconds, self.error)
        return "web %d %s: HTTP %s in %.2f s %r" % (
            self.web, self.path, self.status, self.seconds, self.body[:300])


def address():
    """A client address of its own (a documentation range, random), for
    X-Forwarded-For: the throttles count per address."""
    return "198.51.%d.%d" % (secrets.randbelow(256),
                             1 + secrets.randbelow(254))


def call(web, path, body, client=None, timeout=TIMEOUT):
    """POST body (JSON) to web server web (1 or 2) as client (an address,
    new if None).  Never raises: a failure is an Answer without status."""
    u = urllib.parse.urlsplit(WEB[web])
    data = json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json",
            "X-Forwarded-For": client or address()}
    t0 = time.monotonic()
    start = time.time()
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("POST", path, body=data, headers=hdrs)
        r = conn.getresponse()
        raw = r.read()
        return Answer(web, path, r.status, raw,
                      {k.lower(): v for k, v in r.getheaders()},
                      start=start, seconds=time.monotonic() - t0)
    except Exception as e:
        return Answer(web, path, error="%s: %s" % (type(e).__name__, e),
                      start=start, seconds=time.monotonic() - t0)
    finally:
        conn.close()


def at_once(calls):
    """Run the callables in calls in threads released together; return
    their results in order."""
    out = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def one(i):
        try:
            barrier.wait(timeout=30)
        except threading.BrokenBarrierError:
            pass
        out[i] = calls[i]()

    threads = [threading.Thread(target=one, args=(i,))
               for i in range(len(calls))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(TIMEOUT * 3)
    return out


def claims(token):
    """The payload of a JWT, unverified (the tests compare sid and jti)."""
    try:
        seg = token.split(".")[1]
        pad = "=" * (-len(seg) % 4)
        return json.loads(base64.urlsafe_b64decode(seg + pad))
    except Exception:
        return {}


def register(web, user=None):
    """Register user (a new one if None) through web; raise unless 201."""
    user = user or new_user("g")
    r = call(web, REGISTER, user)
    if r.status != 201:
        raise RuntimeError("register through web %d: %r" % (web, r))
    return user


def login(web, user):
    """Log user in through web; raise unless 200; return the answer."""
    r = call(web, LOGIN, {"email": user["email"],
                          "password": user["password"]})
    if r.status != 200 or not r.json:
        raise RuntimeError("login through web %d: %r" % (web, r))
    return r


# -- Nodes -------------------------------------------------------------------

def cluster_sh(script, timeout=240):
    """Run bash script with scripts/lib.sh and tests/galera/cluster.sh
    sourced and their paths set; return the CompletedProcess."""
    e = dict(os.environ)
    e.update(GA_TOP=TOP, GA_VAR=VAR,
             CA_SERVICE_TZ=os.environ.get("GALERA_TEST_TZ", ""))
    return subprocess.run(
        ["bash", "-c", 'CA_PROG=galera; . "$GA_TOP/scripts/lib.sh" && '
         '. "$GA_TOP/tests/galera/cluster.sh" && ca_paths "$GA_VAR" && '
         'ga_paths && ' + script],
        env=e, capture_output=True, timeout=timeout)


_sockets = {}


def socket_of(n):
    if n not in _sockets:
        p = cluster_sh("ga_sock %d" % n, timeout=30)
        _sockets[n] = p.stdout.decode().strip()
    return _sockets[n]


def node_query(n, sql, timeout=60):
    """Rows (lists of strings; NULL is None) of sql run by the admin
    account on node n, in the test database.  Reads first wait until the
    node has applied everything the cluster committed before them
    (wsrep_sync_wait), so that what one node wrote is what another
    shows."""
    cmd = ["mariadb", "--no-defaults", "--socket=" + socket_of(n),
           "-u", os.environ.get("USER") or "root", "--batch", "--raw",
           "--skip-column-names", "--init-command=SET SESSION "
           "wsrep_sync_wait = 15", "-e", sql, "collab_auth"]
    if os.getuid() == 0:
        cmd[cmd.index("-u") + 1] = "root"
    p = subprocess.run(cmd, capture_output=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("node %d: %s: %s" % (
            n, sql[:200], p.stderr.decode(errors="replace")))
    rows = []
    for line in p.stdout.decode("utf-8").split("\n"):
        if line:
            rows.append([None if c == "NULL" else c
                         for c in line.split("\t")])
    return rows


def node_scalar(n, sql):
    rows = node_query(n, sql)
    return rows[0][0] if rows else None


def node_status(n, name):
    """A global status variable of node n (wsrep_...), or None if the node
    does not answer."""
    p = cluster_sh("ga_status %d %s" % (n, shlex.quote(name)), timeout=30)
    v = p.stdout.decode().strip()
    return v or None


def causal_reads(web, refreshes=5):
    """Refresh a new session refreshes times through web server web and
    return (how many causal reads its node made meanwhile, the answers'
    statuses).  A causal read is a statement that first waited until the
    node had applied what the cluster committed before it
    (wsrep_sync_wait); the counter is the node's, read without one."""
    u = register(web)
    token = login(web, u).json["refresh_token"]
    before = int(node_status(web, "wsrep_causal_reads") or 0)
    codes = []
    for _ in range(refreshes):
        r = call(web, REFRESH, {"refresh_token": token})
        codes.append(r.status)
        token = (r.json or {}).get("refresh_token", token)
    return int(node_status(web, "wsrep_causal_reads") or 0) - before, codes


def sql_quote(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


# -- The web servers' files --------------------------------------------------

def program_log(web):
    """What the programs under web server web wrote to stderr."""
    path = os.path.join(GDIR, "web%d" % web, "log", "collab-auth.log")
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def outbox(web, where="web"):
    """The messages in web server web's outbox (where="mail": mail sender
    web's, tests/galera/run): [(name, text)], oldest first."""
    d = os.path.join(GDIR, "%s%d" % (where, web), "outbox")
    out = []
    for name in sorted(os.listdir(d)):
        if name.endswith(".eml") and not name.startswith("."):
            with open(os.path.join(d, name), "rb") as f:
                out.append((name, f.read().decode("utf-8",
                                                  errors="replace")))
    return out


def config_file(name):
    return os.path.join(GDIR, name)
