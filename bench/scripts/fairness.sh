#!/usr/bin/env bash
# What fairness does for a light user next to a heavy one: one pdgate-engine-sim whose batch holds
# 8 sequences (--max-num-seqs 8, default step timings), and pdgate in front of it, identity from
# x-user-id. Three runs of the same light load (1 connection, streamed chat), TTFT measured by
# pdgate-bench:
#   alone          the light user alone
#   fairness_off   next to a heavy user at concurrency 32 (the engine queues them FIFO)
#   fairness_on    the same, with spec.fairness {enabled, maxConcurrent: 8}: pdgate queues
#                  instead, and the least recent usage goes first (Kthena's behaviour)
#   share_0.75     and with maxShare 0.75: one principal holds at most 6 of the 8 slots
#   engine floor   no router: heavy at concurrency 6 and light straight to the engine; what the
#                  light user's TTFT is with 6 other sequences in the batch, whoever admits them
# Prints the light user's TTFT p50/p99 per run and the ratios to "alone", and the heavy user's
# throughput. Stops everything it started.
# Usage: bench/scripts/fairness.sh [build-dir] [seconds-per-run]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
seconds="${2:-30}"
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap "for pid in \"\${pids[@]}\"; do kill \$pid 2>/dev/null; done; echo kept \$work" EXIT
model=sim-model
sim_ip=127.0.0.73; sim_port=18600
up() { for _ in $(seq 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "not up: $1" >&2; exit 1; }

"$build/bin/pdgate-engine-sim" --host "$sim_ip" --port "$sim_port" --max-num-seqs 8 \
  --threads 1 --quiet --model "$model" --kv-port $((sim_port + 50)) >/dev/null 2>&1 &
pids+=($!)
up "http://$sim_ip:$sim_port/health"

cat >"$work/servers.yaml" <<YAML
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: agg, namespace: bench}
spec:
  inferenceEngine: vLLM
  workloadSelector:
    matchLabels: {app: agg}
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
metadata:
  name: s0
  namespace: bench
  labels: {app: agg}
status: {phase: Running, podIP: $sim_ip, conditions: [{type: Ready, status: "True"}]}
YAML
declare -A ports=([off]=18601 [on]=18602 [share]=18603)
declare -A fairness=([off]="{enabled: false}" [on]="{enabled: true, maxConcurrent: 8}"
  [share]="{enabled: true, maxConcurrent: 8, maxShare: 0.75}")
declare -A names=([off]="fairness off" [on]="fairness on" [share]="fairness on, maxShare 0.75")
modes=(off on share)
for mode in "${modes[@]}"; do
  cat >"$work/$mode.yaml" <<YAML
apiVersion: pdgate.io/v1alpha1
kind: RouterConfiguration
metadata: {name: $mode}
spec:
  accessLog: {output: $work/$mode-access.log}
  rateLimitUserHeader: x-user-id
  fairness: ${fairness[$mode]}
YAML
  "$build/bin/pdgate" --config "$work/servers.yaml" --config "$work/$mode.yaml" \
    --port "${ports[$mode]}" --admin-port $((ports[$mode] + 80)) --threads 1 >"$work/$mode.log" 2>&1 &
  pids+=($!)
  up "http://127.0.0.1:${ports[$mode]}/readyz"
done

load() {  # $1: port (or host:port), $2: user, $3: concurrency, $4: output file, $5: seconds
  local address=$1; [[ "$address" == *:* ]] || address="127.0.0.1:$address"
  "$build/bin/pdgate-bench" --url "http://$address" --model "$model" --api chat \
    --concurrency "$3" --duration "$5" --random-input-len 256 --random-output-len 64 \
    --ignore-eos --quiet --metric-percentiles 99 --seed "$3" -H "x-user-id: $2" >"$4"
}
field() { awk -F: -v k="$1" '$0 ~ "^"k {gsub(/ /, "", $2); print $2}' "$2" | head -1; }

load "${ports[on]}" light 1 "$work/alone.txt" "$seconds"
for mode in "${modes[@]}"; do
  # The heavy load outlasts the light one on both sides.
  load "${ports[$mode]}" heavy 32 "$work/heavy-$mode.txt" $((seconds + 6)) &
  heavy=$!
  sleep 3  # the heavy user fills the engine and its queue first
  load "${ports[$mode]}" light 1 "$work/light-$mode.txt" "$seconds"
  wait "$heavy"
done

load "$sim_ip:$sim_port" heavy 6 "$work/heavy-floor.txt" $((seconds + 6)) &
heavy=$!
sleep 3
load "$sim_ip:$sim_port" light 1 "$work/light-floor.txt" "$seconds"
wait "$heavy"

alone=$(field "Median TTFT" "$work/alone.txt")
echo "| light user | TTFT p50 (ms) | TTFT p99 (ms) | p50 vs alone | heavy user req/s |"
echo "|---|---|---|---|---|"
echo "| alone | $alone | $(field "P99 TTFT" "$work/alone.txt") | 1.00 | — |"
for mode in "${modes[@]}"; do
  p50=$(field "Median TTFT" "$work/light-$mode.txt")
  echo "| with heavy c=32, ${names[$mode]} | $p50 | $(field "P99 TTFT" "$work/light-$mode.txt") |" \
    "$(awk -v a="$p50" -v b="$alone" 'BEGIN {printf "%.2f", a / b}') |" \
    "$(field "Request throughput" "$work/heavy-$mode.txt") |"
done
p50=$(field "Median TTFT" "$work/light-floor.txt")
echo "| engine floor: heavy c=6 and light straight to the engine | $p50 |" \
  "$(field "P99 TTFT" "$work/light-floor.txt") |" \
  "$(awk -v a="$p50" -v b="$alone" 'BEGIN {printf "%.2f", a / b}') |" \
  "$(field "Request throughput" "$work/heavy-floor.txt") |"
