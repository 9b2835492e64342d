#!/usr/bin/env python3
"""Who kept a woken worker waiting for its CPU? (issue 8, target 7; ADR 0018)

Reads `perf script` output of a capture of one CPU with scheduler events and stacks, and lists
every time the worker thread waited for the CPU longer than a threshold (from its wake-up, or
from being switched out while runnable, until it runs again):
how long, which threads' samples fall in the wait, and what the main thread was doing (its top
frames of our code).

Capture, with fulcrum-proxy pinned to CPU 0 under load and config churn (for example the
churn scenario of bench/scale/scale.py, or a proxy, wrk and a writer started by hand):

  perf record -C 0 -e sched:sched_switch -e sched:sched_wakeup -e cpu-clock -c 50000 \\
      --call-graph dwarf,16384 -o /tmp/waits.data -- sleep 5
  perf script -i /tmp/waits.data -F comm,tid,time,event,ip,sym,trace > /tmp/waits.txt
  bench/scale/worker_waits.py /tmp/waits.txt --worker TID --main PID [--over 0.4]

The worker's TID is the proxy's thread that is not the main thread and has the most CPU (ps -L).
Samples by tid 0 are the idle task or interrupts; kernel threads appear under their own tid.
"""

import argparse
import collections
import re

HEADER = re.compile(r"\s*(.+?)\s+(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)")
# Frames that say nothing about which of our loops ran (kernel entry, scheduler, libraries).
NOISE = ("__", "entry", "do_", "schedule", "pvm", "x64", "asm_", "exc_", "handle", "clear",
         "folio", "vma_", "finish_task", "irqentry", "sysvec", "ret_from", "std::", "boost::",
         "operator", "[unknown]")


def read_events(path):
    events, current = [], None
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            if not line.startswith("\t"):
                m = HEADER.match(line)
                current = None
                if m:
                    current = {"tid": m.group(2), "t": float(m.group(3)), "event": m.group(4),
                               "trace": m.group(5), "stack": []}
                    events.append(current)
            elif current is not None:
                parts = line.strip().split(None, 1)
                if len(parts) == 2:
                    current["stack"].append(parts[1])
    return events


def top_frames(stack, n=3):
    frames = [s for s in stack if not s.startswith(NOISE)]
    return " < ".join(f.split("(")[0][:70] for f in frames[:n])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("script", help="perf script output (fields comm,tid,time,event,ip,sym,trace)")
    ap.add_argument("--worker", required=True, help="the worker thread's TID")
    ap.add_argument("--main", required=True, help="the main thread's TID (the proxy's PID)")
    ap.add_argument("--over", type=float, default=0.4, help="report waits longer than this (ms)")
    args = ap.parse_args()
    events = read_events(args.script)
    woken, count, total = None, 0, 0
    on_cpu = False  # a wake-up of a thread still on its CPU (about to sleep) is no wait
    for i, e in enumerate(events):
        switch = e["event"].startswith("sched:sched_switch")
        switched_out = switch and f"prev_pid={args.worker} " in e["trace"]
        switched_in = switch and f"next_pid={args.worker} " in e["trace"] + " "
        woken_now = (e["event"].startswith("sched:sched_wakeup")
                     and f"pid={args.worker} " in e["trace"] + " " and not on_cpu)
        if switched_out:
            on_cpu = False
        if woken_now or (switched_out and re.search(r"prev_state=R", e["trace"])):
            # Woken, or switched out while still runnable (preempted): from here it waits for
            # the CPU.
            if woken is None:
                woken = (e["t"], i)
        elif switched_in:
            on_cpu = True
            if woken is None:
                continue
            wait_ms = (e["t"] - woken[0]) * 1e3
            total += 1
            if wait_ms > args.over:
                count += 1
                by_thread = collections.Counter()
                main_frames = collections.Counter()
                for x in events[woken[1]:i]:
                    if x["event"] == "cpu-clock":
                        by_thread[x["tid"]] += 1
                        if x["tid"] == args.main:
                            main_frames[top_frames(x["stack"])] += 1
                print(f"{woken[0]:.4f} waited {wait_ms:.2f} ms; samples by tid {dict(by_thread)}")
                for frames, n in main_frames.most_common(5):
                    print(f"      {n} {frames}")
            woken = None
    print(f"{count} of {total} waits for the CPU were over {args.over} ms")


if __name__ == "__main__":
    main()
