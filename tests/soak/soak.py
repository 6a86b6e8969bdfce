# SPDX-License-Identifier: ISC
"""The soak: mixed traffic (register, login, refresh-token,
forgot-password, reset-password, logout and health at once,
tests/endpoint/mixed.py) through the suite's web server for
AUTH_TEST_SOAK_SECONDS (60 by default), sampling each program process,
and the database, as it goes:

  memory       Pss and Pss_Anon of /proc/PID/smaps_rollup
  descriptors  the entries of /proc/PID/fd
  connections  the app user's connections in information_schema.PROCESSLIST,
               less those of the mail senders forgot-password starts
               (auth-cleanup --deliver, which come and go)

and checking that they stay flat.  "Flat": after a warm-up (the first
fifth of the run, at least 15 s, and until every process has done its
work a few times: some things are set up on first use), the samples are
split into a first and a last third, and for each process the least of
the last third (the floor: a request in progress at a sample does not
raise it, a leak does) is not above the most of the first third: for
descriptors and connections at all; for memory by more than
MEMORY_MARGIN_KIB in all, or by more than STEADY_KIB while rising in
most intervals (a steady leak, seen in a short run; malloc growing its
heap once is not one).  Memory is judged on Pss_Anon, the process's own
heap and stack: Pss also holds its share of libraries mapped by every
process on the machine, which moves when other programs start and stop.
Besides: no process was replaced during the run, there is never more
than one connection per process, and every answer was one its program
may give (no 500, no time-out).

Run by scripts/test, through lighttpd (whose processes live as long as
it does: each can be watched from start to end) like an endpoint test
file, after the endpoint suites; scripts/soak SECONDS runs it alone, for
longer.  Prints TAP, and the figures as comments."""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "endpoint"))

from harness import (TAP, config_values, db_scalar, env,  # noqa: E402
                     program_pids, race)
from mixed import Mixed  # noqa: E402

PROGRAMS = ("auth-register", "auth-login", "auth-refresh-token",
            "auth-forgot-password", "auth-reset-password", "auth-logout",
            "auth-health")
MEMORY_MARGIN_KIB = 256
STEADY_KIB = 32
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
    """The app user's connections to MariaDB now (the admin client's own
    is another user's)."""
    return int(db_scalar("SELECT COUNT(*) FROM "
                         "information_schema.PROCESSLIST "
                         "WHERE USER = 'collab_auth'"))


def senders():
    """The mail senders running now (auth-cleanup --deliver, started by
    forgot-password): each holds a connection of its own while it works,
    and comes and goes with the traffic."""
    prog = os.path.realpath(config_values().get("MAIL_DELIVERY_PROGRAM") or
                            env("AUTH_TEST_CLEANUP"))
    return len(program_pids(os.path.basename(prog),
                            dirs={os.path.dirname(prog)}, arg=b"--deliver"))


def sample(pids):
    """The programs' memory and descriptors, and the connections of the
    app user less those of the senders (counted before and after, the
    most of the two: one that came or went meanwhile is not taken for a
    program's connection)."""
    before = senders()
    db = connections()
    s = {"t": time.monotonic(), "db": db - max(before, senders()),
         "procs": {}}
    for prog, pid in pids:
        s["procs"][(prog, pid)] = (rollup(pid), fds(pid))
    return s


def read_bytes(pid):
    """What pid has read so far (rchar of /proc/PID/io: requests, and the
    database's and mail server's answers), or 0 once it is gone."""
    try:
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def warm(k, start):
    """Has process k done its work a few times since the soak started
    (start: what it had read then)?  Requests of this traffic read a few
    kB each."""
    return read_bytes(k[1]) - start[k] >= 4096


def warm_up(mx, pids, least, longest):
    """Warm up until every process has done its work a few times (a
    program sets some things up on first use: OpenSSL's HMAC, libcurl,
    the first statements), at least least s, at most longest s.  Bursts
    of concurrent requests to each program go first, so that its second
    process gets some too: lighttpd hands a request to the first idle
    process, and the traffic alone seldom keeps it busy.  Returns the
    processes still cold."""
    t0 = time.monotonic()
    start = {k: read_bytes(k[1]) for k in pids}
    while True:
        cold = [k for k in pids if not warm(k, start)]
        now = time.monotonic() - t0
        if now >= longest or (not cold and now >= least):
            return cold
        if cold:
            for fn in (mx.do_register, mx.do_login, mx.do_refresh,
                       mx.do_forgot, mx.do_reset, mx.do_logout,
                       mx.do_health):
                race(6, lambda i, fn=fn: fn())
        time.sleep(1)


def flat(values, margin=0):
    """(is flat, least of the last third, most of the first third)."""
    n = max(1, len(values) // 3)
    first, last = values[:n], values[-n:]
    return min(last) <= max(first) + margin, min(last), max(first)


def memory_flat(values):
    """(is flat, how much the floor rose, in how many of the intervals
    memory rose).  A leak either raises the floor by more than
    MEMORY_MARGIN_KIB, or keeps raising it: more than STEADY_KIB, in
    more than half the intervals.  malloc growing its heap once (by
    128 KiB at a time) is neither."""
    ok, low, high = flat(values, MEMORY_MARGIN_KIB)
    rise = low - high
    ups = sum(1 for a, b in zip(values, values[1:]) if b > a)
    steady = rise > STEADY_KIB and ups > (len(values) - 1) / 2
    return ok and not steady, rise, ups


def main():
    t = TAP()
    seconds = int(os.environ.get("AUTH_TEST_SOAK_SECONDS") or 60)
    warm = max(15, seconds // 5)
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
        cold = warm_up(mx, pids, warm, seconds / 2)
        warm = time.monotonic() - t0
        every = max(2.0, (seconds - warm) / 30.0)
        while True:
            samples.append(sample(pids))
            if time.monotonic() - t0 + every > seconds:
                break
            time.sleep(every)
    finally:
        mx.stop(stop)
    t.diag("%d s, %d samples after %d s of warm-up; answers: %s"
           % (seconds, len(samples), warm, mx.summary()))
    if cold:
        t.diag("still cold after the warm-up, memory not judged: %r" % cold)
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
        ok, rise, ups = memory_flat(anon)
        if not ok and k not in cold:
            mem_bad.append("%s[%d]: Pss_Anon rose %d kB, in %d of %d "
                           "intervals: %r" % (k + (rise, ups, len(anon) - 1,
                                                  anon)))
        ok, low, high = flat(nfd)
        if not ok:
            fd_bad.append("%s[%d]: %d descriptors late, %d early: %r"
                          % (k + (low, high, nfd)))
    judged = {prog for prog, pid in pids if (prog, pid) not in cold}
    t.ok(not mem_bad and judged == set(PROGRAMS), "each process's memory "
         "stays flat (Pss_Anon; %d of %d processes warm, every program "
         "among them)" % (len(pids) - len(cold), len(pids)), *mem_bad)
    t.ok(not fd_bad, "each process's open descriptors stay flat", *fd_bad)
    db = [s["db"] for s in samples]
    t.diag("database connections: first %d, last %d, most %d (%d "
           "processes)" % (db[0], db[-1], max(db), len(pids)))
    t.ok(max(db) <= len(pids) and flat(db)[0], "database connections stay "
         "flat, never more than one per process (the mail senders' "
         "aside)", db)
    bad = mx.answer_problems(BOUND)
    t.ok(not bad, "all %d answers were ones their program may give, each "
         "within %d s" % (len(mx.answers), BOUND),
         *[repr(a) for a in bad[:10]])
    t.done()


if __name__ == "__main__":
    main()
