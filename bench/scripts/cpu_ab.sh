#!/usr/bin/env bash
# Two pdgate binaries' CPU per request, alternating arm by arm so both see the same machine: on a
# shared VM the load of the other tenants moves one run's CPU per request by ±20 %, more than most
# single changes save, so only pairs measured back to back are compared. Default settings (access
# log on, JSON to a file), one io thread; both proxies on CPU 1, wrk -t1 c=64 and one zero-latency
# sim on CPU 0, the chat body of nginx_ratio.sh. Prints each round's pair, then the medians.
# MODE=pd_http or pd_nixl: a PD ModelServer instead (a prefill sim and a decode sim on CPU 0,
# kvConnector http or nixl), two legs per request.
# Usage: BASELINE=/path/to/pdgate [ROUNDS=6] [SECONDS_PER_ARM=5] [MODE=agg|pd_http|pd_nixl]
#        bench/scripts/cpu_ab.sh [build-dir]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
baseline="${BASELINE:?BASELINE=/path/to/the other pdgate}"
rounds="${ROUNDS:-6}"
seconds="${SECONDS_PER_ARM:-5}"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# shellcheck source=bench/scripts/agg_bench_lib.sh
source "$root/bench/scripts/agg_bench_lib.sh"
sim_ip=127.0.0.144; prefill_ip=127.0.0.145; decode_ip=127.0.0.146; sim_port=18460; model=sim-model
declare -A port=([base]=18461 [new]=18462)
mode="${MODE:-agg}"
case $mode in
  agg) sims=("$sim_ip both") ;;
  pd_http | pd_nixl) sims=("$prefill_ip prefill" "$decode_ip decode") ;;
  *) echo "MODE: agg, pd_http or pd_nixl" >&2; exit 2 ;;
esac
for sim in "${sims[@]}"; do
  read -r ip role <<<"$sim"
  taskset -c 0 "$build/bin/pdgate-engine-sim" --host "$ip" --port "$sim_port" --role "$role" --zero-latency \
    --threads 1 --quiet --model "$model" --kv-port $((sim_port + 50)) >/dev/null 2>&1 &
  pids+=($!); up "http://$ip:$sim_port/health"
done
write_agg_config "$work" "$sim_ip" "$sim_port" "$model"
[ "$mode" = agg ] || pd_yaml "$prefill_ip" "$decode_ip" "$sim_port" "$model" "${mode#pd_}" >"$work/agg.yaml"
declare -A pid_of
for arm in base new; do
  binary="$build/bin/pdgate"; [ "$arm" = base ] && binary="$baseline"
  taskset -c 1 "$binary" --config "$work/agg.yaml" --port "${port[$arm]}" --admin-port $((port[$arm] + 100)) \
    --threads 1 >"$work/$arm.log" 2>&1 &
  pids+=($!); pid_of[$arm]=$!
  up "http://127.0.0.1:${port[$arm]}/readyz"
done
hz=$(getconf CLK_TCK)
declare -A runs
echo "| round | baseline µs/request | build µs/request | build / baseline |"
echo "|---|---|---|---|"
for round in $(seq "$rounds"); do
  declare -A cpu
  for arm in base new; do
    t0=$(ticks "${pid_of[$arm]}")
    n=$(taskset -c 0 wrk -t1 -c64 -d"${seconds}s" -s "$work/chat.lua" \
      "http://127.0.0.1:${port[$arm]}/v1/chat/completions" | awk '/requests in/ { print $1 }')
    t1=$(ticks "${pid_of[$arm]}")
    cpu[$arm]=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v n="$n" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
    runs[$arm]+="${cpu[$arm]} "
  done
  echo "| $round | ${cpu[base]} | ${cpu[new]} | $(awk -v a="${cpu[new]}" -v b="${cpu[base]}" 'BEGIN { printf "%.2f", a / b }') |"
done
b=$(median <<<"${runs[base]}"); n=$(median <<<"${runs[new]}")
echo "| median | $b | $n | $(awk -v a="$n" -v b="$b" 'BEGIN { printf "%.2f", a / b }') |"
