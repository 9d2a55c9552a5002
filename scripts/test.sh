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
# HV_E2E=1: the end-to-end suite (real guests) too; a plain `swift test` runs the fast tiers only.
HV_E2E=1 swift test "$@" 2>&1 | tee "$log" || status=$?
# The System Manager in a real browser (skipped when a filter selects Swift tests only).
if [ $# -eq 0 ]; then
    python3 Tests/Browser/manager_test.py 2>&1 | tee -a "$log" || status=$?
    # The API against its OpenAPI document (schemathesis), on a live hvd in a scratch root.
    bash Tests/Contract/run.sh 2>&1 | tee -a "$log" || status=$?
    # A short pass of each fuzz target (bench/fuzz/run.sh runs a million inputs each).
    bash bench/fuzz/run.sh 20000 2>&1 | tee -a "$log" || status=$?
    # hvd's metrics scraped by a real Prometheus; the Ansible collection against two hv hosts.
    bash Tests/Metrics/run.sh 2>&1 | tee -a "$log" || status=$?
    bash Tests/Ansible/run.sh 2>&1 | tee -a "$log" || status=$?
    # The Debian package on a Debian 12 guest with systemd as PID 1 (boot, autostart, restarts, removal).
    { bash scripts/package.sh && bash Tests/Service/run.sh; } 2>&1 | tee -a "$log" || status=$?
fi
# One plain summary line (XCTest's own says "Executed 0 tests": all tests are Swift Testing ones).
summary=$(grep -E 'Test run with [0-9]+ tests? .*(passed|failed)' "$log" | tail -n 1 || true)
total=$(sed -E 's/.*Test run with ([0-9]+) tests?.*/\1/' <<<"$summary")
# A failed test's own line; the run's summary line ("✘ Test run with …") is not a test.
failed=$(grep -E '^✘ Test .* failed after' "$log" | grep -vc '^✘ Test run with' || true)
btotal=$(grep -cE '^(✔|✘) (browser|fuzz|contract|service|metrics|ansible)[ :]' "$log" || true)
bfailed=$(grep -cE '^✘ (browser|fuzz|contract|service|metrics|ansible)[ :]' "$log" || true)
if [ -n "$total" ]; then echo "$((total + btotal - failed - bfailed)) passed, $((failed + bfailed)) failed"; fi
exit "$status"
