#!/usr/bin/env python3
"""CPU per request of several proxies in one run, in interleaved slices (issue 8, target 1).

peer-bench.sh runs each proxy for a few seconds, one after the other; on a VM whose speed drifts
by up to 40 % within minutes, a ratio of two such runs moves by more than the differences being
measured. This runs every setup at once (one loaded at a time) in front of one NGINX backend
process and visits them with `wrk -t1 -cCONNS` in short slices, round after round in rotating
order, and reports each setup's CPU per request, requests/s and p99 as the median of its ratios
to the first setup, slice pair by slice pair (seconds apart).

  bench/peer/interleave.py [--proxy build/bin/fulcrum-proxy] [--rounds 10] [--slice 3]
      [--pin] SETUP...
  SETUP: haproxy | fulcrum[@BINARY][:FLAGS]   e.g.  haproxy fulcrum "fulcrum:--send-batching off"
  fulcrum@/tmp/old-fulcrum-proxy: another build of fulcrum-proxy side by side (A/B of a change)
  --pin: the proxies on CPU 0, NGINX and wrk on CPU 1 (peer-bench's phase-1 layout); without it
  nothing is pinned.

Every proxy has 1 worker. Only loopback is used; every process is started here and stopped by
PID; every slice is bounded by wrk's duration. Needs wrk, nginx and haproxy.
"""

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import workers  # noqa: E402  (start_fulcrum, start_haproxy, load_slice; scale via workers)

scale = workers.scale


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("setups", nargs="+")
    ap.add_argument("--proxy", default="build/bin/fulcrum-proxy")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--slice", type=int, default=3, help="seconds per slice")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--pin", action="store_true")
    args = ap.parse_args()
    for tool in ("wrk", "nginx", "haproxy", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"interleave.py: {tool} not found (apt-get install -y {tool})")
    work = tempfile.mkdtemp(prefix="fulcrum-interleave-")
    run = scale.Run(args, work)
    if not args.pin:
        run.proxy_cpu = run.load_cpu = None
    try:
        backend_port = scale.free_ports(1)[0]
        run.start_nginx([backend_port])  # on the load CPU when pinned
        proxies = []
        for i, setup in enumerate(args.setups):
            kind, _, flags = setup.partition(":")
            pin = scale.taskset(run.proxy_cpu)
            if kind == "haproxy":
                name, proc, listen = workers.start_haproxy(run, backend_port, 1, prefix=pin)
            elif kind.partition("@")[0] == "fulcrum":
                name, proc, listen = workers.start_fulcrum(run, backend_port, 1, prefix=pin,
                                                           extra=flags.split(), tag=str(i),
                                                           binary=kind.partition("@")[2] or None)
            else:
                sys.exit(f"interleave.py: unknown setup {setup!r}")
            proxies.append((setup, proc, listen))
        wrk_prefix = scale.taskset(run.load_cpu)
        for _, _, listen in proxies:
            workers.wrk(run, listen, 2, wrk_prefix)  # warm up
        results = {setup: [] for setup, _, _ in proxies}
        for rnd in range(args.rounds):
            shift = rnd % len(proxies)
            for setup, proc, listen in proxies[shift:] + proxies[:shift]:
                r = workers.load_slice(run, proc, listen, args.slice, wrk_prefix)
                results[setup].append(r)
                scale.report(setup.replace(" ", "_"), f"round{rnd + 1}_cpu_us_per_req",
                             r["cpu_us_per_req"])
        base = proxies[0][0]
        for setup, _, _ in proxies:
            rs = results[setup]
            for key in ("cpu_us_per_req", "rps", "p99_ms"):
                print(f"SUMMARY {setup!r} {key} median {scale.median([x[key] for x in rs]):.3f} "
                      f"paired_ratio_to {base!r} {scale.paired(rs, results[base], key)}",
                      flush=True)
            print(f"SUMMARY {setup!r} errors {sum(x['errors'] for x in rs)}", flush=True)
    finally:
        run.stop_all()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
