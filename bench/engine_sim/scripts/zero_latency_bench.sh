#!/usr/bin/env bash
# Zero-latency throughput of one pdgate-engine-sim on one core: tiny non-streaming completions
# driven by wrk (apt-get install wrk) pinned to another core. Usage:
#   [SCRIPT=tiny_stream.lua] bench/engine_sim/scripts/zero_latency_bench.sh [build-dir] [seconds] [connections]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build}"
seconds="${2:-10}"
connections="${3:-64}"
host=127.0.0.60
port=18100
taskset -c 0 "$build/bin/pdgate-engine-sim" --host "$host" --port "$port" --kv-port $((port + 1)) \
  --zero-latency --threads 1 --quiet 2>/dev/null &
sim=$!
trap 'kill "$sim" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf "http://$host:$port/health" >/dev/null && break
  sleep 0.05
done
taskset -c 1 wrk -t1 -c"$connections" -d"${seconds}s" -s "$here/${SCRIPT:-tiny_completion.lua}" \
  "http://$host:$port/v1/completions"
