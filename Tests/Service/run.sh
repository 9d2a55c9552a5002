#!/usr/bin/env bash
# hv as an installed service, on a real systemd: a Debian 12 guest (built by
# Tests/Fixtures/systemd-guest/rootfs.sh from Debian's archive, no Swift on
# it) boots under QEMU with systemd as PID 1; hv's .deb (scripts/package.sh)
# is installed there. Its stages run at boot as a unit of the test's own
# (hv-test.service, after hv-autostart.service) and leave their results in a
# 9p share:
#   1. dpkg -i, hvd answering, hv setup, the rt-linux example, autostart on; reboot.
#   2. with no command typed: the VMF is loaded, RT-Linux runs; with a KVM
#      guest started beside it, an upgrade (OLD_DEB=… to this package, else
#      this one to itself with a higher version), a downgrade back and the
#      upgrade again keep both QEMUs running, adopted and answering. Then, on
#      this package: RT-Linux answers on its console; `systemctl restart hvd`
#      and `kill -9` of hvd leave it running and re-adopted, and the host's
#      seat loses no ping to it across the restart; at reboot its shutdown is
#      graceful (hook ran).
#   3. after that reboot it is up again by itself; `dpkg -r hv` keeps /hv.
#   scripts/test.sh builds OLD_DEB from the commit before, so stage 1 and
#   stage 2 up to the upgrade run the older package: they use only what it has.
# Prints "✔ service …" / "✘ service …" lines for scripts/test.sh.
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
deb=$(ls dist/hv_*_amd64.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || { echo "✘ service: no package in dist/ (bash scripts/package.sh)"; exit 1; }
template=/tmp/hv-e2e-image/templates/rt-linux
[ -f "$template/vmlinux" ] || { echo "✘ service: no RT-Linux image at $template (the Swift end-to-end tests build it)"; exit 1; }
depends=$(dpkg-deb -f "$deb" Depends | sed 's/([^)]*)//g; s/ //g')
tree=$(bash Tests/Fixtures/systemd-guest/rootfs.sh "$depends") || { echo "✘ service: could not build the Debian root file system"; exit 1; }

work=$(mktemp -d /tmp/hv-service-XXXXXX)
share=$work/share
mkdir -p "$share/results"
image=$work/disk.img
mnt=$work/mnt
qemu_pid=
cleanup() {
    [ -n "$qemu_pid" ] && kill -9 "$qemu_pid" 2>/dev/null && wait "$qemu_pid" 2>/dev/null
    mountpoint -q "$mnt" && umount "$mnt"
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# The guest's disk: the cached tree, then the package, the RT-Linux image and the test's stages.
truncate -s 6G "$image"
mkfs.ext4 -q -F -d "$tree" "$image" || { echo "✘ service: mkfs.ext4 failed"; exit 1; }
mkdir -p "$mnt" && mount -o loop "$image" "$mnt" || { echo "✘ service: cannot mount the guest's disk"; exit 1; }
mkdir -p "$mnt/root/hv-test"
# The upgrade: from OLD_DEB (a package of an older commit) to this one when given, else from this
# one to itself with a higher version (dpkg's upgrade path: prerm upgrade, postinst configure OLD).
if [ -n "${OLD_DEB:-}" ]; then
    cp "$OLD_DEB" "$mnt/root/hv-test/hv.deb"
    cp "$deb" "$mnt/root/hv-test/hv-next.deb"
else
    cp "$deb" "$mnt/root/hv-test/hv.deb"
    next=$work/next
    dpkg-deb -R "$deb" "$next"
    sed -i 's/^Version: .*/&+next1/' "$next/DEBIAN/control"
    dpkg-deb -b -Zxz "$next" "$mnt/root/hv-test/hv-next.deb" > /dev/null || { echo "✘ service: could not make the next version's package"; exit 1; }
    rm -rf "$next"
fi
cp -rL "$template" "$mnt/root/hv-test/rt-linux"
install -m 0755 Tests/Service/stage.sh "$mnt/root/hv-test/stage.sh"
echo 1 > "$mnt/root/hv-test/stage"
cat > "$mnt/etc/systemd/system/hv-test.service" <<'UNIT'
[Unit]
Description=hv's installed-service test (one stage per boot)
After=hv-autostart.service mnt-hvtest.mount
Wants=mnt-hvtest.mount
[Service]
Type=oneshot
ExecStart=/root/hv-test/stage.sh
StandardOutput=journal+console
[Install]
WantedBy=multi-user.target
UNIT
# 9p's transport module before local-fs mounts the share.
printf '9pnet_virtio\n9p\n' > "$mnt/etc/modules-load.d/hvtest.conf"
ln -s /etc/systemd/system/hv-test.service "$mnt/etc/systemd/system/multi-user.target.wants/hv-test.service"
kernel=$(ls "$mnt"/boot/vmlinuz-* | head -n 1); initrd=$(ls "$mnt"/boot/initrd.img-* | head -n 1)
cp "$kernel" "$work/vmlinuz"; cp "$initrd" "$work/initrd.img"
umount "$mnt"

# Two vCPUs (one becomes the RT core), TCG as everywhere in the tests; reboots stay in QEMU.
t0=$(date +%s)
qemu-system-x86_64 -machine q35 -accel tcg -cpu max -smp 2 -m 4096 -nodefaults -no-user-config \
    -kernel "$work/vmlinuz" -initrd "$work/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0,115200 quiet systemd.show_status=0 net.ifnames=0" \
    -drive file="$image",if=virtio,format=raw,cache=unsafe \
    -virtfs local,path="$share",mount_tag=hvtest,security_model=none,id=hvtest \
    -chardev socket,id=s0,path="$work/serial.sock",server=on,wait=off,logfile="$work/console.log" -serial chardev:s0 \
    -display none -monitor none &
qemu_pid=$!
limit=${SERVICE_TIMEOUT:-1500}
while kill -0 "$qemu_pid" 2>/dev/null && [ $(( $(date +%s) - t0 )) -lt "$limit" ]; do sleep 2; done
if kill -0 "$qemu_pid" 2>/dev/null; then
    echo "  (the guest did not power off within $limit s; console tail:)"; tail -n 30 "$work/console.log" | sed 's/^/    /'
fi
echo "  (the installed-service guest ran $(( $(date +%s) - t0 )) s)"

r=$share/results
failures=0
ok() { echo "✔ service: $1"; }
no() { echo "✘ service: $1"; failures=$((failures + 1)); shift; for f in "$@"; do [ -f "$r/$f" ] && sed 's/^/    /' "$r/$f" | tail -n 20; done; }
check() { # NAME RESULT-FILE EXPECTED-WORD [FILES TO SHOW]
    local name=$1 file=$2 want=$3; shift 3
    if [ -f "$r/$file" ] && grep -q -- "$want" "$r/$file"; then ok "$name"; else no "$name" "$file" "$@"; fi
}
check "the package installs on Debian 12 without Swift (dpkg -i, no libswift loaded)" install.txt "INSTALLED-NO-SWIFT"
check "hvd.service is active after install (Type=notify)" install.txt "hvd=active"
check "hv --version names version and commit" install.txt "hv 0.*commit"
check "hv setup, the rt-linux example and autostart set" setup.txt "SETUP-DONE" setup.txt
check "after a reboot with no command: the VMF is loaded" boot2.txt "VMF is loaded" boot2.txt
check "after a reboot with no command: RT-Linux runs" boot2.txt "guest=running" boot2.txt journal2.txt
check "an upgrade with RT-Linux and a KVM guest running: hvd restarts and adopts both, neither QEMU restarts, both answer" upgrade.txt "UPGRADE-KEPT" upgrade.txt
check "a downgrade back to the installed version: both guests keep running and answer" upgrade.txt "DOWNGRADE-KEPT" upgrade.txt
check "the upgrade again: both guests keep running and answer (the rest tests the newer package)" upgrade.txt "UPGRADE-AGAIN-KEPT" upgrade.txt
check "RT-Linux answers on its console (after the upgrade)" console.txt "hv42ok" console.txt
check "systemctl restart hvd: the guest keeps running (same QEMU pid) and is re-adopted" restart.txt "RESTART-KEPT" restart.txt
check "systemctl restart hvd: the host's seat loses no ping to RT-Linux on the VMF network" netping.txt "100 packets received, 0% packet loss" netping.txt
check "kill -9 of hvd: systemd starts a new one; the guest keeps running, re-adopted" kill.txt "KILL-KEPT" kill.txt
check "hvd logs to the journal with levels (info at priority 6, no <6> left in the text)" journal2.txt "JOURNAL-OK" journal2.txt
check "at reboot the guest stopped gracefully (its shutdown hook ran with HV_STOP_REASON=requested)" boot3.txt "HOOK-REQUESTED" boot3.txt
check "after the second reboot RT-Linux is up again by itself" boot3.txt "guest=running" boot3.txt
check "dpkg -r hv keeps /hv (guests, config) and the running guest" remove.txt "REMOVE-KEPT" remove.txt
[ -f "$r/done" ] || { echo "  console tail:"; tail -n 40 "$work/console.log" | sed 's/^/    /'; }
[ "$failures" = 0 ]
