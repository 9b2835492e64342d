#!/usr/bin/env python3
"""Syscalls per park/revive cycle of idle keep-alive connections (ADR 0006/0014).

Usage: bench/peer/park_syscalls.py PROXY_BINARY STRACE_OUT [IDLE_SECONDS [ROUNDS]]
Starts fulcrum-echo (next to PROXY_BINARY's build, else build/bin) and the proxy under
`strace -f -c -o STRACE_OUT`, then N keep-alive connections do R rounds of one GET each followed
by IDLE_SECONDS (default 0.3 > Worker::kParkAfter, so every connection parks and is revived;
0 for the busy keep-alive path, where nothing parks). Compare
two binaries' STRACE_OUT: the difference divided by N*R is the cost of an idle period. Loopback
only; every process is stopped by PID."""

import http.client, os, re, subprocess, sys, tempfile, time

proxy_bin, outfile = sys.argv[1], sys.argv[2]
IDLE = float(sys.argv[3]) if len(sys.argv) > 3 else 0.3
N, R = 20, int(sys.argv[4]) if len(sys.argv) > 4 else 10
bin_dir = os.path.dirname(os.path.abspath(proxy_bin))
if not os.path.exists(f"{bin_dir}/fulcrum-echo"):
    bin_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build/bin")
def wait_line(path, pattern):
    for _ in range(200):
        m = re.search(pattern, open(path).read(), re.M)
        if m:
            return m.group(1)
        time.sleep(0.05)
    raise SystemExit("no " + pattern)
procs = []
work = tempfile.mkdtemp(prefix="park-syscalls.")
try:
    echo = subprocess.Popen([f"{bin_dir}/fulcrum-echo", "--listen", "127.0.0.1:0", "--name", "e"],
                            stdout=open(os.path.join(work, "echo.out"), "w"), stderr=subprocess.STDOUT)
    procs.append(echo)
    eaddr = wait_line(os.path.join(work, "echo.out"), r"^listening on (\S+)")
    cfg = os.path.join(work, "proxy.yaml")
    open(cfg, "w").write(f"""apiVersion: fulcrum/v1
listeners:
  - {{name: web, address: "127.0.0.1:0"}}
routes:
  - name: all
    rules:
      - backends: [{{pool: p}}]
pools:
  - name: p
    endpoints:
      - {{address: "{eaddr}"}}
""")
    proxy = subprocess.Popen(["strace", "-f", "-c", "-o", outfile, proxy_bin, "--config", cfg,
                              "--admin", "127.0.0.1:0", "--workers", "1", "--id", "sys"],
                             stdout=open(os.path.join(work, "proxy.out"), "w"), stderr=subprocess.STDOUT)
    procs.append(proxy)
    addr = wait_line(os.path.join(work, "proxy.out"), r"^listening web on (\S+)")
    host, port = addr.rsplit(":", 1)
    print("proxy", addr, file=sys.stderr)
    conns = [http.client.HTTPConnection(host, int(port), timeout=10) for _ in range(N)]
    for r in range(R):
        for c in conns:
            c.request("GET", "/")
            resp = c.getresponse()
            resp.read()
            assert resp.status == 200
        time.sleep(IDLE)
        print("round", r, file=sys.stderr)
    for c in conns:
        c.close()
    time.sleep(0.3)
finally:
    if len(procs) > 1:  # stop the traced proxy itself; strace then writes its summary and exits
        for pid in subprocess.run(["pgrep", "-P", str(procs[1].pid)], capture_output=True,
                                  text=True).stdout.split():
            subprocess.run(["kill", pid])
        procs[1].wait(15)
    for p in reversed(procs):
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
