#!/usr/bin/env bash
# Runs bench/manager against this checkout's build.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/opt/swift/usr/bin:$PATH"
command -v python3 >/dev/null || { apt-get update && apt-get install -y python3; }
swift build
exec python3 bench/manager/bench.py "$@"
