"""fulcrum-proxy where it skips Asio's speculative reads (net/read_speculation.h, ADR 0011): a FIN
that arrives together with the last bytes of a message raises no further readiness edge, so
these cases must still end promptly and correctly."""

import socket
import threading

import fulcrum_test as ft
from proxy_support import simple_config, start_proxy


class CloseAfterResponseBackend:
    """Answers every request with a keep-alive 200 (no Connection: close) and closes the
    connection right after it, so that the FIN arrives with the response's last bytes."""

    def __init__(self):
        self.connections = 0
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.addr = "127.0.0.1:%d" % self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self):
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()

    def _accept(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _serve(conn):
        try:
            buf = b""
            while b"\r\n\r\n" not in buf:
                data = conn.recv(65536)
                if not data:
                    return
                buf += data
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
        except OSError:
            pass
        finally:
            conn.close()


class ReadEdgesTest(ft.TestCase):
    def test_keep_alive_client_half_closing_after_its_request_gets_response_and_close(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]))
        for _ in range(3):
            reply = ft.raw_exchange(proxy.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                                    shutdown_write=True)
            self.assertTrue(reply.startswith(b"HTTP/1.1 200"), reply[:100])
            self.assertTrue(reply.closed)

    def test_pipelined_requests_then_half_close(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]))
        reply = ft.raw_exchange(proxy.addr, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                                b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n", shutdown_write=True)
        self.assertEqual(reply.count(b"HTTP/1.1 200"), 2, reply)
        self.assertTrue(reply.closed)

    def test_backend_closing_right_after_each_response(self):
        backend = CloseAfterResponseBackend()
        self.addCleanup(backend.close)
        proxy = start_proxy(self, simple_config([backend.addr]))
        with ft.HttpClient(proxy.addr) as client:
            for i in range(5):
                status, _, body = client.request("GET", f"/{i}")
                self.assertEqual((status, body), (200, b"ok\n"))
        # Every request took a fresh upstream connection (the pooled one was dead: found by the
        # reset its request got, or by the FIN's own edge), none failed.
        self.assertGreaterEqual(backend.connections, 5)


if __name__ == "__main__":
    ft.main()
