#!/usr/bin/env python3
"""Config propagation: time from an API write (PUT /api/v1/config to fulcrum-control) until every
proxy serves it, measured on the data path.

Starts a store (one etcd member on loopback, or a file store in a temp dir), fulcrum-control, N
proxies watching the store (1 worker each) and one fulcrum-echo. Each change is a new config
whose route sets the response header `x-rev: K`; one thread per proxy polls GET / on a
keep-alive connection until the header says K. Latency of change K = the last proxy's first K
answer minus the moment before the PUT was sent. Prints p50/p90/p99/max over the changes.

    FULCRUM_BIN=build/bin python3 bench/distribution/propagation.py --store etcd --changes 100
    FULCRUM_BIN=build/bin python3 bench/distribution/propagation.py --store file --changes 100

Stdlib only; reuses tests/integration/lib (processes, etcd).
"""

import argparse
import json
import os
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration", "lib"))

import etcd_support  # noqa: E402
import fulcrum_test as ft  # noqa: E402

TOKENS = "bench-token editor bench\n"


def config(echo_addr, rev):
    return ("apiVersion: fulcrum/v1\n"
            "listeners:\n"
            "  - {name: web, address: 127.0.0.1:0}\n"
            "routes:\n"
            "  - name: all\n"
            "    rules:\n"
            "      - backends: [{pool: p}]\n"
            "        filters:\n"
            "          - type: ResponseHeaderModifier\n"
            f"            responseHeaderModifier: {{set: [{{name: x-rev, value: \"{rev}\"}}]}}\n"
            "pools:\n"
            "  - name: p\n"
            f"    endpoints: [{{address: \"{echo_addr}\"}}]\n")


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, int(round(p / 100 * len(sorted_values))) - 1))
    return sorted_values[index]


class Poller(threading.Thread):
    """Polls one proxy; records the first time each x-rev value is seen."""

    def __init__(self, addr):
        super().__init__(daemon=True)
        self.addr = addr
        self.seen = {}
        self.stop = threading.Event()
        self.errors = 0

    def run(self):
        client = ft.HttpClient(self.addr, timeout=5)
        while not self.stop.is_set():
            try:
                status, headers, _ = client.request("GET", "/")
            except OSError:
                self.errors += 1
                client.close()
                client = ft.HttpClient(self.addr, timeout=5)
                continue
            rev = headers.get("x-rev")
            if status == 200 and rev is not None and rev not in self.seen:
                self.seen[rev] = time.monotonic()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=("etcd", "file"), default="etcd")
    parser.add_argument("--proxies", type=int, default=3)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--json", help="write the raw latencies (ms) to this file")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="fulcrum-bench-propagation-")
    processes = []
    etcd = None
    try:
        echo, echo_addr = ft.start_echo("b", log_dir=work)
        processes.append(echo)
        if args.store == "etcd":
            etcd = etcd_support.start_etcd(work)
            store = etcd.url("/bench")
        else:
            store = "file://" + os.path.join(work, "store")
        tokens = os.path.join(work, "tokens")
        with open(tokens, "w") as f:
            f.write(TOKENS)
        control = ft.Process([ft.bin_path("fulcrum-control"), "--store", store, "--listen",
                              "127.0.0.1:0", "--tokens", tokens], name="control", log_dir=work)
        processes.append(control)
        control_addr = control.wait_for_line(r"^listening on (\S+)$").group(1)

        def put(text):
            status, _, body = ft.http_request(
                control_addr, "PUT", "/api/v1/config", body=text,
                headers={"Authorization": "Bearer bench-token",
                         "Content-Type": "application/yaml"})
            if status != 200:
                raise RuntimeError(f"PUT /api/v1/config: {status} {body[:300]!r}")
            return json.loads(body)["current"]

        put(config(echo_addr, 0))
        addrs = []
        for i in range(args.proxies):
            proxy = ft.Process([ft.bin_path("fulcrum-proxy"), "--store", store, "--admin",
                                "127.0.0.1:0", "--workers", "1", "--id", f"bench-{i}",
                                "--cache-dir", os.path.join(work, f"cache-{i}")],
                               name=f"proxy-{i}", log_dir=work)
            processes.append(proxy)
            addrs.append(proxy.wait_for_line(r"^listening web on (\S+)$").group(1))
        pollers = [Poller(a) for a in addrs]
        for p in pollers:
            p.start()
        ft.wait_until(lambda: all("0" in p.seen for p in pollers), message="proxies serve rev 0")

        latencies, writes = [], []
        for k in range(1, args.changes + 1):
            started = time.monotonic()
            put(config(echo_addr, k))
            writes.append((time.monotonic() - started) * 1000)
            key = str(k)
            ft.wait_until(lambda: all(key in p.seen for p in pollers), interval=0.001,
                          message=f"change {k} everywhere")
            latencies.append((max(p.seen[key] for p in pollers) - started) * 1000)
        for p in pollers:
            p.stop.set()
        errors = sum(p.errors for p in pollers)

        print(f"store={args.store} proxies={args.proxies} changes={len(latencies)} "
              f"poll_errors={errors}")
        for label, values in (("write -> every proxy serving it", latencies),
                              ("the PUT call alone (control + store write)", writes)):
            ordered = sorted(values)
            print(f"{label} (ms): p50 {percentile(ordered, 50):.1f}  "
                  f"p90 {percentile(ordered, 90):.1f}  p99 {percentile(ordered, 99):.1f}  "
                  f"max {ordered[-1]:.1f}  min {ordered[0]:.1f}")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"store": args.store, "latencies_ms": latencies, "put_ms": writes}, f)
    finally:
        for p in reversed(processes):
            p.stop()
        if etcd is not None:
            etcd.stop()
        ft.stop_all()


if __name__ == "__main__":
    main()
