#!/usr/bin/env bash
# pdgate developer entry point. Every command does its own setup, so each works on a fresh
# Debian 12 machine:
#   ./dev.sh demo        install deps, build, start the local PD demo
#   ./dev.sh test        install deps, build, run the whole test suite (what .ci/run calls)
#   ./dev.sh test-asan   the same suite built with ASan+UBSan in build-asan/
#   ./dev.sh test-tsan   the same suite built with ThreadSanitizer in build-tsan/
#   ./dev.sh fuzz [S|runs=N]  libFuzzer targets (clang-16) in build-fuzz/, S seconds each (30)
#   ./dev.sh deps        install the Debian packages the build and tests need (idempotent)
#   ./dev.sh build-deps  only what the build needs (Dockerfile)
#   ./dev.sh bench-deps  what the bench/scripts need besides the test packages (wrk, valgrind, nstat)
#   ./dev.sh runtime-deps  install only what the built binaries need at run time (Dockerfile)
#   ./dev.sh build [DIR] [cmake args...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# Build-time packages. Boost must be 1.81: plain libboost-dev is 1.74 on Debian 12.
BUILD_PACKAGES=(
  g++ cmake ninja-build ccache pkg-config git
  libboost1.81-dev libsimdjson-dev prometheus-cpp-dev libabsl-dev catch2
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev libssl-dev libre2-dev
  libxxhash-dev libhiredis-dev libgoogle-perftools-dev libzmq3-dev cppzmq-dev mold
)
# Programs the integration tests and the demo start (never linked); python3-cryptography signs
# the authentication tests' JWTs, python3-zmq and python3-msgpack read the simulator's KV events
# (implementations independent of pdgate's).
TEST_PACKAGES=(curl python3 python3-cryptography python3-msgpack python3-zmq nginx-light redis-server
  openssl)
# What bench/scripts run besides the test packages: wrk for the nginx ratio, valgrind for the
# instruction counts.
BENCH_PACKAGES=(wrk valgrind strace iproute2)
RUNTIME_PACKAGES=(
  libsimdjson14 libprometheus-cpp-core1.0 libabsl20220623 libyaml-cpp0.7 libspdlog1.10
  libfmt9 libssl3 libre2-9 libxxhash0 libhiredis0.14 libtcmalloc-minimal4 libzmq5 ca-certificates
)

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "dev.sh: installing ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The OpenAI SDK test runs the official npm `openai` package with the machine's Node.js
# (Debian's nodejs/npm when there is none). Installed from tests/sdk/package-lock.json.
sdk_deps() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then apt_install nodejs npm; fi
  if [ ! -d tests/sdk/node_modules/openai ]; then
    (cd tests/sdk && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}

ncpu() { nproc 2>/dev/null || echo 2; }

build() {
  local dir="${1:-build}"; shift || true
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
  cmake --build "$dir" -j "$(ncpu)"
}

run_tests() {
  local dir="$1"; shift
  ctest --test-dir "$dir" --output-on-failure -j "$(ncpu)" --timeout 300 "$@"
}

# Timing-accuracy tests (the load tool's 5 %, its overhead mode's added 5 ms, and the simulator's
# 20 % against configured latencies) run in the optimized suite only: ASan's -O0 build slows the
# simulator's own steps, so there they would measure the sanitizer, not the code.
TIMING_TESTS='known timing are within 5%|prompt.s TTFT matches the formula|Overhead mode: rotated repeats'


cmd="${1:-help}"; shift || true
case "$cmd" in
  deps) apt_install "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"; sdk_deps ;;
  build-deps) apt_install "${BUILD_PACKAGES[@]}" ;;
  bench-deps) apt_install "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${BENCH_PACKAGES[@]}" ;;
  runtime-deps) apt_install "${RUNTIME_PACKAGES[@]}" ;;
  build) apt_install "${BUILD_PACKAGES[@]}"; build "$@" ;;
  test)
    apt_install "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
    sdk_deps
    build build
    run_tests build ;;
  test-asan)
    apt_install "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
    sdk_deps
    BUILD_TYPE=Debug build build-asan -DPDGATE_SANITIZE=ON
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      run_tests build-asan -E "$TIMING_TESTS" ;;
  test-tsan)
    apt_install "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
    sdk_deps
    # Optimized, as TSan itself advises: its shadow checks dominate and -O0 only adds time.
    build build-tsan -DPDGATE_TSAN=ON
    # Reports go to files: the routers and simulators the integration tests start are child
    # processes whose stderr a test does not read, so a race there must fail the run here.
    reports=build-tsan/tsan-reports
    rm -rf "$reports"; mkdir -p "$reports"
    status=0
    TSAN_OPTIONS="log_path=$PWD/$reports/race:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp" \
      run_tests build-tsan -E "$TIMING_TESTS" || status=$?
    if compgen -G "$reports/race*" >/dev/null; then
      cat "$reports"/race* >&2
      echo "dev.sh: ThreadSanitizer reported $(ls "$reports" | wc -l) file(s) of reports" >&2
      status=1
    fi
    exit $status ;;
  fuzz)
    apt_install "${BUILD_PACKAGES[@]}" clang-16 libfuzzer-16-dev libclang-rt-16-dev
    CXX=clang++-16 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DPDGATE_FUZZ=ON -DPDGATE_WERROR=OFF >/dev/null
    cmake --build build-fuzz -j "$(ncpu)" --target fuzz_targets
    limit="-max_total_time=${1:-30}"
    case "${1:-}" in runs=*) limit="-runs=${1#runs=}" ;; esac
    failed=()
    for target in build-fuzz/bin/*_fuzz; do
      name=$(basename "$target" _fuzz)
      # New inputs go to build-fuzz/corpus; the seeds in the repository are only read.
      mkdir -p "build-fuzz/corpus/$name" build-fuzz/artifacts
      echo "== fuzz $name ($limit)"
      log="build-fuzz/$name.log"
      "$target" "$limit" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="build-fuzz/artifacts/$name-" \
        "build-fuzz/corpus/$name" "tests/fuzz/corpus/$name" >"$log" 2>&1 || failed+=("$name")
      grep -E "^(Done|stat::number_of_executed_units|SUMMARY)|ERROR|FUZZ_CHECK" "$log" | tail -5 || true
    done
    if [ ${#failed[@]} -gt 0 ]; then
      echo "dev.sh: fuzz targets failed: ${failed[*]}; inputs in build-fuzz/artifacts/" >&2
      echo "        (copy each into tests/fuzz/regressions/<target>/ with its fix)" >&2
      exit 1
    fi ;;
  demo)
    apt_install "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
    build build
    exec examples/kthena-pd/demo.sh "$@" ;;
  *) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; [ "$cmd" = help ] || exit 2 ;;
esac
