#!/usr/bin/env bash
# How CPU per request grows with the number of client connections, fulcrum-proxy beside HAProxy
# in the same run (issue 8: "show how cost grows"; docs/performance.md, "Cost as connections
# grow"). For each connection count and rep it runs bench/peer/syscall_profile.sh (one
# fulcrum-echo backend, keep-alive, 1 worker, COUNT=0: no tracepoints) for both proxies back to
# back, and prints requests/s, CPU per request and fulcrum's CPU ratio to HAProxy per rep.
#   bench/peer/concurrency_sweep.sh [BIN_DIR]
#   CONNS_LIST="16 64 256 1024" REPS=2 DURATION=3 WORKERS=1
# Loopback only; every run is bounded by DURATION and stops its processes by PID.
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
bin=${1:-$here/build/bin}
: "${CONNS_LIST:=16 64 256 1024}" "${REPS:=2}" "${DURATION:=3}" "${WORKERS:=1}"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

run() { # PROXY CONNS -> "requests/s cpu_us errors"
  PROXY=$1 CONNS=$2 COUNT=0 DURATION=$DURATION "$here/bench/peer/syscall_profile.sh" "$bin" \
    "$WORKERS" | awk '/proxy CPU/ {cpu = $3; rps = $7} /wrk:/ {errors = errors "+" $0}
      END {gsub(/ +/, "_", errors); print rps, cpu, (errors == "" ? "0" : errors)}'
}

printf '%-6s %-4s %14s %14s %14s %14s %7s  %s\n' conns rep "fulcrum req/s" "fulcrum us/req" \
  "haproxy req/s" "haproxy us/req" ratio "wrk errors (fulcrum, haproxy)"
for conns in $CONNS_LIST; do
  for rep in $(seq "$REPS"); do
    read -r freq fcpu ferr < <(run fulcrum "$conns")
    read -r hreq hcpu herr < <(run haproxy "$conns")
    printf '%-6s %-4s %14s %14s %14s %14s %7.2f  %s %s\n' "$conns" "$rep" "$freq" "$fcpu" \
      "$hreq" "$hcpu" "$(awk -v a="$fcpu" -v b="$hcpu" 'BEGIN {print a / b}')" "$ferr" "$herr"
  done
done
