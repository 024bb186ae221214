#!/usr/bin/env bash
# Makes sure `prometheus` and `promtool` are on PATH for the observability tests, installing
# Debian's prometheus package when they are missing (as root, or through sudo). The package's
# service is not started: the tests start their own Prometheus on loopback.
set -euo pipefail

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "prometheus and promtool are missing: install Debian's 'prometheus' package" >&2
    exit 1
fi

echo "installing Debian's prometheus package (prometheus, promtool)" >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends prometheus >&2
# The package may start its own service where an init system runs; the tests need none.
"${sudo[@]}" sh -c 'command -v service >/dev/null && service prometheus stop' >/dev/null 2>&1 || true
