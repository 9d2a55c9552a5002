#!/usr/bin/env bash
# Builds (once) a Debian 12 root file system with systemd as PID 1 and what
# hv's package depends on, but no Swift: the host for the installed-service
# test. Cached by its package list in $HV_TEST_CACHE (default
# /var/cache/hv-tests); prints the tree's path.
#   usage: rootfs.sh DEPENDS   (the package's Depends, comma-separated)
set -euo pipefail
depends="$1"
cache="${HV_TEST_CACHE:-/var/cache/hv-tests}"
base="systemd,systemd-sysv,udev,linux-image-amd64,kmod,iproute2,procps,util-linux,e2fsprogs,acl"
key=$(printf '%s|%s|1' "$base" "$depends" | sha256sum | cut -c1-16)
tree="$cache/debian12-systemd-$key"
if [ ! -d "$tree/etc" ]; then
    command -v mmdebstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mmdebstrap >&2
    mkdir -p "$cache"
    rm -rf "$cache"/debian12-systemd-*
    # Root logs in on the serial console by itself; the test reaches its
    # share over 9p; the hostname tells the test which machine it is on.
    mmdebstrap --variant=apt --format=directory --include="$base,$depends" \
        --customize-hook='echo hv-systemd-test > "$1/etc/hostname"' \
        --customize-hook='mkdir -p "$1/etc/systemd/system/serial-getty@ttyS0.service.d"' \
        --customize-hook='printf "[Service]\nExecStart=\nExecStart=-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 %%I \$TERM\n" > "$1/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf"' \
        --customize-hook='printf "/dev/vda / ext4 defaults 0 1\nhvtest /mnt/hvtest 9p trans=virtio,version=9p2000.L,msize=262144,nofail 0 0\n" > "$1/etc/fstab"' \
        --customize-hook='mkdir -p "$1/mnt/hvtest"' \
        --customize-hook='passwd --root "$1" -d root' \
        bookworm "$tree.part" http://deb.debian.org/debian >&2
    mv "$tree.part" "$tree"
fi
echo "$tree"
