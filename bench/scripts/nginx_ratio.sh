#!/usr/bin/env bash
# Issue 15's yardstick: pdgate with the settings a new user gets (access log on: JSON lines to
# stdout, redirected to a file) against nginx one hop, side by side in one run. wrk -t1 c=64 with a
# small chat body, zero-latency engines. The proxy under test (nginx with one worker, or pdgate with
# one io thread) runs alone on CPU 1; wrk and the engine sims share CPU 0. Arms:
#   direct      wrk → the sim
#   nginx       proxy_pass, upstream keepalive, access_log off (nginx at its lightest)
#   pdgate      aggregated ModelServer → the same sim
#   pdgate-pd   PD, http connector: prefill sim, then decode sim, two legs per request
#   pdgate-pd-nixl  the same with kvConnector nixl: the decode sim also pulls the KV from the
#               prefill sim over its side channel, so the sims (on CPU 0 with wrk) bound its req/s;
#               its CPU per request is what pdgate spends
# With BASELINE=/path/to/other/pdgate, the pdgate and pdgate-pd arms are also run with that
# binary (pdgate-base, pdgate-pd-base): before/after in the same run. Arms rotate REPEATS times (default 3);
# the table shows medians: req/s at c=64 and the ratio to nginx, the proxy's CPU µs per request
# (utime+stime from /proc over the c=64 run) and its user-space part (utime), mean latency at c=1.
# "Capacity vs nginx" is nginx's CPU per request over the arm's: the requests/s each proxy would
# reach with its core to itself. It is what the PD arms' req/s cannot show here, where the sims on
# CPU 0 (two per PD request, three with nixl's pull) are the bound, not the proxy on CPU 1.
# PROMPT_BYTES=N adds a system message of N bytes to every request (agg_bench_lib.sh).
# Usage: [BASELINE=bin] [REPEATS=3] [PROMPT_BYTES=0] bench/scripts/nginx_ratio.sh [build-dir] [seconds]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=bench/scripts/agg_bench_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/agg_bench_lib.sh"
# shellcheck source=bench/scripts/nginx_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/nginx_lib.sh"
build="$(cd "${1:-$root/build}" && pwd)"
seconds="${2:-8}"
repeats="${REPEATS:-3}"
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
command -v wrk >/dev/null || { echo "needs wrk (./dev.sh bench-deps)" >&2; exit 2; }
command -v nginx >/dev/null || { echo "needs nginx (apt-get install nginx-light)" >&2; exit 2; }

model=sim-model
sim_port=18440; nginx_port=18441
declare -A port=([pdgate]=18442 [pdgate-pd]=18443 [pdgate-pd-nixl]=18446 [pdgate-base]=18444
  [pdgate-pd-base]=18445)
sim() {  # host role
  taskset -c 0 "$build/bin/pdgate-engine-sim" --host "$1" --port "$sim_port" --role "$2" --zero-latency \
    --threads 1 --quiet --model "$model" --kv-port $((sim_port + 50)) >/dev/null 2>&1 &
  pids+=($!); up "http://$1:$sim_port/health"
}
sim 127.0.0.141 both
sim 127.0.0.142 prefill
sim 127.0.0.143 decode

write_nginx_conf "$work/nginx/nginx.conf" "127.0.0.1:$nginx_port" "127.0.0.141:$sim_port"
taskset -c 1 nginx -c "$work/nginx/nginx.conf" -g 'daemon off;' &
nginx_master=$!
pids+=($nginx_master)

write_agg_config "$work" 127.0.0.141 "$sim_port" "$model"  # agg.yaml, chat.lua
pd_yaml 127.0.0.142 127.0.0.143 "$sim_port" "$model" http >"$work/pd.yaml"
pd_yaml 127.0.0.142 127.0.0.143 "$sim_port" "$model" nixl >"$work/nixl.yaml"

declare -A pid_of
start_pdgate() {  # arm binary config
  taskset -c 1 "$2" --config "$3" --port "${port[$1]}" --admin-port $((port[$1] + 100)) --threads 1 \
    >"$work/$1.log" 2>&1 &
  pids+=($!); pid_of[$1]=$!
  up "http://127.0.0.1:${port[$1]}/healthz"
}
arms=(direct nginx pdgate pdgate-pd pdgate-pd-nixl)
start_pdgate pdgate "$build/bin/pdgate" "$work/agg.yaml"
start_pdgate pdgate-pd "$build/bin/pdgate" "$work/pd.yaml"
start_pdgate pdgate-pd-nixl "$build/bin/pdgate" "$work/nixl.yaml"
if [ -n "${BASELINE:-}" ]; then
  start_pdgate pdgate-base "$BASELINE" "$work/agg.yaml"
  start_pdgate pdgate-pd-base "$BASELINE" "$work/pd.yaml"
  arms+=(pdgate-base pdgate-pd-base)
fi
up "http://127.0.0.1:$nginx_port/health"
nginx_worker=$(pgrep -P "$nginx_master" | head -1)
pid_of[nginx]=$nginx_worker

url_of() {
  case $1 in
    direct) echo "http://127.0.0.141:$sim_port/v1/chat/completions" ;;
    nginx) echo "http://127.0.0.1:$nginx_port/v1/chat/completions" ;;
    *) echo "http://127.0.0.1:${port[$1]}/v1/chat/completions" ;;
  esac
}
user_ticks() { awk '{ print $14 }' "/proc/$1/stat"; }
# wrk → "requests/s mean-latency-us requests"
measure() {  # url connections
  taskset -c 0 wrk -t1 -c"$2" -d"${seconds}s" --latency -s "$work/chat.lua" "$1" 2>/dev/null | awk '
    /requests in/ { n = $1 }
    /Requests\/sec/ { rps = $2 }
    /^    Latency/ { v = $2; if (v ~ /us$/) { sub(/us/, "", v) } else if (v ~ /ms$/) { sub(/ms/, "", v); v = v * 1000 } else if (v ~ /s$/) { sub(/s/, "", v); v = v * 1000000 }; lat = v }
    END { printf "%.0f %.1f %d\n", rps, lat, n }'
}
hz=$(getconf CLK_TCK)
declare -A rps_runs cpu_runs user_runs lat_runs segs_runs
# TCP segments sent per request, machine-wide (wrk, sims and the proxy: the same for every arm
# but the proxy's share): a proxy that sends more segments (pure ACKs, split writes) pays for
# them in the kernel.
out_segs() { nstat -az TcpOutSegs | awk '/TcpOutSegs/ { print $2 }'; }
for round in $(seq "$repeats"); do
  # Rotate the order each round so no arm always runs first (or right after the heaviest).
  order=("${arms[@]:$(( (round - 1) % ${#arms[@]} ))}" "${arms[@]:0:$(( (round - 1) % ${#arms[@]} ))}")
  for arm in "${order[@]}"; do
    url=$(url_of "$arm")
    curl -sf "$url" -H 'Content-Type: application/json' \
      -d "{\"model\":\"$model\",\"messages\":[{\"role\":\"user\",\"content\":\"warm\"}],\"max_tokens\":4}" >/dev/null
    pid=${pid_of[$arm]:-}
    t0=0; u0=0; [ -n "$pid" ] && { t0=$(ticks "$pid"); u0=$(user_ticks "$pid"); }
    s0=$(out_segs)
    read -r r64 _ n64 < <(measure "$url" 64)
    segs=$(awk -v a="$s0" -v b="$(out_segs)" -v n="$n64" 'BEGIN { printf "%.2f", (b - a) / n }')
    cpu=""; user=""
    if [ -n "$pid" ]; then
      t1=$(ticks "$pid"); u1=$(user_ticks "$pid")
      cpu=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v n="$n64" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
      user=$(awk -v t="$((u1 - u0))" -v hz="$hz" -v n="$n64" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
    fi
    read -r _ l1 _ < <(measure "$url" 1)
    rps_runs[$arm]+="$r64 "; cpu_runs[$arm]+="$cpu "; user_runs[$arm]+="$user "; lat_runs[$arm]+="$l1 "
    segs_runs[$arm]+="$segs "
    echo "  round $round $arm: c=64 $r64 req/s, ${cpu:--} µs CPU/req, c=1 mean $l1 µs" >&2
  done
done
median() { tr ' ' '\n' | { grep -v '^$' || true; } | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
nginx_rps=$(median <<<"${rps_runs[nginx]}")
nginx_cpu=$(median <<<"${cpu_runs[nginx]}")
echo
echo "| arm | req/s at c=64 | vs nginx | CPU µs per request | of it in user space | CPU vs nginx | capacity vs nginx | TCP segments per request | mean latency at c=1 (µs) |"
echo "|---|---|---|---|---|---|---|---|---|"
for arm in "${arms[@]}"; do
  r=$(median <<<"${rps_runs[$arm]}"); c=$(median <<<"${cpu_runs[$arm]}"); l=$(median <<<"${lat_runs[$arm]}")
  u=$(median <<<"${user_runs[$arm]}"); g=$(median <<<"${segs_runs[$arm]}")
  ratio=$(awk -v a="$r" -v b="$nginx_rps" 'BEGIN { printf "%.2f", a / b }')
  cpu_ratio="-"; capacity="-"
  if [ "$c" != "-" ]; then
    cpu_ratio=$(awk -v a="$c" -v b="$nginx_cpu" 'BEGIN { printf "%.2f", a / b }')
    capacity=$(awk -v a="$c" -v b="$nginx_cpu" 'BEGIN { printf "%.2f", b / a }')
  fi
  echo "| $arm | $r | $ratio | $c | $u | $cpu_ratio | $capacity | $g | $l |"
done
