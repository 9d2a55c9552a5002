# Sourced by bench/rt's scripts: the built hv in a scratch HV_ROOT with the
# rt-linux example opened (its RT-Linux guest on the busybox image), stress-ng
# for the load, and a cleanup on exit that stops the guest, the VMF and hvd
# by pid and unmounts the exchange folder before removing the root.
export PATH="/opt/swift/usr/bin:$PATH"
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
    hv guest stop --force guestrtlinux >/dev/null 2>&1 || true
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
