#!/usr/bin/env bash
# From a fresh Debian 12 host (as root) to the console of the RT-Linux guest:
# builds hv's Debian package and installs it (as a plant host would), runs
# `hv setup`, then the seed's own commands.
# Ctrl-] detaches from the console; the guest keeps running (hv_guest_stop stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:/usr/local/bin:$PATH"
bash scripts/deps.sh
bash scripts/package.sh
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "./$(ls dist/hv_*_amd64.deb | head -n 1)"
# The package's commands, not an older `hv install` in /usr/local/bin.
export PATH="/usr/bin:$PATH"
hash -r
hv setup
root="${HV_ROOT:-/hv}"
if [ -f "$root/guests/guestrtlinux/guest.config" ]; then
    echo "the rt-linux example is already set up in $root/guests/guestrtlinux"
else
    if [ -n "$(ls -A "$root/guests" 2>/dev/null)" ]; then
        # Other guests exist: hv_open_example lists them and asks (it keeps a backup).
        hv_open_example rt-linux
    else
        hv_open_example rt-linux --yes
    fi
    hv_sync_example rt-linux
fi
cd "$root/guests/guestrtlinux"
hv_vmf_is_loaded >/dev/null || hv_vmf_start
if hv guest status guestrtlinux | grep -q '"state" : "running"'; then
    exec hv_guest_console
fi
exec hv_guest_start -view
