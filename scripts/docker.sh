#!/usr/bin/env bash
# Builds the module and runs envoy/docker-compose.yml: Envoy 1.40 in the official image, with
# the module and the demo upstream, on http://127.0.0.1:10000/ (stats on 127.0.0.1:9901).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
else
    echo "neither the 'docker compose' plugin nor 'docker-compose' is installed" >&2
    exit 1
fi
if ! docker info >/dev/null 2>&1; then
    echo "no Docker engine answers ('docker info' fails): start one, then run this again" >&2
    exit 1
fi

cargo build --release --target wasm32-wasip1
exec "${compose[@]}" -f envoy/docker-compose.yml up
