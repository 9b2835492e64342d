#!/bin/bash
# Load-independent cost of a request against N routes: the proxy under callgrind with cache
# simulation, fulcrum-echo behind it, wrk rotating over min(N, 4096) random routes (as
# scale.py does). Prints instructions, data reads and simulated L1 misses per request.
#   bench/scale/callgrind_routes.sh ROUTES [CONNECTIONS] [SECONDS]
#   e.g. bench/scale/callgrind_routes.sh 10; bench/scale/callgrind_routes.sh 100000
# Needs valgrind and wrk. Loopback only; every process is stopped by PID on exit.
set -euo pipefail
N=${1:?routes}; C=${2:-8}; DUR=${3:-12}
BIN=${BIN:-$(cd "$(dirname "$0")/../.." && pwd)/build/bin}
D=$(mktemp -d /tmp/fulcrum-cg-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
"$BIN/fulcrum-echo" --listen 127.0.0.1:0 >"$D/echo.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do grep -q listening "$D/echo.out" 2>/dev/null && break; sleep 0.1; done
EADDR=$(grep -oE "127.0.0.1:[0-9]+" "$D/echo.out" | head -1)
python3 - "$N" "$EADDR" "$D" <<'PY'
import json, random, sys
n, ep, d = int(sys.argv[1]), sys.argv[2], sys.argv[3]
routes = [{"name": f"r{i}", "hostnames": [f"h{i:06d}.bench"],
           "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": f"/svc/{i:06d}"}}],
                      "backends": [{"pool": "p"}]}]} for i in range(n)]
cfg = {"apiVersion": "fulcrum/v1",
       "listeners": [{"name": "web", "address": "127.0.0.1:0", "limits": {"maxConnections": 0}}],
       "routes": routes,
       "pools": [{"name": "p", "algorithm": "round_robin", "endpoints": [{"address": ep}]}]}
json.dump(cfg, open(f"{d}/proxy.json", "w"))
k = 4096  # the same request table for every N (scale.py)
rng = random.Random(42)
picks = [rng.randrange(n) for _ in range(k)]
with open(f"{d}/rotate.lua", "w") as f:
    f.write("local hosts = {" + ",".join(f'"h{i:06d}.bench"' for i in picks) + "}\n")
    f.write("local paths = {" + ",".join(f'"/svc/{i:06d}/x{j:04d}"'
                                         for j, i in enumerate(picks)) + "}\n")
    f.write(f"local n = 0\nrequest = function()\n  n = n % {k} + 1\n"
            "  return wrk.format('GET', paths[n], {Host = hosts[n]})\nend\n")
PY
valgrind --tool=callgrind --cache-sim=yes --instr-atstart=no --callgrind-out-file="$D/cg.out" \
  "$BIN/fulcrum-proxy" --config "$D/proxy.json" --workers 1 --admin 127.0.0.1:0 --id cg \
  >"$D/proxy.out" 2>&1 &
PPID_=$!
pids+=("$PPID_")
for _ in $(seq 1200); do grep -q "^listening web on" "$D/proxy.out" 2>/dev/null && break; sleep 0.5; done
LADDR=$(grep -oE "^listening web on \S+" "$D/proxy.out" | awk '{print $4}')
wrk -t1 -c"$C" -d3s -s "$D/rotate.lua" "http://$LADDR/" >/dev/null # warm-up
callgrind_control -i on "$PPID_" >/dev/null
wrk -t1 -c"$C" -d"${DUR}s" -s "$D/rotate.lua" "http://$LADDR/" >"$D/wrk.out"
callgrind_control -i off "$PPID_" >/dev/null
kill "$PPID_"; wait "$PPID_" 2>/dev/null || true
R=$(grep -oE "^ +[0-9]+ requests" "$D/wrk.out" | awk '{print $1}')
callgrind_annotate "$D/cg.out" 2>/dev/null | grep "PROGRAM TOTALS" | sed 's/([^)]*)//g' |
  awk -v r="$R" -v n="$N" '{gsub(",", ""); printf "routes=%s requests=%d Ir/req=%.0f Dr/req=%.0f D1mr/req=%.1f D1mw/req=%.1f\n", n, r, $1/r, $2/r, $5/r, $6/r}'
echo "profile: $D/cg.out (callgrind_annotate --sort=D1mr)"
