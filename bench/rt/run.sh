#!/usr/bin/env bash
# bench/rt: cyclictest max and p99 latency in the RT-Linux guest while
# stress-ng loads every host core, with hv's placement (reserved core,
# SCHED_FIFO, cpuset partition) and without it, in the same run; prints the
# ratios. Then the Debian root against the busybox image, both placed,
# alternated (busybox, Debian, busybox, Debian): its extra userland must not
# reach the RT core (target: max and p99 ratios <= 1.2).
# Usage: bench/rt/run.sh [SECONDS]   (root)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="/opt/swift/usr/bin:$PATH"
seconds="${1:-30}"
command -v stress-ng >/dev/null || { apt-get update && apt-get install -y stress-ng; }
swift build
root=$(mktemp -d /tmp/hvrt-XXXX)
# The guests' QEMUs run as users of their own and must pass through it.
chmod 755 "$root"
bin="$root-bin"
mkdir -p "$bin"
ln -s "$PWD/.build/debug/hv" "$bin/hv"
ln -s "$PWD/.build/debug/hvd" "$bin/hvd"
for n in hv_open_example hv_sync_example hv_vmf_start hv_vmf_stop hv_guest_start hv_guest_stop; do ln -s hv "$bin/$n"; done
export HV_ROOT="$root" PATH="$bin:$PATH"
repo=$PWD
cleanup() {
    (cd "$root/guests/guestrtlinux" 2>/dev/null && hv_guest_stop --force >/dev/null 2>&1) || true
    hv_vmf_stop --yes >/dev/null 2>&1 || true
    [ -f "$root/run/hvd.pid" ] && kill "$(cat "$root/run/hvd.pid")" 2>/dev/null || true
    # The exchange folder is a loop-mounted file system of its own: unmount it before removing.
    python3 -c "import sys; sys.path.insert(0, '$repo/bench'); from common import remove_root; remove_root('$root')"
    rm -rf "$bin"
}
trap cleanup EXIT
hv setup --skip-packages >/dev/null
hv_open_example rt-linux --yes >/dev/null
hv_sync_example rt-linux >/dev/null
cd "$root/guests/guestrtlinux"
root_is() { printf '[Guest\\Boot]\n    "Root"="%s"\n' "$1" > usr.config; }
root_is busybox
hv_vmf_start >/dev/null
hv_guest_start >/dev/null
hv rt bench guestrtlinux --duration "$seconds" --load --compare
cp rt-bench.svg rt-bench.png /tmp/ 2>/dev/null && echo "plots copied to /tmp/rt-bench.svg and /tmp/rt-bench.png"
echo "target: hv's max latency <= 0.5 x the unplaced guest's (ratio 'max' above)"
hv_guest_stop >/dev/null
# Debian root against busybox, both placed, under the same load.
: > "$root/roots.txt"
for r in busybox debian busybox debian; do
    root_is "$r"
    hv_guest_start >/dev/null
    # The p99 and max columns of the run's row.
    hv rt bench guestrtlinux --duration "$seconds" --load | awk -v r="$r" '$1 == "hv" && $2 == "placement" { print r, $6, $7 }' | tee -a "$root/roots.txt"
    hv_guest_stop >/dev/null
done
awk '{ p[$1] += $2; m[$1] += $3; n[$1]++ }
     END { if (n["busybox"] && n["debian"] && p["busybox"] && m["busybox"])
             printf "Debian root / busybox image, both placed, means of %d runs each: p99 %.2f, max %.2f   (target <= 1.2)\n", n["debian"], (p["debian"]/n["debian"])/(p["busybox"]/n["busybox"]), (m["debian"]/n["debian"])/(m["busybox"]/n["busybox"]) }' "$root/roots.txt"
