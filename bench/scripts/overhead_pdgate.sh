#!/usr/bin/env bash
# pdgate's overhead measured with pdgate-bench's overhead mode: one zero-latency
# pdgate-engine-sim, pdgate (aggregated ModelServer, one thread) in front of it; the same load
# direct and through pdgate, 3 rotated repeats, at concurrency 1 and 64, non-streaming and
# streaming. Prints each overhead table; stops everything it started.
# Usage: bench/scripts/overhead_pdgate.sh [build-dir] [requests-per-run]
# PDGATE=/path/to/pdgate overrides the router binary (default: build-dir/bin/pdgate).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
requests="${2:-20000}"
pdgate="${PDGATE:-$build/bin/pdgate}"
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
model=sim-model
sim_ip=127.0.0.71; sim_port=18400; router_port=18401
up() { for _ in $(seq 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "not up: $1" >&2; exit 1; }

taskset -c 0 "$build/bin/pdgate-engine-sim" --host "$sim_ip" --port "$sim_port" --zero-latency \
  --threads 1 --quiet --model "$model" --kv-port $((sim_port + 50)) >/dev/null 2>&1 &
pids+=($!)
up "http://$sim_ip:$sim_port/health"
cat >"$work/agg.yaml" <<YAML
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
taskset -c 1 "$pdgate" --config "$work/agg.yaml" --port "$router_port" --admin-port $((router_port + 80)) --threads 1 >"$work/pdgate.log" 2>&1 &
router_pid=$!
pids+=("$router_pid")
up "http://127.0.0.1:$router_port/readyz"  # readiness: endpoints discovered

for stream in --no-stream --stream; do
  for c in 1 64; do
    echo "### $stream, concurrency $c, $requests requests per run"
    echo
    taskset -c 0 "$build/bin/pdgate-bench" --url "http://127.0.0.1:$router_port" \
      --direct-url "http://$sim_ip:$sim_port" --router-pid "$router_pid" --model "$model" \
      --api completions "$stream" --concurrency "$c" --num-prompts "$requests" \
      --warmup-requests 500 --random-input-len 16 --random-output-len 4 --ignore-eos --quiet
    echo
  done
done
