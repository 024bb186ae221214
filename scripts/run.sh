#!/usr/bin/env bash
# Builds the module and runs it in a local Envoy in front of a demo upstream.
# Ctrl-C stops Envoy.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

envoy=$(bash scripts/envoy.sh)
cargo build --release --target wasm32-wasip1

cat <<MSG

edge-optimizer is starting in Envoy ($("$envoy" --version | grep -o '[0-9]*\.[0-9]*\.[0-9]*' | head -1)).
  send requests to   http://127.0.0.1:10000/   (try /favicon.ico, /health, /api/items)
  stats              http://127.0.0.1:9901/stats/prometheus
Ctrl-C stops it.

MSG
exec "$envoy" --config-path envoy/envoy.yaml --concurrency 2 --disable-hot-restart \
    --log-level warning --component-log-level wasm:info
