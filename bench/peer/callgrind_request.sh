#!/usr/bin/env bash
# User-space instructions per keep-alive request of fulcrum-proxy, by function (load-independent;
# docs/performance.md "Where the time goes"). The peer-bench setup (bench/peer/candidate.sh's
# config: one route, round robin over 3 fulcrum-echo backends, 1 worker) with the proxy under
# callgrind: a warm-up fills the upstream pool, then instrumentation is switched on for a
# bounded `wrk -t1 -c$CONNS -d${DURATION}s` and the instructions are divided by wrk's requests.
#   bench/peer/callgrind_request.sh [BIN_DIR]          (default build/bin)
#   CONNS=64 DURATION=5 TOP=40; WRK_HEADER="Connection: close" for a new connection per request;
#   WORKERS=2 for two workers (issue 8, target 5: the same work per request as with one).
# Prints Ir per request, the calls to malloc/free per request, and the top functions by
# exclusive and inclusive cost per request; the profile stays in $OUT (default a temp dir).
# Needs valgrind and wrk. Loopback only; every process is stopped by PID on exit.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
bin=${1:-$here/build/bin}
: "${CONNS:=64}" "${DURATION:=5}" "${TOP:=40}" "${WORKERS:=1}"
out=${OUT:-$(mktemp -d /tmp/fulcrum-cgreq-XXXXXX)}
mkdir -p "$out"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_line() { for _ in $(seq 1200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

backends=()
for i in 1 2 3; do
  "$bin/fulcrum-echo" --listen 127.0.0.1:0 --name "e$i" --threads 1 >"$out/echo$i.log" 2>&1 &
  pids+=($!)
  wait_line "$out/echo$i.log" "^listening on"
  backends+=("$(sed -n 's/^listening on //p' "$out/echo$i.log")")
done
# The proxy as peer-bench starts it (candidate.sh writes the config), under callgrind.
cat >"$out/proxy-under-callgrind" <<EOF
#!/bin/sh
export TMPDIR="${TMPDIR:-/tmp}" # where callgrind_control looks for valgrind's vgdb pipes
exec valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out/cg.out" \
  "$bin/fulcrum-proxy" "\$@"
EOF
chmod +x "$out/proxy-under-callgrind"
(IFS=,; LISTEN=127.0.0.1:0 BACKENDS="${backends[*]}" WORKERS="$WORKERS" TMPDIR="$out" \
  FULCRUM_PROXY="$out/proxy-under-callgrind" exec "$here/bench/peer/candidate.sh") \
  >"$out/proxy.log" 2>&1 &
proxy=$!
pids+=($proxy)
wait_line "$out/proxy.log" "^listening bench on"
addr=$(sed -n 's/^listening bench on //p' "$out/proxy.log")
wrk_args=()
[ -z "${WRK_HEADER:-}" ] || wrk_args=(-H "$WRK_HEADER")
wrk -t1 -c"$CONNS" -d3s "${wrk_args[@]}" "http://$addr/" >/dev/null # warm-up
callgrind_control -i on "$proxy" >/dev/null
wrk -t1 -c"$CONNS" -d"${DURATION}s" "${wrk_args[@]}" "http://$addr/" >"$out/wrk.txt"
callgrind_control -i off "$proxy" >/dev/null
kill "$proxy"
wait "$proxy" 2>/dev/null || true
requests=$(awk '/requests in/ {print $1}' "$out/wrk.txt")
errors=$(grep -E "Non-2xx|Socket errors" "$out/wrk.txt" || true)
echo "$WORKERS worker(s), $CONNS connections ${WRK_HEADER:-keep-alive}: $requests requests ${errors:+($errors)}"
callgrind_annotate "$out/cg.out" 2>/dev/null | grep "PROGRAM TOTALS" | tr -d , |
  awk -v r="$requests" '{printf "  user-space instructions per request: %.0f\n", $1 / r}'
# Calls to the allocator: callgrind_annotate --inclusive lists call counts only with --tree; the
# raw "calls=" lines to malloc/free targets are summed instead.
python3 - "$out/cg.out" "$requests" "$TOP" <<'PY'
import re, subprocess, sys
path, requests, top = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
names, calls, cur = {}, {}, None
cfn = None
for line in open(path, errors="replace"):
    m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?", line)
    if m:
        if m.group(3):
            names[m.group(2)] = m.group(3).strip()
        if m.group(1) == "cfn":
            cfn = names.get(m.group(2))
        continue
    if line.startswith("calls=") and cfn:
        calls[cfn] = calls.get(cfn, 0) + int(line[6:].split()[0])
alloc = {k: v for k, v in calls.items()
         if re.fullmatch(r"(malloc|free|calloc|realloc|operator new.*|operator delete.*|_int_malloc|_int_free)", k.split("'")[0])}
for k, v in sorted(alloc.items(), key=lambda kv: -kv[1]):
    print(f"  calls to {k}: {v} ({v / requests:.4f} per request)")
for mode in ("exclusive", "inclusive"):
    args = ["callgrind_annotate", "--threshold=100"] + (["--inclusive=yes"] if mode == "inclusive" else []) + [path]
    text = subprocess.run(args, capture_output=True, text=True).stdout.splitlines()
    print(f"  top {top} functions by {mode} instructions per request:")
    n = 0
    started = False
    for l in text:
        if re.match(r"^-+$", l.strip()) and started is False and n == 0:
            continue
        m = re.match(r"^\s*([\d,]+) \(\s*([\d.]+)%\)\s+(\S.*)$", l)
        if not m or "PROGRAM TOTALS" in l:
            continue
        ir = int(m.group(1).replace(",", ""))
        name = re.sub(r"^[^:]*:", "", m.group(3), count=1) if ":" in m.group(3).split(" ")[0] else m.group(3)
        print(f"  {ir / requests:9.1f}  {m.group(2):>6}%  {name[:150]}")
        n += 1
        if n >= top:
            break
PY
echo "profile: $out/cg.out"
