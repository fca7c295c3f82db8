#!/usr/bin/env bash
# Suite 1 with pdgate-bench: overhead and throughput of a router, side by side in one run, against
# zero-latency pdgate-engine-sims on loopback:
#   direct     → one sim (role both)
#   nginx      → proxy_pass to the same sim through `upstream { keepalive 64; }`, HTTP/1.1,
#                `Connection ""`, proxy_buffering off (so streams are relayed as they arrive)
#   pdgate     → aggregated ModelServer → the same sim
#   pdgate-pd  → PD ModelServer, kvConnector nixl → prefill sim + decode sim (two legs per
#                request; the decode sim pulls the KV from the prefill sim's side channel)
# Each cell is concurrency 1 or 64 (closed loop), non-streaming or streaming, completions with
# INPUT_LEN-token prompts and exactly OUTPUT_LEN output tokens; a warm-up, then DURATION seconds
# measured. Prints one markdown table per mode: request throughput and its ratio to nginx's in
# the same cell, mean/p50/p99 E2E latency and the mean added over direct, TTFT and ITL when
# streaming, and the router's CPU per request and share of its core (/proc/PID/stat; nginx: its
# worker), which tell whether the router or the client+engine core limits a row. About 6 minutes
# with the defaults. Stops everything it started.
#
#   bench/scripts/overhead_suite.sh [build-dir]
# Knobs (environment): DURATION (5 s per cell), WARMUP (500 requests per cell), REPEATS (3: the
# target order rotates per repeat; each figure is the median over the repeats),
# INPUT_LEN (16), OUTPUT_LEN (16), CONCURRENCIES ("1 64"), MODES ("no-stream stream"),
# TARGETS ("direct nginx pdgate pdgate-pd"), PDGATE (router binary; default build-dir/bin/pdgate),
# NGINX (/usr/sbin/nginx).
# Pinning (when taskset exists and there are ≥ 2 CPUs): the sims and pdgate-bench on CPU 0, the
# router under test (nginx, pdgate) on CPU 1, so every target gets the same client+engine core and
# the router has its own.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=bench/scripts/nginx_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/nginx_lib.sh"
build="$(cd "${1:-$root/build}" && pwd)"
duration="${DURATION:-5}"
warmup="${WARMUP:-500}"
repeats="${REPEATS:-3}"
input_len="${INPUT_LEN:-16}"
output_len="${OUTPUT_LEN:-16}"
read -ra concurrencies <<<"${CONCURRENCIES:-1 64}"
read -ra modes <<<"${MODES:-no-stream stream}"
read -ra targets <<<"${TARGETS:-direct nginx pdgate pdgate-pd}"
pdgate="${PDGATE:-$build/bin/pdgate}"
nginx="${NGINX:-/usr/sbin/nginx}"
bench="$build/bin/pdgate-bench"
sim_bin="$build/bin/pdgate-engine-sim"
for bin in "$pdgate" "$bench" "$sim_bin"; do
  [[ -x "$bin" ]] || { echo "missing $bin (build first: ./dev.sh build)" >&2; exit 2; }
done
[[ -x "$nginx" ]] || { echo "needs nginx at $nginx (apt-get install nginx-light)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "needs python3" >&2; exit 2; }

model=sim-model
port=18700              # every process on its own loopback address, the same port
kv_port=18750           # the sims' side channels
admin_port=18790        # pdgate's admin listeners
sim_ip=127.0.0.81; prefill_ip=127.0.0.82; decode_ip=127.0.0.83
nginx_ip=127.0.0.84; agg_ip=127.0.0.85; pd_ip=127.0.0.86

engine_cpu=(); router_cpu=()
if command -v taskset >/dev/null && [[ "$(nproc)" -ge 2 ]]; then
  engine_cpu=(taskset -c 0); router_cpu=(taskset -c 1)
fi

work="$(mktemp -d)"
chmod 755 "$work"  # nginx's worker may run as another user
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Polls URL until it answers 2xx; fails if PID exits or the deadline passes.
wait_up() {  # url pid log [seconds]
  local deadline=$((SECONDS + ${4:-20}))
  until curl -sf -o /dev/null --max-time 1 "$1"; do
    if ! kill -0 "$2" 2>/dev/null; then echo "exited before answering $1; log:" >&2; cat "$3" >&2; exit 1; fi
    if ((SECONDS >= deadline)); then echo "not up: $1; log:" >&2; cat "$3" >&2; exit 1; fi
    sleep 0.05
  done
}

start_sim() {  # ip role
  "${engine_cpu[@]}" "$sim_bin" --host "$1" --port "$port" --role "$2" --zero-latency --threads 1 \
    --quiet --model "$model" --kv-port "$kv_port" >"$work/sim-$1.log" 2>&1 &
  pids+=($!)
  wait_up "http://$1:$port/health" "$!" "$work/sim-$1.log"
}

start_nginx() {
  mkdir -p "$work/nginx/logs"
  write_nginx_conf "$work/nginx/nginx.conf" "$nginx_ip:$port" "$sim_ip:$port"
  "${router_cpu[@]}" "$nginx" -p "$work/nginx" -e "$work/nginx/logs/error.log" \
    -c "$work/nginx/nginx.conf" -g 'daemon off;' >"$work/nginx/logs/stdout.log" 2>&1 &
  nginx_pid=$!
  pids+=("$nginx_pid")
  wait_up "http://$nginx_ip:$port/health" "$nginx_pid" "$work/nginx/logs/error.log"
}

pod() {  # name ip app role
  cat <<YAML
---
apiVersion: v1
kind: Pod
metadata:
  name: $1
  namespace: bench
  labels: {app: $3, role: $4, group: g0}
status: {phase: Running, podIP: $2, conditions: [{type: Ready, status: "True"}]}
YAML
}

start_pdgate() {  # name ip pd|plain
  {
    cat <<YAML
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelServer
metadata: {name: $1, namespace: bench}
spec:
  inferenceEngine: vLLM
  workloadSelector:
    matchLabels: {app: $1}
YAML
    if [[ "$3" == pd ]]; then
      cat <<YAML
    pdGroup: {groupKey: group, prefillLabels: {role: prefill}, decodeLabels: {role: decode}}
  kvConnector: {type: nixl}
YAML
    fi
    cat <<YAML
  workloadPort: {port: $port}
---
apiVersion: networking.serving.volcano.sh/v1alpha1
kind: ModelRoute
metadata: {name: $1, namespace: bench}
spec:
  modelName: $model
  rules: [{targetModels: [{modelServerName: $1}]}]
---
apiVersion: pdgate.io/v1alpha1
kind: RouterConfiguration
metadata: {name: $1}
spec:
  listen: {address: $2, port: $port, adminAddress: $2, adminPort: $admin_port}
  threads: 1
  accessLog: {enabled: false}
YAML
    if [[ "$3" == pd ]]; then
      pod p0 "$prefill_ip" "$1" prefill
      pod d0 "$decode_ip" "$1" decode
    else
      pod s0 "$sim_ip" "$1" both
    fi
  } >"$work/$1.yaml"
  "${router_cpu[@]}" "$pdgate" --config "$work/$1.yaml" >"$work/$1.log" 2>&1 &
  pids+=($!)
  router_pid[$1]=$!
  wait_up "http://$2:$admin_port/readyz" "$!" "$work/$1.log"
}

declare -A router_pid url
need() { local t; for t in "${targets[@]}"; do [[ "$t" == "$1" ]] && return 0; done; return 1; }
start_sim "$sim_ip" both
url[direct]="http://$sim_ip:$port"
if need nginx; then start_nginx; url[nginx]="http://$nginx_ip:$port"; fi
if need pdgate; then start_pdgate pdgate "$agg_ip" plain; url[pdgate]="http://$agg_ip:$port"; fi
if need pdgate-pd; then
  start_sim "$prefill_ip" prefill
  start_sim "$decode_ip" decode
  start_pdgate pdgate-pd "$pd_ip" pd
  url[pdgate-pd]="http://$pd_ip:$port"
fi
if need nginx; then
  # nginx's single worker: the process whose CPU is the router's.
  worker=$(pgrep -P "$nginx_pid" | head -n 1 || true)
  [[ -n "$worker" ]] && router_pid[nginx]=$worker
fi
for t in "${targets[@]}"; do  # one real request each: fail fast on a broken target
  curl -sf -o /dev/null "${url[$t]}/v1/completions" -H 'Content-Type: application/json' \
    -d "{\"model\":\"$model\",\"prompt\":\"warm up\",\"max_tokens\":4}" ||
    { echo "$t does not serve completions" >&2; exit 1; }
done

cpu_ticks() {  # pid → utime + stime in clock ticks
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# One measured cell → $work/<mode>-<c>-<target>-<repeat>.json (pdgate-bench's, plus router CPU).
cell() {  # mode concurrency target repeat
  local out="$work/$1-$2-$3-$4" pid="${router_pid[$3]:-}" before=0 after=0 start end
  [[ -n "$pid" ]] && before=$(cpu_ticks "$pid")
  start=$EPOCHREALTIME
  "${engine_cpu[@]}" "$bench" --url "${url[$3]}" --model "$model" --api completions "--$1" \
    --concurrency "$2" --duration "$duration" --warmup-requests "$warmup" \
    --random-input-len "$input_len" --random-output-len "$output_len" --ignore-eos \
    --metric-percentiles 50,99 --timeout 30 --quiet --json-out "$out.json" >"$out.txt" 2>&1 ||
    echo "  $1 c=$2 $3: pdgate-bench exited non-zero (see the failed column)" >&2
  end=$EPOCHREALTIME
  [[ -n "$pid" ]] && after=$(cpu_ticks "$pid")
  # Router CPU over the whole pdgate-bench run (warm-up + measured phase; the requests of both
  # count): per request, and as the share of the router's core over that wall time.
  python3 - "$out.json" "$(getconf CLK_TCK)" "$before" "$after" "$warmup" "$start" "$end" "${pid:-}" <<'PY'
import json, sys
path, hz, before, after, warmup, start, end = sys.argv[1], *map(float, sys.argv[2:8])
has_pid = len(sys.argv) > 8 and sys.argv[8] != ""
d = json.load(open(path))
keep = {k: v for k, v in d.items() if not isinstance(v, list)}
cpu_s = (after - before) / hz
total = d["completed"] + d["failed"] + warmup
keep["router_cpu_us_per_req"] = cpu_s * 1e6 / total if has_pid and total else None
keep["router_busy_pct"] = 100 * cpu_s / (end - start) if has_pid and end > start else None
json.dump(keep, open(path, "w"))
PY
}

cells=$(( ${#modes[@]} * ${#concurrencies[@]} * ${#targets[@]} * repeats ))
echo "overhead_suite: ${#targets[@]} targets × ${#concurrencies[@]} concurrencies × ${#modes[@]} modes × $repeats repeat(s), ${duration} s each (+ $warmup warm-up requests): about $((cells * (duration + 2))) s" >&2
for mode in "${modes[@]}"; do
  for c in "${concurrencies[@]}"; do
    for ((r = 0; r < repeats; r++)); do
      n=${#targets[@]}
      for ((i = 0; i < n; i++)); do
        t=${targets[$(((i + r) % n))]}
        cell "$mode" "$c" "$t" "$r"
        echo "  $mode c=$c $t (repeat $((r + 1))): $(awk '/Request throughput/ { print $4 " req/s" }' "$work/$mode-$c-$t-$r.txt")" >&2
      done
    done
  done
done

# The tables: medians over repeats. "vs nginx" and "added mean vs direct" are taken within each
# repeat (targets measured back to back) and then the median over repeats.
python3 - "$work" "$repeats" "${modes[*]}" "${concurrencies[*]}" "${targets[*]}" <<'PY'
import json, statistics, sys
work, repeats = sys.argv[1], int(sys.argv[2])
modes, concs, targets = sys.argv[3].split(), sys.argv[4].split(), sys.argv[5].split()

def val(mode, c, t, r, key):
    return json.load(open(f"{work}/{mode}-{c}-{t}-{r}.json")).get(key)

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

def fmt(v, digits=0, scale=1):
    return "–" if v is None else f"{v * scale:,.{digits}f}"

for mode in modes:
    stream = mode == "stream"
    print(f"\n### {'streaming' if stream else 'non-streaming'}\n")
    head = ["c", "target", "req/s" + (" (min–max)" if repeats > 1 else ""), "vs nginx",
            "mean E2E (µs)", "p50 E2E (µs)", "p99 E2E (µs)", "added mean vs direct (µs)"]
    if stream:
        head += ["mean TTFT (µs)", "p99 TTFT (µs)", "mean ITL (µs)", "p99 ITL (µs)"]
    head += ["router CPU (µs/req)", "router core busy", "failed"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for c in concs:
        for t in targets:
            per = lambda key: [val(mode, c, t, r, key) for r in range(repeats)]
            g = lambda key: med(per(key))
            rps = per("request_throughput")
            rps_cell = fmt(med(rps))
            if repeats > 1:
                rps_cell += f" ({min(rps):,.0f}–{max(rps):,.0f})"
            ratio = med([rps[r] / val(mode, c, "nginx", r, "request_throughput")
                         for r in range(repeats)]) if "nginx" in targets else None
            added = med([val(mode, c, t, r, "mean_e2el_ms") - val(mode, c, "direct", r, "mean_e2el_ms")
                         for r in range(repeats)]) if "direct" in targets else None
            row = [c, t, rps_cell, fmt(ratio, 2), fmt(g("mean_e2el_ms"), 0, 1000),
                   fmt(g("median_e2el_ms"), 0, 1000), fmt(g("p99_e2el_ms"), 0, 1000),
                   fmt(added, 0, 1000)]
            if stream:
                row += [fmt(g("mean_ttft_ms"), 0, 1000), fmt(g("p99_ttft_ms"), 0, 1000),
                        fmt(g("mean_itl_ms"), 1, 1000), fmt(g("p99_itl_ms"), 1, 1000)]
            busy = g("router_busy_pct")
            row += [fmt(g("router_cpu_us_per_req"), 1), "–" if busy is None else f"{busy:.0f}%",
                    str(sum(per("failed")))]
            print("| " + " | ".join(str(x) for x in row) + " |")
PY
