#!/usr/bin/env python3
"""Proxy throughput while its config changes: a 10k-route config rewritten N times per second
in the store vs. no changes.

Starts a file store in a temp dir, one fulcrum-echo, and one fulcrum-proxy --store on it
(--workers W). Revision 1 has `--routes` routes (one hostname each, r0.example.com ...), all to
the echo. Phase "steady": wrk for D seconds, no writes. Phase "churn": the same wrk while a
writer puts a new revision (one route's path prefix changed) into the store every 1/N s, straight
into the file store's layout (the control plane is left out: this measures the proxy's side).
Prints wrk's requests/s and latency for both phases and how many revisions the proxy applied.

    FULCRUM_BIN=build/bin python3 bench/distribution/churn.py --routes 10000 --rate 10 \\
        --duration 10 --workers 1

Stdlib + wrk.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration", "lib"))

import fulcrum_test as ft  # noqa: E402


def config(echo_addr, routes, variant):
    lines = ["apiVersion: fulcrum/v1", "listeners:", "  - {name: web, address: 127.0.0.1:0}",
             "routes:"]
    for i in range(routes):
        prefix = f"/v{variant}" if i == routes - 1 else "/"
        lines.append(f"  - name: r{i}")
        lines.append(f"    hostnames: [r{i}.example.com]")
        lines.append("    rules:")
        lines.append(f"      - matches: [{{path: {{type: PathPrefix, value: \"{prefix}\"}}}}]")
        lines.append("        backends: [{pool: p}]")
    lines += ["pools:", "  - name: p", f"    endpoints: [{{address: \"{echo_addr}\"}}]", ""]
    return "\n".join(lines)


def write_revision(store_dir, number, text):
    """Writes revision `number` into a file store and moves its current pointer (as the store's
    compareAndSwap does: files first, the pointer last, each by rename)."""
    revisions = os.path.join(store_dir, "revisions")
    os.makedirs(revisions, exist_ok=True)
    name = f"{number:020d}"
    meta = {"number": number, "author": "bench", "time": "2026-01-01T00:00:00.000Z",
            "message": "churn", "source": "api", "hash": "0", "parent": number - 1}
    for suffix, data in ((".config", text), (".meta.json", json.dumps(meta))):
        temp = os.path.join(revisions, f".{name}{suffix}.tmp")
        with open(temp, "w") as f:
            f.write(data)
        os.rename(temp, os.path.join(revisions, name + suffix))
    temp = os.path.join(store_dir, ".current.tmp")
    with open(temp, "w") as f:
        f.write(f"{number}\n")
    os.rename(temp, os.path.join(store_dir, "current"))


def run_wrk(addr, duration, connections):
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-H",
                          "Host: r0.example.com", f"http://{addr}/"],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    latency = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "latency_avg": latency.group(1), "latency_max": latency.group(3),
            "non2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(1) if socket_errors else "none"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--routes", type=int, default=10000)
    parser.add_argument("--rate", type=float, default=10.0, help="revisions per second")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="fulcrum-bench-churn-")
    store_dir = os.path.join(work, "store")
    processes = []
    try:
        echo, echo_addr = ft.start_echo("b", log_dir=work)
        processes.append(echo)
        started = time.monotonic()
        write_revision(store_dir, 1, config(echo_addr, args.routes, 0))
        proxy = ft.Process([ft.bin_path("fulcrum-proxy"), "--store", "file://" + store_dir,
                            "--admin", "127.0.0.1:0", "--workers", args.workers, "--id",
                            "churn", "--cache-dir", os.path.join(work, "cache")],
                           name="proxy", log_dir=work)
        processes.append(proxy)
        admin = proxy.wait_for_line(r"^admin on (\S+)$").group(1)
        addr = proxy.wait_for_line(r"^listening web on (\S+)$", timeout=120).group(1)
        print(f"{args.routes} routes: first revision serving after "
              f"{time.monotonic() - started:.2f}s")

        steady = run_wrk(addr, args.duration, args.connections)

        def generation():
            return ft.get_json(admin, "/config")["generation"]

        before = generation()
        stop = threading.Event()
        written = [1]

        # Texts made up front, so that the writer costs a few file writes per change, not YAML
        # generation (the machine is small; its CPU should go to the proxy and wrk).
        texts = [config(echo_addr, args.routes, v) for v in range(1, 21)]

        def writer():
            period = 1.0 / args.rate
            next_at = time.monotonic()
            while not stop.is_set():
                written[0] += 1
                write_revision(store_dir, written[0], texts[written[0] % len(texts)])
                next_at += period
                stop.wait(max(0.0, next_at - time.monotonic()))

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        churn = run_wrk(addr, args.duration, args.connections)
        stop.set()
        thread.join()
        applied = generation() - before

        print(f"workers={args.workers} connections={args.connections} "
              f"duration={args.duration}s")
        print(f"steady: {steady['rps']:.0f} req/s, latency avg {steady['latency_avg']} max "
              f"{steady['latency_max']}, non-2xx {steady['non2xx']}, "
              f"socket errors {steady['socket_errors']}")
        print(f"churn:  {churn['rps']:.0f} req/s, latency avg {churn['latency_avg']} max "
              f"{churn['latency_max']}, non-2xx {churn['non2xx']}, "
              f"socket errors {churn['socket_errors']}")
        print(f"revisions written {written[0] - 1} ({args.rate}/s), applied by the proxy "
              f"{applied} (latest-state: a proxy that falls behind skips to the newest)")
        print(f"throughput under churn: {100 * churn['rps'] / steady['rps']:.0f}% of steady")
    finally:
        for p in reversed(processes):
            p.stop()
        ft.stop_all()


if __name__ == "__main__":
    main()
