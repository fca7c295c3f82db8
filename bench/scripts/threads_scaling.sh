#!/usr/bin/env bash
# pdgate with 1 and 2 io threads, nothing pinned (issue 15: "--threads N ... measure 1 vs 2
# threads unpinned, and say what limits it"). Default settings (access log on, JSON to a file),
# aggregated, one zero-latency sim with 2 threads, wrk -t2 c=128 with nginx_ratio.sh's chat body.
# The two arms alternate for ROUNDS rounds (3); prints req/s and pdgate's CPU µs per request per
# round, then the medians. On a 2-core machine wrk and the sim share the cores with pdgate, so
# what this shows is whether a second io thread adds contention, not how far pdgate scales.
# Usage: [ROUNDS=3] [SECONDS_PER_ARM=8] bench/scripts/threads_scaling.sh [build-dir]
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
sim_ip=127.0.0.145; sim_port=18470; model=sim-model
declare -A port=([1]=18471 [2]=18472)
up() { for _ in $(seq 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "not up: $1" >&2; exit 1; }
"$build/bin/pdgate-engine-sim" --host "$sim_ip" --port "$sim_port" --role both --zero-latency \
  --threads 2 --quiet --model "$model" >/dev/null 2>&1 &
pids+=($!); up "http://$sim_ip:$sim_port/health"
cat >"$work/agg.yaml" <<YAML
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: agg, namespace: bench}
spec:
  inferenceEngine: vLLM
  workloadSelector: {matchLabels: {app: agg}}
  workloadPort: {port: $sim_port}
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: agg, namespace: bench}
spec:
  modelName: $model
  rules: [{targetModels: [{modelServerName: agg}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: s0, namespace: bench, labels: {app: agg}}
status: {phase: Running, podIP: $sim_ip, conditions: [{type: Ready, status: "True"}]}
YAML
cat >"$work/chat.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"$model","messages":[{"role":"user","content":"Hello, world"}],"max_tokens":4}'
LUA
declare -A pid_of
for threads in 1 2; do
  "$build/bin/pdgate" --config "$work/agg.yaml" --port "${port[$threads]}" \
    --admin-port $((port[$threads] + 100)) --threads "$threads" >"$work/$threads.log" 2>&1 &
  pids+=($!); pid_of[$threads]=$!
  up "http://127.0.0.1:${port[$threads]}/readyz"
done
hz=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
declare -A rps_runs cpu_runs
echo "| round | threads | req/s | pdgate CPU µs/request |"
echo "|---|---|---|---|"
for round in $(seq "$rounds"); do
  for threads in 1 2; do
    t0=$(ticks "${pid_of[$threads]}")
    read -r n rps < <(wrk -t2 -c128 -d"${seconds}s" -s "$work/chat.lua" \
      "http://127.0.0.1:${port[$threads]}/v1/chat/completions" |
      awk '/requests in/ { n = $1 } /Requests\/sec/ { r = $2 } END { printf "%d %.0f\n", n, r }')
    t1=$(ticks "${pid_of[$threads]}")
    cpu=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v n="$n" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
    rps_runs[$threads]+="$rps "; cpu_runs[$threads]+="$cpu "
    echo "| $round | $threads | $rps | $cpu |"
  done
done
median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for threads in 1 2; do
  echo "| median | $threads | $(median <<<"${rps_runs[$threads]}") | $(median <<<"${cpu_runs[$threads]}") |"
done
