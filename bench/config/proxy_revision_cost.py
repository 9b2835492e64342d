#!/usr/bin/env python3
"""Instructions per config revision in a running fulcrum-proxy (load-independent; issue 8 target 7).

Runs PROXY (1 worker) under callgrind on a 10k-route JSON config (bench/scale/scale.py's
write_config), rewrites the file N times (atomic rename, one change at a time, waiting for each
"compiled and published" line), and counts the instructions executed inside
FileConfigSource::load (load, validate, Server::apply: compile and publish; the start-up load
and every paced reload run it) and
SnapshotReclaimer::drain (freeing replaced snapshots, on the main thread since the reclaimer).
Run it with N=1 and N=4 and divide the difference by 3: that removes the startup load.

  bench/config/proxy_revision_cost.py build/bin/fulcrum-proxy 1
  bench/config/proxy_revision_cost.py build/bin/fulcrum-proxy 4

Before the reclaimer the replaced snapshot was freed by the worker, outside what is counted.
Only loopback is used (the listener binds 127.0.0.1:0; no traffic); the proxy is stopped by PID.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scale"))
import scale  # noqa: E402


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    proxy, n = sys.argv[1], int(sys.argv[2])
    work = tempfile.mkdtemp(prefix="fulcrum-revision-cost-")
    config = os.path.join(work, "proxy.json")
    variants = [scale.Run.config_text(10000, [18081, 18082, 18083], v) for v in range(1, 5)]
    scale.Run.write_bytes(config, variants[0])
    log = os.path.join(work, "proxy.out")
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={work}/callgrind.out",
         "--collect-atstart=no", "--toggle-collect=*FileConfigSource::load*",
         "--toggle-collect=*SnapshotReclaimer::drain*", proxy, "--config", config,
         "--workers", "1", "--admin", "127.0.0.1:0"],
        stdout=open(log, "w"), stderr=subprocess.STDOUT)

    def applied():
        return len(re.findall(r"compiled and published", open(log).read()))

    try:
        deadline = time.monotonic() + 600
        while applied() < 1 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        for i in range(n):
            time.sleep(1.0)  # longer than the watcher's debounce: every change is applied
            scale.Run.write_bytes(config, variants[(i + 1) % len(variants)])
            while applied() < i + 2 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.2)
        time.sleep(3)  # the reclaimer's drain after the last revision
    finally:
        proc.terminate()
        proc.wait(120)
    text = open(log).read()
    m = re.search(r"Collected : (\d+)", text)
    print(f"revisions_applied {applied()} instructions {m.group(1) if m else 'n/a'}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
