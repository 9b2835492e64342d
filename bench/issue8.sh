#!/usr/bin/env bash
# Every issue-8 target in one run, in the order docs/performance.md reports them. Run it on a
# quiet machine (nothing else building or serving; about 15 minutes), from the repo root, with a
# release build: `cmake --build --preset release`. Results go to $OUT (default
# /tmp/fulcrum-issue8-<time>), one directory or log per benchmark; the summary lines are printed.
# All traffic stays on loopback; every benchmark bounds its own duration and stops its processes.
#
#   bench/issue8.sh                  # all targets
#   TARGETS="1 7" bench/issue8.sh    # some of them (1/2/5 share one peer-bench run)
#   TARGETS="sweep" bench/issue8.sh  # also: CPU per request from 16 to 1024 connections
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
out="${OUT:-/tmp/fulcrum-issue8-$(date -u +%Y%m%dT%H%M%S)}"
targets=" ${TARGETS:-1 3 4 6 7 sweep} "
mkdir -p "$out"
export FULCRUM_PROXY="$here/build/bin/fulcrum-proxy" CANDIDATE_CMD="$here/bench/peer/candidate.sh" \
  CANDIDATE_PORT=18400 CANDIDATE_NAME=fulcrum
shared=/work/shared/bench
want() { [[ "$targets" == *" $1 "* ]]; }

if want 1 || want 2 || want 5; then # keep-alive, connection per request, 2 workers
  OUT_DIR="$out/peer" PEERS="direct haproxy nginx" REPS=3 "$shared/peer-bench.sh" \
    >"$out/peer.log" 2>&1
  tail -n 40 "$out/peer.log"
fi
if want 1; then # keep-alive again, every proxy at once in interleaved slices (no drift)
  for pin in --pin ""; do
    bench/peer/interleave.py $pin --rounds 8 haproxy fulcrum "fulcrum:--recv-batching off" \
      "fulcrum:--recv-batching off --send-batching off" \
      >"$out/interleave$pin.log" 2>&1
    grep SUMMARY "$out/interleave$pin.log"
  done
fi
if want 5; then # 1 vs 2 workers under the same placement, HAProxy 1 vs 2 threads beside
  bench/peer/workers.py --rounds 10 >"$out/workers.log" 2>&1
  grep SUMMARY "$out/workers.log"
fi
if want 3; then # 1 MiB bodies
  OUT_DIR="$out/large" PEERS=haproxy REPS=3 "$shared/large-body.sh" >"$out/large.log" 2>&1
  tail -n 20 "$out/large.log"
fi
if want 4; then # 10,000 idle keep-alive connections
  OUT_DIR="$out/connmem" NS=10000 REPS=2 PEERS="haproxy nginx" "$shared/conn-memory.sh" \
    >"$out/connmem.log" 2>&1
  tail -n 20 "$out/connmem.log"
fi
if want 6; then # routes and endpoints: every config's proxy at once, short interleaved slices
  bench/scale/scale.py --proxy build/bin/fulcrum-proxy --routes 10,10000,100000 \
    --endpoints 3,1000 --churn "" --interleave 8 --slice 3 >"$out/scale.log" 2>&1
  grep SUMMARY "$out/scale.log"
fi
if want 7; then # config churn: quiet and churned proxies in alternating slices
  bench/scale/scale.py --proxy build/bin/fulcrum-proxy --routes "" --endpoints "" \
    --churn 10000 --interleave 8 --slice 5 >"$out/churn.log" 2>&1
  grep SUMMARY "$out/churn.log"
fi
if want sweep; then # connections 16..1024, beside HAProxy
  REPS=2 bench/peer/concurrency_sweep.sh build/bin >"$out/sweep.log" 2>&1
  cat "$out/sweep.log"
fi
echo "results in $out"
