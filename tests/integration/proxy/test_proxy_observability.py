"""fulcrum-proxy access logs (JSON, combined, SIGUSR1 reopen) and W3C Trace Context with OTLP
export to a small collector this test runs (python http.server on port 0)."""

import http.server
import json
import os
import re
import signal
import threading

import fulcrum_test as ft
from proxy_support import pool_yaml, simple_config, start_proxy

ROUTES = ("  - name: api\n"
          "    rules:\n"
          "      - matches: [{path: {type: PathPrefix, value: /echo}}]\n"
          "        backends: [{pool: p}]\n")

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
HEX32 = re.compile(r"^[0-9a-f]{32}$")
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
# nginx's combined format: $remote_addr - $remote_user [$time_local] "$request" $status
# $body_bytes_sent "$http_referer" "$http_user_agent"
COMBINED = re.compile(r'^(\S+) - (\S+) \[(\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] '
                      r'"([^"]*)" (\d{3}) (\d+|-) "([^"]*)" "([^"]*)"$')


def read_lines(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    assert text == "" or text.endswith("\n"), f"partial line in {path}: {text[-200:]!r}"
    return text.splitlines()


def wait_lines(path, count):
    ft.wait_until(lambda: len(read_lines(path)) >= count, message=f"{count} lines in {path}")
    return read_lines(path)


def echoed_headers(body):
    return {name.lower(): value for name, value in json.loads(body)["headers"]}


class Collector:
    """An OTLP/HTTP collector: records every POST /v1/traces body (parsed JSON)."""

    def __init__(self, status=200):
        self.requests = []
        self.lock = threading.Lock()
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with collector.lock:
                    collector.requests.append((self.path, self.headers.get("Content-Type"),
                                               json.loads(body)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self):
        with self.lock:
            out = []
            for _, _, body in self.requests:
                for rs in body["resourceSpans"]:
                    for ss in rs["scopeSpans"]:
                        out.extend(ss["spans"])
            return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def attributes(span):
    out = {}
    for a in span["attributes"]:
        value = a["value"]
        out[a["key"]] = value.get("stringValue", value.get("intValue"))
    return out


class AccessLogTest(ft.TestCase):
    def test_json_lines_carry_the_request(self):
        _, echo = self.start_echo("e1")
        log = self.path("access.log")
        proxy = start_proxy(self, simple_config([echo], routes=ROUTES),
                            extra=("--access-log", log))
        _, _, body1 = ft.http_request(proxy.addr, "GET", "/echo?n=1")
        _, _, body2 = ft.http_request(proxy.addr, "POST", "/echo", body=b"x" * 100,
                                      headers={"X-Request-Id": "client-id-1",
                                               "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
        status, _, _ = ft.http_request(proxy.addr, "GET", "/nothing-here")
        self.assertEqual(status, 404)
        lines = wait_lines(log, 3)
        self.assertEqual(len(lines), 3, lines)
        records = [json.loads(line) for line in lines]
        by_path = {r["path"]: r for r in records}
        revision = ft.get_json(proxy.admin, "/config")["hash"]

        first = by_path["/echo?n=1"]
        seen1 = echoed_headers(body1)
        self.assertEqual(first["request_id"], seen1["x-request-id"])
        self.assertRegex(first["request_id"], HEX32)
        self.assertEqual(first["trace_id"], TRACEPARENT.match(seen1["traceparent"]).group(1))
        self.assertRegex(first["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(first["client_address"], "127.0.0.1")
        self.assertEqual(first["method"], "GET")
        self.assertEqual(first["host"], proxy.addr)
        self.assertEqual(first["protocol"], "HTTP/1.1")
        self.assertEqual(first["status"], 200)
        self.assertEqual(first["route"], "api")
        self.assertEqual(first["pool"], "p")
        self.assertEqual(first["upstream_address"], echo)
        self.assertEqual(first["response_flags"], "-")
        self.assertEqual(first["config_revision"], revision)
        self.assertEqual(first["worker"], 0)
        self.assertGreater(first["bytes_received"], 20)
        self.assertGreater(first["bytes_sent"], len(body1))
        self.assertGreaterEqual(first["duration"], first["upstream_duration"])
        self.assertGreaterEqual(first["upstream_duration"], 0)

        second = by_path["/echo"]
        self.assertEqual(second["request_id"], "client-id-1")
        self.assertEqual(echoed_headers(body2)["x-request-id"], "client-id-1")
        self.assertEqual(second["trace_id"], TRACE_ID)
        self.assertEqual(second["method"], "POST")
        self.assertGreaterEqual(second["bytes_received"], 100)

        missing = by_path["/nothing-here"]
        self.assertEqual(missing["status"], 404)
        self.assertEqual(missing["response_flags"], "NR")
        self.assertIsNone(missing["route"])
        self.assertIsNone(missing["pool"])
        self.assertIsNone(missing["upstream_address"])
        self.assertIsNone(missing["upstream_duration"])

    def test_combined_format_and_unparsable_requests(self):
        _, echo = self.start_echo("e1")
        log = self.path("access.log")
        proxy = start_proxy(self, simple_config([echo]),
                            extra=("--access-log", log, "--access-log-format", "combined"))
        status, _, _ = ft.http_request(proxy.addr, "GET", "/a?b=1",
                                       headers={"User-Agent": 'agent "quoted"',
                                                "Referer": "http://example.com/"})
        self.assertEqual(status, 200)
        ft.raw_exchange(proxy.addr, b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                                    b"Transfer-Encoding: chunked\r\n\r\n")
        lines = wait_lines(log, 2)
        for line in lines:
            self.assertRegex(line, COMBINED)
        ok = COMBINED.match(lines[0])
        self.assertEqual(ok.group(1), "127.0.0.1")
        self.assertEqual(ok.group(4), "GET /a?b=1 HTTP/1.1")
        self.assertEqual(ok.group(5), "200")
        self.assertEqual(ok.group(7), "http://example.com/")
        self.assertEqual(ok.group(8), "agent \\x22quoted\\x22")
        bad = COMBINED.match(lines[1])
        self.assertEqual(bad.group(4), "-")
        self.assertEqual(bad.group(5), "400")

    def test_sigusr1_reopens_after_rename_and_loses_nothing(self):
        _, echo = self.start_echo("e1")
        log = self.path("access.log")
        proxy = start_proxy(self, simple_config([echo]), workers=2, extra=("--access-log", log))
        with ft.HttpClient(proxy.addr) as client:
            for i in range(20):
                self.assertEqual(client.request("GET", f"/before/{i}")[0], 200)
        wait_lines(log, 20)
        os.rename(log, log + ".1")
        mark = proxy.process.mark("stderr")
        # Requests in flight while the file is renamed and reopened: each lands in one file.
        stop = threading.Event()
        sent = []

        def load():
            with ft.HttpClient(proxy.addr) as c:
                while not stop.is_set():
                    self.assertEqual(c.request("GET", f"/during/{len(sent)}")[0], 200)
                    sent.append(1)

        thread = threading.Thread(target=load)
        thread.start()
        try:
            ft.wait_until(lambda: len(sent) >= 10, message="requests before the signal")
            proxy.process.send_signal(signal.SIGUSR1)
            proxy.process.wait_for_line(r"access log reopened", stream="stderr", since=mark)
            ft.wait_until(lambda: len(sent) >= 20, message="requests after the signal")
        finally:
            stop.set()
            thread.join()
        with ft.HttpClient(proxy.addr) as client:
            for i in range(10):
                self.assertEqual(client.request("GET", f"/after/{i}")[0], 200)
        total = 20 + len(sent) + 10
        ft.wait_until(lambda: len(read_lines(log)) + len(read_lines(log + ".1")) >= total,
                      message=f"{total} lines in both files")
        old = read_lines(log + ".1")
        new = read_lines(log)
        self.assertEqual(len(old) + len(new), total)
        paths = [json.loads(line)["path"] for line in old + new]
        self.assertEqual(len(set(paths)), total, "every request logged exactly once")
        new_paths = {json.loads(line)["path"] for line in new}
        for i in range(10):
            self.assertIn(f"/after/{i}", new_paths)
        self.assertFalse(any(p.startswith("/before/") for p in new_paths))
        self.assertEqual(proxy.metric("fulcrum_access_log_lines_dropped_total"), 0)


class TraceContextTest(ft.TestCase):
    def traceparent_seen(self, proxy, headers):
        status, _, body = ft.http_request(proxy.addr, "GET", "/echo", headers=headers)
        self.assertEqual(status, 200)
        return echoed_headers(body)

    def test_traceparent_kept_created_and_replaced(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]))

        seen = self.traceparent_seen(proxy, {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01",
                                             "tracestate": "vendor=abc,other=1"})
        m = TRACEPARENT.match(seen["traceparent"])
        self.assertIsNotNone(m, seen["traceparent"])
        self.assertEqual(m.group(1), TRACE_ID)
        self.assertNotEqual(m.group(2), PARENT_ID)
        self.assertEqual(m.group(3), "01")
        self.assertEqual(seen["tracestate"], "vendor=abc,other=1")

        seen = self.traceparent_seen(proxy, {"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-00"})
        self.assertEqual(TRACEPARENT.match(seen["traceparent"]).group(3), "00")

        created = set()
        for headers in ({},
                        {"traceparent": f"00-{TRACE_ID.upper()}-{PARENT_ID}-01",
                         "tracestate": "vendor=abc"},
                        {"traceparent": f"ff-{TRACE_ID}-{PARENT_ID}-01"},
                        {"traceparent": f"00-{'0' * 32}-{PARENT_ID}-01"},
                        [("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01"),
                         ("traceparent", f"00-{TRACE_ID}-{PARENT_ID}-01")]):
            seen = self.traceparent_seen(proxy, headers)
            m = TRACEPARENT.match(seen["traceparent"])
            self.assertIsNotNone(m, (headers, seen))
            self.assertNotEqual(m.group(1), TRACE_ID, headers)
            self.assertNotIn("tracestate", seen, headers)
            created.add(m.group(1))
        self.assertEqual(len(created), 5, "each new trace gets its own id")


class OtlpExportTest(ft.TestCase):
    def setUp(self):
        super().setUp()
        self.collector = Collector()
        self.addCleanup(self.collector.close)

    def test_sampled_spans_reach_the_collector(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo], routes=ROUTES),
                            extra=("--trace-collector", self.collector.url,
                                   "--service-name", "edge"))
        _, _, body = ft.http_request(proxy.addr, "GET", "/echo?q=1",
                                     headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
        ours = TRACEPARENT.match(echoed_headers(body)["traceparent"]).group(2)
        _, _, body = ft.http_request(proxy.addr, "GET", "/echo")
        new_trace = TRACEPARENT.match(echoed_headers(body)["traceparent"]).group(1)
        # Not sampled by the caller: parent-based sampling keeps it out.
        ft.http_request(proxy.addr, "GET", "/echo",
                        headers={"traceparent": f"00-{'1' * 32}-{PARENT_ID}-00"})
        self.assertEqual(ft.http_request(proxy.addr, "GET", "/missing")[0], 404)
        ft.wait_until(lambda: len(self.collector.spans()) >= 3, message="3 spans exported")
        spans = {s["traceId"]: s for s in self.collector.spans()}
        self.assertNotIn("1" * 32, spans)
        self.assertEqual(len(self.collector.spans()), 3)

        path, content_type, body = self.collector.requests[0]
        self.assertEqual(path, "/v1/traces")
        self.assertEqual(content_type, "application/json")
        resource = {a["key"]: a["value"]["stringValue"]
                    for a in body["resourceSpans"][0]["resource"]["attributes"]}
        self.assertEqual(resource["service.name"], "edge")

        child = spans[TRACE_ID]
        self.assertEqual(child["spanId"], ours)
        self.assertEqual(child["parentSpanId"], PARENT_ID)
        self.assertEqual(child["kind"], 2)
        self.assertEqual(child["name"], "GET")
        self.assertLessEqual(int(child["startTimeUnixNano"]), int(child["endTimeUnixNano"]))
        attrs = attributes(child)
        self.assertEqual(attrs["http.request.method"], "GET")
        self.assertEqual(attrs["url.path"], "/echo")
        self.assertEqual(attrs["url.query"], "q=1")
        self.assertEqual(attrs["http.response.status_code"], "200")
        self.assertEqual(attrs["server.address"], proxy.addr)
        self.assertEqual(attrs["fulcrum.route"], "api")
        self.assertEqual(attrs["fulcrum.pool"], "p")
        self.assertEqual(attrs["fulcrum.upstream.address"], echo)
        self.assertNotIn("status", child)

        root = spans[new_trace]
        self.assertNotIn("parentSpanId", root)
        missing = [s for s in spans.values() if attributes(s)["url.path"] == "/missing"]
        self.assertEqual(len(missing), 1)
        self.assertEqual(attributes(missing[0])["fulcrum.response_flags"], "NR")
        ft.wait_until(lambda: proxy.metric("fulcrum_tracing_spans_exported_total") == 3,
                      message="exported counter")

    def test_sample_ratio_zero_exports_only_sampled_parents(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]),
                            extra=("--trace-collector", self.collector.url, "--trace-sample", "0"))
        with ft.HttpClient(proxy.addr) as client:
            for _ in range(20):
                _, _, body = client.request("GET", "/echo")
                self.assertEqual(TRACEPARENT.match(echoed_headers(body)["traceparent"]).group(3),
                                 "00")
            # A marker the caller sampled: once it arrives, everything before it has been seen
            # (one worker, one ring, spans leave in order).
            client.request("GET", "/echo", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
        ft.wait_until(lambda: len(self.collector.spans()) >= 1, message="the marker span")
        self.assertEqual([s["traceId"] for s in self.collector.spans()], [TRACE_ID])

    def test_collector_failures_are_counted_not_fatal(self):
        failing = Collector(status=503)
        self.addCleanup(failing.close)
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]),
                            extra=("--trace-collector", failing.url))
        for _ in range(3):
            self.assertEqual(ft.http_request(proxy.addr, "GET", "/")[0], 200)
        proxy.process.wait_for_line(r"tracing: export to .* failed: collector answered 503",
                                    stream="stderr")
        ft.wait_until(lambda: proxy.metric("fulcrum_tracing_spans_dropped_total",
                                           {"reason": "export_failed"}) == 3,
                      message="failed spans counted")
        self.assertEqual(ft.http_request(proxy.addr, "GET", "/")[0], 200)


if __name__ == "__main__":
    ft.main()
