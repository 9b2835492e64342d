"""Streaming through fulcrum-proxy: large bodies both ways with bounded memory, backpressure from
a slow reader, chunked bodies with trailers, and truncation when the upstream dies mid-body."""

import http.client
import json
import socket
import threading
import time

import fulcrum_test as ft
from proxy_support import simple_config, start_proxy

MiB = 1 << 20
RSS_GROWTH_LIMIT_KIB = 64 * 1024


class PeakRss:
    """Samples a process's VmRSS in a thread; .peak is the largest value seen (KiB)."""

    def __init__(self, proxy):
        self.proxy = proxy
        self.peak = proxy.rss_kib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.02):
            try:
                self.peak = max(self.peak, self.proxy.rss_kib())
            except (OSError, AssertionError):
                return

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak


def read_response_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"closed before a response head: {data[:200]!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


class LargeBodiesTest(ft.TestCase):
    def test_100mib_download_and_upload_with_bounded_rss(self):
        _, echo = self.start_echo("big")
        proxy = start_proxy(self, simple_config([echo]))
        baseline = proxy.rss_kib()
        sampler = PeakRss(proxy)
        try:
            # Download: 100 MiB, counted as it arrives.
            size = 100 * MiB
            with ft.connect(proxy.addr) as sock:
                sock.sendall(f"GET /?bytes={size} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                head, rest = read_response_head(sock)
                self.assertIn(b" 200 ", head.split(b"\r\n")[0])
                self.assertIn(f"Content-Length: {size}".encode(), head)
                received = len(rest)
                while received < size:
                    chunk = sock.recv(1 << 18)
                    self.assertTrue(chunk, f"closed after {received} bytes")
                    received += len(chunk)
                self.assertEqual(received, size)
            # Upload: 100 MiB with Content-Length, then 20 MiB chunked; the backend counts.
            with ft.connect(proxy.addr) as sock:
                sock.sendall(f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n"
                             .encode())
                block = b"u" * MiB
                for _ in range(size // MiB):
                    sock.sendall(block)
                head, rest = read_response_head(sock)
                length = int([line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")][0])
                while len(rest) < length:
                    rest += sock.recv(65536)
                self.assertEqual(json.loads(rest)["body_bytes"], size)
            chunks = (b"x" * (256 * 1024) for _ in range(80))
            status, _, body = ft.http_request(proxy.addr, "POST", "/echo", body=chunks)
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body)["body_bytes"], 20 * MiB)
        finally:
            peak = sampler.stop()
        self.assertLess(peak - baseline, RSS_GROWTH_LIMIT_KIB,
                        f"proxy RSS grew from {baseline} KiB to {peak} KiB")

    def test_slow_reader_applies_backpressure(self):
        _, echo = self.start_echo("big")
        proxy = start_proxy(self, simple_config([echo]))
        baseline = proxy.rss_kib()
        size = 64 * MiB
        with ft.connect(proxy.addr) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            sock.sendall(f"GET /?bytes={size} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            head, rest = read_response_head(sock)
            received = len(rest)
            # Read slowly for a while: the proxy must hold at most its buffers, not the body.
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                received += len(sock.recv(16 * 1024))
                time.sleep(0.01)
            grown = proxy.rss_kib() - baseline
            self.assertLess(grown, 16 * 1024, f"RSS grew by {grown} KiB behind a slow reader")
            self.assertLess(received, size // 2)
            while received < size:
                chunk = sock.recv(1 << 18)
                self.assertTrue(chunk, f"closed after {received} bytes")
                received += len(chunk)
        self.assertEqual(received, size)


class ChunkedTest(ft.TestCase):
    def test_chunked_both_ways_with_trailers(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]))
        body = (b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n")
        with ft.connect(proxy.addr) as sock:
            sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                         + body + b"GET /?bytes=70000&chunked=1 HTTP/1.1\r\nHost: x\r\n\r\n")
            responses = ft.recv_http_responses(sock, 2)
        self.assertEqual(json.loads(responses[0].body)["body_bytes"], 11)
        self.assertTrue(responses[1].chunked)
        self.assertEqual(len(responses[1].body), 70000)

    def test_http10_client_gets_dechunked_body(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]))
        reply = ft.raw_exchange(proxy.addr, b"GET /?bytes=30000&chunked=1 HTTP/1.0\r\n\r\n")
        head, _, body = reply.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.0 200"), head)
        self.assertNotIn(b"chunked", head.lower())
        self.assertEqual(len(body), 30000)
        self.assertTrue(reply.closed)


class TruncationTest(ft.TestCase):
    def test_upstream_closing_mid_body_truncates_the_client_response(self):
        _, echo = self.start_echo("quitter")
        proxy = start_proxy(self, simple_config([echo]))
        # Content-Length: the client gets fewer bytes than announced, then EOF.
        with self.assertRaises(http.client.IncompleteRead):
            ft.http_request(proxy.addr, "GET", "/?bytes=200000&close=1")
        # Chunked: the client never sees the last chunk.
        with self.assertRaises(http.client.IncompleteRead):
            ft.http_request(proxy.addr, "GET", "/?bytes=200000&chunked=1&close=1")
        reply = ft.raw_exchange(proxy.addr, b"GET /?bytes=50000&chunked=1&close=1 HTTP/1.1\r\n"
                                b"Host: x\r\n\r\n")
        self.assertTrue(reply.closed)
        self.assertFalse(reply.endswith(b"0\r\n\r\n"))
        self.assertGreaterEqual(proxy.metric("fulcrum_responses_flagged_total", {"flag": "UR"}), 3)
        # The proxy keeps serving.
        self.assertEqual(ft.http_request(proxy.addr, "GET", "/")[0], 200)


if __name__ == "__main__":
    ft.main()
