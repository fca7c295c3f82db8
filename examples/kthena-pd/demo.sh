#!/usr/bin/env bash
# The local PD demo: the Kthena PD guide's ModelServer/ModelRoute with one prefill and one decode
# pod (127.0.0.11 and 127.0.0.12, port 8000). Run through `./dev.sh demo`, which builds first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bin=build/bin

echo "== pdgate validate examples/kthena-pd/*.yaml"
"$bin/pdgate" validate examples/kthena-pd/kthena-pd.yaml examples/kthena-pd/pods.yaml

cat <<'MSG'

This build has the configuration model only: the engine simulator and the router's data path
are not built yet, so the demo stops after validating the configuration. Once they land, this
script starts both simulated engines and the router, and prints a curl such as:

  curl -s localhost:8080/v1/chat/completions -H 'Content-Type: application/json' \
    -d '{"model": "deepseek-ai/DeepSeekV2", "messages": [{"role": "user", "content": "Where is the capital of China?"}], "stream": false}'
MSG
