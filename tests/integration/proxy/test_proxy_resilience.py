"""fulcrum-proxy resilience end to end: timeouts, retries, circuit breakers, outlier ejection,
active health checks, panic. Real fulcrum-echo backends where they can play the part; a scripted
backend (resilience_support.FakeBackend) where one endpoint must hang, reset or fail alone."""

import http.client
import socket
import threading
import time

import fulcrum_test as ft
from proxy_support import dead_address, requests_seen, simple_config, start_proxy
from resilience_support import FakeBackend


def pools_yaml(name, endpoints, extra=""):
    eps = "".join(f"\n      - {{address: \"{ep}\"}}" for ep in endpoints)
    return f"  - name: {name}\n    endpoints:{eps}\n{extra}"


def rule_yaml(pool, extra=""):
    return f"      - backends: [{{pool: {pool}}}]\n{extra}"


def config(endpoints, pool_extra="", rule_extra="", limits=""):
    routes = "  - name: all\n    rules:\n" + rule_yaml("p", rule_extra)
    return simple_config(endpoints, routes=routes, pools=pools_yaml("p", endpoints, pool_extra),
                         limits=limits)


def endpoint_state(proxy, address):
    pools = ft.get_json(proxy.admin, "/pools")["pools"]
    for pool in pools:
        for ep in pool["endpoints"]:
            if ep["address"] == address:
                return ep
    raise AssertionError(f"{address} not in /pools: {pools}")


def fake(tc, name, **kwargs):
    backend = FakeBackend(name, **kwargs)
    tc.addCleanup(backend.close)
    return backend


class RetryTest(ft.TestCase):
    def test_killed_endpoint_under_load_no_errors_and_ejected(self):
        p1, e1 = self.start_echo("e1")
        p2, e2 = self.start_echo("e2")
        proxy = start_proxy(self, config(
            [e1, e2],
            pool_extra="    outlierDetection: {consecutiveGatewayErrors: 2, baseEjectionTime: 30s}\n",
            rule_extra="        retry: {attempts: 2, on: [connect-failure, reset, gateway-error]}\n"),
            workers=2)
        errors = []
        served = [0]
        stop = threading.Event()

        def load():
            with ft.HttpClient(proxy.addr) as client:
                while not stop.is_set():
                    try:
                        status, _, body = client.request("GET", "/")
                    except Exception as e:  # noqa: BLE001 - any failure is an error here
                        errors.append(repr(e))
                        client.close()
                        continue
                    if status != 200:
                        errors.append(f"{status} {body!r}")
                    served[0] += 1

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            ft.wait_until(lambda: requests_seen(e2) >= 50, message="load reaches e2")
            p2.kill()
            p2.wait()
            # Each worker backs off locally at the first refused connect; its second one (after
            # the 500 ms back-off) reaches consecutiveGatewayErrors and the health thread ejects.
            ft.wait_until(lambda: endpoint_state(proxy, e2)["outlier"]["ejected"],
                          message="e2 ejected")
            at_ejection = served[0]
            ft.wait_until(lambda: served[0] >= at_ejection + 200, message="load continues")
        finally:
            stop.set()
            for t in threads:
                t.join()
        self.assertEqual(errors, [])
        ep = endpoint_state(proxy, e2)
        self.assertTrue(ep["outlier"]["ejected"], ep)
        self.assertGreaterEqual(ep["outlier"]["times_ejected"], 1)
        self.assertEqual(ep["state"], "ejected")
        self.assertEqual(endpoint_state(proxy, e1)["state"], "healthy")
        self.assertGreaterEqual(proxy.metric("fulcrum_outlier_ejections_total",
                                             {"pool": "p", "endpoint": e2}), 1)

    def test_hanging_endpoint_times_out_per_try_then_retried_elsewhere(self):
        hang = fake(self, "hang", mode="hang")
        _, e1 = self.start_echo("e1")
        routes = ("  - name: all\n    rules:\n"
                  "      - matches: [{path: {type: PathPrefix, value: /noretry}}]\n"
                  "        backends: [{pool: hang}]\n"
                  "        timeouts: {backendRequest: 300ms}\n"
                  + rule_yaml("p", "        timeouts: {backendRequest: 300ms}\n"
                              "        retry: {attempts: 1, on: [timeout]}\n"))
        pools = pools_yaml("p", [hang.addr, e1]) + pools_yaml("hang", [hang.addr])
        proxy = start_proxy(self, simple_config([], routes=routes, pools=pools))
        with ft.HttpClient(proxy.addr) as client:
            for _ in range(6):  # round robin: every other request tries the hanging one first
                status, _, body = client.request("GET", "/")
                self.assertEqual((status, body), (200, b"e1\n"))
        self.assertGreaterEqual(hang.requests, 2)
        self.assertGreaterEqual(proxy.metric("fulcrum_timeouts_backend_request_total"), 2)
        self.assertGreaterEqual(proxy.metric("fulcrum_upstream_retry_attempts_total"), 2)
        started = time.monotonic()
        status, _, _ = ft.http_request(proxy.addr, "GET", "/noretry")
        self.assertEqual(status, 504)
        self.assertLess(time.monotonic() - started, ft.scaled(5))
        self.assertGreaterEqual(proxy.metric("fulcrum_responses_flagged_total", {"flag": "UT"}), 1)

    def test_request_timeout_bounds_all_tries(self):
        hang = fake(self, "hang", mode="hang")
        proxy = start_proxy(self, config(
            [hang.addr],
            rule_extra="        timeouts: {request: 1s, backendRequest: 300ms}\n"
                       "        retry: {attempts: 10, on: [timeout], backoff: {base: 10ms, max: 20ms},"
                       " budgetPercent: 100}\n"))
        status, _, _ = ft.http_request(proxy.addr, "GET", "/")
        self.assertEqual(status, 504)
        self.assertLessEqual(hang.requests, 4)  # 1 s / 300 ms per try
        self.assertEqual(proxy.metric("fulcrum_timeouts_request_total"), 1)

    def test_retry_on_status_goes_to_another_endpoint(self):
        bad = fake(self, "bad", mode="status:503")
        _, e1 = self.start_echo("e1")
        proxy = start_proxy(self, config(
            [bad.addr, e1], rule_extra="        retry: {attempts: 1, on: [\"503\"]}\n"))
        with ft.HttpClient(proxy.addr) as client:
            for _ in range(6):
                status, _, body = client.request("GET", "/")
                self.assertEqual((status, body), (200, b"e1\n"))
        self.assertGreaterEqual(bad.requests, 3)

    def test_post_not_retried_after_its_body_was_sent(self):
        closer = fake(self, "closer", mode="close")
        proxy = start_proxy(self, config(
            [closer.addr],
            rule_extra="        retry: {attempts: 2, on: [reset, 5xx], backoff: {base: 1ms, max: 2ms}}\n"))
        status, _, _ = ft.http_request(proxy.addr, "POST", "/", body=b"hello")
        self.assertEqual(status, 502)
        self.assertEqual(closer.requests, 1)
        # The same failure for an idempotent GET is retried twice.
        status, _, _ = ft.http_request(proxy.addr, "GET", "/")
        self.assertEqual(status, 502)
        self.assertEqual(closer.requests, 4)

    def test_all_endpoints_down_fail_fast_without_retry_storm(self):
        dead1, dead2 = dead_address(self), dead_address(self)
        proxy = start_proxy(self, config(
            [dead1, dead2],
            rule_extra="        retry: {attempts: 3, on: [connect-failure, gateway-error]}\n"))
        started = time.monotonic()
        statuses = []
        with ft.HttpClient(proxy.addr) as client:
            for _ in range(30):
                status, _, _ = client.request("GET", "/")
                statuses.append(status)
                client.close()
        self.assertLess(time.monotonic() - started, ft.scaled(10))
        self.assertTrue(set(statuses) <= {502, 503}, statuses)
        self.assertEqual(statuses[-1], 503)
        # Connect back-off: the endpoints are tried a few times, not 30 x (1 + 3 retries) x 2.
        self.assertLessEqual(proxy.metric("fulcrum_upstream_connect_failures_total"), 12)


class CircuitBreakerTest(ft.TestCase):
    def test_breaker_opens_at_max_requests_and_closes_when_load_drops(self):
        _, e1 = self.start_echo("e1")
        proxy = start_proxy(self, config(
            [e1], pool_extra="    circuitBreaker: {maxRequests: 2}\n"))
        before = requests_seen(e1)
        results = []

        def slow():
            results.append(ft.http_request(proxy.addr, "GET", "/?delay=1500")[0])

        threads = [threading.Thread(target=slow) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            ft.wait_until(lambda: requests_seen(e1) >= before + 2, message="two in flight")
            status, _, body = ft.http_request(proxy.addr, "GET", "/")
            self.assertEqual(status, 503, body)
            self.assertIn(b"circuit breaker", body)
        finally:
            for t in threads:
                t.join()
        self.assertEqual(results, [200, 200])
        self.assertEqual(ft.http_request(proxy.addr, "GET", "/")[0], 200)
        self.assertEqual(proxy.metric("fulcrum_responses_flagged_total", {"flag": "UO"}), 1)
        self.assertEqual(proxy.metric("fulcrum_upstream_overflow_total"), 1)


    def test_max_connections_answers_503_uo(self):
        _, e1 = self.start_echo("e1")
        proxy = start_proxy(self, config(
            [e1], pool_extra="    circuitBreaker: {maxConnections: 1}\n"))
        before = requests_seen(e1)
        result = []
        slow = threading.Thread(
            target=lambda: result.append(ft.http_request(proxy.addr, "GET", "/?delay=1500")[0]))
        slow.start()
        try:
            ft.wait_until(lambda: requests_seen(e1) >= before + 1, message="one in flight")
            self.assertEqual(ft.http_request(proxy.addr, "GET", "/")[0], 503)
        finally:
            slow.join()
        self.assertEqual(result, [200])
        # The connection went back to the pool: the next request reuses it.
        self.assertEqual(ft.http_request(proxy.addr, "GET", "/")[0], 200)


class TimeoutTest(ft.TestCase):
    def test_upstream_idle_mid_body_truncates(self):
        staller = fake(self, "staller", mode="stall")
        proxy = start_proxy(self, config([staller.addr], rule_extra="        timeouts: {idle: 300ms}\n"))
        with self.assertRaises(http.client.IncompleteRead):
            ft.http_request(proxy.addr, "GET", "/")
        self.assertEqual(proxy.metric("fulcrum_timeouts_upstream_idle_total"), 1)
        self.assertEqual(proxy.metric("fulcrum_responses_flagged_total", {"flag": "UT"}), 1)

    def test_downstream_idle_keepalive_closed(self):
        _, e1 = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([e1], limits="idleTimeout: 300ms"))
        with ft.connect(proxy.addr) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(len(ft.recv_http_responses(sock, 1)), 1)
            sock.settimeout(ft.scaled(10))
            self.assertEqual(sock.recv(1), b"")  # closed silently, no 408

    def test_connect_timeout_from_rule_overrides_pool(self):
        # A listener that never accepts: a full backlog makes further connects hang (SYN dropped).
        blackhole = socket.socket()
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(0)
        self.addCleanup(blackhole.close)
        addr = "127.0.0.1:%d" % blackhole.getsockname()[1]
        fillers = []
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", blackhole.getsockname()[1]))
            fillers.append(s)
        for s in fillers:
            self.addCleanup(s.close)
        proxy = start_proxy(self, config(
            [addr], rule_extra="        timeouts: {connect: 200ms}\n",
            pool_extra="    connectTimeout: 20s\n"))
        started = time.monotonic()
        status, _, _ = ft.http_request(proxy.addr, "GET", "/")
        self.assertEqual(status, 502)
        self.assertLess(time.monotonic() - started, ft.scaled(10))
        self.assertGreaterEqual(proxy.metric("fulcrum_timeouts_connect_total"), 1)


class HealthCheckTest(ft.TestCase):
    HC = ("    healthCheck: {path: /health, interval: 300ms, timeout: 250ms, jitterPercent: 0,"
          " healthyThreshold: 2, unhealthyThreshold: 3}\n")

    def test_health_flip_leaves_and_returns_by_thresholds(self):
        _, e1 = self.start_echo("e1")
        _, e2 = self.start_echo("e2")
        proxy = start_proxy(self, config([e1, e2], pool_extra=self.HC))
        ft.wait_until(lambda: endpoint_state(proxy, e2)["health"]["probes"] >= 2,
                      message="first probes")
        probes_at_flip = endpoint_state(proxy, e2)["health"]["probes"]
        self.assertEqual(ft.http_request(e2, "GET", "/health?set=503")[0], 200)
        ft.wait_until(lambda: endpoint_state(proxy, e2)["health"]["state"] == "unhealthy",
                      message="e2 unhealthy")
        ep = endpoint_state(proxy, e2)
        self.assertGreaterEqual(ep["health"]["probes"] - probes_at_flip, 3)
        self.assertEqual(ep["state"], "unhealthy")
        self.assertEqual(ep["health"]["last_result"], "failure")
        self.assertEqual(ep["health"]["last_reason"], "status 503")
        self.assertIn("last_check_at", ep["health"])
        with ft.HttpClient(proxy.addr) as client:
            for _ in range(10):
                self.assertEqual(client.request("GET", "/")[2], b"e1\n")
        self.assertEqual(proxy.metric("fulcrum_endpoint_healthy", {"pool": "p", "endpoint": e2}),
                         0)

        probes_at_flip = endpoint_state(proxy, e2)["health"]["probes"]
        self.assertEqual(ft.http_request(e2, "GET", "/health?set=200")[0], 200)
        ft.wait_until(lambda: endpoint_state(proxy, e2)["health"]["state"] == "healthy",
                      message="e2 healthy again")
        self.assertGreaterEqual(endpoint_state(proxy, e2)["health"]["probes"] - probes_at_flip, 2)
        seen = set()
        with ft.HttpClient(proxy.addr) as client:
            for _ in range(10):
                seen.add(client.request("GET", "/")[2])
        self.assertEqual(seen, {b"e1\n", b"e2\n"})
        self.assertEqual(proxy.metric("fulcrum_health_transitions_total",
                                      {"pool": "p", "endpoint": e2}), 2)

    def test_flapping_endpoint_holds_thresholds(self):
        # Two failures, one success, forever: never three failures in a row.
        flappy = fake(self, "flappy", health_pattern="FFS")
        _, e1 = self.start_echo("e1")
        proxy = start_proxy(self, config([e1, flappy.addr], pool_extra=self.HC))
        ft.wait_until(lambda: flappy.probes >= 12, message="12 probes")
        ep = endpoint_state(proxy, flappy.addr)
        self.assertEqual(ep["health"]["state"], "healthy", ep)
        self.assertEqual(ep["health"]["transitions"], 0, ep)

    def test_tcp_check_and_start_unhealthy(self):
        _, e1 = self.start_echo("e1")
        dead = dead_address(self)
        hc = ("    healthCheck: {type: tcp, interval: 300ms, timeout: 250ms, startHealthy: false,"
              " healthyThreshold: 1, unhealthyThreshold: 1}\n")
        proxy = start_proxy(self, config([e1, dead], pool_extra=hc))
        ft.wait_until(lambda: endpoint_state(proxy, e1)["health"]["state"] == "healthy",
                      message="e1 healthy")
        ft.wait_until(lambda: endpoint_state(proxy, dead)["health"]["state"] == "unhealthy",
                      message="dead unhealthy")
        self.assertIn("connect", endpoint_state(proxy, dead)["health"]["last_reason"])
        with ft.HttpClient(proxy.addr) as client:
            for _ in range(6):
                self.assertEqual(client.request("GET", "/")[0], 200)
        self.assertEqual(proxy.metric("fulcrum_upstream_connect_failures_total"), 0)

    def test_health_state_survives_reload(self):
        _, e1 = self.start_echo("e1")
        _, e2 = self.start_echo("e2")
        proxy = start_proxy(self, config([e1, e2], pool_extra=self.HC))
        ft.http_request(e2, "GET", "/health?set=503")
        ft.wait_until(lambda: endpoint_state(proxy, e2)["health"]["state"] == "unhealthy",
                      message="e2 unhealthy")
        _, e3 = self.start_echo("e3")
        with open(proxy.config_path, "w") as f:
            f.write(config([e1, e2, e3], pool_extra=self.HC))
        ft.wait_until(lambda: any(ep["address"] == e3 for ep in
                                  ft.get_json(proxy.admin, "/pools")["pools"][0]["endpoints"]),
                      message="reloaded")
        self.assertEqual(endpoint_state(proxy, e2)["health"]["state"], "unhealthy")
        self.assertEqual(endpoint_state(proxy, e3)["state"], "healthy")  # startHealthy
        with ft.HttpClient(proxy.addr) as client:
            bodies = {client.request("GET", "/")[2] for _ in range(9)}
        self.assertEqual(bodies, {b"e1\n", b"e3\n"})


class OutlierTest(ft.TestCase):
    def test_flapping_5xx_ejection_backs_off(self):
        bad = fake(self, "bad", mode="status:500")
        _, e1 = self.start_echo("e1")
        proxy = start_proxy(self, config(
            [bad.addr, e1],
            pool_extra="    outlierDetection: {consecutive5xx: 2, baseEjectionTime: 1s,"
                       " maxEjectionTime: 10s}\n"))

        def drive_until_ejected(times):
            def ejected():
                ft.http_request(proxy.addr, "GET", "/")
                o = endpoint_state(proxy, bad.addr)["outlier"]
                return o["ejected"] and o["times_ejected"] == times
            ft.wait_until(ejected, message=f"ejection {times}")

        drive_until_ejected(1)
        ft.wait_until(lambda: not endpoint_state(proxy, bad.addr)["outlier"]["ejected"],
                      message="first ejection ends")
        drive_until_ejected(2)
        o = endpoint_state(proxy, bad.addr)["outlier"]
        self.assertEqual(o["reason"], "consecutive_5xx")
        self.assertIn("ejected_until", o)
        self.assertEqual(proxy.metric("fulcrum_outlier_ejections_total",
                                      {"pool": "p", "endpoint": bad.addr}), 2)

    def test_panic_balances_over_all_when_too_few_are_healthy(self):
        _, e1 = self.start_echo("e1")
        _, e2 = self.start_echo("e2")
        _, e3 = self.start_echo("e3")
        hc = ("    healthCheck: {interval: 300ms, timeout: 250ms, healthyThreshold: 1,"
              " unhealthyThreshold: 1}\n    panicThresholdPercent: 50\n")
        proxy = start_proxy(self, config([e1, e2, e3], pool_extra=hc))
        for e in (e2, e3):
            ft.http_request(e, "GET", "/health?set=503")
        ft.wait_until(lambda: all(endpoint_state(proxy, e)["health"]["state"] == "unhealthy"
                                  for e in (e2, e3)), message="two of three unhealthy")
        with ft.HttpClient(proxy.addr) as client:
            bodies = {client.request("GET", "/")[2] for _ in range(9)}
        self.assertEqual(bodies, {b"e1\n", b"e2\n", b"e3\n"})
        self.assertGreaterEqual(proxy.metric("fulcrum_upstream_panic_picks_total"), 9)


class HeadTimeoutTest(ft.TestCase):
    def test_slowloris_closed_at_head_deadline(self):
        _, e1 = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([e1], limits="headTimeout: 500ms"))
        with ft.connect(proxy.addr) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\n")
            sock.settimeout(0.1)
            reply = b""
            started = time.monotonic()
            while time.monotonic() - started < ft.scaled(10):
                try:
                    sock.sendall(b"X")
                    data = sock.recv(4096)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not data:
                    break
                reply += data
        self.assertTrue(reply.startswith(b"HTTP/1.1 408"), reply)
        self.assertEqual(proxy.metric("fulcrum_timeouts_downstream_head_total"), 1)


if __name__ == "__main__":
    ft.main()
