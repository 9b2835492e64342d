"""fulcrum-echo, driven as a real process over loopback (see src/echo/echo_server.h)."""

import http.client
import json
import signal
import threading
import time

import fulcrum_test as ft

MiB = 1 << 20
ALPHABET = b"abcdefghijklmnopqrstuvwxyz"


def pattern(length, offset=0):
    """The bytes=N body from byte `offset` on: byte i is 'a' + i % 26."""
    start = offset % 26
    return (ALPHABET * ((start + length) // 26 + 1))[start:start + length]


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/PID/status")


def only_response(test, reply):
    responses, rest = ft.parse_http_responses(reply)
    test.assertEqual(len(responses), 1, reply[:300])
    test.assertEqual(rest, b"")
    return responses[0]


class EchoTest(ft.TestCase):
    def setUp(self):
        super().setUp()
        self.echo, self.addr = self.start_echo("b1")

    def tearDown(self):
        # A crash or a sanitizer report at exit would show up here.
        self.assertEqual(self.echo.stop(), 0, self.echo.describe())
        super().tearDown()

    def test_listening_line_is_the_bound_loopback_address(self):
        self.assertRegex(self.echo.output(), r"^listening on 127\.0\.0\.1:[1-9][0-9]*\n$")

    def test_name_in_body_and_header(self):
        status, headers, body = ft.http_request(self.addr, "GET", "/some/path")
        self.assertEqual(status, 200)
        self.assertEqual(headers["X-Backend"], "b1")
        self.assertEqual(headers["Content-Length"], "3")
        self.assertEqual(body, b"b1\n")
        status, headers, body = ft.http_request(self.addr, "HEAD", "/")
        self.assertEqual((status, headers["Content-Length"], body), (200, "3", b""))

    def test_echo_reports_the_request_as_received(self):
        headers = [("Host", "example.test"), ("X-Second", "2"), ("x-dup", "a"),
                   ("X-Dup", " b  ")]
        status, response_headers, body = ft.http_request(
            self.addr, "PUT", "/echo?q=1&r=%20", headers=headers, body=b"hello world")
        self.assertEqual(status, 200)
        self.assertEqual(response_headers["Content-Type"], "application/json")
        self.assertEqual(response_headers["X-Backend"], "b1")
        self.assertEqual(json.loads(body), {
            "method": "PUT",
            "target": "/echo?q=1&r=%20",
            "version": "HTTP/1.1",
            "headers": [["Host", "example.test"], ["X-Second", "2"], ["x-dup", "a"],
                        ["X-Dup", "b"], ["Content-Length", "11"]],
            "body_bytes": 11,
            "backend": "b1",
        })

    def test_echo_escapes_odd_bytes_as_valid_json(self):
        reply = ft.raw_exchange(self.addr, b"GET /echo HTTP/1.1\r\nHost: x\r\n"
                                b"X-Q: \"quoted\" \\ \xe9\t.\r\nConnection: close\r\n\r\n")
        data = json.loads(only_response(self, reply).body)
        self.assertEqual(data["headers"][1], ["X-Q", "\"quoted\" \\ \u00e9\t."])

    def test_delay_waits_before_answering(self):
        start = time.monotonic()
        status, _, body = ft.http_request(self.addr, "GET", "/?delay=300")
        self.assertEqual((status, body), (200, b"b1\n"))
        self.assertGreaterEqual(time.monotonic() - start, 0.3)

    def test_delay_does_not_block_the_thread(self):
        with ft.connect(self.addr) as slow:
            slow.sendall(b"GET /?delay=600000 HTTP/1.1\r\nHost: x\r\n\r\n")
            ft.wait_until(lambda: ft.echo_stats(self.addr)["requests"] == 1,
                          message="delayed request seen")
            status, _, body = ft.http_request(self.addr, "GET", "/")  # same single thread
            self.assertEqual((status, body), (200, b"b1\n"))
            slow.setblocking(False)
            with self.assertRaises(BlockingIOError):
                slow.recv(100)

    def test_status(self):
        for code in (201, 404, 500, 503):
            status, headers, body = ft.http_request(self.addr, "GET", f"/x?status={code}")
            self.assertEqual((status, headers["X-Backend"], body), (code, "b1", b"b1\n"))
        status, headers, body = ft.http_request(self.addr, "GET", "/?status=204")
        self.assertEqual((status, body, headers["Content-Length"]), (204, b"", None))
        for bad in ("abc", "99", "600", ""):
            status, _, body = ft.http_request(self.addr, "GET", f"/?status={bad}")
            self.assertEqual(status, 400, bad)
            self.assertIn(b"b1", body)

    def test_bytes_small_bodies(self):
        for n in (0, 1, 26, 27, 100000):
            status, headers, body = ft.http_request(self.addr, "GET", f"/?bytes={n}")
            self.assertEqual(status, 200)
            self.assertEqual(headers["Content-Length"], str(n))
            self.assertEqual(body, pattern(n), n)

    def test_bytes_large_body_is_streamed(self):
        total = 50 * MiB
        host, port = ft.split_addr(self.addr)
        conn = http.client.HTTPConnection(host, port, timeout=ft.HTTP_TIMEOUT)
        try:
            conn.request("GET", f"/?bytes={total}")
            response = conn.getresponse()
            self.assertEqual(response.status, 200)
            self.assertEqual(response.headers["Content-Length"], str(total))
            received = 0
            while True:
                piece = response.read(MiB)
                if not piece:
                    break
                if piece != pattern(len(piece), received):
                    self.fail(f"wrong bytes at offset {received}")
                received += len(piece)
            self.assertEqual(received, total)
        finally:
            conn.close()
        self.assertLess(peak_rss_mib(self.echo.pid), 64)

    def test_chunked_response(self):
        reply = ft.raw_exchange(self.addr, b"GET /?chunked=1 HTTP/1.1\r\nHost: x\r\n"
                                b"Connection: close\r\n\r\n")
        self.assertTrue(reply.closed)
        self.assertTrue(reply.endswith(b"\r\n3\r\nb1\n\r\n0\r\n\r\n"), reply)
        response = only_response(self, reply)
        self.assertTrue(response.chunked and response.complete)
        self.assertEqual(response.body, b"b1\n")

        n = 200000  # several 64 KiB chunks
        status, headers, body = ft.http_request(self.addr, "GET", f"/?bytes={n}&chunked=1")
        self.assertEqual((status, headers["Transfer-Encoding"]), (200, "chunked"))
        self.assertEqual(body, pattern(n))

        # No chunked encoding for HTTP/1.0 clients.
        reply = ft.raw_exchange(self.addr, b"GET /?chunked=1 HTTP/1.0\r\n\r\n")
        response = only_response(self, reply)
        self.assertFalse(response.chunked)
        self.assertEqual((response.header("Content-Length"), response.body), ("3", b"b1\n"))

    def test_close_mid_response_with_content_length(self):
        reply = ft.raw_exchange(self.addr, b"GET /?bytes=1000&close=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(reply.closed)
        response = only_response(self, reply)
        self.assertEqual(response.header("Content-Length"), "1000")
        self.assertIsNone(response.header("Connection"))  # the close comes unannounced
        self.assertFalse(response.complete)
        self.assertEqual(response.body, pattern(500))
        with self.assertRaises(http.client.IncompleteRead):
            ft.http_request(self.addr, "GET", "/?close=1")

    def test_close_mid_response_chunked(self):
        reply = ft.raw_exchange(self.addr,
                                b"GET /?bytes=300000&chunked=1&close=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(reply.closed)
        response = only_response(self, reply)
        self.assertTrue(response.chunked)
        self.assertFalse(response.complete)
        self.assertEqual(response.body, pattern(150000))
        self.assertFalse(reply.endswith(b"0\r\n\r\n"))
        with self.assertRaises(http.client.IncompleteRead):
            ft.http_request(self.addr, "GET", "/?chunked=1&close=1")

    def test_health_flips_at_run_time(self):
        self.assertEqual(ft.http_request(self.addr, "GET", "/health")[::2], (200, b"ok b1\n"))
        status, _, body = ft.http_request(self.addr, "GET", "/health?set=503")
        self.assertEqual((status, body), (200, b"b1 health 503\n"))
        status, headers, body = ft.http_request(self.addr, "GET", "/health")
        self.assertEqual((status, headers["X-Backend"], body), (503, "b1", b"unhealthy b1\n"))
        self.assertEqual(ft.http_request(self.addr, "GET", "/other")[0], 200)
        ft.http_request(self.addr, "GET", "/health?set=200")
        self.assertEqual(ft.http_request(self.addr, "GET", "/health")[0], 200)
        self.assertEqual(ft.http_request(self.addr, "GET", "/health?set=42")[0], 400)

    def test_stats_count_connections_and_requests(self):
        self.assertEqual(ft.echo_stats(self.addr),
                         {"name": "b1", "connections": 1, "open_connections": 1, "requests": 0})
        for _ in range(3):
            ft.http_request(self.addr, "GET", "/")
        stats = ft.echo_stats(self.addr)
        self.assertEqual((stats["connections"], stats["requests"]), (5, 3))

    def test_keep_alive_reuses_one_connection(self):
        before = ft.echo_stats(self.addr)
        ports = set()
        with ft.HttpClient(self.addr) as client:
            for i in range(50):
                method, body = ("POST", b"x" * i) if i % 2 else ("GET", None)
                status, _, reply = client.request(method, f"/echo?i={i}", body=body)
                self.assertEqual(status, 200)
                self.assertEqual(json.loads(reply)["body_bytes"], i if i % 2 else 0)
                ports.add(client.local_port)
            self.assertEqual(len(ports), 1)
            after = ft.echo_stats(self.addr)
        # One connection for the client, one for the second /stats.
        self.assertEqual(after["connections"] - before["connections"], 2)
        self.assertEqual(after["requests"] - before["requests"], 50)

    def test_pipelined_requests_are_answered_in_order(self):
        with ft.connect(self.addr) as sock:
            sock.sendall(b"GET /echo?n=1&delay=200 HTTP/1.1\r\nHost: x\r\n\r\n"
                         b"POST /echo?n=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
                         b"PUT /echo?n=3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                         b"3\r\nabc\r\n0\r\n\r\n"
                         b"GET /?n=4 HTTP/1.1\r\nHost: x\r\n\r\n")
            responses = ft.recv_http_responses(sock, 4)
        self.assertEqual([r.status for r in responses], [200] * 4)
        echoes = [json.loads(r.body) for r in responses[:3]]
        self.assertEqual([e["target"] for e in echoes],
                         ["/echo?n=1&delay=200", "/echo?n=2", "/echo?n=3"])
        self.assertEqual([e["body_bytes"] for e in echoes], [0, 5, 3])
        self.assertEqual(responses[3].body, b"b1\n")
        self.assertEqual(ft.echo_stats(self.addr)["connections"], 2)

    def test_expect_100_continue(self):
        with ft.connect(self.addr) as sock:
            sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                         b"Expect: 100-continue\r\n\r\n")
            interim = b""
            while not interim.endswith(b"\r\n\r\n"):
                data = sock.recv(1)
                self.assertTrue(data, "closed before 100 Continue")
                interim += data
            self.assertEqual(interim, b"HTTP/1.1 100 Continue\r\n\r\n")
            sock.sendall(b"hello")
            response = ft.recv_http_responses(sock, 1)[0]
        self.assertEqual(response.status, 200)
        self.assertEqual(json.loads(response.body)["body_bytes"], 5)

    def test_chunked_upload(self):
        sizes = [1, 65536, 3, 100000, 7]

        def pieces():
            for size in sizes:
                yield b"u" * size

        status, _, body = ft.http_request(self.addr, "POST", "/echo", body=pieces())
        self.assertEqual(status, 200)
        data = json.loads(body)
        self.assertIn(["Transfer-Encoding", "chunked"], data["headers"])
        self.assertEqual(data["body_bytes"], sum(sizes))

    def test_large_upload_with_bounded_memory(self):
        total = 100 * MiB
        piece = b"p" * MiB

        def body():
            for _ in range(total // MiB):
                yield piece

        status, _, reply = ft.http_request(self.addr, "PUT", "/echo",
                                           headers={"Content-Length": str(total)}, body=body())
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(reply)["body_bytes"], total)
        status, _, reply = ft.http_request(self.addr, "PUT", "/echo", body=body())  # chunked
        self.assertEqual(json.loads(reply)["body_bytes"], total)
        self.assertLess(peak_rss_mib(self.echo.pid), 64)

    def test_malformed_requests_get_400_and_close(self):
        cases = [
            b"GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n",
            b"GET / HTTP/1.1\nHost: x\n\n",
            b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
            b"GET / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n",
            b"GARBAGE\r\n\r\n",
            b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
            b"GET /?delay=soon HTTP/1.1\r\nHost: x\r\n\r\n",
        ]
        for request in cases:
            reply = ft.raw_exchange(self.addr, request)
            self.assertTrue(reply.startswith(b"HTTP/1.1 400 Bad Request\r\n"), (request, reply))
            self.assertIn(b"\r\nX-Backend: b1\r\n", reply)
            self.assertIn(b"\r\nConnection: close\r\n", reply)
            self.assertTrue(reply.closed, request)

        reply = ft.raw_exchange(self.addr, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                b"a" * (70 * 1024) + b"\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 431 "), reply[:100])
        self.assertTrue(reply.closed)
        reply = ft.raw_exchange(self.addr, b"GET / HTTP/2.0\r\nHost: x\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 505 "), reply[:100])
        reply = ft.raw_exchange(self.addr, b"GET / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n")
        self.assertTrue(reply.startswith(b"HTTP/1.1 417 "), reply[:100])

    def test_good_request_then_malformed_one_in_a_pipeline(self):
        reply = ft.raw_exchange(self.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\nBAD\r\n\r\n")
        responses, _ = ft.parse_http_responses(reply)
        self.assertEqual([r.status for r in responses], [200, 400])
        self.assertTrue(reply.closed)

    def test_http10(self):
        reply = ft.raw_exchange(self.addr, b"GET / HTTP/1.0\r\n\r\n")
        self.assertTrue(reply.closed)
        response = only_response(self, reply)
        self.assertEqual((response.status, response.body), (200, b"b1\n"))
        self.assertEqual(response.header("Connection"), "close")

        with ft.connect(self.addr) as sock:
            for _ in range(2):
                sock.sendall(b"GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                response = ft.recv_http_responses(sock, 1)[0]
                self.assertEqual(response.header("Connection"), "keep-alive")
                self.assertEqual(json.loads(response.body)["version"], "HTTP/1.0")
        self.assertEqual(ft.echo_stats(self.addr)["connections"], 3)

    def test_sigterm_and_sigint_exit_zero(self):
        idle = ft.connect(self.addr)  # open connections must not hold up the exit
        busy = ft.connect(self.addr)
        busy.sendall(b"GET /?delay=600000 HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            ft.wait_until(lambda: ft.echo_stats(self.addr)["requests"] == 1)
            self.assertEqual(self.echo.stop(signal.SIGTERM), 0)
        finally:
            idle.close()
            busy.close()
        other, _ = self.start_echo("b2")
        self.assertEqual(other.stop(signal.SIGINT), 0)

    def test_bad_flags_exit_non_zero(self):
        for args in (["--listen", "nonsense"], ["--threads", "0"], ["--bogus"]):
            process = self.start([ft.bin_path("fulcrum-echo"), *args])
            self.assertNotEqual(process.wait(), 0, args)
            self.assertNotEqual(process.output("stderr"), "", args)


class EchoThreadsTest(ft.TestCase):
    def test_many_threads_share_the_counters(self):
        echo, addr = self.start_echo("multi", threads=4)
        errors = []

        def client(index):
            try:
                with ft.HttpClient(addr) as c:
                    for i in range(10):
                        status, headers, body = c.request("GET", f"/?c={index}&i={i}")
                        if (status, headers["X-Backend"], body) != (200, "multi", b"multi\n"):
                            errors.append((status, body))
            except Exception as error:  # reported below, in the main thread
                errors.append(error)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        stats = ft.echo_stats(addr)
        self.assertEqual((stats["connections"], stats["requests"]), (9, 80))
        self.assertEqual(echo.stop(), 0)


if __name__ == "__main__":
    ft.main()
