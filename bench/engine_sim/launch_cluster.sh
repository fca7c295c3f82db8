#!/usr/bin/env bash
# A local PD cluster in one command: G groups × (P prefill + D decode) pdgate-engine-sim processes,
# one per loopback address (127.0.0.11, .12, …), all on the same port the way pods have distinct
# IPs and share the workload port; plus the matching Pod YAML for pdgate (Kthena ModelServing
# labels, status.podIP, phase Running, Ready), like examples/kthena-pd/pods.yaml.
#
#   bench/engine_sim/launch_cluster.sh [-g GROUPS] [-p PREFILL] [-d DECODE] [--engine vllm|sglang]
#       [--model NAME] [--name SERVING] [--namespace NS] [--port PORT] [--first N]
#       [--out PODS_YAML] [--state DIR] [--bin PATH] [-- extra sim flags…]
#   bench/engine_sim/launch_cluster.sh --stop [--state DIR]
#
# The sims run in the background; their pids and logs are in the state dir (default
# /tmp/pdgate-sim-cluster), and --stop ends exactly those pids.
set -euo pipefail

groups=1 prefill=1 decode=1 engine=vllm model=deepseek-ai/DeepSeekV2 name="" namespace=dev
port=8000 first=11 out="" state=/tmp/pdgate-sim-cluster stop=0
bin="$(cd "$(dirname "$0")/../.." && pwd)/build/bin/pdgate-engine-sim"
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    -g|--groups) groups="$2"; shift 2 ;;
    -p|--prefill) prefill="$2"; shift 2 ;;
    -d|--decode) decode="$2"; shift 2 ;;
    --engine) engine="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --name) name="$2"; shift 2 ;;
    --namespace) namespace="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --first) first="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --state) state="$2"; shift 2 ;;
    --bin) bin="$2"; shift 2 ;;
    --stop) stop=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

if [[ $stop == 1 ]]; then
  if [[ -f "$state/pids" ]]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$state/pids"
    rm -f "$state/pids"
    echo "stopped the sims listed in $state/pids"
  fi
  exit 0
fi

[[ -x "$bin" ]] || { echo "no simulator at $bin (build target pdgate-engine-sim)" >&2; exit 1; }
if [[ -f "$state/pids" ]]; then
  echo "$state/pids exists: a cluster may be running (--stop first)" >&2
  exit 1
fi
mkdir -p "$state"
[[ -n "$name" ]] || name="$(echo "${model##*/}" | tr 'A-Z_.' 'a-z--')"
[[ -n "$out" ]] || out="$state/pods.yaml"
last=$((first + groups * (prefill + decode) - 1))
if (( last > 254 )); then echo "too many pods for 127.0.0.$first..254" >&2; exit 2; fi

: > "$out"
: > "$state/pids"
index=$first
addresses=()
pod() {  # pod NAME GROUP ROLE IP
  cat >> "$out" <<YAML
---
apiVersion: v1
kind: Pod
metadata:
  name: $1
  namespace: $namespace
  labels:
    modelserving.volcano.sh/name: $name
    modelserving.volcano.sh/group-name: $2
    modelserving.volcano.sh/role: $3
status:
  phase: Running
  podIP: $4
  conditions:
    - type: Ready
      status: "True"
YAML
}
for ((g = 0; g < groups; g++)); do
  group="$name-$g"
  for role in prefill decode; do
    count=$prefill; [[ $role == decode ]] && count=$decode
    for ((i = 0; i < count; i++)); do
      ip="127.0.0.$index"
      pod_name="$group-$role-$i"
      "$bin" --host "$ip" --port "$port" --role "$role" --engine "$engine" \
        --model "$model" --quiet "${extra[@]}" > "$state/$pod_name.log" 2>&1 &
      echo $! >> "$state/pids"
      pod "$pod_name" "$group" "$role" "$ip"
      addresses+=("$ip")
      index=$((index + 1))
    done
  done
done

for ip in "${addresses[@]}"; do
  ready=0
  for _ in $(seq 200); do
    if curl -sf "http://$ip:$port/health" >/dev/null 2>&1; then ready=1; break; fi
    sleep 0.05
  done
  if [[ $ready == 0 ]]; then
    echo "sim at $ip:$port not ready; logs in $state" >&2
    "$0" --stop --state "$state"
    exit 1
  fi
done
echo "started $((${#addresses[@]})) sims ($engine; $groups groups × ${prefill}P+${decode}D) on ${addresses[0]}..${addresses[-1]}:$port"
echo "pod YAML: $out"
echo "stop with: $0 --stop --state $state"
