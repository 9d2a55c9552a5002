#!/usr/bin/env bash
# Builds hv and runs every test: unit, component (fake QMP server) and end to
# end (the built hv booting the real RT-Linux guest under QEMU).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/deps.sh
swift build
swift build --build-tests
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift test "$@" 2>&1 | tee "$log" || status=$?
# One plain summary line (XCTest's own says "Executed 0 tests": all tests are Swift Testing ones).
summary=$(grep -E 'Test run with [0-9]+ tests? .*(passed|failed)' "$log" | tail -n 1 || true)
total=$(sed -E 's/.*Test run with ([0-9]+) tests?.*/\1/' <<<"$summary")
failed=$(grep -cE '^✘ Test .* failed after' "$log" || true)
if [ -n "$total" ]; then echo "$((total - failed)) passed, $failed failed"; fi
exit "$status"
