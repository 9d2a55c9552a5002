#!/usr/bin/env bash
# Runs bench/sandbox (QEMU's seccomp sandbox: boot time with and without).
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 bench/sandbox/bench.py "$@"
