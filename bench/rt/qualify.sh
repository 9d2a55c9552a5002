#!/usr/bin/env bash
# bench/rt/qualify.sh: `hv rt qualify` of the RT-Linux guest with --load,
# first with hv's placement, then with the guest started without it
# (`hv guest start --no-placement`), in the same run. Prints both runs'
# cyclictest and oslat figures and the ratios placed / unplaced (target:
# max and p99.99 ratios <= 0.5), and whether the second run was flagged.
# Usage: bench/rt/qualify.sh [DURATION]   (root; each run DURATION, default 10m)
set -euo pipefail
cd "$(dirname "$0")/../.."
duration="${1:-10m}"
# The scratch root, the built hv, the example and the cleanup (shared with run.sh).
source bench/rt/scratch.sh
printf '[Guest\\Boot]\n    "Root"="busybox"\n' > "$root/guests/guestrtlinux/usr.config"
(cd "$root/guests/guestrtlinux" && hv_vmf_start >/dev/null && hv_guest_start >/dev/null)
# A qualification starts once the guest has booted: asked again while it boots.
qualify() {
    for _ in $(seq 90); do
        out=$(hv rt qualify guestrtlinux --duration "$duration" --load 2>&1) && { echo "$out"; return 0; }
        case $out in *"still booting"*) sleep 2 ;; *) echo "$out"; return 1 ;; esac
    done
}
echo "== with hv's placement, stress-ng on the other cores ($duration)"
qualify | tail -n 12
hv guest stop --force guestrtlinux >/dev/null
hv guest start guestrtlinux --no-placement >/dev/null
echo "== without hv's placement, the same load ($duration)"
qualify | tail -n 12 || true
python3 - "$root/guests/guestrtlinux/qualify" <<'EOF'
import json, os, sys
d = sys.argv[1]
runs = sorted(r for r in os.listdir(d) if os.path.isdir(os.path.join(d, r)))
placed, unplaced = (json.load(open(os.path.join(d, r, "report.json")))["status"] for r in runs[-2:])
def ratio(a, b): return f"{a / b:.2f}" if b else "-"
print(f"{'':26}{'placed':>10}{'unplaced':>10}{'ratio':>8}")
for label, key in [("cyclictest max µs", "max"), ("cyclictest p99.99 µs", "p9999"), ("cyclictest p99 µs", "p99"), ("cyclictest avg µs", "avg")]:
    a, b = placed["total"][key], unplaced["total"][key]
    print(f"{label:26}{a:>10}{b:>10}{ratio(a, b):>8}")
if placed.get("osLatency") and unplaced.get("osLatency"):
    for label, key in [("oslat max µs", "max"), ("oslat p99.99 µs", "p9999")]:
        a, b = placed["osLatency"]["total"][key], unplaced["osLatency"]["total"][key]
        print(f"{label:26}{a:>10}{b:>10}{ratio(a, b):>8}")
print(f"samples: {placed['total']['samples']} placed, {unplaced['total']['samples']} unplaced; the second run: {unplaced['state']}")
print("target: max and p99.99 ratios <= 0.5; the second run flagged 'regressed'")
EOF
