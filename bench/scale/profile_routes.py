#!/usr/bin/env python3
"""Where a large config's extra cost per request goes (issue 8, target 6): perf profiles of
fulcrum-proxy with 10 routes and with N routes under the same load.

Starts one NGINX backend and, one after the other, a proxy with 10 routes and one with N
(bench/scale/scale.py's configs and wrk load: 4,096 distinct requests, 64 connections, proxy on
CPU 0, load on CPU 1), records each for SECONDS with `perf record -F 4999 -g -p PID`, and prints
CPU per request, the kernel / proxy / libc shares and the proxy's top functions in µs per
request, side by side. perf's cpu-clock works without hardware counters (VMs).

  bench/scale/profile_routes.py build/bin/fulcrum-proxy [N=10000] [SECONDS=8]

The perf data stays in a temp dir (printed) for `perf report -i` / `perf annotate -i`. Needs
perf (Debian: linux-perf), nginx and wrk. Loopback only; every process is stopped by PID.
"""

import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scale  # noqa: E402


def shares(data, sort, extra=()):
    out = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", sort,
                          "--stdio", "-g", "none", *extra],
                         capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[0].endswith("%"):
            rows.append((float(parts[0][:-1]), parts[1].strip()))
    return rows


def main():
    proxy = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/bin/fulcrum-proxy")
    big = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    work = tempfile.mkdtemp(prefix="fulcrum-profile-routes-")
    run = scale.Run(argparse.Namespace(proxy=proxy, connections=64, proxy_arg=[]), work)
    ports = scale.free_ports(3)
    results = {}
    try:
        run.start_nginx(ports)
        for n in (10, big):
            config = os.path.join(work, f"routes-{n}.json")
            run.write_config(config, n, ports)
            p, listen, _ = run.start_proxy(config, f"routes-{n}")
            run.wrk(f"http://{listen}/", n, 2)  # warm up
            data = os.path.join(work, f"perf-{n}.data")
            perf = subprocess.Popen(["perf", "record", "-F", "4999", "-g", "-o", data, "-p",
                                     str(p.pid)], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            r = scale.load_slice(run, p, listen, n, seconds)
            perf.send_signal(2)
            perf.wait()
            run.stop(p)
            results[n] = (r, data)
    finally:
        run.stop_all()
    name = os.path.basename(proxy)
    table = {}
    for n, (r, data) in results.items():
        us = r["cpu_us_per_req"]
        print(f"routes {n}: {r['rps']:.0f} req/s, proxy {us:.2f} µs CPU/request, "
              f"wrk {r['wrk_cpu_us_per_req']:.2f} µs/request", flush=True)
        for pct, dso in shares(data, "dso"):
            print(f"  {dso:24s} {pct:6.2f} %  {pct * us / 100:6.2f} µs/request")
        for pct, sym in shares(data, "sym", ("--dso", name)):
            table.setdefault(sym, {})[n] = pct * us / 100
    print(f"\n{name} functions, µs per request (10 routes | {big} routes), by the difference:")
    rows = sorted(table.items(), key=lambda kv: kv[1].get(big, 0) - kv[1].get(10, 0), reverse=True)
    for sym, v in rows[:15]:
        print(f"  {v.get(10, 0):6.3f} | {v.get(big, 0):6.3f}  {sym[:110]}")
    print(f"\nperf data: {work}/perf-*.data")


if __name__ == "__main__":
    main()
