#!/usr/bin/env bash
# Scheduler quality on a simulated PD cluster: the same load through pdgate under four policies,
# each on a fresh cluster (cold caches), for two workloads:
#   shared: many long shared system prompts (the per-engine KV cache holds a quarter of them),
#   unique: random prompts, nothing shared,
#   reserialized: shared, from clients that write the same messages' JSON four ways (not default).
# Policies: random, least-request, Kthena's default plugin set with its decode-first pairing,
# pdgate's default (the same plugins, joint pair scoring), and kvcache-aware (pdgate's default with
# the engines' KV events in place of the approximate prefix-cache; not in the default list). Prints a markdown table: TTFT p50/p99,
# request throughput, output tokens/s, and the prefill engines' prefix-cache hit rate (from their
# counters). Stops everything it started.
#
#   bench/scripts/scheduler_quality.sh [build-dir]
# Knobs (environment): PD_GROUPS (4), CONCURRENCY (16), PROMPTS (256), KV_BLOCKS (1024 × 16 tokens),
# WORKLOADS ("shared unique"), POLICIES (the four above, or `custom` with CUSTOM_POLICY holding
# RouterConfiguration spec lines, e.g. "  scheduler: {plugins: {Score: {enabled: [...]}}}").
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
groups="${PD_GROUPS:-4}"
concurrency="${CONCURRENCY:-16}"
prompts="${PROMPTS:-256}"
kv_blocks="${KV_BLOCKS:-1024}"
model=sim-model
port=18600
router_port=18610
admin_port=18611
first=101
kv_events_port=18620  # every sim publishes KV events (vLLM's ZMQ), each on its own address
kv_replay_port=18621
work="$(mktemp -d)"
router_pid=""
cleanup() {
  if [[ -n "$router_pid" ]]; then kill "$router_pid" 2>/dev/null || true; fi
  "$root/bench/engine_sim/launch_cluster.sh" --stop --state "$work/sims" >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
up() { for _ in $(seq 300); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "not up: $1" >&2; exit 1; }

policy_yaml() {
  case "$1" in
    random) echo "  scheduler: {plugins: {Filter: {enabled: []}, Score: {enabled: [{name: random, weight: 1}]}}}" ;;
    least-request) echo "  scheduler: {plugins: {Filter: {enabled: [least-request]}, Score: {enabled: [{name: least-request, weight: 1}]}}}" ;;
    kthena-default) echo "  pairSelection: decode-first" ;;
    pdgate-default) echo "" ;;
    # pdgate's default set with the approximate prefix-cache replaced by the engines' KV events.
    kvcache-aware) echo "  scheduler: {pluginConfig: [{name: kvcache-aware, args: {kvEventsPort: $kv_events_port, kvEventsReplayPort: $kv_replay_port}}], plugins: {Score: {enabled: [{name: least-request, weight: 1}, {name: kvcache-aware, weight: 1}, {name: gpu-usage, weight: 1}]}}}" ;;
    custom) echo "$CUSTOM_POLICY" ;;
  esac
}

workload_args() {
  case "$1" in
    shared) echo "--dataset shared-prefix --sp-num-groups $((groups * 4)) --sp-prompts-per-group $((prompts / (groups * 4))) --sp-system-prompt-len 3000 --sp-question-len 100 --sp-output-len 16 --num-prompts $prompts" ;;
    # The shared workload from clients that write the same messages' JSON four different ways.
    reserialized) echo "--reserialize --dataset shared-prefix --sp-num-groups $((groups * 4)) --sp-prompts-per-group $((prompts / (groups * 4))) --sp-system-prompt-len 3000 --sp-question-len 100 --sp-output-len 16 --num-prompts $prompts" ;;
    unique) echo "--dataset random --random-input-len 2000 --random-output-len 16 --num-prompts $prompts" ;;
  esac
}

# Sum of a /admin/stats field over the prefill sims.
prefill_sum() {
  local total=0
  for ((i = 0; i < groups; i++)); do
    local ip="127.0.0.$((first + 2 * i))"
    total=$(python3 -c 'import json,sys,urllib.request; print(float(sys.argv[2]) + json.load(urllib.request.urlopen(sys.argv[1]))[sys.argv[3]])' "http://$ip:$port/admin/stats" "$total" "$2")
  done
  echo "$total"
}

run() {  # workload policy
  "$root/bench/engine_sim/launch_cluster.sh" -g "$groups" --port "$port" --first "$first" \
    --model "$model" --name sim --namespace bench --state "$work/sims" --out "$work/pods.yaml" \
    -- --kv-blocks "$kv_blocks" --max-model-len 8192 \
    --kv-events-port "$kv_events_port" --kv-events-replay-port "$kv_replay_port" >/dev/null
  cat >"$work/config.yaml" <<YAML
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: sim, namespace: bench}
spec:
  model: $model
  inferenceEngine: vLLM
  kvConnector: {type: nixl}
  workloadSelector:
    matchLabels: {modelserving.volcano.sh/name: sim}
    pdGroup:
      groupKey: modelserving.volcano.sh/group-name
      prefillLabels: {modelserving.volcano.sh/role: prefill}
      decodeLabels: {modelserving.volcano.sh/role: decode}
  workloadPort: {port: $port}
  trafficPolicy: {timeout: 120s}
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: sim, namespace: bench}
spec:
  modelName: $model
  rules: [{targetModels: [{modelServerName: sim}]}]
---
apiVersion: pdgate.io/v1alpha1
kind: RouterConfiguration
metadata: {name: quality}
spec:
  accessLog: {enabled: false}
$(policy_yaml "$2")
YAML
  cat "$work/pods.yaml" >>"$work/config.yaml"
  "$build/bin/pdgate" --config "$work/config.yaml" --port "$router_port" --admin-port "$admin_port" \
    >"$work/pdgate.log" 2>&1 &
  router_pid=$!
  up "http://127.0.0.1:$admin_port/readyz"
  # shellcheck disable=SC2046
  "$build/bin/pdgate-bench" --url "http://127.0.0.1:$router_port" --model "$model" --stream \
    --ignore-eos --concurrency "$concurrency" --seed 1 --quiet --json-out "$work/out.json" \
    $(workload_args "$1") >/dev/null
  # kvcache-aware: where the prompts' token ids came from, and what a /tokenize cost.
  if [[ "$2" == kvcache-aware ]]; then
    curl -s "http://127.0.0.1:$admin_port/metrics" | python3 -c '
import re, sys
text = sys.stdin.read()
def value(pattern):
    m = re.search("^" + pattern + r" ([0-9.e+]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0
sources = {s: value(r"pdgate_kv_prompt_tokens_total\{source=\"" + s + r"\"\}")
           for s in ("request", "cache", "prefix", "tokenize", "unavailable")}
count = value("pdgate_kv_tokenize_seconds_count")
mean = 1000 * value("pdgate_kv_tokenize_seconds_sum") / count if count else 0
print(f"- {sys.argv[1]}, kvcache-aware: prompt token ids from " +
      ", ".join(f"{k} {v:.0f}" for k, v in sources.items()) +
      f"; /tokenize mean {mean:.2f} ms over {count:.0f} calls")
' "$1" >>"$work/details"
  fi
  local hits queries
  hits=$(prefill_sum "$1" prefix_hits)
  queries=$(prefill_sum "$1" prefix_queries)
  python3 - "$work/out.json" "$1" "$2" "$hits" "$queries" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
hits, queries = float(sys.argv[4]), float(sys.argv[5])
rate = 100 * hits / queries if queries else 0
print(f"| {sys.argv[2]} | {sys.argv[3]} | {d['median_ttft_ms']:.0f} | {d['p99_ttft_ms']:.0f} | "
      f"{d['request_throughput']:.2f} | {d['output_throughput']:.0f} | {rate:.0f}% | {d['failed']} |")
PY
  kill "$router_pid"; wait "$router_pid" 2>/dev/null || true; router_pid=""
  "$root/bench/engine_sim/launch_cluster.sh" --stop --state "$work/sims" >/dev/null
}

echo "$groups groups × (1 prefill + 1 decode), KV cache $kv_blocks blocks of 16 tokens per engine, concurrency $concurrency"
echo
echo "| workload | policy | TTFT p50 (ms) | TTFT p99 (ms) | requests/s | output tok/s | prefill cache hits | failed |"
echo "|---|---|---|---|---|---|---|---|"
for workload in ${WORKLOADS:-shared unique}; do
  for policy in ${POLICIES:-random least-request kthena-default pdgate-default}; do
    run "$workload" "$policy"
  done
done
if [[ -s "$work/details" ]]; then echo; cat "$work/details"; fi
