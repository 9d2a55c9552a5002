#!/usr/bin/env bash
# Builds hv and runs every test: unit, component (fake QMP server) and end to
# end (the built hv booting the real RT-Linux guest under QEMU), then the
# browser, contract, fuzz, metrics, Ansible and installed-service checks.
#
# Two cores carry all of it, so work that waits for nobody runs beside the
# test that keeps one core busy, at nice 19 (it takes only what that test
# leaves idle): the release package and the fuzz pass beside the end-to-end
# suite (mostly one TCG vCPU), the installed-service guest beside the
# browser, contract, metrics and Ansible checks (mostly waiting on sockets).
# Each phase prints how long it took, for whoever trims CI next.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
bash scripts/deps.sh
# The module arrows of docs/ARCHITECTURE.md are checked: a module importing one it
# does not declare (the CLI importing HVEngine, say) fails the build.
swift build --explicit-target-dependency-import-check error
swift build --build-tests --explicit-target-dependency-import-check error
log=$(mktemp)
side=$(mktemp -d)
declare -A side_pid
cleanup() {
    for pid in "${side_pid[@]}"; do kill -- -"$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
    rm -rf "$log" "$side"
}
trap cleanup EXIT
status=0
phase() { # NAME COMMAND...: runs it in the foreground, its output into the log
    local name=$1 t0=$SECONDS rc=0; shift
    "$@" 2>&1 | tee -a "$log" || rc=$?
    echo "  ($name took $((SECONDS - t0)) s)"
    [ "$rc" = 0 ] || status=$rc
}
beside() { # NAME COMMAND...: starts it at nice 19 in its own process group, output kept for settle
    local name=$1; shift
    set -m
    ( renice -n 19 -p "$BASHPID" >/dev/null; t0=$SECONDS; rc=0; "$@" > "$side/$name.log" 2>&1 || rc=$?
      echo "  ($name took $((SECONDS - t0)) s, beside the others)" >> "$side/$name.log"; exit "$rc" ) &
    set +m
    side_pid[$name]=$!
}
settle() { # NAME: waits for a job started by beside (its status: a killed one's too), puts its output into the log
    local name=$1 rc=0
    wait "${side_pid[$name]}" || rc=$?
    tee -a "$log" < "$side/$name.log"
    [ "$rc" = 0 ] || status=$rc
    return "$rc"
}
package_then_fuzz() {
    # The Debian package (release build) for the service test; a short pass of
    # each fuzz target (bench/fuzz/run.sh alone runs a million inputs each).
    local rc=0
    bash scripts/package.sh > "$side/package-build.log" 2>&1 || { rc=$?; cat "$side/package-build.log"; echo "✘ service: the package did not build"; }
    echo "$rc" > "$side/package.rc"
    # The package of the commit before (HV_UPGRADE_FROM names another): the
    # service test installs it first and upgrades to this one with guests running.
    local from=${HV_UPGRADE_FROM:-HEAD~1} old=$side/old-tree
    if [ "$rc" = 0 ] && git rev-parse -q --verify "$from^{commit}" > /dev/null \
       && git worktree add -f --detach "$old" "$from" > "$side/old-package.log" 2>&1 \
       && (cd "$old" && bash scripts/package.sh) >> "$side/old-package.log" 2>&1; then
        cp "$old"/dist/hv_*_amd64.deb "$side/old.deb"
        echo "  (the service test upgrades from the package of $(git rev-parse --short "$from"))"
    else
        echo "  (no package of $from: the service test upgrades this package to itself with a higher version)"
    fi
    git worktree remove --force "$old" > /dev/null 2>&1 || rm -rf "$old"
    git worktree prune
    bash bench/fuzz/run.sh 20000 || rc=$?
    return "$rc"
}
format_check() {
    # One layout for all the Swift: .swift-format's (`swift format -i -r -p Sources Tests bench/fuzz` applies it).
    if swift format lint --strict -r -p Sources Tests bench/fuzz > "$side/format.log" 2>&1; then
        echo "✔ format: Sources, Tests and bench/fuzz are laid out as .swift-format says"
    else
        head -n 20 "$side/format.log"
        echo "✘ format: $(wc -l < "$side/format.log") findings (swift format -i -r -p Sources Tests bench/fuzz mends the layout)"
        return 1
    fi
}
phase format format_check
if [ $# -eq 0 ]; then beside package-fuzz package_then_fuzz; fi
# HV_E2E=1: the end-to-end suite (real guests) too; a plain `swift test` runs the fast tiers only.
phase "swift test" env HV_E2E=1 swift test "$@"
# The rest is skipped when a filter selects Swift tests only.
if [ $# -eq 0 ]; then
    settle package-fuzz || true
    # The Debian package on a Debian 12 guest with systemd as PID 1 (boot, autostart, restarts, removal).
    if [ "$(cat "$side/package.rc")" = 0 ]; then
        if [ -f "$side/old.deb" ]; then export OLD_DEB=$side/old.deb; fi
        beside service bash Tests/Service/run.sh
    fi
    # The System Manager in a real browser.
    phase browser python3 Tests/Browser/manager_test.py
    # The API against its OpenAPI document (schemathesis), on a live hvd in a scratch root.
    phase contract bash Tests/Contract/run.sh
    # hvd's metrics scraped by a real Prometheus; the Ansible collection against two hv hosts.
    phase metrics bash Tests/Metrics/run.sh
    phase ansible bash Tests/Ansible/run.sh
    if [ "$(cat "$side/package.rc")" = 0 ]; then settle service || true; fi
fi
# One plain summary line (XCTest's own says "Executed 0 tests": all tests are Swift Testing ones).
summary=$(grep -E 'Test run with [0-9]+ tests? .*(passed|failed)' "$log" | tail -n 1 || true)
total=$(sed -E 's/.*Test run with ([0-9]+) tests?.*/\1/' <<<"$summary")
# A failed test's own line; the run's summary line ("✘ Test run with …") is not a test.
failed=$(grep -E '^✘ Test .* failed after' "$log" | grep -vc '^✘ Test run with' || true)
btotal=$(grep -cE '^(✔|✘) (format|browser|fuzz|contract|service|metrics|ansible)[ :]' "$log" || true)
bfailed=$(grep -cE '^✘ (format|browser|fuzz|contract|service|metrics|ansible)[ :]' "$log" || true)
if [ -n "$total" ]; then echo "$((total + btotal - failed - bfailed)) passed, $((failed + bfailed)) failed"; fi
exit "$status"
