#!/usr/bin/env bash
# pdgate with 1 and 2 io threads, nothing pinned (issue 15: "--threads N ... measure 1 vs 2
# threads unpinned, and say what limits it"). Default settings (access log on, JSON to a file),
# aggregated, one zero-latency sim with 2 threads, wrk -t2 c=128 with nginx_ratio.sh's chat body.
# The two arms alternate for ROUNDS rounds (3); prints req/s and pdgate's CPU µs per request per
# round, then the medians. On a 2-core machine wrk and the sim share the cores with pdgate, so
# what this shows is whether a second io thread adds contention, not how far pdgate scales.
# Also counts pdgate's context switches per request (perf stat, software events; "-" without
# perf): a second thread that has less ready work per epoll_wait sleeps and wakes more often.
# PROMPT_BYTES=N: a system message of N bytes before the question (the same in every request),
# so each pick looks the prefix index up and each served request records into it (N/64 blocks).
# PDGATE=binary: another pdgate than the build's.
# Usage: [ROUNDS=3] [SECONDS_PER_ARM=8] [PROMPT_BYTES=0] [PDGATE=bin]
#        bench/scripts/threads_scaling.sh [build-dir]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
rounds="${ROUNDS:-3}"
seconds="${SECONDS_PER_ARM:-8}"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# shellcheck source=bench/scripts/agg_bench_lib.sh
source "$root/bench/scripts/agg_bench_lib.sh"
sim_ip=127.0.0.145; sim_port=18470; model=sim-model
declare -A port=([1]=18471 [2]=18472)
"$build/bin/pdgate-engine-sim" --host "$sim_ip" --port "$sim_port" --role both --zero-latency \
  --threads 2 --quiet --model "$model" >/dev/null 2>&1 &
pids+=($!); up "http://$sim_ip:$sim_port/health"
write_agg_config "$work" "$sim_ip" "$sim_port" "$model"
pdgate="${PDGATE:-$build/bin/pdgate}"
declare -A pid_of
for threads in 1 2; do
  "$pdgate" --config "$work/agg.yaml" --port "${port[$threads]}" \
    --admin-port $((port[$threads] + 100)) --threads "$threads" >"$work/$threads.log" 2>&1 &
  pids+=($!); pid_of[$threads]=$!
  up "http://127.0.0.1:${port[$threads]}/readyz"
done
hz=$(getconf CLK_TCK)
declare -A rps_runs cpu_runs
declare -A cs_runs
echo "| round | threads | req/s | pdgate CPU µs/request | context switches/request |"
echo "|---|---|---|---|---|"
for round in $(seq "$rounds"); do
  for threads in 1 2; do
    perf_pid=""
    if command -v perf >/dev/null; then
      perf stat -x, -e context-switches -p "${pid_of[$threads]}" -o "$work/perf" \
        -- sleep "$seconds" 2>/dev/null &
      perf_pid=$!
    fi
    t0=$(ticks "${pid_of[$threads]}")
    read -r n rps < <(wrk -t2 -c128 -d"${seconds}s" -s "$work/chat.lua" \
      "http://127.0.0.1:${port[$threads]}/v1/chat/completions" |
      awk '/requests in/ { n = $1 } /Requests\/sec/ { r = $2 } END { printf "%d %.0f\n", n, r }')
    t1=$(ticks "${pid_of[$threads]}")
    cpu=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v n="$n" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
    cs="-"
    if [ -n "$perf_pid" ] && wait "$perf_pid" 2>/dev/null; then
      cs=$(awk -F, -v n="$n" '/context-switches/ { printf "%.3f", $1 / n }' "$work/perf")
    fi
    rps_runs[$threads]+="$rps "; cpu_runs[$threads]+="$cpu "; cs_runs[$threads]+="${cs/-/0} "
    echo "| $round | $threads | $rps | $cpu | $cs |"
  done
done
for threads in 1 2; do
  echo "| median | $threads | $(median <<<"${rps_runs[$threads]}") | $(median <<<"${cpu_runs[$threads]}") | $(median <<<"${cs_runs[$threads]}") |"
done
