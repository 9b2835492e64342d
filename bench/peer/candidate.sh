#!/usr/bin/env bash
# The peer-bench candidate command for fulcrum-proxy (see /work/shared/bench/README.md):
#   CANDIDATE_CMD="$PWD/bench/peer/candidate.sh" CANDIDATE_PORT=18400 peer-bench.sh
# Writes a config from $LISTEN and $BACKENDS (round robin, upstream keep-alive is always on)
# and execs the proxy with $WORKERS workers, plus the flags in $FULCRUM_EXTRA_ARGS (split on
# spaces; e.g. "--access-log /tmp/access.log --trace-sample 0.01"). The binary: $FULCRUM_PROXY, else build/bin (the
# release preset), else build/h-proxy/bin (a helper's build dir).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
proxy="${FULCRUM_PROXY:-$here/build/bin/fulcrum-proxy}"
[ -x "$proxy" ] || proxy="$here/build/h-proxy/bin/fulcrum-proxy"
: "${LISTEN:?LISTEN=127.0.0.1:PORT}" "${BACKENDS:?BACKENDS=a:p,b:p}" "${WORKERS:=1}"
# One file per port, rewritten each run (exec leaves no shell behind to clean a temp dir up).
config="${TMPDIR:-/tmp}/fulcrum-bench-${LISTEN##*:}.yaml"
{
  echo "apiVersion: fulcrum/v1"
  echo "listeners:"
  echo "  - {name: bench, address: \"$LISTEN\"}"
  echo "routes:"
  echo "  - name: all"
  echo "    rules:"
  echo "      - backends: [{pool: backends}]"
  echo "pools:"
  echo "  - name: backends"
  echo "    algorithm: round_robin"
  echo "    endpoints:"
  IFS=, read -ra eps <<<"$BACKENDS"
  for ep in "${eps[@]}"; do echo "      - {address: \"$ep\"}"; done
} >"$config"
read -ra extra <<<"${FULCRUM_EXTRA_ARGS:-}"
exec "$proxy" --config "$config" --workers "$WORKERS" --admin 127.0.0.1:0 --id bench "${extra[@]}"
