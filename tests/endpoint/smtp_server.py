# SPDX-License-Identifier: ISC
"""A real SMTP server for the mail tests, on loopback only, built on
Debian's python3-aiosmtpd (run it with /usr/bin/python3).

As a program:

  /usr/bin/python3 smtp_server.py --port N --spool DIR
      [--starttls --cert C --key K] [--tls --cert C --key K]
      [--auth USER:PASS] [--no-starttls]

  --starttls    offer STARTTLS and require it before MAIL (RFC 3207)
  --tls         implicit TLS from the first byte (smtps, port 465 style)
  --no-starttls never offer STARTTLS (the default without --starttls)
  --auth U:P    require AUTH (LOGIN or PLAIN) and accept only U:P

It binds 127.0.0.1:N, prints "READY N" on stdout once it accepts
connections, and exits 0 on SIGTERM or SIGINT.  Each accepted message
becomes DIR/<n>.json, written to a temporary name and renamed, holding
{"mail_from", "rcpt_tos", "data" (the message as received, CRLF and all,
dot-stuffing undone), "tls" (was the session encrypted when DATA came),
"auth" (the authenticated user name or null), "peer"}.  SMTPUTF8 is
offered (RFC 6531), as real servers do for internationalised addresses.

Faults, for the tests to switch on and off while it runs: the file
DIR/faults.ctl (see set_faults()), read every 0.1 s, holds JSON with
  "down": true          stop listening (connections are refused) until
                        it is false again, on the same port;
  "greeting_delay": S   wait S seconds before the 220 greeting;
  "temp_fail": N        answer the next N messages "451 4.3.0" at DATA
                        (counted from each new "serial");
  "rcpt_reject": N      answer the next N recipients "550 5.1.1";
  "quit_stall": N       never answer the next N QUITs (the connection
                        stays open until the client closes it);
  "idle_timeout": S     close a connection idle for S seconds (new
                        connections), as real servers do (aiosmtpd says
                        nothing first; under TLS it sends close_notify).
Each accepted connection and each refused message is a line on stderr.

As a module: Server(spool, ...) starts it as a subprocess on a free port
(start() waits for READY, bounded) and stops it (stop(), or use it as a
context manager); messages() and wait_messages() read the spool;
make_cert() writes a throwaway self-signed certificate with openssl.
"""

import argparse
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))
FAULTS = "faults.ctl"


def set_faults(spool, down=False, greeting_delay=0.0, temp_fail=0,
               rcpt_reject=0, quit_stall=0, idle_timeout=0.0):
    """Switch the faults of the server keeping its spool in spool (all
    off by default); the server applies them within 0.1 s."""
    path = os.path.join(spool, FAULTS)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"down": bool(down), "greeting_delay": greeting_delay,
                   "temp_fail": int(temp_fail),
                   "rcpt_reject": int(rcpt_reject),
                   "quit_stall": int(quit_stall),
                   "idle_timeout": float(idle_timeout),
                   "serial": time.monotonic_ns()}, f)
    os.rename(tmp, path)
    time.sleep(0.3)


# -- The server (runs in its own process) ---------------------------------

class Faults:
    """The faults the tests asked for (see set_faults())."""

    def __init__(self, spool):
        self.path = os.path.join(spool, FAULTS)
        self.lock = threading.Lock()
        self.down = False
        self.greeting_delay = 0.0
        self.temp_fail = 0
        self.rcpt_reject = 0
        self.quit_stall = 0
        self.idle_timeout = 0.0
        self.serial = None

    def poll(self):
        """Read the control file; return True when it changed."""
        try:
            with open(self.path) as f:
                c = json.load(f)
        except (OSError, ValueError):
            return False
        with self.lock:
            if c.get("serial") == self.serial:
                return False
            self.serial = c.get("serial")
            self.down = bool(c.get("down"))
            self.greeting_delay = float(c.get("greeting_delay") or 0)
            self.temp_fail = int(c.get("temp_fail") or 0)
            self.rcpt_reject = int(c.get("rcpt_reject") or 0)
            self.quit_stall = int(c.get("quit_stall") or 0)
            self.idle_timeout = float(c.get("idle_timeout") or 0)
        return True

    def take(self, name):
        """Use up one of the fault counted in attribute name, if any."""
        with self.lock:
            if getattr(self, name) > 0:
                setattr(self, name, getattr(self, name) - 1)
                return True
            return False

    def take_temp_fail(self):
        return self.take("temp_fail")


class Recorder:
    """The aiosmtpd handler: one JSON file per accepted message."""

    def __init__(self, spool, faults=None):
        self.spool = spool
        self.faults = faults
        self.count = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        if self.faults is not None and self.faults.take("rcpt_reject"):
            print("smtp_server: 550 for recipient %r" % address,
                  file=sys.stderr, flush=True)
            return "550 5.1.1 No such user (test fault)"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_QUIT(self, server, session, envelope):
        if self.faults is not None and self.faults.take("quit_stall"):
            import asyncio
            print("smtp_server: QUIT left unanswered", file=sys.stderr,
                  flush=True)
            await asyncio.sleep(3600)
        return "221 Bye"

    async def handle_DATA(self, server, session, envelope):
        if self.faults is not None and self.faults.take_temp_fail():
            print("smtp_server: 451 for a message to %r"
                  % list(envelope.rcpt_tos), file=sys.stderr, flush=True)
            return "451 4.3.0 Try again later (test fault)"
        transport = server.transport
        tls = session.ssl is not None or (
            transport is not None and
            transport.get_extra_info("ssl_object") is not None)
        auth = session.auth_data if session.authenticated else None
        if isinstance(auth, bytes):
            auth = auth.decode("utf-8", errors="replace")
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data": envelope.original_content.decode("utf-8",
                                                     errors="replace"),
            "tls": bool(tls),
            "auth": auth,
            "peer": list(session.peer) if session.peer else None,
        }
        with self.lock:
            self.count += 1
            n = self.count
        tmp = os.path.join(self.spool, ".%d.json.tmp" % n)
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.spool, "%d.json" % n))
        return "250 OK: queued as %d" % n


def make_authenticator(user, password):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticator(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = (hmac.compare_digest(auth_data.login, user.encode()) and
              hmac.compare_digest(auth_data.password, password.encode()))
        if not ok:
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=user)

    return authenticator


def make_controller(handler, faults, kw):
    """An aiosmtpd Controller whose sessions honour faults."""
    import asyncio
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP

    class SlowSMTP(SMTP):
        async def _handle_client(self):
            print("smtp_server: connection from %r" % (self.session.peer,),
                  file=sys.stderr, flush=True)
            delay = faults.greeting_delay
            if delay > 0:
                await asyncio.sleep(delay)
            await super()._handle_client()

    class FaultyController(Controller):
        def factory(self):
            kw = dict(self.SMTP_kwargs)
            if faults.idle_timeout > 0:
                kw["timeout"] = faults.idle_timeout
            return SlowSMTP(self.handler, **kw)

    return FaultyController(handler, **kw)


def serve(argv):
    p = argparse.ArgumentParser(description="SMTP server for the tests")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--spool", required=True)
    p.add_argument("--starttls", action="store_true")
    p.add_argument("--tls", action="store_true")
    p.add_argument("--no-starttls", action="store_true")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--auth")
    a = p.parse_args(argv)
    if a.starttls and a.no_starttls:
        p.error("--starttls and --no-starttls exclude each other")
    if (a.starttls or a.tls) and not (a.cert and a.key):
        p.error("--starttls and --tls need --cert and --key")
    if a.auth is not None and ":" not in a.auth:
        p.error("--auth takes USER:PASS")

    import ssl
    import warnings

    ctx = None
    if a.starttls or a.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.cert, a.key)

    kw = {"hostname": "127.0.0.1", "port": a.port,
          "server_hostname": "localhost", "ready_timeout": 10.0}
    if a.tls:
        kw["ssl_context"] = ctx
    if a.starttls:
        kw["tls_context"] = ctx
        kw["require_starttls"] = True
    if a.auth is not None:
        user, password = a.auth.split(":", 1)
        kw["auth_required"] = True
        kw["authenticator"] = make_authenticator(user, password)
    # aiosmtpd refuses AUTH outside TLS by default (auth_require_tls):
    # keep that whenever the session can be encrypted; allow it in clear
    # only on a server that has no TLS at all, as a test tool.
    kw["auth_require_tls"] = bool(a.starttls or a.tls)
    warnings.simplefilter("ignore")

    os.makedirs(a.spool, exist_ok=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    faults = Faults(a.spool)
    faults.poll()
    handler = Recorder(a.spool, faults)
    controller = None
    if not faults.down:
        controller = make_controller(handler, faults, kw)
        controller.start()
    print("READY %d" % a.port, flush=True)
    try:
        while not stop.wait(0.1):
            if not faults.poll():
                continue
            if faults.down and controller is not None:
                controller.stop()
                controller = None
                print("smtp_server: down", file=sys.stderr, flush=True)
            elif not faults.down and controller is None:
                controller = make_controller(handler, faults, kw)
                controller.start()
                print("smtp_server: up", file=sys.stderr, flush=True)
    finally:
        if controller is not None:
            controller.stop()
    return 0


# -- Helpers for the tests ------------------------------------------------

def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_cert(directory, name="smtp"):
    """A throwaway self-signed certificate for CN=localhost, valid one
    day; returns (cert path, key path)."""
    cert = os.path.join(directory, name + "-cert.pem")
    key = os.path.join(directory, name + "-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    return cert, key


class Server:
    """smtp_server.py as a subprocess on a free loopback port."""

    def __init__(self, spool, starttls=False, tls=False, cert=None,
                 key=None, auth=None, no_starttls=False):
        self.spool = spool
        self.args = []
        if starttls:
            self.args += ["--starttls"]
        if tls:
            self.args += ["--tls"]
        if starttls or tls:
            self.args += ["--cert", cert, "--key", key]
        if auth is not None:
            self.args += ["--auth", auth]
        if no_starttls:
            self.args += ["--no-starttls"]
        self.proc = None
        self.port = None
        self.log = os.path.join(spool, "server.log")

    def start(self, timeout=15):
        """Start the server and wait for its READY line; a port taken
        in the meantime is retried.  Returns the port."""
        os.makedirs(self.spool, exist_ok=True)
        for _ in range(3):
            port = free_port()
            with open(self.log, "ab") as log:
                proc = subprocess.Popen(
                    [PYTHON, "-B", os.path.join(HERE, "smtp_server.py"),
                     "--port", str(port), "--spool", self.spool] +
                    self.args, stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=log)
            line = _readline(proc.stdout, timeout)
            if line == "READY %d" % port:
                self.proc = proc
                self.port = port
                return port
            _kill(proc)
            proc.stdout.close()
        raise RuntimeError("smtp_server.py did not start: %s"
                           % self.log_text()[-2000:])

    def stop(self):
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        _kill(proc)
        proc.stdout.close()

    def faults(self, **kw):
        """Switch this server's faults: see set_faults()."""
        set_faults(self.spool, **kw)

    def log_text(self):
        """What the server wrote to stderr."""
        try:
            with open(self.log, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def messages(self):
        """The recorded messages, in order of arrival."""
        out = []
        names = [n for n in os.listdir(self.spool) if n.endswith(".json")
                 and not n.startswith(".")]
        for n in sorted(names, key=lambda n: int(n.split(".")[0])):
            with open(os.path.join(self.spool, n)) as f:
                out.append(json.load(f))
        return out

    def wait_messages(self, count=1, timeout=10):
        """Wait until at least count messages are recorded (or timeout
        seconds pass); return them."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.messages()
            if len(msgs) >= count or time.monotonic() >= deadline:
                return msgs
            time.sleep(0.1)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def _readline(stream, timeout):
    """One line of stream, without its newline, or "" after timeout."""
    result = []

    def reader():
        result.append(stream.readline())

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    t.join(timeout)
    if not result:
        return ""
    return result[0].decode(errors="replace").strip()


def _kill(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1:]))
