#!/usr/bin/env bash
# Runs bench/vmfnet against this checkout's build (HV_BENCH_BIN: another hv).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/opt/swift/usr/bin:$PATH"
command -v python3 >/dev/null || { apt-get update && apt-get install -y python3; }
bash scripts/deps.sh
[ -n "${HV_BENCH_BIN:-}" ] || swift build
exec python3 bench/vmfnet/bench.py "$@"
