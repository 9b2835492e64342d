"""A scriptable HTTP/1.1 backend for the resilience tests (fulcrum-echo cannot hang, reset or
answer per-endpoint errors): modes are switched by the test, requests and probes are counted."""

import socket
import threading


class FakeBackend:
    """Listens on 127.0.0.1:0. mode: "ok" (200), "status:N", "hang" (never answers), "close"
    (reads the request, then closes without a response), "stall" (a head and 10 of 100 body
    bytes, then silence). /health answers by `health_pattern`,
    a string of "S"/"F" cycled per probe (S: 200, F: 503)."""

    def __init__(self, name, mode="ok", health_pattern="S"):
        self.name = name
        self.mode = mode
        self.health_pattern = health_pattern
        self.requests = 0  # non-health requests whose head was read
        self.probes = 0
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.addr = "127.0.0.1:%d" % self._sock.getsockname()[1]
        self._closed = False
        self._conns = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self):
        self._closed = True
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.close()
            except OSError:
                pass

    def _accept(self):
        while not self._closed:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        buf = b""
        try:
            while not self._closed:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1]
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                while len(buf) < length:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                buf = buf[length:]
                if path.startswith("/health"):
                    with self._lock:
                        n = self.probes
                        self.probes += 1
                    ok = self.health_pattern[n % len(self.health_pattern)] == "S"
                    self._answer(conn, 200 if ok else 503)
                    continue
                with self._lock:
                    self.requests += 1
                mode = self.mode
                if mode == "hang":
                    while conn.recv(65536):
                        pass
                    return
                if mode == "close":
                    return
                if mode == "stall":  # a head and part of the body, then silence
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
                    while conn.recv(65536):
                        pass
                    return
                status = int(mode.split(":")[1]) if mode.startswith("status:") else 200
                self._answer(conn, status)
        except OSError:
            return
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _answer(self, conn, status):
        body = self.name.encode() + b"\n"
        conn.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body))
