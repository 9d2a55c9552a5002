#!/bin/bash
# Builds a small installer ISO from Debian packages, for the KVM-guest tests:
# booted from the ISO it writes a bootable system (GPT, EFI system partition,
# GRUB, Debian's kernel, a busybox initramfs) onto the guest's first disk and
# powers off; booted from that disk it mounts /hv/guests, leaves a file in
# its guest folder there and waits on its console.
#   build.sh OUTPUT.iso [KERNEL.deb] [GUEST_TOOLS_DIR]
# GUEST_TOOLS_DIR (hv setup's templates/rt-linux/guest-tools) adds hv-comm,
# hv-net-up and the hv_ivshmem module: the communication subsystem.
# Needs: grub-efi-amd64-bin grub-pc-bin grub-common xorriso mtools busybox-static fdisk kmod cpio
set -euo pipefail
out=$(realpath -m "$1")
here=$(cd "$(dirname "$0")" && pwd)
deb=${2:-$(ls -1 "${HV_CACHE:-/var/cache/hv}"/debs/linux-image-*-rt-amd64-unsigned_*.deb 2>/dev/null | tail -1)}
[ -f "$deb" ] || { echo "no kernel package: run hv setup first (it caches one under /var/cache/hv/debs)" >&2; exit 2; }
work=$(mktemp -d /tmp/hv-installer-XXXX)
trap 'rm -rf "$work"' EXIT
dpkg-deb -x "$deb" "$work/k"
kver=$(ls "$work/k/lib/modules" | head -1)
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,mnt,etc,root,payload,lib/modules}
cp /bin/busybox "$root/bin/busybox"
for a in $(/bin/busybox --list-full); do
    [ -e "$root/$a" ] || { mkdir -p "$root/$(dirname "$a")"; ln -s /bin/busybox "$root/$a"; }
done
# sfdisk (GPT) with its libraries.
copy() { mkdir -p "$root$(dirname "$1")"; cp -L "$1" "$root$1"; }
copy /sbin/sfdisk
for lib in $(ldd /sbin/sfdisk | grep -o '/[^ ]*'); do copy "$lib"; done
# Modules and what they need, resolved by depmod.
depmod -b "$work/k" "$kver"
mods="virtio_pci virtio_blk virtio_net ahci sd_mod 9pnet_virtio 9p vfat nls_cp437 nls_ascii nls_utf8 nls_iso8859_1 qemu_fw_cfg button evdev i6300esb"
for m in $mods; do
    modprobe -d "$work/k" -S "$kver" --show-depends "$m" 2>/dev/null | awk '$1=="insmod"{print $2}'
done | sort -u | while read -r f; do
    rel=${f#"$work/k"}
    mkdir -p "$root$(dirname "$rel")"; cp "$f" "$root$rel"
done
cp "$work/k/lib/modules/$kver"/modules.{builtin,builtin.modinfo,order} "$root/lib/modules/$kver/" 2>/dev/null || true
depmod -b "$root" "$kver"
tools=${3:-}
if [ -n "$tools" ] && [ -d "$tools" ]; then
    install -m 755 "$tools/hv-comm" "$root/usr/bin/hv-comm"
    install -m 755 "$tools/hv-net-up" "$root/sbin/hv-net-up"
    mkdir -p "$root/lib/modules/$kver/extra"
    cp "$tools/hv_ivshmem.ko" "$root/lib/modules/$kver/extra/"
    depmod -b "$root" "$kver"
fi
cp "$here/init" "$root/init"; chmod 755 "$root/init"
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"
printf 'export PATH=/sbin:/bin:/usr/sbin:/usr/bin\nexport PS1="hv-test:\\w# "\n' > "$root/etc/profile"
cmdline="console=tty0 console=ttyS0 panic=5 cryptomgr.notests"
# The installed system: the same root file system without the payload.
(cd "$root" && find . -path ./payload -prune -o -print | cpio -o -H newc --quiet) > "$work/initrd.img"
cp "$work"/k/boot/vmlinuz-* "$work/vmlinuz"
cat > "$work/disk-grub.cfg" <<CFG
set timeout=0
search --no-floppy --file --set=root /hv-installed
linux /vmlinuz $cmdline hvtest.mode=run
initrd /initrd.img
boot
CFG
grub-mkstandalone -O x86_64-efi -o "$work/BOOTX64.EFI" --modules="part_gpt fat search linux normal efi_gop efi_uga all_video" \
    "boot/grub/grub.cfg=$work/disk-grub.cfg"
cp "$work/BOOTX64.EFI" "$work/vmlinuz" "$work/initrd.img" "$root/payload/"
# The installer's initramfs carries the payload.
mkdir -p "$work/iso/boot/grub"
(cd "$root" && find . | cpio -o -H newc --quiet) > "$work/iso/boot/installer.img"
cp "$work/vmlinuz" "$work/iso/boot/vmlinuz"
cat > "$work/iso/boot/grub/grub.cfg" <<CFG
set timeout=0
menuentry "hv test installer" {
    linux /boot/vmlinuz $cmdline hvtest.mode=install
    initrd /boot/installer.img
}
CFG
grub-mkrescue -o "$out.tmp" "$work/iso" >/dev/null 2>&1 || grub-mkrescue -o "$out.tmp" "$work/iso"
mv "$out.tmp" "$out"
echo "$out"
