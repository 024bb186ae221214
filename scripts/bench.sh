#!/usr/bin/env bash
# Benchmarks the module against Envoy's native filters (scripts/bench.py) after building it
# and installing wrk (Debian's package) when missing. Arguments go to bench.py.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "wrk is missing: install Debian's 'wrk' package" >&2
        exit 1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk
fi
bash scripts/envoy.sh >/dev/null
cargo build --release --target wasm32-wasip1
cargo build --release --target wasm32-wasip1 --manifest-path bench/empty-module/Cargo.toml
python3 scripts/bench.py "$@"
