"""Every request the strict parser rejects is answered by the proxy itself with the right status,
the connection is closed, and the backend sees nothing."""

import fulcrum_test as ft
from proxy_support import requests_seen, simple_config, start_proxy

H = b"Host: x\r\n"

# (name, raw request, expected status)
CASES = [
    ("cl_and_te", b"POST / HTTP/1.1\r\n" + H +
     b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("differing_cl", b"POST / HTTP/1.1\r\n" + H +
     b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
    ("cl_not_a_number", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 0x10\r\n\r\n", 400),
    ("te_not_chunked", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n", None),
    ("te_chunked_twice", b"POST / HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400),
    ("bad_chunk_size", b"POST / HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400),
    ("chunk_size_overflow", b"POST / HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nx\r\n0\r\n\r\n", 400),
    ("obs_fold", b"GET / HTTP/1.1\r\n" + H + b"X-A: one\r\n two\r\n\r\n", 400),
    ("bare_cr_in_value", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n", 400),
    ("nul_in_value", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", 400),
    ("ctl_in_value", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x01b\r\n\r\n", 400),
    ("space_before_colon", b"GET / HTTP/1.1\r\n" + H + b"X-A : b\r\n\r\n", 400),
    ("missing_host", b"GET / HTTP/1.1\r\n\r\n", 400),
    ("two_hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("unknown_version", b"GET / HTTP/1.2\r\n" + H + b"\r\n", 505),
    ("garbage_version", b"GET / HTTP/x.y\r\n" + H + b"\r\n", 400),
    ("bare_lf", b"GET / HTTP/1.1\n" + H + b"\r\n", 400),
    ("request_line_too_long", b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\n" + H + b"\r\n", 414),
    ("head_too_large", b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"b" * 9000 + b"\r\n\r\n", 431),
    ("too_many_headers", b"GET / HTTP/1.1\r\n" + H +
     b"".join(b"X-%d: v\r\n" % i for i in range(40)) + b"\r\n", 431),
    ("body_too_large", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5000\r\n\r\n", 413),
    ("encoded_slash_path", b"GET /a%2Fb HTTP/1.1\r\n" + H + b"\r\n", 400),
]


class RejectionsTest(ft.TestCase):
    def test_every_rejection(self):
        _, echo = self.start_echo("witness")
        limits = ("maxRequestLineBytes: 2048, maxRequestHeadBytes: 8192, maxHeaders: 30, "
                  "maxRequestBodyBytes: 1024")
        proxy = start_proxy(self, simple_config([echo], limits=limits))
        before = requests_seen(echo)
        for name, raw, expected in CASES:
            with self.subTest(name):
                reply = ft.raw_exchange(proxy.addr, raw)
                status_line = reply.split(b"\r\n", 1)[0]
                self.assertTrue(status_line.startswith(b"HTTP/1.1 "), f"{name}: {reply[:200]!r}")
                status = int(status_line.split()[1])
                if expected is None:
                    self.assertIn(status, (400, 501), name)
                else:
                    self.assertEqual(status, expected, f"{name}: {reply[:200]!r}")
                self.assertTrue(reply.closed, f"{name}: connection left open")
                self.assertIn(b"Connection: close", reply)
                self.assertEqual(requests_seen(echo), before, f"{name}: reached the backend")
        flagged = (proxy.metric("fulcrum_responses_flagged_total", {"flag": "DPE"}) +
                   proxy.metric("fulcrum_responses_flagged_total", {"flag": "BTL"}) +
                   proxy.metric("fulcrum_responses_flagged_total", {"flag": "IP"}))
        self.assertEqual(flagged, len(CASES))
        # The proxy still serves well-formed requests.
        self.assertEqual(ft.http_request(proxy.addr, "GET", "/")[0], 200)

    def test_chunked_body_over_limit_is_413(self):
        _, echo = self.start_echo("witness")
        proxy = start_proxy(self, simple_config([echo], limits="maxRequestBodyBytes: 100"))
        before = requests_seen(echo)
        body = b"c8\r\n" + b"x" * 200 + b"\r\n0\r\n\r\n"
        reply = ft.raw_exchange(proxy.addr, b"POST / HTTP/1.1\r\nHost: x\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\n" + body)
        self.assertTrue(reply.startswith(b"HTTP/1.1 413"), reply[:100])
        self.assertEqual(requests_seen(echo), before)


if __name__ == "__main__":
    ft.main()
