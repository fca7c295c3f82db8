#!/usr/bin/env bash
# The local PD demo: the Kthena PD guide's ModelServer/ModelRoute with one prefill and one decode
# "pod" — pdgate-engine-sim processes at 127.0.0.11 and 127.0.0.12, port 8000, as pods.yaml says —
# and pdgate in front on port 8080. Run through `./dev.sh demo`, which installs and builds first.
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bin=build/bin
port="${PDGATE_DEMO_PORT:-8080}"
model="deepseek-ai/DeepSeekV2"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

wait_http() {  # url, what
  for _ in $(seq 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "demo: $2 did not start" >&2; exit 1
}

echo "== pdgate validate examples/kthena-pd/*.yaml"
"$bin/pdgate" validate examples/kthena-pd/kthena-pd.yaml examples/kthena-pd/pods.yaml
echo
"$bin/pdgate-engine-sim" --host 127.0.0.11 --port 8000 --role prefill --model "$model" --quiet &
pids+=($!)
"$bin/pdgate-engine-sim" --host 127.0.0.12 --port 8000 --role decode --model "$model" --quiet &
pids+=($!)
wait_http http://127.0.0.11:8000/health "the prefill engine"
wait_http http://127.0.0.12:8000/health "the decode engine"
"$bin/pdgate" --config examples/kthena-pd/kthena-pd.yaml --config examples/kthena-pd/pods.yaml \
  --port "$port" >/tmp/pdgate-demo.log 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$port/healthz" "pdgate"

request='{"model": "deepseek-ai/DeepSeekV2", "messages": [{"role": "user", "content": "Where is the capital of China?"}], "stream": false}'
echo "== the Kthena guide's request through pdgate (prefill 127.0.0.11, decode 127.0.0.12):"
curl -s "localhost:$port/v1/chat/completions" -H 'Content-Type: application/json' -d "$request"
echo; echo
echo "== the engines' counters: one prefill with max_tokens 1, one decode that pulled its KV"
echo "prefill: $(curl -s http://127.0.0.11:8000/admin/stats)"
echo "decode:  $(curl -s http://127.0.0.12:8000/admin/stats)"
cat <<MSG

pdgate is serving on port $port (log: /tmp/pdgate-demo.log). Try:

  curl -s localhost:$port/v1/chat/completions -H 'Content-Type: application/json' \\
    -d '{"model": "deepseek-ai/DeepSeekV2", "messages": [{"role": "user", "content": "Where is the capital of China?"}], "stream": true}'

Ctrl-C stops the router and the engines.
MSG
if [ -t 0 ] || [ -n "${PDGATE_DEMO_WAIT:-}" ]; then wait; fi
