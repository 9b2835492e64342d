"""fulcrum-proxy end to end: keep-alive, pipelining, routing errors, timeouts, admin endpoints."""

import socket
import threading
import time

import fulcrum_test as ft
from proxy_support import dead_address, requests_seen, simple_config, start_proxy, pool_yaml


class KeepAliveTest(ft.TestCase):
    def test_upstream_connections_are_reused(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]))
        before = ft.echo_stats(echo)["connections"]
        with ft.HttpClient(proxy.addr) as client:
            for _ in range(30):
                status, headers, body = client.request("GET", "/")
                self.assertEqual(status, 200)
                self.assertEqual(body, b"e1\n")
        # Several client connections in turn still share the pooled upstream connection.
        for _ in range(5):
            status, _, _ = ft.http_request(proxy.addr, "GET", "/")
            self.assertEqual(status, 200)
        after = ft.echo_stats(echo)["connections"]
        # One upstream connection for all 35 requests, plus the first /stats request's own.
        self.assertLessEqual(after - before, 2, f"{after - before} new upstream connections")
        self.assertEqual(proxy.metric("fulcrum_upstream_connections_total"), 1)
        self.assertGreaterEqual(proxy.metric("fulcrum_upstream_requests_reused_total"), 34)

    def test_upstream_pool_keeps_a_burst_of_concurrent_connections(self):
        # 150 requests in flight at once need 150 upstream connections. The default idle limit
        # (maxIdlePerEndpoint 1024) keeps all of them, so the same burst again opens none: a
        # limit below the steady concurrency would close and reopen connections on every
        # request (issue 8: 1.6x HAProxy's CPU per request at 256 client connections).
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]))
        clients = 150

        def burst():
            barrier = threading.Barrier(clients)
            statuses = []

            def one():
                with ft.HttpClient(proxy.addr) as client:
                    barrier.wait()
                    statuses.append(client.request("GET", "/?delay=1000")[0])

            threads = [threading.Thread(target=one) for _ in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(statuses, [200] * clients)
            return proxy.metric("fulcrum_upstream_connections_total")

        opened = burst()
        self.assertGreaterEqual(opened, clients * 0.9, "the burst was not concurrent")
        again = burst() - opened
        self.assertLessEqual(again, 5, f"{again} upstream connections reopened for the second burst")

    def test_round_robin_and_forwarded_headers(self):
        _, e1 = self.start_echo("e1")
        _, e2 = self.start_echo("e2")
        proxy = start_proxy(self, simple_config([e1, e2]))
        seen = []
        with ft.HttpClient(proxy.addr) as client:
            for _ in range(4):
                seen.append(client.request("GET", "/")[2])
            _, _, body = client.request("GET", "/echo", headers={
                "X-Forwarded-For": "10.0.0.1", "Connection": "x-private", "X-Private": "secret",
                "Keep-Alive": "timeout=5"})
        self.assertEqual(sorted(seen), [b"e1\n", b"e1\n", b"e2\n", b"e2\n"])
        import json
        echoed = json.loads(body)
        names = {name.lower(): value for name, value in echoed["headers"]}
        self.assertEqual(names["x-forwarded-for"], "10.0.0.1, 127.0.0.1")
        self.assertEqual(names["x-forwarded-proto"], "http")
        self.assertEqual(len(names["x-request-id"]), 32)
        for hop in ("connection", "x-private", "keep-alive"):
            self.assertNotIn(hop, names)

    def test_pipelined_requests_are_answered_in_order(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]))
        paths = ["/echo?delay=200&n=1", "/echo?n=2", "/echo?n=3&pad=" + "x" * 3000, "/echo?n=4",
                 "/echo?delay=50&n=5"]
        data = b"".join(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for p in paths)
        with ft.connect(proxy.addr) as sock:
            sock.sendall(data)
            responses = ft.recv_http_responses(sock, len(paths))
        self.assertEqual(len(responses), len(paths))
        for path, response in zip(paths, responses):
            self.assertEqual(response.status, 200)
            self.assertIn(path.encode(), response.body)

    def test_head_204_304_and_keep_alive_after(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]))
        with ft.connect(proxy.addr) as sock:
            sock.sendall(b"HEAD /?bytes=100 HTTP/1.1\r\nHost: x\r\n\r\n"
                         b"GET /?status=204 HTTP/1.1\r\nHost: x\r\n\r\n"
                         b"GET /?status=304 HTTP/1.1\r\nHost: x\r\n\r\n"
                         b"GET /?bytes=7 HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            deadline = time.monotonic() + ft.scaled(10)
            while time.monotonic() < deadline:
                responses, _ = ft.parse_http_responses(data, head_requests=1)
                if len([r for r in responses if r.complete]) >= 4:
                    break
                data += sock.recv(65536)
        responses, _ = ft.parse_http_responses(data, head_requests=1)
        self.assertEqual([r.status for r in responses], [200, 204, 304, 200])
        self.assertEqual(responses[0].header("content-length"), "100")
        self.assertEqual(responses[0].body, b"")
        self.assertEqual(responses[3].body, b"abcdefg")

    def test_expect_100_continue_is_relayed(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]))
        with ft.connect(proxy.addr) as sock:
            sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                         b"Expect: 100-continue\r\n\r\n")
            interim = b""
            while b"\r\n\r\n" not in interim:
                chunk = sock.recv(4096)
                self.assertTrue(chunk, "closed before 100 Continue")
                interim += chunk
            self.assertTrue(interim.startswith(b"HTTP/1.1 100"), interim)
            sock.sendall(b"hello")
            rest = interim[interim.index(b"\r\n\r\n") + 4:]
            responses, _ = ft.parse_http_responses(rest)
            while not responses or not responses[0].complete:
                rest += sock.recv(65536)
                responses, _ = ft.parse_http_responses(rest)
        self.assertEqual(responses[0].status, 200)
        self.assertIn(b'"body_bytes":5', responses[0].body)


class ErrorsTest(ft.TestCase):
    def test_no_route_is_404(self):
        _, echo = self.start_echo("e1")
        routes = ("  - name: only-a\n    hostnames: [a.example]\n    rules:\n"
                  "      - backends: [{pool: p}]\n")
        proxy = start_proxy(self, simple_config([echo], routes=routes))
        status, _, _ = ft.http_request(proxy.addr, "GET", "/", headers={"Host": "a.example"})
        self.assertEqual(status, 200)
        before = requests_seen(echo)
        status, headers, body = ft.http_request(proxy.addr, "GET", "/",
                                                headers={"Host": "b.example"})
        self.assertEqual(status, 404)
        self.assertIn(b"no route", body)
        self.assertEqual(requests_seen(echo), before)
        self.assertEqual(proxy.metric("fulcrum_responses_flagged_total", {"flag": "NR"}), 1)
        self.assertEqual(proxy.metric("fulcrum_requests_total",
                                      {"route": "", "code_class": "4xx"}), 1)

    def test_dead_endpoints_give_502_then_503(self):
        dead1 = dead_address(self)
        dead2 = dead_address(self)
        proxy = start_proxy(self, simple_config([dead1, dead2]))
        status, _, _ = ft.http_request(proxy.addr, "GET", "/")
        self.assertIn(status, (502, 503))
        # Both endpoints failed to connect and are ejected on this worker (for 500 ms, doubling
        # with each failure): requests fail fast with 503. Polled, so a slow machine that lets an
        # ejection lapse between two requests only takes another round.
        def fast_503():
            status, _, body = ft.http_request(proxy.addr, "GET", "/")
            self.assertIn(status, (502, 503))
            return status == 503 and b"no healthy upstream" in body
        ft.wait_until(fast_503, message="503 no healthy upstream")
        self.assertGreaterEqual(proxy.metric("fulcrum_upstream_connect_failures_total"), 2)
        self.assertGreaterEqual(proxy.metric("fulcrum_responses_flagged_total", {"flag": "UH"}), 1)

    def test_connect_failure_fails_over_to_a_live_endpoint(self):
        dead = dead_address(self)
        _, echo = self.start_echo("live")
        proxy = start_proxy(self, simple_config([dead, echo]))
        for _ in range(6):
            status, _, body = ft.http_request(proxy.addr, "GET", "/")
            self.assertEqual((status, body), (200, b"live\n"))

    def test_backend_request_timeout_is_504(self):
        _, echo = self.start_echo("slow")
        proxy = start_proxy(self, simple_config([echo], timeouts="backendRequest: 300ms"))
        started = time.monotonic()
        status, _, body = ft.http_request(proxy.addr, "GET", "/?delay=3000")
        self.assertEqual(status, 504)
        self.assertLess(time.monotonic() - started, 2.9)
        self.assertEqual(proxy.metric("fulcrum_responses_flagged_total", {"flag": "UT"}), 1)
        # Fast requests on the same route are unaffected.
        self.assertEqual(ft.http_request(proxy.addr, "GET", "/?delay=10")[0], 200)

    def test_malformed_upstream_response_is_502(self):
        # A backend that answers garbage: a raw TCP server in this process.
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        addr = "127.0.0.1:%d" % server.getsockname()[1]

        def serve():
            for _ in range(2):
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc")
                conn.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            proxy = start_proxy(self, simple_config([addr]))
            status, _, _ = ft.http_request(proxy.addr, "GET", "/")
            self.assertEqual(status, 502)
            self.assertEqual(proxy.metric("fulcrum_responses_flagged_total", {"flag": "UPE"}), 1)
        finally:
            server.close()

    def test_slowloris_gets_408(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo], limits="headTimeout: 600ms"))
        before = requests_seen(echo)
        with ft.connect(proxy.addr) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            started = time.monotonic()
            reply = b""
            sock.settimeout(0.1)
            # Trickle one header byte every 100 ms: the deadline is absolute, so this must not
            # keep the connection alive.
            while time.monotonic() - started < ft.scaled(10):
                try:
                    sock.sendall(b"X")
                except (BrokenPipeError, ConnectionResetError):
                    break
                try:
                    data = sock.recv(4096)
                    if not data:
                        break
                    reply += data
                except socket.timeout:
                    continue
                except ConnectionResetError:
                    break
            self.assertTrue(reply.startswith(b"HTTP/1.1 408"), reply)
        self.assertEqual(requests_seen(echo), before)
        self.assertEqual(proxy.metric("fulcrum_responses_flagged_total", {"flag": "DT"}), 1)


class FiltersTest(ft.TestCase):
    def test_header_modifiers_rewrite_and_redirect(self):
        _, echo = self.start_echo("e1")
        routes = (
            "  - name: api\n"
            "    rules:\n"
            "      - matches: [{path: {type: PathPrefix, value: /api}}]\n"
            "        backends: [{pool: p}]\n"
            "        filters:\n"
            "          - type: RequestHeaderModifier\n"
            "            requestHeaderModifier:\n"
            "              add: [{name: x-added, value: one}]\n"
            "              set: [{name: x-set, value: fixed}]\n"
            "              remove: [x-remove]\n"
            "          - type: ResponseHeaderModifier\n"
            "            responseHeaderModifier:\n"
            "              set: [{name: x-resp, value: yes}]\n"
            "              remove: [x-backend]\n"
            "          - type: URLRewrite\n"
            "            urlRewrite:\n"
            "              hostname: internal.example\n"
            "              path: {type: ReplacePrefixMatch, value: /}\n"
            "      - matches: [{path: {type: Exact, value: /old}}]\n"
            "        filters:\n"
            "          - type: RequestRedirect\n"
            "            requestRedirect: {path: /new, statusCode: 301}\n")
        proxy = start_proxy(self, simple_config([echo], routes=routes))
        before = requests_seen(echo)
        status, headers, body = ft.http_request(
            proxy.addr, "GET", "/api/echo?q=1",
            headers={"X-Set": "client", "X-Remove": "gone", "Host": "public.example"})
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("x-resp"), "yes")
        self.assertIsNone(headers.get("x-backend"))
        import json
        echoed = json.loads(body)
        self.assertEqual(echoed["target"], "/echo?q=1")
        names = [(n.lower(), v) for n, v in echoed["headers"]]
        self.assertIn(("x-added", "one"), names)
        self.assertIn(("x-set", "fixed"), names)
        self.assertNotIn(("x-set", "client"), names)
        self.assertNotIn("x-remove", [n for n, _ in names])
        self.assertIn(("host", "internal.example"), names)
        status, headers, _ = ft.http_request(proxy.addr, "GET", "/old?x=1",
                                             headers={"Host": "site.example"})
        self.assertEqual(status, 301)
        self.assertTrue(headers.get("location").endswith("site.example/new?x=1") or
                        "/new?x=1" in headers.get("location"), headers.get("location"))
        self.assertEqual(requests_seen(echo), before + 1)


class AdminTest(ft.TestCase):
    def test_metrics_config_pools(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]), workers=2)
        for _ in range(10):
            self.assertEqual(ft.http_request(proxy.addr, "GET", "/")[0], 200)
        self.assertEqual(ft.http_request(proxy.admin, "GET", "/livez")[0], 200)
        self.assertEqual(proxy.metric("fulcrum_requests_total",
                                      {"route": "all", "code_class": "2xx"}), 10)
        self.assertEqual(proxy.metric("fulcrum_config_reloads_total", {"result": "success"}), 1)
        self.assertGreaterEqual(proxy.metric("fulcrum_downstream_connections_total"), 10)
        config = ft.get_json(proxy.admin, "/config")
        self.assertEqual(len(config["hash"]), 16)
        self.assertIn("applied_at", config)
        self.assertIn("listeners:", config["source"])
        self.assertIn(f'fulcrum_config_info{{hash="{config["hash"]}"', proxy.metrics())
        pools = ft.get_json(proxy.admin, "/pools")["pools"]
        self.assertEqual(pools[0]["name"], "p")
        self.assertEqual(pools[0]["endpoints"][0]["address"], echo)
        self.assertEqual(pools[0]["endpoints"][0]["state"], "healthy")
        self.assertEqual(pools[0]["endpoints"][0]["weight"], 1)


def io_uring_available():
    """Whether this kernel lets the process create an io_uring (the proxy falls back to direct
    sends where it does not: seccomp, kernel.io_uring_disabled, kernels before 5.6)."""
    import ctypes
    import os
    libc = ctypes.CDLL(None, use_errno=True)
    params = ctypes.create_string_buffer(120)  # struct io_uring_params
    fd = libc.syscall(425, 4, params)  # io_uring_setup(4, &params)
    if fd < 0:
        return False
    os.close(fd)
    return True


class SendBatchingTest(ft.TestCase):
    """Sends batched through io_uring (ADR 0016) and direct sends carry the same exchanges."""

    def exchanges(self, proxy):
        alphabet = bytes(range(ord("a"), ord("z") + 1))
        with ft.HttpClient(proxy.addr) as client:
            for i in range(20):
                status, _, body = client.request("GET", f"/?bytes={i * 7}")
                self.assertEqual((status, body), (200, (alphabet * 10)[:i * 7]))
            # A head with a body in the same send, and a response above the batch's 16 KiB.
            status, _, body = client.request("POST", "/echo", body=b"p" * 5000)
            self.assertEqual(status, 200)
            import json
            self.assertEqual(json.loads(body)["body_bytes"], 5000)
            status, _, body = client.request("GET", "/?bytes=100000")
            self.assertEqual((status, len(body)), (200, 100000))
            self.assertEqual(body, (alphabet * (100000 // 26 + 1))[:100000])
        paths = [f"/echo?n={n}" for n in range(6)]
        with ft.connect(proxy.addr) as sock:
            sock.sendall(b"".join(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
                                  for p in paths))
            responses = ft.recv_http_responses(sock, len(paths))
        self.assertEqual([r.status for r in responses], [200] * len(paths))
        for path, response in zip(paths, responses):
            self.assertIn(path.encode(), response.body)

    def test_batched_sends_carry_every_exchange(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]))
        self.exchanges(proxy)
        batched = proxy.metric("fulcrum_sends_batched_total")
        if io_uring_available():
            # two sends per small exchange (request head, response) went through the batch
            self.assertGreaterEqual(batched, 2 * 20)
        else:
            self.assertEqual(batched, 0)

    def test_direct_sends_with_batching_off(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]), extra=("--send-batching", "off"))
        self.exchanges(proxy)
        self.assertEqual(proxy.metric("fulcrum_sends_batched_total"), 0)


class RecvBatchingTest(ft.TestCase):
    """Receives from sockets that one epoll_wait reports ready together, made in one io_uring
    batch ahead of the reactor's recv() (net/io_batch.h), deliver every byte in order."""

    def rounds(self, proxy, count, until_batched):
        socks = [ft.connect(proxy.addr) for _ in range(16)]
        try:
            for r in range(count):
                # Every connection's request lands before the proxy reads any: their readiness
                # (and then the upstream responses') tends to come in one epoll_wait.
                for i, sock in enumerate(socks):
                    sock.sendall(f"GET /echo?c={i}&r={r} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                for i, sock in enumerate(socks):
                    [response] = ft.recv_http_responses(sock, 1)
                    self.assertEqual(response.status, 200)
                    self.assertIn(f"/echo?c={i}&r={r}".encode(), response.body)
                if until_batched and r >= 10 and proxy.metric("fulcrum_receives_batched_total") > 0:
                    return
        finally:
            for sock in socks:
                sock.close()

    def test_sockets_ready_together_are_received_in_one_batch(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]))
        self.rounds(proxy, 200, until_batched=io_uring_available())
        SendBatchingTest.exchanges(self, proxy)
        batched = proxy.metric("fulcrum_receives_batched_total")
        if io_uring_available():
            self.assertGreater(batched, 0)
        else:
            self.assertEqual(batched, 0)

    def test_reactor_receives_with_batching_off(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]), extra=("--recv-batching", "off"))
        self.rounds(proxy, 20, until_batched=False)
        SendBatchingTest.exchanges(self, proxy)
        self.assertEqual(proxy.metric("fulcrum_receives_batched_total"), 0)
        if io_uring_available():
            self.assertGreater(proxy.metric("fulcrum_sends_batched_total"), 0)


class ProcessLimitsTest(ft.TestCase):
    def test_descriptor_soft_limit_is_raised_to_the_hard_limit(self):
        # Started with Debian's usual soft limit far below the hard one, the proxy takes the hard
        # limit: ~500 busy clients (a descriptor each, plus one upstream) must not hit EMFILE.
        _, echo = self.start_echo("e1")
        path = self.write_file("proxy.yaml", simple_config([echo]))
        process = self.start(["prlimit", "--nofile=256:4096", ft.bin_path("fulcrum-proxy"),
                              "--config", path, "--admin", "127.0.0.1:0", "--workers", 1],
                             name="proxy")
        admin = process.wait_for_line(r"^admin on (\S+)$").group(1)
        with open(f"/proc/{process.pid}/limits") as f:
            line = next(l for l in f if l.startswith("Max open files"))
        self.assertEqual(line.split()[3:5], ["4096", "4096"], line)
        _, _, body = ft.http_request(admin, "GET", "/metrics")
        self.assertIn("\nprocess_max_fds 4096\n", body.decode())


if __name__ == "__main__":
    ft.main()
