"""fulcrum-proxy metrics end to end: /metrics in both text formats and /stats against known
traffic, and a real Prometheus scraping the proxy and reading back the exact counter values."""

import json
import os
import re
import shutil
import socket
import urllib.parse

import fulcrum_test as ft
from proxy_support import simple_config, start_proxy

N = 25


def parse_text(text):
    """{sample name + labels as rendered: value} of an exposition (comments skipped)."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        samples[key] = float(value)
    return samples


class MetricsTest(ft.TestCase):
    def start_traffic(self, workers=2):
        _, e1 = self.start_echo("e1")
        _, e2 = self.start_echo("e2")
        proxy = start_proxy(self, simple_config([e1, e2]), workers=workers)
        with ft.HttpClient(proxy.addr) as client:
            for i in range(N):
                status, _, _ = client.request("GET", f"/?i={i}")
                self.assertEqual(status, 200)
        self.assertEqual(ft.http_request(proxy.addr, "GET", "/?status=503")[0], 503)
        return proxy, e1, e2

    def test_exposition_and_stats_agree(self):
        proxy, e1, e2 = self.start_traffic()
        status, headers, body = ft.http_request(proxy.admin, "GET", "/metrics")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8")
        text = parse_text(body.decode())
        self.assertEqual(text['fulcrum_requests_total{route="all",code_class="2xx"}'], N)
        self.assertEqual(text['fulcrum_requests_total{route="all",code_class="5xx"}'], 1)
        self.assertEqual(text['fulcrum_pool_requests_total{pool="p",code_class="2xx"}'], N)
        per_endpoint = [text.get(f'fulcrum_endpoint_requests_total{{pool="p",endpoint="{e}",'
                                 f'code_class="2xx"}}', 0) for e in (e1, e2)]
        self.assertEqual(sum(per_endpoint), N)
        self.assertGreater(min(per_endpoint), 0)  # round robin used both
        self.assertEqual(text['fulcrum_request_duration_seconds_count{route="all"}'], N + 1)
        self.assertEqual(text['fulcrum_request_duration_seconds_bucket{route="all",le="+Inf"}'],
                         N + 1)
        self.assertGreater(text['fulcrum_request_duration_seconds_sum{route="all"}'], 0)
        self.assertEqual(text['fulcrum_pool_upstream_response_seconds_count{pool="p"}'], N + 1)
        self.assertGreaterEqual(text['fulcrum_pool_upstream_connect_seconds_count{pool="p"}'], 2)
        self.assertEqual(text['fulcrum_pool_upstream_connections_total{pool="p"}'],
                         text["fulcrum_upstream_connections_total"])
        self.assertEqual(text['fulcrum_listener_connections_total{listener="web"}'], 2)
        self.assertEqual(
            text['fulcrum_listener_requests_total{listener="web",code_class="2xx"}'], N)
        self.assertGreater(text['fulcrum_listener_received_bytes_total{listener="web"}'], 0)
        self.assertEqual(text['fulcrum_listener_sent_bytes_total{listener="web"}'],
                         text["fulcrum_downstream_sent_bytes_total"])
        self.assertGreater(text["process_resident_memory_bytes"], 0)
        self.assertGreater(text["process_open_fds"], 0)
        self.assertGreater(text["process_start_time_seconds"], 1.5e9)
        self.assertGreater(text["fulcrum_config_last_reload_success_timestamp_seconds"], 1.5e9)

        # OpenMetrics on request: same numbers, _total samples under suffix-less families.
        status, headers, body = ft.http_request(
            proxy.admin, "GET", "/metrics",
            headers={"Accept": "application/openmetrics-text;version=1.0.0"})
        self.assertEqual(headers.get("content-type"),
                         "application/openmetrics-text; version=1.0.0; charset=utf-8")
        om_text = body.decode()
        self.assertTrue(om_text.endswith("# EOF\n"))
        self.assertIn("# TYPE fulcrum_requests counter\n", om_text)
        self.assertIn("# TYPE fulcrum_config info\n", om_text)
        om = parse_text(om_text)
        self.assertEqual(om['fulcrum_requests_total{route="all",code_class="2xx"}'], N)

        # /stats: the same families as JSON.
        stats = ft.get_json(proxy.admin, "/stats")
        families = {f["name"]: f for f in stats["families"]}
        series = families["fulcrum_requests_total"]["series"]
        ok = [s for s in series if s["labels"] == {"route": "all", "code_class": "2xx"}]
        self.assertEqual(ok[0]["value"], N)
        hist = [s for s in families["fulcrum_request_duration_seconds"]["series"]
                if s["labels"] == {"route": "all"}][0]
        self.assertEqual(hist["count"], N + 1)
        self.assertEqual(hist["buckets"][-1], {"le": "+Inf", "count": N + 1})
        # /pools and /config still answer.
        self.assertEqual(ft.get_json(proxy.admin, "/pools")["pools"][0]["name"], "p")
        self.assertEqual(len(ft.get_json(proxy.admin, "/config")["hash"]), 16)

    def test_endpoint_series_switch_and_series_cap(self):
        _, e1 = self.start_echo("e1")
        routes = "".join(f"  - name: r{i}\n    hostnames: [h{i}]\n    rules:\n"
                         f"      - backends: [{{pool: p}}]\n" for i in range(3))
        proxy = start_proxy(self, simple_config([e1], routes=routes), workers=1,
                            extra=("--metrics-endpoint-series", "off",
                                   "--metrics-max-series", "2"))
        for i in range(3):
            status, _, _ = ft.http_request(proxy.addr, "GET", "/", headers={"Host": f"h{i}"})
            self.assertEqual(status, 200)
        text = proxy.metrics()
        self.assertNotIn("fulcrum_endpoint_", text)
        samples = parse_text(text)
        self.assertEqual(samples['fulcrum_requests_total{route="r0",code_class="2xx"}'], 1)
        self.assertEqual(samples['fulcrum_requests_total{route="r1",code_class="2xx"}'], 1)
        self.assertEqual(samples['fulcrum_requests_total{route="__overflow__",code_class="2xx"}'],
                         1)
        self.assertEqual(samples['fulcrum_metrics_series_overflow_total{dimension="route"}'], 1)

    def test_series_continue_across_reloads(self):
        _, e1 = self.start_echo("e1")
        _, e2 = self.start_echo("e2")
        proxy = start_proxy(self, simple_config([e1]), workers=2)
        for _ in range(3):
            self.assertEqual(ft.http_request(proxy.addr, "GET", "/")[0], 200)
        # A new endpoint and a second route; pool p and route all stay.
        routes = ("  - name: extra\n    hostnames: [extra]\n    rules:\n"
                  "      - backends: [{pool: p}]\n"
                  "  - name: all\n    rules:\n      - backends: [{pool: p}]\n")
        tmp = proxy.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(simple_config([e1, e2], routes=routes))
        os.rename(tmp, proxy.config_path)
        ft.wait_until(lambda: proxy.metric("fulcrum_config_reloads_total",
                                           {"result": "success"}) == 2, message="reload")
        for _ in range(4):
            self.assertEqual(ft.http_request(proxy.addr, "GET", "/")[0], 200)
        self.assertEqual(ft.http_request(proxy.addr, "GET", "/", headers={"Host": "extra"})[0],
                         200)
        samples = parse_text(proxy.metrics())
        self.assertEqual(samples['fulcrum_requests_total{route="all",code_class="2xx"}'], 7)
        self.assertEqual(samples['fulcrum_requests_total{route="extra",code_class="2xx"}'], 1)
        self.assertEqual(samples['fulcrum_pool_requests_total{pool="p",code_class="2xx"}'], 8)
        self.assertEqual(samples['fulcrum_listener_connections_total{listener="web"}'], 8)
        per_endpoint = {e: samples.get(f'fulcrum_endpoint_requests_total{{pool="p",endpoint="{e}",'
                                       f'code_class="2xx"}}', 0) for e in (e1, e2)}
        self.assertEqual(sum(per_endpoint.values()), 8)
        self.assertGreaterEqual(per_endpoint[e1], 3)
        self.assertGreater(per_endpoint[e2], 0)
        self.assertIn('fulcrum_config_info{hash="', proxy.metrics())
        self.assertIn('generation="2"', proxy.metrics())


PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


class PrometheusTest(ft.TestCase):
    def start_prometheus(self, admin):
        """Starts Prometheus scraping `admin` every second, twice: one job negotiating (it
        prefers OpenMetrics) and one forcing the 0.0.4 text format. Returns its address."""
        config = self.write_file("prometheus.yml", (
            "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: fulcrum\n    static_configs: [{{targets: ['{admin}']}}]\n"
            f"  - job_name: fulcrum-text\n    params: {{format: [text]}}\n"
            f"    static_configs: [{{targets: ['{admin}']}}]\n"))
        # Prometheus cannot listen on port 0 and print the port: take one the OS hands out,
        # release it, and start again with another should someone grab it meanwhile.
        for attempt in range(5):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            address = f"127.0.0.1:{port}"
            process = self.start([PROMETHEUS, f"--config.file={config}",
                                  f"--storage.tsdb.path={self.path(f'data{attempt}')}",
                                  f"--web.listen-address={address}",
                                  "--storage.tsdb.retention.time=1h"], name="prometheus")
            try:
                process.wait_for_line(r"Server is ready to receive web requests", stream="stderr",
                                      timeout=ft.scaled(30))
                return process, address
            except ft.ProcessError:
                if "address already in use" in process.output("stderr"):
                    process.stop()
                    continue
                raise
        raise AssertionError("no free port for Prometheus after 5 attempts")

    def query(self, prom, expr):
        status, _, body = ft.http_request(
            prom, "GET", "/api/v1/query?query=" + urllib.parse.quote(expr))
        self.assertEqual(status, 200, body)
        doc = json.loads(body)
        self.assertEqual(doc["status"], "success", doc)
        return {json.dumps(r["metric"], sort_keys=True): float(r["value"][1])
                for r in doc["data"]["result"]}

    def test_prometheus_reads_back_exact_counters(self):
        if not os.access(PROMETHEUS, os.X_OK):
            self.skipTest("prometheus is not installed (scripts/bootstrap installs it)")
        _, e1 = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([e1]), workers=2)
        with ft.HttpClient(proxy.addr) as client:
            for i in range(N):
                self.assertEqual(client.request("GET", f"/?i={i}")[0], 200)
        process, prom = self.start_prometheus(proxy.admin)

        last = []

        def targets_up():
            _, _, body = ft.http_request(prom, "GET", "/api/v1/targets")
            last[:] = json.loads(body)["data"]["activeTargets"]
            healthy = [t for t in last if t["health"] == "up" and not t["lastError"]]
            return len(healthy) == 2
        try:
            # A scrape that does not parse leaves its target down with the parser's error.
            ft.wait_until(targets_up, timeout=ft.scaled(30), message="both targets up",
                          ignore=(OSError,))
        except ft.WaitTimeout:
            self.fail("targets not up: " + "; ".join(
                f'{t["labels"]["job"]}: {t["health"]} {t["lastError"]}' for t in last))

        for job in ("fulcrum", "fulcrum-text"):
            selector = f'job="{job}",route="all",code_class="2xx"'

            def exact(expr, want):
                values = list(self.query(prom, expr).values())
                return values == [want]
            ft.wait_until(lambda: exact(f"fulcrum_requests_total{{{selector}}}", N),
                          timeout=ft.scaled(30), message=f"{job}: requests_total == {N}")
            self.assertTrue(exact(f'fulcrum_request_duration_seconds_count{{job="{job}",'
                                  f'route="all"}}', N))
            self.assertTrue(exact(f'fulcrum_pool_requests_total{{job="{job}",pool="p",'
                                  f'code_class="2xx"}}', N))
            self.assertTrue(exact(f'fulcrum_endpoint_requests_total{{job="{job}",pool="p",'
                                  f'endpoint="{e1}",code_class="2xx"}}', N))
            self.assertTrue(exact(f'fulcrum_listener_connections_total{{job="{job}",'
                                  f'listener="web"}}', 1))
            # The histogram works with histogram_quantile (cumulative buckets, le labels).
            q = self.query(prom, f'histogram_quantile(0.5, fulcrum_request_duration_seconds_bucket'
                                 f'{{job="{job}",route="all"}})')
            self.assertEqual(len(q), 1)
            self.assertGreater(list(q.values())[0], 0)
            info = self.query(prom, f'fulcrum_config_info{{job="{job}"}}')
            self.assertEqual(len(info), 1, info)
            self.assertTrue(re.search(r'"hash": "[0-9a-f]{16}"', list(info)[0]), info)
            self.assertEqual(len(self.query(prom, f'process_cpu_seconds_total{{job="{job}"}}')), 1)
        process.stop()


if __name__ == "__main__":
    ft.main()
