#!/usr/bin/env bash
# Router overhead and throughput, side by side in one run on this machine: the same wrk load
#   direct  → a zero-latency pdgate-engine-sim
#   nginx   → proxy_pass with upstream keepalive → the same sim
#   pdgate  → aggregated ModelServer → the same sim
#   pdgate PD → http-connector ModelServer → zero-latency prefill sim + decode sim (two legs per
#               request; the engines exchange nothing)
#   pdgate PD nixl → the same with kvConnector nixl: the decode sim also pulls KV from the prefill
#               sim over its side channel, so the sims (sharing one core) do more work
# at concurrency 64 (throughput) and 1 (latency). Prints a markdown table; stops everything.
# Usage: bench/scripts/router_overhead.sh [build-dir] [seconds]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
seconds="${2:-10}"
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
command -v nginx >/dev/null || { echo "needs nginx (apt-get install nginx-light)" >&2; exit 2; }

model=sim-model
sim_port=18300; nginx_port=18301; agg_port=18302; pd_port=18303; nixl_port=18304
up() { for _ in $(seq 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "not up: $1" >&2; exit 1; }
sim() {  # host role
  taskset -c 0 "$build/bin/pdgate-engine-sim" --host "$1" --port "$sim_port" --role "$2" --zero-latency \
    --threads 1 --quiet --model "$model" --kv-port $((sim_port + 50)) >/dev/null 2>&1 &
  pids+=($!); up "http://$1:$sim_port/health"
}
sim 127.0.0.61 both
sim 127.0.0.62 prefill
sim 127.0.0.63 decode

cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  upstream sim { server 127.0.0.61:$sim_port; keepalive 256; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / {
      proxy_pass http://sim;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGINX
taskset -c 1 nginx -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)

pods() {  # name ip role group
  printf -- '---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: %s\n  namespace: bench\n  labels: {app: %s, role: %s, group: g0}\nstatus: {phase: Running, podIP: %s, conditions: [{type: Ready, status: "True"}]}\n' "$1" "$4" "$3" "$2"
}
server() {  # name app connector|plain
  printf -- '---\napiVersion: networking.serving.volcano.sh/v1alpha1\nkind: ModelServer\nmetadata: {name: %s, namespace: bench}\nspec:\n  inferenceEngine: vLLM\n  workloadSelector:\n    matchLabels: {app: %s}\n' "$1" "$2"
  [ "$3" != plain ] && printf '    pdGroup: {groupKey: group, prefillLabels: {role: prefill}, decodeLabels: {role: decode}}\n  kvConnector: {type: %s}\n' "$3"
  printf '  workloadPort: {port: %s}\n---\napiVersion: networking.serving.volcano.sh/v1alpha1\nkind: ModelRoute\nmetadata: {name: %s, namespace: bench}\nspec:\n  modelName: %s\n  rules: [{targetModels: [{modelServerName: %s}]}]\n' "$sim_port" "$1" "$model" "$1"
}
{ server agg agg plain; pods s0 127.0.0.61 both agg; } >"$work/agg.yaml"
{ server pd pd http; pods p0 127.0.0.62 prefill pd; pods d0 127.0.0.63 decode pd; } >"$work/pd.yaml"
{ server pd pd nixl; pods p0 127.0.0.62 prefill pd; pods d0 127.0.0.63 decode pd; } >"$work/nixl.yaml"
taskset -c 1 "$build/bin/pdgate" --config "$work/agg.yaml" --port "$agg_port" --admin-port $((agg_port + 100)) --threads 1 >"$work/agg.log" 2>&1 &
pids+=($!)
taskset -c 1 "$build/bin/pdgate" --config "$work/pd.yaml" --port "$pd_port" --admin-port $((pd_port + 100)) --threads 1 >"$work/pd.log" 2>&1 &
pids+=($!)
taskset -c 1 "$build/bin/pdgate" --config "$work/nixl.yaml" --port "$nixl_port" --admin-port $((nixl_port + 100)) --threads 1 >"$work/nixl.log" 2>&1 &
pids+=($!)
up "http://127.0.0.1:$nginx_port/health"; up "http://127.0.0.1:$agg_port/healthz"; up "http://127.0.0.1:$pd_port/healthz"; up "http://127.0.0.1:$nixl_port/healthz"

cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"$model","prompt":"Hello, world","max_tokens":4}'
LUA
# wrk → "requests/s mean-latency-us"
measure() {  # url connections
  wrk -t1 -c"$2" -d"${seconds}s" --latency -s "$work/post.lua" "$1" 2>/dev/null | awk '
    /Requests\/sec/ { rps = $2 }
    /^    Latency/ { v = $2; if (v ~ /us$/) { sub(/us/, "", v) } else if (v ~ /ms$/) { sub(/ms/, "", v); v = v * 1000 } else if (v ~ /s$/) { sub(/s/, "", v); v = v * 1000000 }; lat = v }
    END { printf "%.0f %.1f\n", rps, lat }'
}
declare -A rps lat
for target in direct nginx pdgate pdgate-pd pdgate-pd-nixl; do
  case $target in
    direct) url="http://127.0.0.61:$sim_port/v1/completions" ;;
    nginx) url="http://127.0.0.1:$nginx_port/v1/completions" ;;
    pdgate) url="http://127.0.0.1:$agg_port/v1/completions" ;;
    pdgate-pd) url="http://127.0.0.1:$pd_port/v1/completions" ;;
    pdgate-pd-nixl) url="http://127.0.0.1:$nixl_port/v1/completions" ;;
  esac
  curl -sf "$url" -H 'Content-Type: application/json' -d "{\"model\":\"$model\",\"prompt\":\"warm\",\"max_tokens\":4}" >/dev/null
  read -r r64 _ < <(measure "$url" 64)
  read -r _ l1 < <(measure "$url" 1)
  rps[$target]=$r64; lat[$target]=$l1
  echo "  measured $target: c=64 $r64 req/s, c=1 mean $l1 us" >&2
done
echo
echo "| target | req/s at c=64 | vs nginx | mean latency at c=1 (µs) | added over direct (µs) |"
echo "|---|---|---|---|---|"
for target in direct nginx pdgate pdgate-pd pdgate-pd-nixl; do
  ratio=$(awk -v a="${rps[$target]}" -v b="${rps[nginx]}" 'BEGIN { printf "%.2f", a / b }')
  added=$(awk -v a="${lat[$target]}" -v b="${lat[direct]}" 'BEGIN { printf "%.0f", a - b }')
  echo "| $target | ${rps[$target]} | $ratio | ${lat[$target]} | $added |"
done
