#!/usr/bin/env bash
# Instructions pdgate executes per request, counted by callgrind (all of pdgate's threads): what
# a gateway feature costs, independent of what else runs on the machine (gateway_overhead.sh's
# req/s swing with the load of a shared machine). One zero-latency pdgate-engine-sim, one
# redis-server and pdgate (one io thread, access log on) under valgrind; per mode:
#   off           no limit
#   route_limit   Kthena's rateLimit on the route, local buckets (a budget never reached)
#   global_limit  the same with global.redis
#   pd_http       a PD ModelServer (kvConnector http): a prefill sim and a decode sim, two legs
#   pd_nixl       the same with kvConnector nixl (the decode sim pulls the KV from the prefill sim)
#   nginx         nginx instead of pdgate: one worker process (master off), proxy_pass with
#                 upstream keepalive, access_log off: the user-space floor of a one-hop proxy
#   nginx_log     the same with nginx's default access log (combined format, to a file)
# 500 warm-up requests, then the counters are zeroed and `requests` non-streaming completions at
# c=64 are counted. Also prints the Redis script calls per request. Stops everything it started.
# LOAD_ARGS: more pdgate-bench arguments, e.g. "--random-prefix-len 256" (a prefix shared by all
# prompts: the prefix index then holds most of each prompt's blocks).
# Usage: [KEEP=dir] [PDGATE=binary] [LOAD_ARGS=...] bench/scripts/gateway_instructions.sh [build-dir] [requests] [mode...]
# (default: build, 3000, off global_limit; about 15 s per mode)
# nginx's modes need nginx (nginx-light) and count nginx's one process; pdgate's count all threads.
set -euo pipefail
# shellcheck source=bench/scripts/agg_bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/agg_bench_lib.sh"
# shellcheck source=bench/scripts/nginx_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/nginx_lib.sh"
build="$(cd "${1:-build}" && pwd)"
requests="${2:-3000}"
modes=("${@:3}")
[ ${#modes[@]} -gt 0 ] || modes=(off global_limit)
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
model=sim-model
sim_ip=127.0.0.74; prefill_ip=127.0.0.75; decode_ip=127.0.0.76
sim_port=18530; port=18531; admin_port=18532; redis_port=18533
up() { for _ in $(seq 600); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "not up: $1" >&2; return 1; }

for sim in "$sim_ip both" "$prefill_ip prefill" "$decode_ip decode"; do
  read -r ip role <<<"$sim"
  "$build/bin/pdgate-engine-sim" --host "$ip" --port "$sim_port" --role "$role" --zero-latency \
    --threads 1 --quiet --model "$model" --kv-port $((sim_port + 50)) >/dev/null 2>&1 &
  pids+=($!)
done
redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no >/dev/null 2>&1 &
pids+=($!)
for ip in "$sim_ip" "$prefill_ip" "$decode_ip"; do up "http://$ip:$sim_port/health" || exit 1; done
for _ in $(seq 200); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done

big="inputTokensPerUnit: 4000000000, outputTokensPerUnit: 4000000000, unit: second"
declare -A limit=([off]="" [route_limit]="  rateLimit: {$big}"
  [global_limit]="  rateLimit: {$big, global: {redis: {address: \"127.0.0.1:$redis_port\"}}}"
  [pd_http]="" [pd_nixl]="")
load() {  # $1: requests; prints nothing unless some failed
  local out failed
  out=$("$build/bin/pdgate-bench" --url "http://127.0.0.1:$port" --model "$model" \
    --api completions --no-stream --concurrency 64 --num-prompts "$1" --warmup-requests 0 \
    --random-input-len 16 --random-output-len 4 --ignore-eos --quiet ${LOAD_ARGS:-})
  failed=$(echo "$out" | awk -F: '/^Failed requests/ {gsub(/ /, "", $2); print $2}')
  [ "${failed:-0}" = 0 ] || echo "  ($failed requests failed)" >&2
}

# One mode's row: the instructions of callgrind process $2 over `requests` requests, after it is
# ready ($3) and 500 warm-up requests; $4 "redis" also counts Redis script calls per request.
measure() {
  local mode=$1 vg=$2 calls="-" total
  up "$3" || { cat "$work/$mode.log" >&2; exit 1; }
  load 500
  callgrind_control -z "$vg" >/dev/null 2>&1
  redis-cli -p "$redis_port" config resetstat >/dev/null
  load "$requests"
  callgrind_control -d "$vg" >/dev/null 2>&1
  if [ "$4" = redis ]; then
    calls=$(redis-cli -p "$redis_port" info commandstats |
      awk -F'[:=,]' -v r="$requests" '/^cmdstat_eval(sha)?:/ {n += $3} END {printf "%.3f", n / r}')
  fi
  kill "$vg"
  wait "$vg" 2>/dev/null || true
  # The dump after zeroing is the file with a ".1" suffix.
  total=$(awk '/^summary:/ {print $2}' "$work/$mode.cg.$vg.1")
  # KEEP=dir keeps each mode's profile (for callgrind_annotate) as dir/<mode>.callgrind.
  [ -n "${KEEP:-}" ] && cp "$work/$mode.cg.$vg.1" "$KEEP/$mode.callgrind"
  echo "| $mode | $(awk -v t="$total" -v r="$requests" 'BEGIN {printf "%.0f", t / r}') | $calls |"
}

echo "| mode | instructions per request | Redis script calls per request |"
echo "|---|---|---|"
for mode in "${modes[@]}"; do
  [ -n "${limit[$mode]+set}" ] || [[ "$mode" == nginx* ]] || { echo "unknown mode: $mode" >&2; exit 2; }
  if [[ "$mode" == nginx* ]]; then
    command -v nginx >/dev/null || { echo "needs nginx (apt-get install nginx-light)" >&2; exit 2; }
    log="access_log off;"
    [ "$mode" = nginx_log ] && log="access_log $work/$mode/access.log;"
    write_nginx_conf "$work/$mode/nginx.conf" "127.0.0.1:$port" "$sim_ip:$sim_port" "$log"
    valgrind --tool=callgrind --callgrind-out-file="$work/$mode.cg.%p" nginx -c "$work/$mode/nginx.conf" \
      -g 'daemon off; master_process off;' >"$work/$mode.log" 2>&1 &
    pids+=($!)
    measure "$mode" $! "http://127.0.0.1:$port/health" -
    continue
  fi
  # Under valgrind pdgate is ~50x slower: Redis gets a timeout it cannot miss.
  {
    case $mode in
      pd_*) pd_yaml "$prefill_ip" "$decode_ip" "$sim_port" "$model" "${mode#pd_}" ;;
      *) agg_yaml "$sim_ip" "$sim_port" "$model" "${limit[$mode]}" ;;
    esac
    cat <<YAML
---
apiVersion: pdgate.io/v1alpha1
kind: RouterConfiguration
metadata: {name: $mode}
spec:
  accessLog: {output: $work/$mode-access.log}
  rateLimitRedis: {timeout: 5s}
YAML
  } >"$work/$mode.yaml"
  valgrind --tool=callgrind --callgrind-out-file="$work/$mode.cg.%p" "${PDGATE:-$build/bin/pdgate}" \
    --config "$work/$mode.yaml" --port "$port" --admin-port "$admin_port" --threads 1 \
    >"$work/$mode.log" 2>&1 &
  pids+=($!)
  measure "$mode" $! "http://127.0.0.1:$port/readyz" redis
done
