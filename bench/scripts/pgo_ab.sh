#!/usr/bin/env bash
# What profile-guided optimization would give pdgate (GCC -fprofile-generate / -fprofile-use),
# against the build's pdgate: builds an instrumented pdgate in PGO_DIR, trains it on the default
# settings (access log on) with wrk c=64 aggregated and PD (http connector) on zero-latency sims,
# rebuilds pdgate in the same directory with the profile, then prints both binaries' .text size,
# their instructions per request (gateway_instructions.sh) and their CPU per request side by side
# (cpu_ab.sh). Not part of the default build: a measurement of what it would be worth.
# Usage: [PGO_DIR=build-pgo] [ROUNDS=12] [TRAIN_SECONDS=8] bench/scripts/pgo_ab.sh [build-dir]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
pgo="${PGO_DIR:-$root/build-pgo}"
train_seconds="${TRAIN_SECONDS:-8}"
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
# shellcheck source=bench/scripts/agg_bench_lib.sh
source "$root/bench/scripts/agg_bench_lib.sh"
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

configure() {  # extra CXX flags, extra linker flags
  cmake -S "$root" -B "$pgo" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_FLAGS="$1" -DCMAKE_EXE_LINKER_FLAGS="$2" >/dev/null
}
echo "instrumented build in $pgo" >&2
find "$pgo" -name '*.gcda' -delete 2>/dev/null || true
configure "-fprofile-generate -fprofile-update=single" "-fprofile-generate"
cmake --build "$pgo" --target pdgate >/dev/null

# Training: the same loads the measurements use, through the instrumented binary.
sim_port=18560; model=sim-model
for sim in "127.0.0.171 both" "127.0.0.172 prefill" "127.0.0.173 decode"; do
  read -r ip role <<<"$sim"
  "$build/bin/pdgate-engine-sim" --host "$ip" --port "$sim_port" --role "$role" --zero-latency \
    --threads 1 --quiet --model "$model" --kv-port $((sim_port + 50)) >/dev/null 2>&1 &
  pids+=($!); up "http://$ip:$sim_port/health"
done
write_agg_config "$work" 127.0.0.171 "$sim_port" "$model"
pd_yaml 127.0.0.172 127.0.0.173 "$sim_port" "$model" http >"$work/pd.yaml"
train() {  # config port
  "$pgo/bin/pdgate" --config "$1" --port "$2" --admin-port $(($2 + 100)) --threads 1 >"$work/train.log" 2>&1 &
  local pid=$!
  up "http://127.0.0.1:$2/healthz"
  wrk -t1 -c64 -d"${train_seconds}s" -s "$work/chat.lua" "http://127.0.0.1:$2/v1/chat/completions" >/dev/null
  kill -TERM "$pid"  # a clean exit writes the profile
  wait "$pid" || true
}
echo "training ($train_seconds s aggregated, $train_seconds s PD)" >&2
train "$work/agg.yaml" 18561
train "$work/pd.yaml" 18562
[ -n "$(find "$pgo" -name '*.gcda' -print -quit)" ] || { echo "no profile was written" >&2; exit 1; }

echo "optimized build with the profile" >&2
configure "-fprofile-use -fprofile-correction -Wno-missing-profile -Wno-coverage-mismatch" ""
cmake --build "$pgo" --target pdgate >/dev/null
cp "$build/bin/pdgate-engine-sim" "$build/bin/pdgate-bench" "$pgo/bin/"

echo
size "$build/bin/pdgate" "$pgo/bin/pdgate"
echo
echo "instructions per request (callgrind), the build's pdgate then the PGO one:"
for binary in "$build/bin/pdgate" "$pgo/bin/pdgate"; do
  PDGATE="$binary" "$root/bench/scripts/gateway_instructions.sh" "$build" 3000 off pd_http | tail -2
done
echo
ROUNDS="${ROUNDS:-12}" BASELINE="$build/bin/pdgate" "$root/bench/scripts/cpu_ab.sh" "$pgo"
