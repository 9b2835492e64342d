#!/usr/bin/env python3
"""Does the proxy's cost grow with its config? (issue 8, targets 6 and 7)

Runs fulcrum-proxy (1 worker) in front of one NGINX backend process and drives it with wrk for a
fixed time per scenario, reporting requests/s, p50/p99 latency, proxy CPU per request and errors:

  routes-N       N host routes (h<i>.bench, PathPrefix /svc/<i>; <i> zero-padded to 6 digits),
                 3 endpoints; wrk rotates over 4096 requests to random routes, so lookups are not
                 all served from one cache line. The load generator does the same work in every
                 configuration (4096 distinct requests of equal length in its table): with a
                 10-entry table for 10 routes, wrk spent ~15% less CPU per request than with
                 4096 entries, and wrk shares its CPU with the backend
  endpoints-E    10 routes, one round-robin pool of E endpoints (E NGINX ports)
  churn-N        as routes-N while the config file is rewritten RATE times a second (atomic
                 rename; the proxy reloads it through inotify), against the same quiet run;
                 with --interleave also against "decoy" slices, where the same writes go to a
                 file the proxy does not watch (what the writes alone cost the load)

Pinning (when the machine has 2+ CPUs): the proxy on CPU 0, NGINX and wrk on CPU 1.
Only loopback is used; every process is started here, stopped by PID, and every run is bounded
by wrk's duration. Results go to stdout as `RESULT <scenario> <metric> <value>` lines; a churn
run also reports changes_written (and per second), reloads_applied (worker config_applied delta)
and main_cpu_ms_per_revision (the proxy main thread's utime+stime over the run divided by the
applied revisions: what one revision costs the CPU the worker shares). The churn writer cycles
through configs serialised before the run and runs on the load CPU. Interleaved runs also
report the worker's run-queue wait per second and CPU per request (its /proc schedstat).

Example (docs/performance.md):
  bench/scale/scale.py --proxy build/bin/fulcrum-proxy --routes 10,10000,100000 \\
      --endpoints 3,1000 --churn 10000 --duration 10
  bench/scale/scale.py --proxy build/bin/fulcrum-proxy --routes 10,10000,100000 \
      --endpoints 3,1000 --churn "" --interleave 8 --slice 3  # target 6, paired ratios
  bench/scale/scale.py --proxy build/bin/fulcrum-proxy --routes "" --endpoints "" \
      --churn 10000 --interleave 8 --slice 5                    # target 7, paired ratios
"""

import argparse
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROTATE = 4096  # requests wrk cycles through (to min(N, 4096) distinct routes)


def host(i):
    return f"h{i:06d}.bench"


def prefix(i):
    return f"/svc/{i:06d}"
CHURN_VARIANTS = 8  # pre-serialised configs the churn writer cycles through


def free_ports(count):
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def cpu_ticks(pid, tid=None):
    """utime + stime of the process, or of one of its threads (the main thread: tid == pid)."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def taskset(cpu):
    return ["taskset", "-c", str(cpu)] if cpu is not None and shutil.which("taskset") else []


class Run:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.procs = []
        cpus = os.cpu_count() or 1
        self.proxy_cpu = 0 if cpus >= 2 else None
        self.load_cpu = 1 if cpus >= 2 else None

    def start(self, argv, name, **kw):
        out = open(os.path.join(self.work, name + ".out"), "w")
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             **kw)
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.remove(p)

    def stop_all(self):
        for p in list(self.procs):
            self.stop(p)

    # -- backend
    def start_nginx(self, ports):
        d = tempfile.mkdtemp(prefix="nginx-", dir=self.work)
        listens = "".join(f"    listen 127.0.0.1:{p};\n" for p in ports)
        conf = (f"worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n"
                "events { worker_connections 8192; }\n"
                f"http {{\n  access_log off;\n  client_body_temp_path {d};\n"
                f"  proxy_temp_path {d};\n  fastcgi_temp_path {d};\n  uwsgi_temp_path {d};\n"
                f"  scgi_temp_path {d};\n  keepalive_requests 10000000;\n  server {{\n{listens}"
                "    location / { return 200 \"ok\\n\"; }\n  }\n}\n")
        path = os.path.join(d, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        p = self.start([*taskset(self.load_cpu), "nginx", "-p", d, "-c", path, "-g",
                        "daemon off;"], "nginx")
        deadline = time.monotonic() + 10
        for port in ports[:1] + ports[-1:]:
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), 1).close()
                    break
                except OSError:
                    if p.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError("nginx did not start: " + open(
                            os.path.join(self.work, "nginx.out")).read()[-2000:])
                    time.sleep(0.05)
        return p

    # -- proxy
    @staticmethod
    def config_text(routes, ports, variant=0):
        rs = [{"name": f"r{i}", "hostnames": [host(i)],
               "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": prefix(i)}}],
                          "backends": [{"pool": "p"}]}]} for i in range(routes)]
        if variant:
            # a change the proxy must apply: one more route each time
            rs.append({"name": f"churn{variant}", "hostnames": [f"churn{variant}.bench"],
                       "rules": [{"backends": [{"pool": "p"}]}]})
        cfg = {"apiVersion": "fulcrum/v1",
               "listeners": [{"name": "web", "address": "127.0.0.1:0",
                              "limits": {"maxConnections": 0}}],
               "routes": rs,
               "pools": [{"name": "p", "algorithm": "round_robin",
                          "endpoints": [{"address": f"127.0.0.1:{p}"} for p in ports]}]}
        return json.dumps(cfg).encode()

    @staticmethod
    def write_bytes(path, data):
        # atomic replace: the proxy never reads a half-written file
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, path)

    def write_config(self, path, routes, ports, variant=0):
        self.write_bytes(path, self.config_text(routes, ports, variant))

    def start_proxy(self, config, name="proxy"):
        p = self.start([*taskset(self.proxy_cpu), self.args.proxy, "--config", config,
                        "--workers", "1", "--admin", "127.0.0.1:0", "--id", "scale",
                        *self.args.proxy_arg], name)
        out = os.path.join(self.work, name + ".out")
        deadline = time.monotonic() + 120
        listen = admin = None
        while time.monotonic() < deadline and not (listen and admin):
            if p.poll() is not None:
                raise RuntimeError("proxy exited: " + open(out).read()[-2000:])
            text = open(out).read()
            m = re.search(r"^listening web on (\S+)$", text, re.M)
            listen = m.group(1) if m else None
            m = re.search(r"^admin on (\S+)$", text, re.M)
            admin = m.group(1) if m else None
            time.sleep(0.05)
        if not (listen and admin):
            raise RuntimeError("proxy did not start")
        return p, listen, admin

    # -- load
    def wrk(self, url, routes, seconds):
        k = ROTATE
        rng = random.Random(42)
        picks = [rng.randrange(routes) for _ in range(k)]
        script = os.path.join(self.work, "rotate.lua")
        with open(script, "w") as f:
            f.write("local hosts = {" + ",".join(f'"{host(i)}"' for i in picks) + "}\n")
            # distinct strings in every table entry: Lua interns strings, and 4096 entries
            # naming 10 strings would keep wrk's working set smaller for 10 routes
            f.write("local paths = {" + ",".join(f'"{prefix(i)}/x{j:04d}"'
                                                 for j, i in enumerate(picks)) + "}\n")
            f.write("local n = 0\n"
                    "request = function()\n"
                    f"  n = n % {k} + 1\n"
                    "  return wrk.format('GET', paths[n], {Host = hosts[n]})\n"
                    "end\n")
        cmd = [*taskset(self.load_cpu), "wrk", "-t1", f"-c{self.args.connections}",
               f"-d{seconds}s", "--latency", "-s", script, url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout


def parse_wrk(text):
    def ms(v, unit):
        return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    r = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
         "requests": int(re.search(r"(\d+) requests in", text).group(1))}
    for q in ("50", "99"):
        m = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        r[f"p{q}_ms"] = ms(m.group(1), m.group(2)) if m else float("nan")
    errors = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors += int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors += sum(int(x) for x in m.groups()) if m else 0
    r["errors"] = errors
    return r


def metric_value(admin, name):
    """An unlabelled series of the proxy's /metrics (0 when absent)."""
    text = urllib.request.urlopen(f"http://{admin}/metrics", timeout=5).read().decode()
    m = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else 0


def applied(admin):
    return int(metric_value(admin, "fulcrum_worker_config_applied_total"))


def scenario(run, name, routes, endpoints, churn_rate=0):
    ports = free_ports(endpoints)
    nginx = run.start_nginx(ports)
    config = os.path.join(run.work, "proxy.json")
    run.write_config(config, routes, ports)
    proxy, listen, admin = run.start_proxy(config)
    try:
        url = f"http://{listen}/"
        run.wrk(url, routes, 2)  # warm up: connections, caches, upstream pool
        # Serialised before the run (python's json.dump of a 10k-route config takes longer than
        # the period); consecutive variants differ, so every write is a change to apply.
        writer = (ChurnWriter(run, config, [run.config_text(routes, ports, v)
                                            for v in range(1, CHURN_VARIANTS + 1)], churn_rate)
                  if churn_rate else None)
        before_applied = applied(admin)
        t0 = cpu_ticks(proxy.pid)
        m0 = cpu_ticks(proxy.pid, proxy.pid)
        started = time.monotonic()
        if writer:
            writer.start()
        out = run.wrk(url, routes, run.args.duration)
        if writer:
            writer.stop()
        elapsed = time.monotonic() - started
        t1 = cpu_ticks(proxy.pid)
        m1 = cpu_ticks(proxy.pid, proxy.pid)
        r = parse_wrk(out)
        hz = os.sysconf("SC_CLK_TCK")
        r["cpu_us_per_req"] = (t1 - t0) / hz / max(1, r["requests"]) * 1e6
        r["reloads_applied"] = applied(admin) - before_applied
        r["changes_written"] = writer.changes if writer else 0
        r["changes_per_s"] = r["changes_written"] / elapsed
        # The main thread loads, validates and compiles every revision (the worker only adopts
        # the result): its CPU over the applied revisions is the cost of one revision.
        r["main_cpu_ms"] = (m1 - m0) / hz * 1e3
        r["main_cpu_ms_per_revision"] = (r["main_cpu_ms"] / r["reloads_applied"]
                                         if r["reloads_applied"] else float("nan"))
        keys = ["rps", "p50_ms", "p99_ms", "cpu_us_per_req", "errors"]
        if churn_rate:
            keys += ["changes_written", "changes_per_s", "reloads_applied", "main_cpu_ms",
                     "main_cpu_ms_per_revision"]
        for key in keys:
            report(name, key, r[key])
        return r
    finally:
        run.stop(proxy)
        run.stop(nginx)


def median(values):
    values = sorted(values)
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def report(name, key, value):
    print(f"RESULT {name} {key} {value:.3f}" if isinstance(value, float)
          else f"RESULT {name} {key} {value}", flush=True)


def worker_schedstat(pid):
    """(on-CPU ns, run-queue wait ns) of the proxy's first worker thread ("worker-0"): the wait is
    time it was runnable while another thread (the main thread's config work, a kernel thread,
    softirqs) had its CPU. /proc/PID/task/TID/schedstat (CONFIG_SCHED_INFO); None without it."""
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if f.read().strip() == "worker-0":
                    with open(f"/proc/{pid}/task/{tid}/schedstat") as g:
                        fields = g.read().split()
                        return int(fields[0]), int(fields[1])
    except OSError:
        pass
    return None


def load_slice(run, proxy, listen, routes, seconds, start=None, stop=None):
    """One wrk slice against `proxy`: parse_wrk's fields, the proxy's CPU per request, its
    worker's CPU per request and run-queue wait per second over the slice (from before `start()`
    to after `stop()`, when given)."""
    t0 = cpu_ticks(proxy.pid)
    q0, q_started = worker_schedstat(proxy.pid), time.monotonic()
    if start:
        start()
    w0 = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk is the only child waited for here
    r = parse_wrk(run.wrk(f"http://{listen}/", routes, seconds))
    w1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if stop:
        stop()
    r["cpu_us_per_req"] = ((cpu_ticks(proxy.pid) - t0) / os.sysconf("SC_CLK_TCK")
                           / max(1, r["requests"]) * 1e6)
    q1 = worker_schedstat(proxy.pid)
    known = q0 is not None and q1 is not None
    r["worker_wait_ms_per_s"] = ((q1[1] - q0[1]) / 1e6 / (time.monotonic() - q_started)
                                 if known else float("nan"))
    r["worker_cpu_us_per_req"] = ((q1[0] - q0[0]) / 1e3 / max(1, r["requests"])
                                  if known else float("nan"))
    # the load generator's own cost: it should not differ between configurations
    r["wrk_cpu_us_per_req"] = ((w1.ru_utime - w0.ru_utime + w1.ru_stime - w0.ru_stime)
                               / max(1, r["requests"]) * 1e6)
    return r


def paired(results, base, key):
    """"median M range A-B" of results[i][key] / base[i][key], slice pair by slice pair."""
    ratios = [a[key] / b[key] for a, b in zip(results, base) if b[key]]
    return f"median {median(ratios):.3f} range {min(ratios):.3f}-{max(ratios):.3f}"


def interleaved(run, routes_list, endpoints_list, rounds, seconds):
    """Targets 6 without the VM's drift: every configuration runs at once in its own proxy (all
    pinned to the proxy CPU, only one loaded at a time), and the load visits them in short
    slices, round after round (the order rotates each round). A configuration is compared with
    the first one slice-pair by slice-pair (same round), and the median of those ratios is
    reported: minutes-long drift of the machine's speed cancels out of a ratio taken seconds
    apart."""
    setups = [(f"routes-{n}", n, 3) for n in routes_list]
    setups += [(f"endpoints-{e}", 10, e) for e in endpoints_list
               if (f"routes-10", 10, e) not in setups]
    ports = free_ports(max(e for _, _, e in setups))
    nginx = run.start_nginx(ports)
    proxies = []
    try:
        for name, routes, endpoints in setups:
            config = os.path.join(run.work, f"{name}.json")
            run.write_config(config, routes, ports[:endpoints])
            proxy, listen, admin = run.start_proxy(config, name)
            run.wrk(f"http://{listen}/", routes, 2)  # warm up
            proxies.append((name, routes, proxy, listen))
        results = {name: [] for name, _, _, _ in proxies}
        for rnd in range(rounds):
            shift = rnd % len(proxies)
            for name, routes, proxy, listen in proxies[shift:] + proxies[:shift]:
                r = load_slice(run, proxy, listen, routes, seconds)
                results[name].append(r)
                for key in ("rps", "p99_ms", "cpu_us_per_req", "errors"):
                    report(name, f"round{rnd + 1}_{key}", r[key])
        base = proxies[0][0]
        for name, _, _, _ in proxies:
            rs = results[name]
            for key in ("rps", "p99_ms", "cpu_us_per_req", "wrk_cpu_us_per_req"):
                print(f"SUMMARY {name} {key} median {median([x[key] for x in rs]):.3f} "
                      f"paired_ratio_to_{base} {paired(rs, results[base], key)}", flush=True)
            print(f"SUMMARY {name} errors {sum(x['errors'] for x in rs)}", flush=True)
    finally:
        for _, _, proxy, _ in proxies:
            run.stop(proxy)
        run.stop(nginx)


class ChurnWriter:
    """Rewrites `path` RATE times a second, cycling through pre-serialised variants, on the load
    CPU (the writer must not take the proxy's CPU). start()/stop() may be repeated."""

    def __init__(self, run, path, variants, rate):
        self.run, self.path, self.variants, self.rate = run, path, variants, rate
        self.changes = 0
        self.thread = None
        self.stopping = threading.Event()

    def _loop(self):
        if self.run.load_cpu is not None and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(threading.get_native_id(), {self.run.load_cpu})
        period = 1.0 / self.rate
        next_at = time.monotonic()
        while not self.stopping.is_set():
            self.run.write_bytes(self.path, self.variants[self.changes % len(self.variants)])
            self.changes += 1
            next_at += period
            self.stopping.wait(max(0.0, next_at - time.monotonic()))

    def start(self):
        self.stopping.clear()
        self.thread = threading.Thread(target=self._loop)
        self.thread.start()

    def stop(self):
        self.stopping.set()
        self.thread.join()


def settle(proxy, limit=20):
    """Waits until the proxy's main thread has been idle for a second (a paced revision may still
    be waiting when the writer stops; it must not land in the next proxy's slice)."""
    for _ in range(limit):
        before = cpu_ticks(proxy.pid, proxy.pid)
        time.sleep(1)
        if cpu_ticks(proxy.pid, proxy.pid) == before:
            return


def interleaved_churn(run, routes, rounds, seconds, rate):
    """Target 7 without the VM's drift: a quiet proxy and a churned proxy on the same config, both
    pinned to the proxy CPU, loaded in slices of three kinds, round after round (the order
    rotates each round):
      quiet  the quiet proxy, nothing written;
      decoy  the quiet proxy while the writer makes the churn's writes to a file no proxy
             watches (a control: what the writes alone cost the load CPU, the page cache and the
             disk's writeback; --no-decoy leaves these slices out);
      churn  the churned proxy while the writer rewrites its config.
    Every slice ends when its proxy's main thread has been idle for a second (settle), so all
    start from the same state. Paired ratios per round and their medians: churn/quiet (the
    target's figure), decoy/quiet (the writes alone) and churn/decoy (the proxy's own share)."""
    ports = free_ports(3)
    nginx = run.start_nginx(ports)
    procs = []
    try:
        variants = [run.config_text(routes, ports, v) for v in range(1, CHURN_VARIANTS + 1)]
        setups = {}
        for name in ("quiet", "churn"):
            config = os.path.join(run.work, f"{name}.json")
            run.write_config(config, routes, ports)
            proxy, listen, admin = run.start_proxy(config, name)
            procs.append(proxy)
            run.wrk(f"http://{listen}/", routes, 2)  # warm up
            setups[name] = (proxy, listen, admin, config)
        os.makedirs(os.path.join(run.work, "decoy"), exist_ok=True)
        decoy = os.path.join(run.work, "decoy", "churn.json")
        writer = ChurnWriter(run, setups["churn"][3], variants, rate)
        kinds = ["quiet", "churn"] if run.args.no_decoy else ["quiet", "decoy", "churn"]
        results = {kind: [] for kind in kinds}

        def start_writer(path):
            writer.path = path
            writer.start()

        def stop_writer(proxy):
            writer.stop()
            settle(proxy)

        for rnd in range(rounds):
            for kind in kinds[rnd % len(kinds):] + kinds[:rnd % len(kinds)]:
                proxy, listen, admin, config = setups["churn" if kind == "churn" else "quiet"]
                applied0, changes0 = applied(admin), writer.changes
                written = {"quiet": None, "decoy": decoy, "churn": config}[kind]
                r = load_slice(run, proxy, listen, routes, seconds,
                               start=(lambda w=written: start_writer(w)) if written else None,
                               stop=(lambda p=proxy: stop_writer(p)) if written
                               else (lambda p=proxy: settle(p)))
                r["reloads_applied"] = applied(admin) - applied0
                r["changes_written"] = writer.changes - changes0
                results[kind].append(r)
                for key in ("rps", "p99_ms", "errors", "reloads_applied", "changes_written",
                            "worker_wait_ms_per_s"):
                    report(f"{kind}-{routes}", f"round{rnd + 1}_{key}", r[key])
        pairs = [("churn", "quiet")]
        if "decoy" in results:
            pairs += [("decoy", "quiet"), ("churn", "decoy")]
        for key in ("rps", "p99_ms", "cpu_us_per_req", "worker_cpu_us_per_req",
                    "worker_wait_ms_per_s"):
            medians = " ".join(f"{kind}_median {median([x[key] for x in results[kind]]):.3f}"
                               for kind in kinds)
            print(f"SUMMARY churn-{routes} {key} {medians}", flush=True)
            for a, b in pairs:
                print(f"SUMMARY churn-{routes} {key} {a}/{b} paired_ratio "
                      f"{paired(results[a], results[b], key)}", flush=True)
        # What the writes and the config work add to the worker's run-queue wait, slice pair by
        # slice pair: CPU time others took on its core while it was runnable.
        for a, b in pairs:
            added = [x["worker_wait_ms_per_s"] - y["worker_wait_ms_per_s"]
                     for x, y in zip(results[a], results[b])]
            print(f"SUMMARY churn-{routes} worker_wait_ms_per_s {a}-{b} paired_difference median "
                  f"{median(added):.3f} range {min(added):.3f}-{max(added):.3f}", flush=True)
        for kind in kinds:
            for key in ("errors", "reloads_applied", "changes_written"):
                print(f"SUMMARY churn-{routes} {kind} {key} "
                      f"{sum(x[key] for x in results[kind])}", flush=True)
        # How the churned proxy's config work was scheduled (whole run, warm-up included).
        admin = setups["churn"][2]
        for name in ("fulcrum_config_yields_total", "fulcrum_config_cpu_seconds_total",
                     "fulcrum_config_paced_total", "fulcrum_config_superseded_total"):
            print(f"SUMMARY churn-{routes} {name} {metric_value(admin, name):g}", flush=True)
    finally:
        for proxy in procs:
            run.stop(proxy)
        run.stop(nginx)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proxy", default="build/bin/fulcrum-proxy")
    ap.add_argument("--routes", default="10,10000,100000")
    ap.add_argument("--endpoints", default="3,1000")
    ap.add_argument("--churn", default="10000", help="route counts for the churn scenario")
    ap.add_argument("--churn-rate", type=float, default=10.0, help="config changes per second")
    ap.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--interleave", type=int, default=0, metavar="ROUNDS",
                    help="routes/endpoints scenarios: all proxies at once, ROUNDS rounds of "
                    "--slice seconds each, paired ratios (see interleaved())")
    ap.add_argument("--slice", type=int, default=3, help="seconds per slice with --interleave")
    ap.add_argument("--no-decoy", action="store_true",
                    help="interleaved churn without the decoy slices (the writes to an unwatched "
                    "file, the control)")
    ap.add_argument("--proxy-arg", action="append", default=[],
                    help="extra fulcrum-proxy argument (repeat), e.g. --proxy-arg=--config-nice=0")
    args = ap.parse_args()
    for tool in ("wrk", "nginx"):
        if not shutil.which(tool):
            sys.exit(f"scale.py: {tool} not found (apt-get install -y {tool})")
    work = tempfile.mkdtemp(prefix="fulcrum-scale-")
    run = Run(args, work)
    try:
        if args.interleave:
            if args.routes or args.endpoints:
                interleaved(run, [int(x) for x in args.routes.split(",") if x],
                            [int(x) for x in args.endpoints.split(",") if x], args.interleave,
                            args.slice)
            for n in [int(x) for x in args.churn.split(",") if x]:
                interleaved_churn(run, n, args.interleave, args.slice, args.churn_rate)
            return
        for _ in range(args.reps):
            for n in [int(x) for x in args.routes.split(",") if x]:
                scenario(run, f"routes-{n}", n, 3)
            for e in [int(x) for x in args.endpoints.split(",") if x]:
                scenario(run, f"endpoints-{e}", 10, e)
            for n in [int(x) for x in args.churn.split(",") if x]:
                scenario(run, f"quiet-{n}", n, 3)
                scenario(run, f"churn-{n}", n, 3, args.churn_rate)
    finally:
        run.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
