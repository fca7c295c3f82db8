# Sourced by the scripts that route to one aggregated sim (cpu_ab.sh, threads_scaling.sh,
# gateway_instructions.sh, gateway_overhead.sh, streaming_scale.sh) or to a PD pair
# (nginx_ratio.sh, gateway_instructions.sh): their YAML, the chat body for wrk, and the helpers
# they measure with.
# shellcheck shell=bash

up() { for _ in $(seq 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "not up: $1" >&2; exit 1; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Prints the YAML of one aggregated ModelServer (agg) whose route for MODEL goes to the one pod
# at SIM_IP:SIM_PORT. ROUTE_EXTRA: lines added to the ModelRoute's spec (e.g. "  rateLimit: ...").
agg_yaml() {  # sim_ip sim_port model [route_extra]
  cat <<YAML
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: agg, namespace: bench}
spec:
  inferenceEngine: vLLM
  workloadSelector: {matchLabels: {app: agg}}
  workloadPort: {port: $2}
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: agg, namespace: bench}
spec:
  modelName: $3
  rules: [{targetModels: [{modelServerName: agg}]}]
${4:-}
---
apiVersion: v1
kind: Pod
metadata: {name: s0, namespace: bench, labels: {app: agg}}
status: {phase: Running, podIP: $1, conditions: [{type: Ready, status: "True"}]}
YAML
}

# Prints the YAML of one PD ModelServer (pd, kvConnector CONNECTOR: http or nixl) whose route for
# MODEL goes to a prefill pod at PREFILL_IP and a decode pod at DECODE_IP, both on SIM_PORT.
pd_yaml() {  # prefill_ip decode_ip sim_port model connector
  cat <<YAML
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: pd, namespace: bench}
spec:
  inferenceEngine: vLLM
  workloadSelector:
    matchLabels: {app: pd}
    pdGroup: {groupKey: group, prefillLabels: {role: prefill}, decodeLabels: {role: decode}}
  kvConnector: {type: $5}
  workloadPort: {port: $3}
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: pd, namespace: bench}
spec:
  modelName: $4
  rules: [{targetModels: [{modelServerName: pd}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: p0, namespace: bench, labels: {app: pd, role: prefill, group: g0}}
status: {phase: Running, podIP: $1, conditions: [{type: Ready, status: "True"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: d0, namespace: bench, labels: {app: pd, role: decode, group: g0}}
status: {phase: Running, podIP: $2, conditions: [{type: Ready, status: "True"}]}
YAML
}

# Writes DIR/agg.yaml (agg_yaml) and DIR/chat.lua. PROMPT_BYTES=N (default 0): a system message
# of N bytes before the question, the same in every request, so the prefix index sees it (its
# 64-byte blocks are hashed, looked up and recorded); "Hello, world" alone is shorter than a block.
write_agg_config() {  # dir sim_ip sim_port model
  agg_yaml "$2" "$3" "$4" >"$1/agg.yaml"
  local system=""
  if [ "${PROMPT_BYTES:-0}" -gt 0 ]; then
    system="{\"role\":\"system\",\"content\":\"$(head -c "$PROMPT_BYTES" /dev/zero | tr '\0' 's')\"},"
  fi
  cat >"$1/chat.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"$4","messages":[$system{"role":"user","content":"Hello, world"}],"max_tokens":4}'
LUA
}
