"""fulcrum-proxy lifecycle: config reload under load (file watch and SIGHUP), invalid configs,
listener changes, readiness, drain, and --validate."""

import os
import re
import signal
import subprocess
import threading
import time

import fulcrum_test as ft
from proxy_support import pool_yaml, simple_config, start_proxy, write_atomically


def two_pool_config(e1, e2, v2_route=True, listener2=False):
    routes = "  - name: main\n    rules:\n      - backends: [{pool: one}]\n"
    if v2_route:
        routes = ("  - name: v2\n    rules:\n      - matches: [{path: {type: PathPrefix, "
                  "value: /v2}}]\n        backends: [{pool: two}]\n") + routes
    listeners = "  - name: web\n    address: 127.0.0.1:0\n"
    if listener2:
        listeners += "  - name: extra\n    address: 127.0.0.1:0\n"
    return ("apiVersion: fulcrum/v1\n"
            f"listeners:\n{listeners}"
            f"routes:\n{routes}"
            f"pools:\n{pool_yaml('one', [e1])}{pool_yaml('two', [e2])}")


class Hammer:
    """Keep-alive GETs in a loop from a thread; counts successes and failures."""

    def __init__(self, addr, path="/"):
        self.addr = addr
        self.path = path
        self.ok = 0
        self.failures = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        client = ft.HttpClient(self.addr)
        while not self._stop.is_set():
            try:
                status, _, _ = client.request("GET", self.path)
                if status == 200:
                    self.ok += 1
                else:
                    self.failures.append(status)
            except Exception as error:  # noqa: BLE001 - every failure counts
                self.failures.append(repr(error))
                client.close()
                client = ft.HttpClient(self.addr)
        client.close()

    def stop(self):
        self._stop.set()
        self._thread.join()


class ReloadTest(ft.TestCase):
    def test_reload_under_load(self):
        _, e1 = self.start_echo("one")
        _, e2 = self.start_echo("two")
        proxy = start_proxy(self, two_pool_config(e1, e2, v2_route=False))
        path = proxy.config_path
        self.assertEqual(ft.http_request(proxy.addr, "GET", "/v2/x")[2], b"one\n")
        hammers = [Hammer(proxy.addr), Hammer(proxy.addr, "/v2/x")]
        try:
            def reloads():
                return proxy.metric("fulcrum_config_reloads_total", {"result": "success"})

            # 1. In place, new route: /v2 goes to pool two.
            with open(path, "w") as f:
                f.write(two_pool_config(e1, e2, v2_route=True))
            ft.wait_until(lambda: ft.http_request(proxy.addr, "GET", "/v2/x")[2] == b"two\n",
                          message="new route applied")
            # 2. Invalid: an unknown pool. Refused with a located error; the old config serves.
            bad = two_pool_config(e1, e2).replace("[{pool: two}]", "[{pool: three}]")
            write_atomically(path, bad)
            line = proxy.process.wait_for_line(r"proxy\.yaml:(\d+):(\d+): .*three", stream="stderr")
            self.assertGreater(int(line.group(1)), 0)
            self.assertEqual(ft.http_request(proxy.addr, "GET", "/v2/x")[2], b"two\n")
            self.assertEqual(proxy.metric("fulcrum_config_reloads_total", {"result": "failure"}), 1)
            # 3. Rename-replace back to one route, then SIGHUP after an in-place edit.
            write_atomically(path, two_pool_config(e1, e2, v2_route=False))
            ft.wait_until(lambda: ft.http_request(proxy.addr, "GET", "/v2/x")[2] == b"one\n",
                          message="route removed")
            count = reloads()
            with open(path, "w") as f:
                f.write(two_pool_config(e1, e2, v2_route=True) + "\n# edited\n")
            proxy.process.send_signal(signal.SIGHUP)
            ft.wait_until(lambda: reloads() > count, message="SIGHUP reload")
            ft.wait_until(lambda: ft.http_request(proxy.addr, "GET", "/v2/x")[2] == b"two\n")
            time.sleep(0.2)  # let the hammers run on the last revision too
        finally:
            for hammer in hammers:
                hammer.stop()
        for hammer in hammers:
            self.assertEqual(hammer.failures, [], "requests failed during reloads")
            self.assertGreater(hammer.ok, 20)
        # Kept-alive connections survived every reload: no new client connection was needed.
        self.assertLessEqual(proxy.metric("fulcrum_downstream_connections_total"), 30)

    def test_listeners_added_and_removed_without_dropping_connections(self):
        _, e1 = self.start_echo("one")
        _, e2 = self.start_echo("two")
        proxy = start_proxy(self, two_pool_config(e1, e2))
        client = ft.HttpClient(proxy.addr)
        self.assertEqual(client.request("GET", "/")[0], 200)
        port = client.local_port
        mark = proxy.process.mark()
        write_atomically(proxy.config_path, two_pool_config(e1, e2, listener2=True))
        extra = proxy.process.wait_for_line(r"^listening extra on (\S+)$", since=mark).group(1)
        self.assertEqual(ft.http_request(extra, "GET", "/")[0], 200)
        write_atomically(proxy.config_path, two_pool_config(e1, e2, listener2=False))
        proxy.process.wait_for_line(r"closed listener extra", stream="stderr")
        ft.wait_until(lambda: _refused(extra), message="extra listener closed")
        # The connection opened before both reloads is still the same one.
        self.assertEqual(client.request("GET", "/")[0], 200)
        self.assertEqual(client.local_port, port)
        client.close()


def _refused(addr):
    try:
        ft.http_request(addr, "GET", "/", timeout=2)
    except OSError:
        return True
    return False


class ReadinessTest(ft.TestCase):
    def test_not_ready_until_a_valid_config_arrives(self):
        _, echo = self.start_echo("e1")
        path = self.write_file("proxy.yaml", "apiVersion: fulcrum/v1\nlisteners: [\n")
        process = self.start([ft.bin_path("fulcrum-proxy"), "--config", path, "--admin",
                              "127.0.0.1:0", "--workers", 1], name="proxy")
        admin = process.wait_for_line(r"^admin on (\S+)$").group(1)
        self.assertEqual(ft.http_request(admin, "GET", "/livez")[0], 200)
        status, _, body = ft.http_request(admin, "GET", "/readyz")
        self.assertEqual(status, 503)
        process.wait_for_line(r"proxy\.yaml:\d+:\d+:", stream="stderr")
        write_atomically(path, simple_config([echo]))
        listen = process.wait_for_line(r"^listening web on (\S+)$").group(1)
        ft.wait_until(lambda: ft.http_request(admin, "GET", "/readyz")[0] == 200)
        self.assertEqual(ft.http_request(listen, "GET", "/")[2], b"e1\n")


class DrainTest(ft.TestCase):
    def test_sigterm_drains(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]), workers=2)
        idle = ft.connect(proxy.addr)
        idle.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(ft.recv_http_responses(idle, 1)[0].status, 200)

        result = {}

        def slow():
            with ft.connect(proxy.addr) as sock:
                sock.sendall(b"GET /?delay=1500 HTTP/1.1\r\nHost: x\r\n\r\n")
                result["response"] = ft.recv_http_responses(sock, 1)[0]
                result["closed"] = ft.recv_until_close(sock, timeout=5).closed

        thread = threading.Thread(target=slow)
        thread.start()
        ft.wait_until(lambda: proxy.metric("fulcrum_downstream_connections_active") >= 2)
        # The slow request has reached the backend (the idle connection's GET was the first).
        ft.wait_until(lambda: ft.echo_stats(echo)["requests"] >= 2, message="slow request sent")
        proxy.process.send_signal(signal.SIGTERM)
        ft.wait_until(lambda: ft.http_request(proxy.admin, "GET", "/readyz")[0] == 503,
                      ignore=(OSError,), timeout=5)
        ft.wait_until(lambda: _refused(proxy.addr), message="listener closed", timeout=5)
        # The idle keep-alive connection is closed by the proxy.
        self.assertTrue(ft.recv_until_close(idle, timeout=5).closed)
        idle.close()
        thread.join(ft.scaled(10))
        self.assertEqual(result["response"].status, 200)
        self.assertEqual(result["response"].header("connection"), "close")
        self.assertTrue(result["closed"])
        self.assertEqual(proxy.process.wait(ft.scaled(10)), 0)

    def test_drain_timeout_bounds_the_exit(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]), extra=("--drain-timeout", "300"))
        sock = ft.connect(proxy.addr)
        sock.sendall(b"GET /?delay=20000 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.2)
        started = time.monotonic()
        proxy.process.send_signal(signal.SIGTERM)
        self.assertEqual(proxy.process.wait(ft.scaled(10)), 0)
        self.assertLess(time.monotonic() - started, 5)
        sock.close()


class ValidateTest(ft.TestCase):
    def test_validate_exit_codes(self):
        proxy = ft.bin_path("fulcrum-proxy")
        good = self.write_file("good.yaml", simple_config(["127.0.0.1:9"]))
        bad = self.write_file("bad.yaml", simple_config(["127.0.0.1:9"]).replace(
            "[{pool: p}]", "[{pool: nope}]"))
        run = lambda *args: subprocess.run([proxy, *args], capture_output=True, text=True,
                                           timeout=ft.scaled(30))
        ok = run("--validate", "--config", good)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        failed = run("--validate", "--config", bad)
        self.assertEqual(failed.returncode, 1)
        self.assertRegex(failed.stderr, r"bad\.yaml:\d+:\d+: routes\[0\]")
        self.assertEqual(run("--validate").returncode, 2)
        self.assertEqual(run("--no-such-flag").returncode, 2)
        self.assertTrue(re.search(r"--workers", run("--help").stdout))

def thread_nice(pid):
    """{tid: nice} of every thread of `pid` (/proc/PID/task/TID/stat field 19)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out[int(tid)] = int(fields[16])
    return out


def sched_runtime_ns(tid):
    """sched_attr.sched_runtime of a thread (the EEVDF slice of a SCHED_OTHER thread), via
    sched_getattr(2); None where the syscall is unavailable."""
    import ctypes
    import platform
    import struct
    if platform.machine() != "x86_64":
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(56)
    if libc.syscall(315, tid, buf, 56, 0) != 0:  # SYS_sched_getattr
        return None
    return struct.unpack("IIQiIQQQII", buf.raw)[5]


def kernel_at_least(major, minor):
    numbers = re.match(r"(\d+)\.(\d+)", os.uname().release)
    return numbers is not None and (int(numbers[1]), int(numbers[2])) >= (major, minor)


class ConfigNiceTest(ft.TestCase):
    """The main thread (config load and compile) yields to the workers: --config-nice."""

    def test_main_thread_niced_workers_not(self):
        _, echo = self.start_echo("a")
        proxy = start_proxy(self, simple_config([echo]), workers=2)
        nice = thread_nice(proxy.process.pid)
        self.assertEqual(nice[proxy.process.pid], 19, nice)  # the default
        others = [n for tid, n in nice.items() if tid != proxy.process.pid]
        self.assertGreaterEqual(len(others), 2, nice)  # two workers, the health thread
        self.assertEqual(set(others), {0}, nice)
        if kernel_at_least(6, 12):
            # EEVDF honours a per-thread slice: the main thread asks for the shortest, so a worker
            # that wakes on the same core waits at most 0.1 ms behind config work.
            self.assertEqual(sched_runtime_ns(proxy.process.pid), 100_000)
            self.assertNotEqual(sched_runtime_ns(min(t for t in nice if t != proxy.process.pid)),
                                100_000)
        status, _, _ = ft.http_request(proxy.addr, "GET", "/")
        self.assertEqual(status, 200)

    def test_zero_keeps_the_workers_priority(self):
        _, echo = self.start_echo("a")
        proxy = start_proxy(self, simple_config([echo]), extra=("--config-nice", "0"))
        self.assertEqual(set(thread_nice(proxy.process.pid).values()), {0})


class ThreadNamesTest(ft.TestCase):
    """Every thread says what it is (top -H, perf, /proc/PID/task/*/comm)."""

    def test_workers_and_helpers_are_named(self):
        _, echo = self.start_echo("a")
        log = os.path.join(self.tmp, "access.log")
        proxy = start_proxy(self, simple_config([echo]), workers=2,
                            extra=("--access-log", log))
        names = {}
        for tid in os.listdir(f"/proc/{proxy.process.pid}/task"):
            with open(f"/proc/{proxy.process.pid}/task/{tid}/comm") as f:
                names[int(tid)] = f.read().strip()
        self.assertEqual(names[proxy.process.pid], "fulcrum-proxy", names)
        others = sorted(n for tid, n in names.items() if tid != proxy.process.pid)
        self.assertEqual(others, ["access-log", "health", "worker-0", "worker-1"], names)


class ConfigSchedTest(ft.TestCase):
    """--config-sched idle: the main thread is SCHED_IDLE, the workers keep SCHED_OTHER."""

    @staticmethod
    def policies(pid):
        """{tid: scheduling policy} (/proc/PID/task/TID/stat field 41; 0 OTHER, 5 IDLE)."""
        out = {}
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                out[int(tid)] = int(f.read().rsplit(")", 1)[1].split()[38])
        return out

    def test_idle_main_thread_still_serves_and_applies(self):
        _, echo = self.start_echo("a")
        _, echo2 = self.start_echo("b")
        proxy = start_proxy(self, simple_config([echo]), workers=2,
                            extra=("--config-sched", "idle"))
        policies = self.policies(proxy.process.pid)
        self.assertEqual(policies[proxy.process.pid], 5, policies)
        self.assertEqual({p for tid, p in policies.items() if tid != proxy.process.pid}, {0},
                         policies)
        status, _, _ = ft.http_request(proxy.addr, "GET", "/")
        self.assertEqual(status, 200)
        # Config work still happens (on idle CPU): a changed file is applied.
        write_atomically(proxy.config_path, simple_config([echo2]))
        ft.wait_until(lambda: ft.get_json(proxy.admin, "/pools")["pools"][0]["endpoints"][0]
                      ["address"] == echo2, message="the new pool applied")

    def test_normal_is_the_default(self):
        _, echo = self.start_echo("a")
        proxy = start_proxy(self, simple_config([echo]))
        self.assertEqual(set(self.policies(proxy.process.pid).values()), {0})


class ConfigYieldTest(ft.TestCase):
    """--config-yield-us: config work yields its CPU at yield points (CooperativeYield)."""

    @staticmethod
    def many_routes(n):
        return "".join(f"  - name: r{i}\n    hostnames: [h{i}.test]\n"
                       f"    rules:\n      - backends: [{{pool: p}}]\n" for i in range(n))

    def test_config_work_yields_and_still_applies(self):
        _, echo = self.start_echo("a")
        # A 1 µs quantum: every clock read of the yield points yields.
        proxy = start_proxy(self, simple_config([echo], routes=self.many_routes(2000)),
                            extra=("--config-yield-us", "1"))
        self.assertGreater(proxy.metric("fulcrum_config_yields_total"), 0)
        status, _, _ = ft.http_request(proxy.addr, "GET", "/", headers={"Host": "h1999.test"})
        self.assertEqual(status, 200)
        # A revision is applied while it yields, and yields again.
        before = proxy.metric("fulcrum_config_yields_total")
        write_atomically(proxy.config_path,
                         simple_config([echo], routes=self.many_routes(2001)))
        ft.wait_until(lambda: ft.http_request(proxy.addr, "GET", "/",
                                              headers={"Host": "h2000.test"})[0] == 200,
                      message="the revision with route r2000 applied")
        self.assertGreater(proxy.metric("fulcrum_config_yields_total"), before)

    def test_zero_never_yields(self):
        _, echo = self.start_echo("a")
        proxy = start_proxy(self, simple_config([echo], routes=self.many_routes(2000)),
                            extra=("--config-yield-us", "0"))
        status, _, _ = ft.http_request(proxy.addr, "GET", "/", headers={"Host": "h1999.test"})
        self.assertEqual(status, 200)
        self.assertEqual(proxy.metric("fulcrum_config_yields_total"), 0)


class ParkingTest(ft.TestCase):
    """Idle keep-alive connections give their session and buffers back (Worker::park)."""

    def parked(self, proxy):
        return proxy.metric("fulcrum_downstream_connections_parked")

    def test_idle_connection_parks_and_resumes(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]))
        with ft.connect(proxy.addr) as sock:
            sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(ft.recv_http_responses(sock, 1)[0].status, 200)
            ft.wait_until(lambda: self.parked(proxy) == 1, message="connection parked")
            self.assertEqual(proxy.metric("fulcrum_downstream_connections_active"), 1)
            # Two pipelined requests wake it: both are answered in order on the same connection.
            sock.sendall(b"GET /echo?n=b HTTP/1.1\r\nHost: x\r\n\r\n"
                         b"GET /echo?n=c HTTP/1.1\r\nHost: x\r\n\r\n")
            responses = ft.recv_http_responses(sock, 2)
            self.assertEqual([r.status for r in responses], [200, 200])
            self.assertIn(b"n=b", responses[0].body)
            self.assertIn(b"n=c", responses[1].body)
            # Idle again: parks again.
            ft.wait_until(lambda: self.parked(proxy) == 1, message="parked again")
        ft.wait_until(lambda: proxy.metric("fulcrum_downstream_connections_active") == 0,
                      message="client close seen while parked")
        self.assertEqual(self.parked(proxy), 0)

    def test_parked_connection_closes_at_idle_timeout(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo], limits="idleTimeout: 1500ms"))
        with ft.connect(proxy.addr) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(ft.recv_http_responses(sock, 1)[0].status, 200)
            ft.wait_until(lambda: self.parked(proxy) == 1, message="connection parked")
            reply = ft.recv_until_close(sock, timeout=ft.scaled(10))
            self.assertTrue(reply.closed)
            self.assertEqual(reply, b"")
        self.assertEqual(self.parked(proxy), 0)
        self.assertEqual(proxy.metric("fulcrum_downstream_connections_active"), 0)

    def test_head_deadline_applies_after_resume(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo], limits="headTimeout: 1s"))
        with ft.connect(proxy.addr) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(ft.recv_http_responses(sock, 1)[0].status, 200)
            ft.wait_until(lambda: self.parked(proxy) == 1, message="connection parked")
            sock.sendall(b"GET /slow HTTP/1.1\r\n")  # and never the rest
            reply = ft.recv_until_close(sock, timeout=ft.scaled(10))
            self.assertTrue(reply.closed)
            self.assertTrue(reply.startswith(b"HTTP/1.1 408 "), reply[:40])

    def test_drain_closes_parked_connections(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]), workers=2)
        socks = [ft.connect(proxy.addr) for _ in range(4)]
        try:
            for sock in socks:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                self.assertEqual(ft.recv_http_responses(sock, 1)[0].status, 200)
            ft.wait_until(lambda: self.parked(proxy) == 4, message="all parked")
            proxy.process.send_signal(signal.SIGTERM)
            for sock in socks:
                self.assertTrue(ft.recv_until_close(sock, timeout=ft.scaled(10)).closed)
            self.assertEqual(proxy.process.wait(ft.scaled(10)), 0)
        finally:
            for sock in socks:
                sock.close()



if __name__ == "__main__":
    ft.main()
