#!/usr/bin/env bash
# T10: run the codec's cargo-fuzz targets (rust/fuzz, libFuzzer) for SECONDS each.
# New inputs go to a scratch corpus seeded from the committed one (rust/fuzz/corpus/decode),
# so a run never rewrites the repository; a crash leaves its input in rust/fuzz/artifacts/
# and makes this script fail. Usage: tests/chaos/fuzz.sh [SECONDS] (default 30).
set -euo pipefail
seconds="${1:-30}"
export PATH="$HOME/.cargo/bin:$PATH"
cd "$(dirname "$0")/../.."
for target in decode decode_claim; do
  scratch="$(mktemp -d)"
  echo "== fuzz $target for ${seconds}s"
  cargo +nightly fuzz run --fuzz-dir rust/fuzz "$target" "$scratch" rust/fuzz/corpus/decode -- \
    -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1
  rm -rf "$scratch"
done
