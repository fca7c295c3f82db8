#!/usr/bin/env bash
# Streaming scale through pdgate, measured with pdgate-bench: N concurrent streams (default
# 1000, 5000, 10000) direct to one sim and through pdgate (aggregated, one thread). Reports per N:
# completed/failed, mean ITL direct and routed (added ITL = the difference), pdgate's peak RSS
# (VmHWM) and the most open fds seen (sampled every 50 ms). Stops everything it started.
# Usage: bench/scripts/streaming_scale.sh [build-dir] [N...]
# PDGATE=/path/to/pdgate overrides the router binary (default: build-dir/bin/pdgate).
set -euo pipefail
# shellcheck source=bench/scripts/agg_bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/agg_bench_lib.sh"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
shift || true
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000 5000 10000)
pdgate="${PDGATE:-$build/bin/pdgate}"
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
model=sim-model
sim_ip=127.0.0.72; sim_port=18410; router_port=18411
up() { for _ in $(seq 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "not up: $1" >&2; exit 1; }

"$build/bin/pdgate-engine-sim" --host "$sim_ip" --port "$sim_port" --kv-port $((sim_port + 50)) \
  --model "$model" --quiet --max-num-seqs 20000 --kv-blocks 400000 --prefill-overhead-ms 5 \
  --prefill-per-token-us 0 --decode-base-ms 20 --decode-per-seq-us 0 >/dev/null 2>&1 &
pids+=($!)
up "http://$sim_ip:$sim_port/health"
agg_yaml "$sim_ip" "$sim_port" "$model" >"$work/agg.yaml"
"$pdgate" --config "$work/agg.yaml" --port "$router_port" --admin-port $((router_port + 80)) --threads 1 >"$work/pdgate.log" 2>&1 &
router_pid=$!
pids+=("$router_pid")
up "http://127.0.0.1:$router_port/readyz"  # readiness: endpoints discovered

run() {  # url n json
  "$build/bin/pdgate-bench" --url "$1" --model "$model" --api completions --stream \
    --concurrency "$2" --num-prompts "$2" --random-input-len 16 --random-output-len 50 \
    --ignore-eos --timeout 120 --quiet --json-out "$3" >/dev/null || true
}
field() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[sys.argv[2]])' "$1" "$2"; }

echo "fd limit: $(ulimit -n)"
echo
echo "| streams | direct: done/failed | direct mean ITL (ms) | pdgate: done/failed | pdgate failures | pdgate mean ITL (ms) | added ITL (ms) | pdgate peak RSS (MB) | pdgate max open fds |"
echo "|---|---|---|---|---|---|---|---|---|"
for n in "${sizes[@]}"; do
  run "http://$sim_ip:$sim_port" "$n" "$work/direct.json"
  echo 0 >"$work/fds"
  ( max=0; while kill -0 "$router_pid" 2>/dev/null; do
      c=$(find "/proc/$router_pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l); [ "$c" -gt "$max" ] && max=$c && echo "$max" >"$work/fds"
      sleep 0.05; done ) &
  sampler=$!
  run "http://127.0.0.1:$router_port" "$n" "$work/routed.json"
  kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
  d_itl=$(field "$work/direct.json" mean_itl_ms); r_itl=$(field "$work/routed.json" mean_itl_ms)
  rss=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$router_pid/status")
  printf "| %s | %s/%s | %.1f | %s/%s | %s | %.1f | %.1f | %s | %s |\n" "$n" \
    "$(field "$work/direct.json" completed)" "$(field "$work/direct.json" failed)" "$d_itl" \
    "$(field "$work/routed.json" completed)" "$(field "$work/routed.json" failed)" \
    "$(field "$work/routed.json" failures_by_class)" "$r_itl" \
    "$(awk -v a="$r_itl" -v b="$d_itl" 'BEGIN { print a - b }')" "$rss" "$(cat "$work/fds")"
  if [ "$(field "$work/routed.json" failed)" != 0 ]; then  # what pdgate's access log says of them
    grep -o '"status":[0-9]*,[^}]*"error_origin":"[a-z_]*"' "$work/pdgate.log" | grep -v '"status":200' |
      sed -E 's/.*"status":([0-9]+),.*"error_origin":"([a-z_]*)"/  status \1, origin \2/' | sort | uniq -c >&2 || true
    grep -E '"level":"(warning|error)"|\[(warning|error)\]' "$work/pdgate.log" | tail -5 >&2 || true
  fi
done
