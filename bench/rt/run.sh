#!/usr/bin/env bash
# bench/rt: cyclictest max and p99 latency in the RT-Linux guest while
# stress-ng loads every host core, with hv's placement (reserved core,
# SCHED_FIFO, cpuset partition) and without it, in the same run; prints the
# ratios. Usage: bench/rt/run.sh [SECONDS]   (root)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/opt/swift/usr/bin:$PATH"
seconds="${1:-30}"
command -v stress-ng >/dev/null || { apt-get update && apt-get install -y stress-ng; }
swift build
root=$(mktemp -d /tmp/hvrt-XXXX)
bin="$root-bin"
mkdir -p "$bin"
ln -s "$PWD/.build/debug/hv" "$bin/hv"
ln -s "$PWD/.build/debug/hvd" "$bin/hvd"
for n in hv_open_example hv_sync_example hv_vmf_start hv_vmf_stop hv_guest_start hv_guest_stop; do ln -s hv "$bin/$n"; done
export HV_ROOT="$root" PATH="$bin:$PATH"
cleanup() {
    hv_vmf_stop --yes >/dev/null 2>&1 || true
    [ -f "$root/run/hvd.pid" ] && kill "$(cat "$root/run/hvd.pid")" 2>/dev/null || true
    rm -rf "$root" "$bin"
}
trap cleanup EXIT
hv setup --skip-packages >/dev/null
hv_open_example rt-linux --yes >/dev/null
hv_sync_example rt-linux >/dev/null
cd "$root/guests/guestrtlinux"
hv_vmf_start >/dev/null
hv_guest_start >/dev/null
hv rt bench guestrtlinux --duration "$seconds" --load --compare
cp rt-bench.svg rt-bench.png /tmp/ 2>/dev/null && echo "plots copied to /tmp/rt-bench.svg and /tmp/rt-bench.png"
echo "target: hv's max latency <= 0.5 x the unplaced guest's (ratio 'max' above)"
