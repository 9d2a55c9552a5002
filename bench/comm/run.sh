#!/usr/bin/env bash
# Runs bench/comm against this checkout's build.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/opt/swift/usr/bin:$PATH"
command -v python3 >/dev/null || { apt-get update && apt-get install -y python3; }
bash scripts/deps.sh
swift build
exec python3 bench/comm/bench.py "$@"
