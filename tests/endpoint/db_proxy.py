# SPDX-License-Identifier: ISC
"""A MariaDB connection that dies at COMMIT, for the tests of a COMMIT
whose outcome is unknown.

DbProxy(server_socket, path) listens on the unix socket path and passes
every connection through to MariaDB's unix socket, byte for byte.  Armed
with arm("after"), the next COMMIT (a COM_QUERY "COMMIT" packet, as
Connector/C's mysql_commit() sends it) is passed on, and when the
server's answer comes the connection is cut instead of answered: the
transaction landed, the client saw the connection lost.  With
arm("before") the COMMIT itself is not passed on and the connection is
cut: the server rolls back.  Either way one cut, then the proxy is plain
again, so the client's next connection (to find out what happened)
works.  Standard library only.
"""

import os
import socket
import threading

COM_QUERY = 0x03


class DbProxy:
    def __init__(self, server_socket, path):
        self.server_socket = server_socket
        self.path = path
        self.lock = threading.Lock()
        self.mode = None        # None, "before" or "after"
        self.cuts = 0           # connections cut so far
        self.listener = None
        self.thread = None

    def start(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(16)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        if os.path.exists(self.path):
            os.unlink(self.path)

    def arm(self, mode):
        with self.lock:
            self.mode = mode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                server.connect(self.server_socket)
            except OSError:
                client.close()
                continue
            conn = _Conn(self, client, server)
            threading.Thread(target=conn.upstream, daemon=True).start()
            threading.Thread(target=conn.downstream, daemon=True).start()

    def _take(self):
        """The armed mode, disarming it (one cut per arm())."""
        with self.lock:
            mode, self.mode = self.mode, None
            return mode


class _Conn:
    def __init__(self, proxy, client, server):
        self.proxy = proxy
        self.client = client
        self.server = server
        self.cut_on_reply = threading.Event()
        self.closed = False

    def close(self):
        if self.closed:
            return
        self.closed = True
        for s in (self.client, self.server):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def upstream(self):
        """Client to server, packet by packet (3-byte length, sequence
        number, payload), watching for COMMIT."""
        buf = b""
        try:
            while True:
                data = self.client.recv(65536)
                if not data:
                    break
                buf += data
                while len(buf) >= 4:
                    n = int.from_bytes(buf[:3], "little")
                    if len(buf) < 4 + n:
                        break
                    packet, buf = buf[:4 + n], buf[4 + n:]
                    payload = packet[4:]
                    if (payload[:1] == bytes([COM_QUERY]) and
                            payload[1:].strip().upper() == b"COMMIT"):
                        mode = self.proxy._take()
                        if mode == "before":
                            self.proxy.cuts += 1
                            self.close()
                            return
                        if mode == "after":
                            self.cut_on_reply.set()
                    self.server.sendall(packet)
        except OSError:
            pass
        self.close()

    def downstream(self):
        """Server to client; once a COMMIT was passed on armed "after",
        its answer is dropped and the connection cut."""
        try:
            while True:
                data = self.server.recv(65536)
                if not data:
                    break
                if self.cut_on_reply.is_set():
                    self.proxy.cuts += 1
                    break
                self.client.sendall(data)
        except OSError:
            pass
        self.close()
