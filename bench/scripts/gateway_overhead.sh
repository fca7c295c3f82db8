#!/usr/bin/env bash
# What the gateway features cost per request, with the default settings (access log on, to a
# file): one zero-latency pdgate-engine-sim and five pdgate processes in front of it, one io
# thread each, pinned to CPU 1 in turn:
#   off           no authentication, no limit
#   log_off       "off" with the access log off too (what the default access log costs)
#   api_key       an API key
#   jwt           a JWT (ES256, cached after its first use) from tests/router/auth/jwks_server.py
#   route_limit   Kthena's rateLimit on the route, local buckets (a budget never reached)
#   global_limit  the same with global.redis: one Lua script call per request to a local
#                 redis-server (the debit after an answer rides with the next check)
# The same pdgate-bench load (non-streaming completions, concurrency 64) through each, 3 rotated
# repeats; prints req/s per repeat and the medians' ratios to "off". Stops everything it started.
# Usage: bench/scripts/gateway_overhead.sh [build-dir] [requests-per-run] [mode...]
# (modes: all five by default; "off" is always measured, as the reference)
set -euo pipefail
# shellcheck source=bench/scripts/agg_bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/agg_bench_lib.sh"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
requests="${2:-20000}"
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
model=sim-model
sim_ip=127.0.0.72; sim_port=18500; idp_port=18510; redis_port=18520
key="sk-bench-0123456789abcdef"
up() { for _ in $(seq 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "not up: $1" >&2; exit 1; }

taskset -c 0 "$build/bin/pdgate-engine-sim" --host "$sim_ip" --port "$sim_port" --zero-latency \
  --threads 1 --quiet --model "$model" --kv-port $((sim_port + 50)) >/dev/null 2>&1 &
pids+=($!)
python3 "$root/tests/router/auth/jwks_server.py" --port "$idp_port" >/dev/null 2>&1 &
pids+=($!)
taskset -c 0 redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >/dev/null 2>&1 &
pids+=($!)
up "http://$sim_ip:$sim_port/health"
for _ in $(seq 200); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done
up "http://127.0.0.1:$idp_port/_control/state"
token=$(curl -s -X POST "http://127.0.0.1:$idp_port/_control/token" -d \
  '{"kid":"ec-1","alg":"ES256","claims":{"sub":"bench","iss":"https://idp.test","aud":"pdgate","exp_in":3600}}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')

servers() { agg_yaml "$sim_ip" "$sim_port" "$model" "$1"; }  # $1: the route's extra spec lines
big="inputTokensPerUnit: 4000000000, outputTokensPerUnit: 4000000000, unit: second"
servers "" >"$work/servers-off.yaml"
servers "  rateLimit: {$big}" >"$work/servers-route_limit.yaml"
servers "  rateLimit: {$big, global: {redis: {address: \"127.0.0.1:$redis_port\"}}}" \
  >"$work/servers-global_limit.yaml"

declare -A ports=([off]=18501 [api_key]=18502 [jwt]=18503 [route_limit]=18504 [global_limit]=18505
  [log_off]=18506)
declare -A headers=([off]="X-Bench: 1" [log_off]="X-Bench: 1" [api_key]="Authorization: Bearer $key"
  [jwt]="Authorization: Bearer $token" [route_limit]="X-Bench: 1" [global_limit]="X-Bench: 1")
declare -A auth_yaml=(
  [off]=""
  [api_key]="  auth:
    apiKeys: [{id: bench, key: $key}]"
  [jwt]="  auth:
    issuer: https://idp.test
    audiences: [pdgate]
    jwksUri: http://127.0.0.1:$idp_port/jwks.json"
  [route_limit]="" [global_limit]="" [log_off]="")
modes=(off api_key jwt route_limit global_limit)
if [ $# -gt 2 ]; then
  modes=(off)
  for mode in "${@:3}"; do
    [ -n "${ports[$mode]:-}" ] || { echo "unknown mode: $mode" >&2; exit 2; }
    [ "$mode" = off ] || modes+=("$mode")
  done
fi
for mode in "${modes[@]}"; do
  port=${ports[$mode]}
  cat >"$work/$mode.yaml" <<YAML
apiVersion: pdgate.io/v1alpha1
kind: RouterConfiguration
metadata: {name: $mode}
spec:
  accessLog: {output: $work/$mode-access.log$([ "$mode" = log_off ] && echo ", enabled: false")}
${auth_yaml[$mode]}
YAML
  servers_file="$work/servers-off.yaml"
  [ -f "$work/servers-$mode.yaml" ] && servers_file="$work/servers-$mode.yaml"
  env ${PDGATE_PRELOAD:+LD_PRELOAD=$PDGATE_PRELOAD} "$build/bin/pdgate" --config "$servers_file" --config "$work/$mode.yaml" --port "$port" \
    --admin-port $((port + 80)) --threads 1 >"$work/$mode.log" 2>&1 &
  pids+=($!)
  up "http://127.0.0.1:$port/readyz"
done

declare -A rates cpu
# CPU seconds a process used so far (utime + stime), and Redis's own.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
redis_cpu() {
  redis-cli -p "$redis_port" info cpu | tr -d '\r' |
    awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {print s + 0}'
}
redis-cli -p "$redis_port" config resetstat >/dev/null
redis_cpu_before=$(redis_cpu)
for repeat in 1 2 3; do
  # Rotated order, so that no mode always runs first (or last) on a machine that drifts.
  for i in "${!modes[@]}"; do
    mode=${modes[$(((i + repeat) % ${#modes[@]}))]}
    port=${ports[$mode]}
    pid=$(pgrep -f -- "--port $port ")
    taskset -pc 1 "$pid" >/dev/null
    cpu_before=$(cpu_of "$pid")
    out=$(taskset -c 0 "$build/bin/pdgate-bench" --url "http://127.0.0.1:$port" --model "$model" \
      --api completions --no-stream --concurrency 64 --num-prompts "$requests" \
      --warmup-requests 500 --random-input-len 16 --random-output-len 4 --ignore-eos --quiet \
      -H "${headers[$mode]}")
    failed=$(echo "$out" | awk -F: '/^Failed requests/ {gsub(/ /, "", $2); print $2}')
    rate=$(echo "$out" | awk -F: '/^Request throughput/ {gsub(/ /, "", $2); print $2}')
    echo "repeat $repeat  $mode  $rate req/s  failed ${failed:-?}"
    rates[$mode]+="$rate "
    cpu[$mode]=$(awk -v t="${cpu[$mode]:-0}" -v a="$cpu_before" -v b="$(cpu_of "$pid")" \
      'BEGIN {print t + b - a}')
  done
done
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
off=$(median "${rates[off]}")
echo
sent=$((3 * (requests + 500)))  # per mode, warm-up included
# pdgate's CPU per request depends much less than req/s on what else runs on the machine.
echo "| mode | req/s (median of 3) | vs off | pdgate CPU µs/request |"
echo "|---|---|---|---|"
for mode in "${modes[@]}"; do
  m=$(median "${rates[$mode]}")
  echo "| $mode | $m | $(awk -v a="$m" -v b="$off" 'BEGIN {printf "%.3f", a / b}') |" \
    "$(awk -v c="${cpu[$mode]}" -v r="$sent" 'BEGIN {printf "%.1f", c * 1e6 / r}') |"
done
if [[ " ${modes[*]} " == *" global_limit "* ]]; then
  # Script calls Redis ran (EVALSHA, and EVAL after a cache miss) for every request sent.
  calls=$(redis-cli -p "$redis_port" info commandstats |
    awk -F'[:=,]' '/^cmdstat_eval(sha)?:/ {n += $3} END {print n + 0}')
  echo
  echo "global_limit: $calls Redis script calls for $sent requests" \
    "($(awk -v c="$calls" -v r="$sent" 'BEGIN {printf "%.3f", c / r}') per request)," \
    "redis-server CPU $(awk -v a="$redis_cpu_before" -v b="$(redis_cpu)" -v r="$sent" \
      'BEGIN {printf "%.1f", (b - a) * 1e6 / r}') µs per request"
fi
