# SPDX-License-Identifier: ISC
"""The soak: mixed traffic (register, login, refresh-token, forgot-password
and reset-password at once, tests/endpoint/mixed.py) through the suite's
web server for AUTH_TEST_SOAK_SECONDS (60 by default), sampling each
program process, and the database, as it goes:

  memory       Pss and Pss_Anon of /proc/PID/smaps_rollup
  descriptors  the entries of /proc/PID/fd
  connections  the app user's connections in information_schema.PROCESSLIST

and checking that they stay flat.  "Flat": after a warm-up (the first
fifth of the run, at least 15 s), the samples are split into a first and
a last third; for each process the least of the last third is not above
the most of the first third, by more than a margin for memory
(MEMORY_MARGIN_KIB; descriptors and connections get none): a leak raises
the floor, a request in progress at a sample does not.  Memory is judged
on Pss_Anon, the process's own heap and stack: Pss also holds its share
of libraries mapped by every process on the machine, which moves when
other programs start and stop.  Besides: no process was replaced during
the run, there is never more than one connection per process, and every
answer was one its program may give (no 500, no time-out).

Run by scripts/test, through lighttpd (whose processes live as long as
it does: each can be watched from start to end) like an endpoint test
file, after the endpoint suites; scripts/soak SECONDS runs it alone, for
longer.  Prints TAP, and the figures as comments."""

import os
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "endpoint"))

from harness import TAP, env, program_pids  # noqa: E402
from mixed import Mixed  # noqa: E402

PROGRAMS = ("auth-register", "auth-login", "auth-refresh-token",
            "auth-forgot-password", "auth-reset-password")
MEMORY_MARGIN_KIB = 256
WORKERS = 4
BOUND = 30              # seconds any one answer may take (test_db_kill.py)


def rollup(pid):
    """{"Pss": kB, "Pss_Anon": kB} of pid, or None once it is gone."""
    out = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Pss", "Pss_Anon"):
                    out[k] = int(v.split()[0])
    except OSError:
        return None
    return out


def fds(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def connections():
    """The app user's connections to MariaDB now."""
    p = subprocess.run(
        shlex.split(env("AUTH_TEST_MARIADB")) + [
            "--skip-ssl", "--batch", "--skip-column-names", "-e",
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
            "WHERE USER = 'collab_auth'"],
        capture_output=True, timeout=30)
    if p.returncode != 0:
        raise RuntimeError("mariadb: %s" % p.stderr.decode(errors="replace"))
    return int(p.stdout)


def sample(pids):
    s = {"t": time.monotonic(), "db": connections(), "procs": {}}
    for prog, pid in pids:
        s["procs"][(prog, pid)] = (rollup(pid), fds(pid))
    return s


def flat(values, margin=0):
    """(is flat, least of the last third, most of the first third)."""
    n = max(1, len(values) // 3)
    first, last = values[:n], values[-n:]
    return min(last) <= max(first) + margin, min(last), max(first)


def main():
    t = TAP()
    seconds = int(os.environ.get("AUTH_TEST_SOAK_SECONDS") or 60)
    warm = max(15, seconds // 5)
    every = max(2.0, (seconds - warm) / 30.0)
    pids = [(prog, pid) for prog in PROGRAMS for pid in program_pids(prog)]
    t.ok(len(pids) >= len(PROGRAMS) and
         {p for p, _ in pids} == set(PROGRAMS),
         "every program runs (%d processes)" % len(pids), pids)
    mx = Mixed(workers=WORKERS, timeout=BOUND + 5, pause=0.02)
    t.ok(mx.prepare(4), "accounts to start with")
    stop = mx.start()
    samples = []
    t0 = time.monotonic()
    try:
        time.sleep(warm)
        while True:
            samples.append(sample(pids))
            if time.monotonic() - t0 + every > seconds:
                break
            time.sleep(every)
    finally:
        mx.stop(stop)
    t.diag("%d s, %d samples after %d s of warm-up; answers: %s"
           % (seconds, len(samples), warm, mx.summary()))
    t.ok(len(samples) >= 3, "at least three samples after the warm-up")
    if len(samples) < 3:
        t.done()

    gone = [k for k in pids if samples[-1]["procs"][k][0] is None or
            k[1] not in program_pids(k[0])]
    t.ok(not gone, "no program process was replaced during the run", gone)
    t.diag("%-28s %9s %9s %9s %9s %5s %5s" % (
        "program[pid]", "Pss kB", "", "Anon kB", "", "fds", ""))
    t.diag("%-28s %9s %9s %9s %9s %5s %5s" % (
        "", "first", "last", "first", "last", "first", "last"))
    mem_bad, fd_bad = [], []
    for k in pids:
        if k in gone:
            continue
        rows = [s["procs"][k] for s in samples]
        pss = [r[0]["Pss"] for r in rows]
        anon = [r[0]["Pss_Anon"] for r in rows]
        nfd = [r[1] for r in rows]
        t.diag("%-28s %9d %9d %9d %9d %5d %5d" % (
            "%s[%d]" % k, pss[0], pss[-1], anon[0], anon[-1], nfd[0],
            nfd[-1]))
        ok, low, high = flat(anon, MEMORY_MARGIN_KIB)
        if not ok:
            mem_bad.append("%s[%d]: Pss_Anon %d kB late, %d kB early: %r"
                           % (k + (low, high, anon)))
        ok, low, high = flat(nfd)
        if not ok:
            fd_bad.append("%s[%d]: %d descriptors late, %d early: %r"
                          % (k + (low, high, nfd)))
    t.ok(not mem_bad, "each process's memory stays flat (Pss_Anon, margin "
         "%d KiB)" % MEMORY_MARGIN_KIB, *mem_bad)
    t.ok(not fd_bad, "each process's open descriptors stay flat", *fd_bad)
    db = [s["db"] for s in samples]
    t.diag("database connections: first %d, last %d, most %d (%d "
           "processes)" % (db[0], db[-1], max(db), len(pids)))
    t.ok(max(db) <= len(pids) and flat(db)[0], "database connections stay "
         "flat, never more than one per process", db)
    bad = mx.answer_problems(BOUND)
    t.ok(not bad, "all %d answers were ones their program may give, each "
         "within %d s" % (len(mx.answers), BOUND),
         *[repr(a) for a in bad[:10]])
    t.done()


if __name__ == "__main__":
    main()
