#!/usr/bin/env python3
"""Does a second worker cost CPU per request? (issue 8, target 5)

Runs fulcrum-proxy with 1 and with 2 workers, and HAProxy 2.6 with nbthread 1 and 2 for
reference, all four at once in front of one NGINX backend process, and drives them with
`wrk -t1 -cCONNS` in short interleaved slices (one proxy loaded at a time, the order rotating
every round). Every process floats over every CPU: 1 and 2 workers meet the same scheduler, the
same load generator and the same backend, so the ratio of their CPU per request is what the
second worker itself costs. (peer-bench.sh's phase 2 compares 2 unpinned workers with 1 pinned
worker, and on a 2-vCPU machine the second worker then competes with wrk and the backends for
the CPU the first one had to itself: both proxies read +35-45 % there.)

Per slice: requests/s, p99, the proxy's CPU per request (utime+stime over the slice), and its
voluntary context switches per request (one per sleep in epoll_wait: a worker with half the
connections finds fewer ready per wake-up). Reported: the medians, and the paired ratio
2 workers / 1 worker, slice pair by slice pair within a round (the VM's speed drifts over
minutes; a ratio taken seconds apart does not see it).

  bench/peer/workers.py [--proxy build/bin/fulcrum-proxy] [--rounds 12] [--slice 3]
      [--connections 64] [--no-haproxy]

Only loopback is used; every process is started here and stopped by PID; every slice is bounded
by wrk's duration. Needs wrk, nginx and (unless --no-haproxy) haproxy.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scale"))
import scale  # noqa: E402  (Run, parse_wrk, cpu_ticks, free_ports, median, paired, report)


def switches(pid):
    """Voluntary context switches of every thread of `pid` (each is a sleep, e.g. in
    epoll_wait)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                m = re.search(r"^voluntary_ctxt_switches:\s+(\d+)", f.read(), re.M)
                total += int(m.group(1)) if m else 0
        except FileNotFoundError:
            pass  # a thread that ended
    return total


def start_fulcrum(run, backend_port, workers, prefix=(), extra=(), tag="", binary=None):
    """fulcrum-proxy (`binary`, default --proxy) with `workers` workers in front of
    `backend_port`, started under the command `prefix` (e.g. taskset) with the flags `extra`:
    (name, process, listen address)."""
    config = os.path.join(run.work, f"fulcrum-{workers}{tag}.yaml")
    with open(config, "w") as f:
        f.write("apiVersion: fulcrum/v1\n"
                "listeners:\n  - {name: web, address: \"127.0.0.1:0\"}\n"
                "routes:\n  - name: all\n    rules:\n      - backends: [{pool: p}]\n"
                f"pools:\n  - name: p\n    endpoints:\n      - {{address: \"127.0.0.1:{backend_port}\"}}\n")
    name = f"fulcrum-{workers}w{tag}"
    p = run.start([*prefix, binary or run.args.proxy, "--config", config, "--workers", str(workers),
                   "--admin", "127.0.0.1:0", "--id", name, *extra], name)
    out = os.path.join(run.work, name + ".out")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise RuntimeError("fulcrum-proxy exited: " + open(out).read()[-2000:])
        m = re.search(r"^listening web on (\S+)$", open(out).read(), re.M)
        if m:
            return name, p, m.group(1)
        time.sleep(0.05)
    raise RuntimeError("fulcrum-proxy did not start")


def start_haproxy(run, backend_port, threads, prefix=()):
    """HAProxy with nbthread `threads` (http-reuse always): (name, process, listen address)."""
    port = scale.free_ports(1)[0]
    name = f"haproxy-{threads}t"
    config = os.path.join(run.work, name + ".cfg")
    with open(config, "w") as f:
        f.write(f"global\n  nbthread {threads}\n  maxconn 4000\n"
                "defaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n"
                "  timeout server 30s\n  http-reuse always\n"
                f"frontend web\n  bind 127.0.0.1:{port}\n  default_backend b\n"
                f"backend b\n  server e 127.0.0.1:{backend_port}\n")
    p = run.start([*prefix, "haproxy", "-db", "-f", config], name)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if p.poll() is not None:
            raise RuntimeError("haproxy exited: " + open(os.path.join(run.work, name + ".out"))
                               .read()[-2000:])
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return name, p, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("haproxy did not start")


def wrk(run, listen, seconds, prefix=()):
    cmd = [*prefix, "wrk", "-t1", f"-c{run.args.connections}", f"-d{seconds}s", "--latency",
           f"http://{listen}/"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout


def load_slice(run, proxy, listen, seconds, prefix=()):
    t0, s0 = scale.cpu_ticks(proxy.pid), switches(proxy.pid)
    r = scale.parse_wrk(wrk(run, listen, seconds, prefix))
    t1, s1 = scale.cpu_ticks(proxy.pid), switches(proxy.pid)
    n = max(1, r["requests"])
    r["cpu_us_per_req"] = (t1 - t0) / os.sysconf("SC_CLK_TCK") / n * 1e6
    r["sleeps_per_req"] = (s1 - s0) / n
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proxy", default="build/bin/fulcrum-proxy")
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--slice", type=int, default=3, help="seconds per slice")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--no-haproxy", action="store_true")
    args = ap.parse_args()
    tools = ["wrk", "nginx"] + ([] if args.no_haproxy else ["haproxy"])
    for tool in tools:
        if not shutil.which(tool):
            sys.exit(f"workers.py: {tool} not found (apt-get install -y {tool})")
    work = tempfile.mkdtemp(prefix="fulcrum-workers-")
    run = scale.Run(args, work)
    run.proxy_cpu = run.load_cpu = None  # nothing pinned: see the docstring
    try:
        backend_port = scale.free_ports(1)[0]
        run.start_nginx([backend_port])
        pairs = [("fulcrum", [start_fulcrum(run, backend_port, w) for w in (1, 2)])]
        if not args.no_haproxy:
            pairs.append(("haproxy", [start_haproxy(run, backend_port, t) for t in (1, 2)]))
        proxies = [entry for _, entry_pair in pairs for entry in entry_pair]
        for _, _, listen in proxies:
            wrk(run, listen, 2)  # warm up: connections, caches, upstream pool
        results = {name: [] for name, _, _ in proxies}
        for rnd in range(args.rounds):
            shift = rnd % len(proxies)
            for name, proxy, listen in proxies[shift:] + proxies[:shift]:
                r = load_slice(run, proxy, listen, args.slice)
                results[name].append(r)
                for key in ("rps", "p99_ms", "cpu_us_per_req", "sleeps_per_req", "errors"):
                    scale.report(name, f"round{rnd + 1}_{key}", r[key])
        for label, ((one, _, _), (two, _, _)) in pairs:
            for key in ("rps", "p99_ms", "cpu_us_per_req", "sleeps_per_req"):
                print(f"SUMMARY {label} {key} 1={scale.median([x[key] for x in results[one]]):.3f}"
                      f" 2={scale.median([x[key] for x in results[two]]):.3f} paired 2/1 "
                      f"{scale.paired(results[two], results[one], key)}", flush=True)
            print(f"SUMMARY {label} errors "
                  f"{sum(x['errors'] for x in results[one] + results[two])}", flush=True)
    finally:
        run.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
