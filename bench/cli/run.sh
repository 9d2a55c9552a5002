#!/usr/bin/env bash
# Start-up of the CLI: the package's binaries (Swift runtime linked
# statically) against a release build linked dynamically, in the same run.
#   usage: bench/cli/run.sh [ROUNDS]   (builds both; prints medians, ratios, hvd's idle RSS)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/package.sh >/dev/null
swift build -c release --scratch-path .build-dynamic >/dev/null
python3 bench/cli/bench.py "${1:-100}" .build-release/release .build-dynamic/release
