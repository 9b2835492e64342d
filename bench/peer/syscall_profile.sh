#!/usr/bin/env bash
# Syscalls per request of fulcrum-proxy under a bounded keep-alive load (load-independent counts;
# docs/performance.md "Where the time goes"). Starts one fulcrum-echo backend and the proxy on
# loopback (ports from the OS), warms the upstream pool, then counts the proxy's syscalls with
# perf tracepoints (root or perf_event_paranoid <= 1) during `wrk -t1 -c$CONNS -d${DURATION}s`.
#   bench/peer/syscall_profile.sh [BIN_DIR] [WORKERS]      (defaults: build/bin, 1)
#   PROXY=haproxy bench/peer/syscall_profile.sh build/bin 2  the same counts for HAProxy (nbthread
#   WORKERS, one server with http-reuse always), side by side with fulcrum-proxy (issue 8, target 5).
#   WRK_HEADER="Connection: close" for a new connection per request; URL_PATH="/?bytes=1048576"
#   for 1 MiB responses from fulcrum-echo.
#   SYSTEM=1: also system-wide wake-ups, context switches and IPIs per request (who pays for
#   waking a sleeping peer: docs/performance.md, "Where the kernel time goes").
#   PROFILE=FILE: also `perf record -g -e cpu-clock` of the proxy into FILE (perf report -i FILE).
#   IDLE_HOGS=1: one SCHED_IDLE busy loop per CPU during the measurement: CPUs never go idle, so
#   no wake-up has to kick an idle CPU (the control experiment for target 1's kernel time).
#   PIN=1: the proxy on CPU 0, the backend and wrk on CPU 1 (peer-bench's layout).
#   PROXY_ARGS="...": extra fulcrum-proxy flags (e.g. "--send-batching off").
#   COUNT=0: no tracepoints (they slow both proxies a little): requests/s and CPU only.
# Prints each syscall per request, all syscalls per request (each one costs ~1 us on the PVM guest
# the benchmarks ran on: bench/net/syscall_bench), recvfrom calls that returned EAGAIN, context switches, and
# the proxy's CPU per request and requests/s (those two depend on the machine's load).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
bin=${1:-$here/build/bin}
workers=${2:-1}
: "${CONNS:=64}" "${DURATION:=3}"
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
wait_line() { for _ in $(seq 100); do grep -q "$2" "$1" && return 0; sleep 0.1; done; return 1; }

pin_proxy=() pin_load=()
if [ "${PIN:-0}" = 1 ]; then pin_proxy=(taskset -c 0) pin_load=(taskset -c 1); fi
"${pin_load[@]}" "$bin/fulcrum-echo" --listen 127.0.0.1:0 --name e --threads 1 >"$tmp/echo.log" 2>&1 &
pids+=($!)
wait_line "$tmp/echo.log" "^listening on"
backend=$(sed -n 's/^listening on //p' "$tmp/echo.log")
if [ "${PROXY:-fulcrum}" = haproxy ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$tmp/haproxy.cfg" <<CFG
global
  nbthread $workers
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend bench
  bind 127.0.0.1:$port
  default_backend backends
backend backends
  server e $backend
CFG
  "${pin_proxy[@]}" haproxy -db -f "$tmp/haproxy.cfg" >"$tmp/proxy.log" 2>&1 &
  proxy=$!
  pids+=($proxy)
  addr=127.0.0.1:$port
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
else
cat >"$tmp/proxy.yaml" <<YAML
apiVersion: fulcrum/v1
listeners:
  - {name: bench, address: "127.0.0.1:0"}
routes:
  - name: all
    rules:
      - backends: [{pool: backends}]
pools:
  - name: backends
    endpoints:
      - {address: "$backend"}
YAML
"${pin_proxy[@]}" "$bin/fulcrum-proxy" --config "$tmp/proxy.yaml" --workers "$workers" --admin 127.0.0.1:0 ${PROXY_ARGS:-} \
  --id bench >"$tmp/proxy.log" 2>&1 &
proxy=$!
pids+=($proxy)
wait_line "$tmp/proxy.log" "^listening bench on"
addr=$(sed -n 's/^listening bench on //p' "$tmp/proxy.log")
fi
"${pin_load[@]}" wrk -t1 -c"$CONNS" -d1s "http://$addr/" >/dev/null 2>&1 # warm-up: fills the upstream pool

perfs=()
if [ "${COUNT:-1}" != 0 ]; then
  events=syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendmsg,syscalls:sys_enter_sendto
  events+=,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl,syscalls:sys_enter_accept4
  events+=,syscalls:sys_enter_close,syscalls:sys_enter_epoll_pwait,syscalls:sys_enter_io_uring_enter
  events+=,context-switches,raw_syscalls:sys_enter
  perf stat -x, -e "$events" -p "$proxy" -o "$tmp/perf.csv" &
  perfs+=($!)
  perf stat -x, -e syscalls:sys_exit_recvfrom --filter 'ret == -11' -p "$proxy" -o "$tmp/eagain.csv" &
  perfs+=($!)
fi
if [ "${SYSTEM:-0}" = 1 ]; then
  system=sched:sched_wakeup,sched:sched_switch,ipi:ipi_send_cpu
  system+=,irq_vectors:call_function_single_entry,irq_vectors:reschedule_entry
  perf stat -a -x, -e "$system" -o "$tmp/system.csv" &
  perfs+=($!)
fi
if [ -n "${PROFILE:-}" ]; then
  perf record -q -g -e cpu-clock -F 4999 -p "$proxy" -o "$PROFILE" 2>/dev/null &
  perfs+=($!)
fi
if [ "${IDLE_HOGS:-0}" = 1 ]; then
  for _ in $(seq "$(nproc)"); do
    chrt --idle 0 sh -c 'while :; do :; done' &
    pids+=($!)
  done
fi
sleep 0.3
cpu0=$(awk '{print $14 + $15}' "/proc/$proxy/stat")
wrk_args=()
[ -z "${WRK_HEADER:-}" ] || wrk_args=(-H "$WRK_HEADER")
"${pin_load[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" "${wrk_args[@]}" "http://$addr${URL_PATH:-/}" >"$tmp/wrk.txt" 2>&1
cpu1=$(awk '{print $14 + $15}' "/proc/$proxy/stat")
[ ${#perfs[@]} = 0 ] || { kill -INT "${perfs[@]}"; wait "${perfs[@]}" || true; }
requests=$(awk '/requests in/ {print $1}' "$tmp/wrk.txt")
ticks=$(getconf CLK_TCK)
echo "${PROXY:-fulcrum}, workers $workers, $CONNS connections ${WRK_HEADER:-keep-alive}: $requests requests"
grep -E "Non-2xx|Socket errors" "$tmp/wrk.txt" | sed 's/^ */  wrk: /' || true
touch "$tmp/perf.csv" "$tmp/eagain.csv" "$tmp/system.csv"
sed 's/syscalls:sys_exit_recvfrom/recvfrom_EAGAIN/' "$tmp/eagain.csv" |
  cat "$tmp/perf.csv" - "$tmp/system.csv" |
  awk -F, -v r="$requests" '$1 ~ /^[0-9]+$/ {sub("syscalls:sys_enter_", "", $3);
    sub("^[a-z_]+:", "", $3); if ($3 == "sys_enter") $3 = "all syscalls"; printf "  %-28s %10d  %6.3f per request\n", $3, $1, $1 / r}'
awk -v c=$((cpu1 - cpu0)) -v t="$ticks" -v r="$requests" -v d="$DURATION" \
  'BEGIN {printf "  proxy CPU %.1f us per request, %.0f requests/s (load-dependent)\n",
    c / t * 1e6 / r, r / d}'
