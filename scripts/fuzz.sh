#!/usr/bin/env bash
# Fuzzes every target in fuzz/ for a while (default 60 s each; pass another number of
# seconds as the first argument). Uses cargo-fuzz without a sanitizer, which runs on the
# stable toolchain: the code under test is safe Rust, so the findings are panics and
# broken promises (the assertions inside each target). Crashes land in fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../fuzz"

seconds=${1:-60}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

for target in $(cargo fuzz list); do
    echo "== $target: $seconds s"
    cargo fuzz run --sanitizer none "$target" -- -max_total_time="$seconds" 2>&1 |
        grep -E '^Done|panicked|SUMMARY' || true
    if [ -n "$(ls -A "artifacts/$target" 2>/dev/null)" ]; then
        echo "$target found a crash: see fuzz/artifacts/$target" >&2
        exit 1
    fi
done
