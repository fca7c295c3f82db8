# Shared by cpu_ab.sh and threads_scaling.sh (sourced): one aggregated ModelServer in front of one
# sim, nginx_ratio.sh's chat body for wrk, and the helpers both scripts measure with.
# shellcheck shell=bash

up() { for _ in $(seq 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "not up: $1" >&2; exit 1; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Writes DIR/agg.yaml (a route for MODEL to the pod at SIM_IP:SIM_PORT) and DIR/chat.lua.
write_agg_config() {  # dir sim_ip sim_port model
  cat >"$1/agg.yaml" <<YAML
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: agg, namespace: bench}
spec:
  inferenceEngine: vLLM
  workloadSelector: {matchLabels: {app: agg}}
  workloadPort: {port: $3}
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: agg, namespace: bench}
spec:
  modelName: $4
  rules: [{targetModels: [{modelServerName: agg}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: s0, namespace: bench, labels: {app: agg}}
status: {phase: Running, podIP: $2, conditions: [{type: Ready, status: "True"}]}
YAML
  cat >"$1/chat.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"$4","messages":[{"role":"user","content":"Hello, world"}],"max_tokens":4}'
LUA
}
