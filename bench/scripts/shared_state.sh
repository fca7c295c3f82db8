#!/usr/bin/env bash
# What sharedState does for two replicas behind one Service: two aggregated pdgate-engine-sims
# (batch of 4: --max-num-seqs 4) and two pdgate replicas on the same configuration. Replica A's
# clients hold one conversation (x-session-id, session-affinity), so A keeps its 4 streams on one
# engine, which fills that engine's batch. Replica B's clients have no session: least-request
# spreads them. B sees A's load only through sharedState. Runs B's load (streamed chat,
# concurrency 2) with sharedState off, then on. Each run is timed, and runs happen side by side
# in one invocation. Prints B's TTFT and how its requests split over the two engines.
# Usage: bench/scripts/shared_state.sh [build-dir] [seconds-per-run]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
seconds="${2:-20}"
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
model=sim-model
port=18700; redis_port=18720
ips=(127.0.0.74 127.0.0.75)
up() { for _ in $(seq 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "not up: $1" >&2; exit 1; }

for ip in "${ips[@]}"; do
  "$build/bin/pdgate-engine-sim" --host "$ip" --port "$port" --max-num-seqs 4 --threads 1 --quiet \
    --model "$model" --kv-port $((port + 50)) >/dev/null 2>&1 &
  pids+=($!)
done
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >/dev/null 2>&1 &
pids+=($!)
for ip in "${ips[@]}"; do up "http://$ip:$port/health"; done
for _ in $(seq 200); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done

{
  cat <<YAML
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: agg, namespace: bench}
spec:
  inferenceEngine: vLLM
  workloadSelector:
    matchLabels: {app: agg}
  workloadPort: {port: $port}
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: agg, namespace: bench}
spec:
  modelName: $model
  rules: [{targetModels: [{modelServerName: agg}]}]
YAML
  for i in "${!ips[@]}"; do
    cat <<YAML
---
apiVersion: v1
kind: Pod
metadata: {name: s$i, namespace: bench, labels: {app: agg}}
status: {phase: Running, podIP: ${ips[$i]}, conditions: [{type: Ready, status: "True"}]}
YAML
  done
} >"$work/servers.yaml"

field() { awk -F: -v k="$1" '$0 ~ "^"k {gsub(/ /, "", $2); print $2}' "$2" | head -1; }

echo "| sharedState | B's TTFT p50 (ms) | B's TTFT p99 (ms) | B's requests on A's engine | B's on the other | A's engine: A's requests there |"
echo "|---|---|---|---|---|---|"
for mode in off on; do
  shared=""
  [ "$mode" = on ] && shared="  sharedState: {redis: {address: \"127.0.0.1:$redis_port\"}, syncInterval: 50ms}"
  for replica in a b; do
    cat >"$work/$mode-$replica.yaml" <<YAML
apiVersion: pdgate.io/v1alpha1
kind: RouterConfiguration
metadata: {name: $mode-$replica}
spec:
  accessLog: {output: $work/$mode-$replica-access.log}
  scheduler:
    plugins:
      Score:
        enabled:
          - {name: session-affinity, weight: 10}
          - {name: least-request, weight: 1}
$shared
YAML
  done
  "$build/bin/pdgate" --config "$work/servers.yaml" --config "$work/$mode-a.yaml" --port 18701 \
    --admin-port 18781 --threads 1 >"$work/$mode-a.log" 2>&1 &
  a=$!
  "$build/bin/pdgate" --config "$work/servers.yaml" --config "$work/$mode-b.yaml" --port 18702 \
    --admin-port 18782 --threads 1 >"$work/$mode-b.log" 2>&1 &
  b=$!
  pids+=("$a" "$b")
  up "http://127.0.0.1:18701/readyz"; up "http://127.0.0.1:18702/readyz"
  "$build/bin/pdgate-bench" --url http://127.0.0.1:18701 --model "$model" --api chat \
    --concurrency 4 --duration $((seconds + 6)) --random-input-len 256 --random-output-len 128 \
    --ignore-eos --quiet -H "x-session-id: conversation-1" >"$work/$mode-a.txt" &
  load_a=$!
  sleep 3
  "$build/bin/pdgate-bench" --url http://127.0.0.1:18702 --model "$model" --api chat \
    --concurrency 2 --duration "$seconds" --random-input-len 256 --random-output-len 32 \
    --ignore-eos --quiet --metric-percentiles 99 --seed 7 >"$work/$mode-b.txt"
  wait "$load_a"
  # Where each replica's requests went, from their access logs (the `decode` pod of each line).
  split=$(python3 - "$work/$mode-a-access.log" "$work/$mode-b-access.log" <<'PY'
import collections, json, sys
def pods(path):
    return collections.Counter(json.loads(l).get("decode", "") for l in open(path) if l.strip())
a, b = pods(sys.argv[1]), pods(sys.argv[2])
busy = a.most_common(1)[0][0]
other = [p for p in b if p != busy]
print(f"{b[busy]} | {sum(b[p] for p in other)} | {busy}: {a[busy]} of A's {sum(a.values())}")
PY
)
  echo "| $mode | $(field "Median TTFT" "$work/$mode-b.txt") | $(field "P99 TTFT" "$work/$mode-b.txt") | $split |"
  kill "$a" "$b"; wait "$a" "$b" 2>/dev/null || true
done
