#!/usr/bin/env bash
# Runs the whole test suite: unit tests natively, end-to-end tests against a real Envoy
# running the freshly built module. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/envoy.sh >/dev/null
bash scripts/prometheus.sh
cargo build --release --target wasm32-wasip1
cargo test "$@"
