# SPDX-License-Identifier: ISC
"""The benchmark's scenarios, run by tests/bench/run (which builds, starts
MariaDB with a fresh database and writes the config first).  Web servers
are started and stopped through scripts/lib.sh, from the shipped files,
as scripts/test does.  Load comes from wrk (tests/bench/wrk.lua); the
figures of each run are printed as one table at the end.

Standard library only, Debian's /usr/bin/python3.  Environment (set by
run): BENCH_TOP, BENCH_VAR, BENCH_CONFIG, BENCH_COST (BCRYPT_ROUNDS of
the config), BENCH_SECONDS (length of a run), BENCH_APACHE_SECONDS,
BENCH_PROCS (empty, or process counts to compare, e.g. "2 4 8").
"""

import json
import os
import platform
import re
import resource
import secrets
import shlex
import socket
import subprocess
import sys
import threading
import time
import urllib.request

TOP = os.environ["BENCH_TOP"]
VAR = os.environ["BENCH_VAR"]
CONFIG = os.environ["BENCH_CONFIG"]
COST = int(os.environ["BENCH_COST"])
SECONDS = int(os.environ["BENCH_SECONDS"])
APACHE_SECONDS = int(os.environ["BENCH_APACHE_SECONDS"])
PROCS = [int(p) for p in os.environ.get("BENCH_PROCS", "").split()]
HERE = os.path.join(TOP, "tests", "bench")
WORK = os.path.join(VAR, "bench")
TICK = os.sysconf("SC_CLK_TCK")
PASSWORD = "bench-" + secrets.token_hex(8)
USERS = 4000
CHAINS = 16


def say(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def lib(script, timeout=120):
    """Run script in bash with scripts/lib.sh sourced and the benchmark's
    paths set (ca_paths); return its stdout, or raise with its stderr."""
    e = dict(os.environ, CA_TOP=TOP, CA_VAR_DIR=VAR, CA_CONFIG_FILE=CONFIG)
    p = subprocess.run(["bash", "-c", 'CA_PROG=bench; . "$CA_TOP/scripts/'
                        'lib.sh" && ca_paths "$CA_VAR_DIR" && ' + script],
                       env=e, capture_output=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (script, p.stderr.decode(
            errors="replace")[-2000:]))
    return p.stdout.decode()


PATHS = dict(line.split("=", 1) for line in lib(
    'for v in CA_RUN CA_DB_PID CA_LIGHTTPD_DIR CA_APACHE_STAGE; do '
    'echo "$v=${!v}"; done').split())


def sql(query):
    cmd = shlex.split(lib("ca_admin_cmd")) + [
        "--batch", "--raw", "--skip-column-names", "collab_auth"]
    p = subprocess.run(cmd, input=query.encode(), capture_output=True,
                       timeout=300)
    if p.returncode != 0:
        raise RuntimeError("mariadb: " + p.stderr.decode(errors="replace"))
    return [line.split("\t") for line in p.stdout.decode().splitlines()]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


# -- Processes ----------------------------------------------------------------

def proc_table():
    """pid -> (ppid, exe) of every process we may look at."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
            exe = os.readlink("/proc/%s/exe" % d)
        except OSError:
            continue
        out[int(d)] = (int(st[st.rindex(")") + 2:].split()[1]), exe)
    return out


def cpu_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return None
    fields = st[st.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])     # utime + stime


def pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Roles:
    """The processes of a scenario, by role: the program(s) under test
    (by executable path), the web server and MariaDB."""

    def __init__(self, exes, server_pid):
        self.exes = set(exes)
        self.server_pid = server_pid

    def pids(self):
        table = proc_table()
        prog = [p for p, (_, exe) in table.items() if exe in self.exes]
        # The web server: its master and those of its children that run
        # its own binary (not the programs it spawned).
        own = table.get(self.server_pid, (None, None))[1]
        web = [p for p, (pp, exe) in table.items() if exe == own and
               (p == self.server_pid or pp == self.server_pid)]
        db = [read_pid(PATHS["CA_DB_PID"])]
        return {"prog": prog, "web": web, "db": [p for p in db if p]}

    def sample(self):
        return {role: {p: cpu_ticks(p) for p in pids}
                for role, pids in self.pids().items()}


def cpu_ms(before, after, role, requests):
    """CPU milliseconds per request of role's processes between two
    samples (a process that started in between counts from zero)."""
    if not requests:
        return None
    ticks = 0
    for pid, t in after[role].items():
        if t is not None:
            ticks += t - (before[role].get(pid) or 0)
    return 1000.0 * ticks / TICK / requests


# -- Load ---------------------------------------------------------------------

def wrk(url, mode, conc, seconds, infile=None):
    """One wrk run; returns its RESULT fields (dict of numbers)."""
    e = dict(os.environ, BENCH_MODE=mode, BENCH_FILE=infile or "",
             BENCH_THREADS=str(conc))
    # A long time-out: at c16 a login waits for 15 others' bcrypt.
    cmd = ["wrk", "-t%d" % conc, "-c%d" % conc, "-d%ds" % seconds,
           "--timeout", "30s", "-s", os.path.join(HERE, "wrk.lua"), url]
    p = subprocess.run(cmd, env=e, capture_output=True,
                       timeout=seconds + 60)
    out = p.stdout.decode(errors="replace")
    m = re.search(r"^RESULT (.*)$", out, re.M)
    if p.returncode != 0 or not m:
        raise RuntimeError("wrk failed: %s %s" % (
            out[-1000:], p.stderr.decode(errors="replace")[-1000:]))
    return {k: float(v) for k, v in
            (kv.split("=") for kv in m.group(1).split())}


def chains(url, mode, conc):
    """The input file of a chained run (refresh, rotate) of conc
    connections, made anew (see login_chains); None for the others."""
    base = url[:url.index("/", len("http://"))]
    if mode == "refresh":
        return login_chains(base, conc)
    if mode == "rotate":
        return ceiling_sessions(conc)
    return None


def measure(name, url, mode, conc, seconds, roles, infile=None):
    """Run wrk under the CPU samples of roles; return a result row.  A
    chained run makes its chains first, unless given them in infile."""
    if infile is None:
        infile = chains(url, mode, conc)
    before = roles.sample()
    r = wrk(url, mode, conc, seconds, infile)
    after = roles.sample()
    n = r["requests"]
    pss = [pss_kb(p) for p in roles.pids()["prog"]]
    pss = [p for p in pss if p is not None]
    row = {
        "name": name, "conc": conc, "rps": n / r["seconds"],
        "p50": r["p50"] / 1000, "p99": r["p99"] / 1000,
        "max": r["max"] / 1000,
        "bad": int(r["non2xx"] + r["errors"] + r.get("broken", 0)),
        "cpu_prog": cpu_ms(before, after, "prog", n),
        "cpu_web": cpu_ms(before, after, "web", n),
        "cpu_db": cpu_ms(before, after, "db", n),
        "pss": max(pss) if pss else None,
        "procs": len(pss),
    }
    say("%-34s %8.0f req/s  p50 %6.2f ms  p99 %7.2f ms  max %7.1f ms  "
        "bad %d" % (name, row["rps"], row["p50"], row["p99"], row["max"],
                    row["bad"]))
    return row


# -- Data ---------------------------------------------------------------------

def seed_users():
    """USERS accounts with one password (one bcrypt hash of COST, made
    by a program of ours so that it is libxcrypt's), inserted directly."""
    say("seeding %d accounts" % USERS)
    # The hash: a registration through the program, as plain CGI.
    email = "bench-seed@example.com"
    body = json.dumps({"email": email, "username": "benchseed",
                       "password": PASSWORD}).encode()
    e = {"PATH": "/usr/bin:/bin", "AUTH_CONFIG": CONFIG,
         "REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/json",
         "CONTENT_LENGTH": str(len(body)), "REMOTE_ADDR": "127.0.0.1",
         "SCRIPT_NAME": "/api/auth/register", "GATEWAY_INTERFACE": "CGI/1.1",
         "SERVER_PROTOCOL": "HTTP/1.1"}
    p = subprocess.run([os.path.join(TOP, "cgi-bin", "auth-register")],
                       input=body, env=e, capture_output=True, timeout=60)
    if b"201" not in p.stdout.split(b"\r\n", 1)[0]:
        raise RuntimeError("seed registration failed: %r %r"
                           % (p.stdout[:300], p.stderr[-300:]))
    h = sql("SELECT hashed_password FROM `user` WHERE email = '%s'"
            % email)[0][0]
    values = ",".join(
        "('bench%d@example.com', 'bench%d', '%s', 1, UTC_TIMESTAMP())"
        % (i, i, h) for i in range(USERS))
    sql("INSERT INTO `user` (email, username, hashed_password, is_active, "
        "created_at) VALUES " + values)


def write_lines(name, lines):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def post(url, obj, timeout=60):
    req = urllib.request.Request(url, json.dumps(obj).encode(), {
        "Content-Type": "application/json",
        "X-Forwarded-For": "198.18.%d.%d" % (secrets.randbelow(256),
                                             1 + secrets.randbelow(254))})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, None


_chain_account = [0]


def login_chains(base, n):
    """A file of n refresh tokens of fresh sessions, for as many chains.
    Each refresh run starts chains of its own: the last request of a wrk
    run is cut off, and the token it was rotating can only be presented
    again within the grace period (after which it revokes its session).
    The accounts are the first 100, in turn (the per-account login
    throttle allows 5 in 15 minutes)."""
    tokens = [None] * n
    first = _chain_account[0]
    _chain_account[0] += n

    def one(i):
        st, body = post(base + "/api/auth/login", {
            "email": "bench%d@example.com" % ((first + i) % 100),
            "password": PASSWORD})
        if st == 200:
            tokens[i] = body["refresh_token"]
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    if None in tokens:
        raise RuntimeError("a login for the refresh chains failed")
    return write_lines("refresh.txt", tokens)


def ceiling_sessions(n):
    """A file of n new sessions for the one-UPDATE ceiling, "sid uid jti"
    lines (new for each run, as the refresh chains are)."""
    uid = sql("SELECT id FROM `user` WHERE email = 'bench0@example.com'")[0][0]
    rows, lines = [], []
    for _ in range(n):
        # A token id starts with its generation (session.c).
        sid, jti = secrets.token_hex(16), "00000001" + secrets.token_hex(12)
        rows.append("('%s', %s, 1, '%s', UTC_TIMESTAMP(), "
                    "UTC_TIMESTAMP() + INTERVAL 21 DAY)" % (sid, uid, jti))
        lines.append("%s %s %s" % (sid, uid, jti))
    sql("INSERT INTO auth_refresh_session (id, user_id, generation, "
        "current_jti, created_at, expires_at) VALUES " + ",".join(rows))
    return write_lines("rotate.txt", lines)


def expired_rows(n):
    """n refresh sessions that expired two days ago: work for cleanup."""
    uid = sql("SELECT id FROM `user` WHERE email = 'bench1@example.com'")[0][0]
    sql("INSERT INTO auth_refresh_session (id, user_id, generation, "
        "current_jti, created_at, expires_at) SELECT "
        "MD5(CONCAT(RAND(), seq)), %s, 1, MD5(RAND()), "
        "UTC_TIMESTAMP() - INTERVAL 30 DAY, "
        "UTC_TIMESTAMP() - INTERVAL 2 DAY FROM seq_1_to_%d" % (uid, n))


def cleanup(limit=None):
    """Run cron/auth-cleanup once (starting no batch after limit seconds,
    -t); return (rows deleted, seconds)."""
    p = subprocess.run([os.path.join(TOP, "cron", "auth-cleanup")] +
                       (["-t", str(limit)] if limit else []),
                       env=dict(os.environ, AUTH_CONFIG=CONFIG),
                       capture_output=True, timeout=900)
    out = p.stdout.decode()
    m = re.search(r"seconds=([\d.]+)", out)
    if p.returncode != 0 or not m:
        raise RuntimeError("auth-cleanup: %s %s" % (
            out, p.stderr.decode(errors="replace")))
    rows = sum(int(v) for k, v in re.findall(r" (\w+)=(\d+)\b", out))
    return rows, float(m.group(1))


# -- Servers ------------------------------------------------------------------

def shipped_procs(endpoint):
    """max-procs of endpoint in the shipped lighttpd snippet."""
    with open(os.path.join(TOP, "httpd-conf",
                           "lighttpd-collab-auth.conf")) as f:
        text = f.read()
    m = re.search(r'"/api/auth/%s" => \(\((.*?)\)\)' % re.escape(endpoint),
                  text, re.S)
    return int(re.search(r'"max-procs" => (\d+)', m.group(1)).group(1))


def start_lighttpd(refresh_procs=None):
    """lighttpd with the shipped snippet, and the two ceilings beside it
    with as many processes as refresh-token; refresh_procs overrides
    refresh-token's max-procs (and the ceilings')."""
    port = free_port()
    lib('ca_lighttpd_conf %d "$CA_CONFIG_FILE"' % port)
    procs = refresh_procs or shipped_procs("refresh-token")
    snippet = os.path.join(PATHS["CA_LIGHTTPD_DIR"], "collab-auth.conf")
    if refresh_procs:
        with open(snippet) as f:
            text = f.read()
        text = re.sub(r'("/api/auth/refresh-token" => \(\(.*?"max-procs" '
                      r'=> )\d+', r"\g<1>%d" % refresh_procs, text,
                      flags=re.S)
        with open(snippet, "w") as f:
            f.write(text)
    run = PATHS["CA_RUN"]
    with open(os.path.join(PATHS["CA_LIGHTTPD_DIR"], "lighttpd.conf"),
              "a") as f:
        f.write('fastcgi.server += (\n')
        for url, prog in (("/bench/null", "null-responder"),
                          ("/bench/rotate", "rotate-ceiling")):
            f.write('\t"%s" => (( "bin-path" => "%s", "socket" => '
                    '"%s/bench-%s.sock", "max-procs" => %d, '
                    '"bin-environment" => ( "AUTH_CONFIG" => "%s" ), '
                    '"check-local" => "disable" )),\n'
                    % (url, os.path.join(HERE, prog), run, prog, procs,
                       CONFIG))
        f.write(')\n')
    pid = lib('ca_lighttpd_start %d && echo "$CA_LIGHTTPD_RUNNING_PID"'
              % port)
    return "http://127.0.0.1:%d" % port, int(pid)


def start_server(script, running):
    """Start a server with script (lib.sh calls, %(port)d for its port);
    return its base URL and the pid lib.sh keeps in the variable
    running."""
    port = free_port()
    pid = lib('%s && echo "$%s"' % (script % {"port": port}, running))
    return "http://127.0.0.1:%d" % port, int(pid)


def start_nginx():
    return start_server('ca_pool_start "$CA_CONFIG_FILE" && '
                        'ca_nginx_conf %(port)d && ca_nginx_start %(port)d',
                        "CA_NGINX_RUNNING_PID")


def start_apache():
    return start_server('ca_apache_conf fcgid %(port)d "$CA_CONFIG_FILE" '
                        '&& ca_apache_start %(port)d',
                        "CA_APACHE_RUNNING_PID")


def stop_all():
    lib("ca_lighttpd_stop; ca_nginx_stop; ca_pool_stop; ca_apache_stop")


def prog(name):
    return os.path.join(TOP, "cgi-bin", "auth-" + name)


# -- Plain CGI ----------------------------------------------------------------

def cgi_refresh(token, n):
    """CPU per request of auth-refresh-token as plain CGI: n chained
    refreshes, each a process of its own, as mod_cgi runs them."""
    base = {"PATH": "/usr/bin:/bin", "AUTH_CONFIG": CONFIG,
            "REQUEST_METHOD": "POST", "CONTENT_TYPE": "application/json",
            "SCRIPT_NAME": "/api/auth/refresh-token",
            "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_PROTOCOL": "HTTP/1.1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    ok = 0
    for i in range(n):
        body = json.dumps({"refresh_token": token}).encode()
        e = dict(base, CONTENT_LENGTH=str(len(body)),
                 REMOTE_ADDR="198.19.%d.%d" % (i // 250, 1 + i % 250))
        p = subprocess.run([prog("refresh-token")], input=body, env=e,
                           capture_output=True, timeout=30)
        m = re.search(rb'"refresh_token":"([^"]+)"', p.stdout)
        if m:
            token = m.group(1).decode()
            ok += 1
    took = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime +
           after.ru_stime - before.ru_stime)
    return {"name": "refresh, plain CGI (sequential)", "conc": 1,
            "rps": n / took, "cpu_prog": 1000 * cpu / n, "bad": n - ok}


# -- The run ------------------------------------------------------------------

def fmt(v, spec):
    return "-" if v is None else spec % v


def table(rows):
    form = "%-40s %3s %8s %8s %8s %8s %5s %7s %7s %7s %3s %6s"
    lines = [form % ("scenario", "c", "req/s", "p50 ms", "p99 ms", "max ms",
                     "bad", "cpu/req", "web", "db", "n", "PSS"),
             form % ("", "", "", "", "", "", "", "prog ms", "ms", "ms", "",
                     "kB")]
    for r in rows:
        lines.append(form % (
            r["name"][:40], r.get("conc", ""), fmt(r.get("rps"), "%.0f"),
            fmt(r.get("p50"), "%.2f"), fmt(r.get("p99"), "%.2f"),
            fmt(r.get("max"), "%.1f"), r.get("bad", ""),
            fmt(r.get("cpu_prog"), "%.3f"), fmt(r.get("cpu_web"), "%.3f"),
            fmt(r.get("cpu_db"), "%.3f"), r.get("procs", ""),
            fmt(r.get("pss"), "%d")))
    return "\n".join(lines)


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return "%s, %d cores (%s), %s; load average %s" % (
        platform.node(), os.cpu_count(), model, platform.release(), load)


def main():
    os.makedirs(WORK, exist_ok=True)
    rows, ratios = [], []
    start = time.monotonic()
    load_before = machine()
    say("machine: " + load_before)

    # The bcrypt limit, on every core, with the programs' library.
    p = subprocess.run([os.path.join(HERE, "bcrypt-rate"), str(COST),
                        str(max(3, SECONDS // 2)), str(os.cpu_count())],
                       capture_output=True, timeout=600)
    m = re.search(rb"hashes_per_second=([\d.]+)", p.stdout)
    if not m:
        raise RuntimeError("bcrypt-rate: %r" % p.stderr)
    bcrypt_limit = float(m.group(1))
    say("bcrypt limit: %.2f hashes/s at cost %d on %d cores"
        % (bcrypt_limit, COST, os.cpu_count()))

    seed_users()
    registered = write_lines("forgot-registered.txt", [
        json.dumps({"email": "bench%d@example.com" % i})
        for i in range(USERS)])
    unknown = write_lines("forgot-unknown.txt", [
        json.dumps({"email": "nobody%d-%s@example.com"
                    % (i, secrets.token_hex(4))}) for i in range(USERS)])
    # Two disjoint halves of the accounts for the two login runs: the
    # per-account throttle (5 in 15 minutes) never refuses.
    logins, flood_logins = (write_lines(name, [
        json.dumps({"email": "bench%d@example.com" % i,
                    "password": PASSWORD}) for i in range(lo, hi)])
        for name, lo, hi in (("login.txt", 100, USERS // 2 + 50),
                             ("flood.txt", USERS // 2 + 50, USERS)))

    try:
        # lighttpd, the shipped config: ceilings, refresh, forgot, login.
        base, server = start_lighttpd()
        ceilings = os.path.join(HERE, "null-responder"), os.path.join(
            HERE, "rotate-ceiling")
        res = {}
        for conc in (16, 4):
            res["null", conc] = measure(
                "null ceiling, lighttpd", base + "/bench/null", "null",
                conc, SECONDS, Roles([ceilings[0]], server))
            res["rotate", conc] = measure(
                "one-UPDATE ceiling, lighttpd", base + "/bench/rotate",
                "rotate", conc, SECONDS, Roles([ceilings[1]], server))
            res["refresh", conc] = measure(
                "refresh (chained), lighttpd",
                base + "/api/auth/refresh-token", "refresh", conc, SECONDS,
                Roles([prog("refresh-token")], server))
            rows += [res["null", conc], res["rotate", conc],
                     res["refresh", conc]]
            ratios.append("refresh c%d: %.0f %% of the one-UPDATE ceiling, "
                          "%.0f %% of the null ceiling" % (
                              conc, 100 * res["refresh", conc]["rps"] /
                              res["rotate", conc]["rps"],
                              100 * res["refresh", conc]["rps"] /
                              res["null", conc]["rps"]))
        forgot = Roles([prog("forgot-password")], server)
        rows.append(measure("forgot-password, registered, lighttpd",
                            base + "/api/auth/forgot-password", "post", 16,
                            SECONDS, forgot, registered))
        rows.append(measure("forgot-password, unknown, lighttpd",
                            base + "/api/auth/forgot-password", "post", 16,
                            SECONDS, forgot, unknown))
        # Logins take long at c16 (each waits for fifteen others' bcrypt):
        # a longer run, so that the ones cut off at its end count little.
        login = measure("login, lighttpd", base + "/api/auth/login", "post",
                        16, 3 * SECONDS, Roles([prog("login")], server),
                        logins)
        rows.append(login)
        ratios.append("login c16: %.0f %% of the bcrypt limit (%.2f/s at "
                      "cost %d)" % (100 * login["rps"] / bcrypt_limit,
                                    bcrypt_limit, COST))

        # Refresh at c4 during a login flood at c16 (the chains made
        # before the flood, which would slow their logins down).
        flood = {}
        refresh_url = base + "/api/auth/refresh-token"
        flood_chains = chains(refresh_url, "refresh", 4)

        def run_flood():
            flood["row"] = measure(
                "login flood (beside refresh c4)", base + "/api/auth/login",
                "post", 16, SECONDS + 8, Roles([prog("login")], server),
                flood_logins)
        th = threading.Thread(target=run_flood)
        th.start()
        time.sleep(4)
        during = measure("refresh c4 during a login flood", refresh_url,
                         "refresh", 4, SECONDS,
                         Roles([prog("refresh-token")], server),
                         flood_chains)
        th.join(SECONDS + 120)
        rows += [during, flood.get("row", {"name": "login flood: failed"})]
        ratios.append("refresh c4 p99 during a login flood: %.1f x idle "
                      "(%.2f ms against %.2f ms)" % (
                          during["p99"] / res["refresh", 4]["p99"],
                          during["p99"], res["refresh", 4]["p99"]))

        # Cleanup: alone, then under refresh load.
        expired_rows(100000)
        n, took = cleanup()
        rows.append({"name": "auth-cleanup alone", "rps": n / took,
                     "bad": 0, "conc": ""})
        ratios.append("auth-cleanup alone: %.0f rows/s (%d rows in %.1f s)"
                      % (n / took, n, took))
        # Enough rows to last the window at the idle rate; the run stops
        # starting batches soon after the window (-t).
        expired_rows(min(300000, max(50000, int(n / took * (SECONDS + 2)))))
        box = {}
        under_chains = chains(refresh_url, "refresh", 16)
        th = threading.Thread(target=lambda: box.update(
            zip(("rows", "took"), cleanup(SECONDS + 5))))
        th.start()
        time.sleep(1)
        under = measure("refresh c16 during auth-cleanup", refresh_url,
                        "refresh", 16, SECONDS,
                        Roles([prog("refresh-token")], server), under_chains)
        still = th.is_alive()
        th.join(900)
        rows.append(under)
        ratios.append("refresh c16 during cleanup: %.0f %% of without "
                      "(cleanup %s the whole window; %d rows in %.1f s, "
                      "%.0f rows/s)" % (
                          100 * under["rps"] / res["refresh", 16]["rps"],
                          "ran" if still else "did NOT run",
                          box.get("rows", 0), box.get("took", 0),
                          box.get("rows", 0) / max(box.get("took", 1), 1e-9)))
        stop_all()

        # The process counts of refresh-token, if asked for.
        for procs in PROCS:
            base, server = start_lighttpd(procs)
            rotate_row = measure("one-UPDATE ceiling, %d procs" % procs,
                                 base + "/bench/rotate", "rotate", 16,
                                 SECONDS, Roles([ceilings[1]], server))
            row = measure("refresh c16, lighttpd, %d procs" % procs,
                          base + "/api/auth/refresh-token", "refresh", 16,
                          SECONDS, Roles([prog("refresh-token")], server))
            rows += [rotate_row, row]
            stop_all()

        # nginx in front of the pool.
        base, server = start_nginx()
        rows.append(measure("refresh (chained), nginx + pool",
                            base + "/api/auth/refresh-token", "refresh", 16,
                            SECONDS, Roles([prog("refresh-token")], server)))
        stop_all()

        # Apache with mod_fcgid, the shipped config, c4 for a minute,
        # after a short warm-up: mod_fcgid starts no process before a
        # request asks for one, and the first requests wait for them in
        # steps of a second (the warm-up's row shows it).
        base, server = start_apache()
        staged = os.path.join(PATHS["CA_APACHE_STAGE"], "libexec",
                              "auth-refresh-token")
        rows.append(measure("Apache mod_fcgid warm-up, from cold",
                            base + "/api/auth/refresh-token", "refresh", 4,
                            3, Roles([staged], server)))
        apache = measure("refresh c4, Apache mod_fcgid, %d s"
                         % APACHE_SECONDS, base + "/api/auth/refresh-token",
                         "refresh", 4, APACHE_SECONDS,
                         Roles([staged], server))
        rows.append(apache)
        ratios.append("Apache + mod_fcgid c4, %d s: slowest request %.0f ms"
                      % (APACHE_SECONDS, apache["max"]))
        stop_all()

        # Plain CGI.
        base, server = start_lighttpd()
        with open(login_chains(base, 1)) as f:
            token = f.read().strip()
        stop_all()
        cgi = cgi_refresh(token, max(50, 10 * SECONDS))
        rows.append(cgi)
        ratios.append("plain CGI refresh: %.2f ms CPU per request"
                      % cgi["cpu_prog"])
    finally:
        stop_all()

    pss = [r["pss"] for r in rows if r.get("pss")]
    print()
    print("collab-auth benchmark, %s" % time.strftime("%Y-%m-%d %H:%M %Z"))
    print("machine: %s" % load_before)
    print("after:   %s" % machine())
    print("runs of %d s (BENCH_SECONDS), BCRYPT_ROUNDS=%d, wrk, one "
          "connection per thread, every request from its own address"
          % (SECONDS, COST))
    print()
    print(table(rows))
    print()
    print("cpu/req: CPU time of the program's processes (prog), the web "
          "server's (web) and MariaDB's (db) per answered request; n: the "
          "program's processes after the run; PSS: the largest of them; "
          "bad: non-2xx answers, socket errors and broken chains.")
    print()
    for r in ratios:
        print("- " + r)
    if pss:
        print("- largest program PSS: %d kB" % max(pss))
    print("- total time: %.0f s" % (time.monotonic() - start))
    return 0


if __name__ == "__main__":
    sys.exit(main())
