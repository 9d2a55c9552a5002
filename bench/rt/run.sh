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
seconds="${1:-30}"
# The scratch root, the built hv, the example and the cleanup (shared with qualify.sh).
source bench/rt/scratch.sh
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
