#!/usr/bin/env bash
# Builds hv and runs every test: unit, component (fake QMP server) and end to
# end (the built hv booting the real RT-Linux guest under QEMU).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/deps.sh
swift build
swift build --build-tests
swift test "$@"
