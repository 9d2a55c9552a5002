#!/usr/bin/env bash
# Installs the Debian packages that building and testing hv need, if missing.
set -euo pipefail
# The KVM-guest tests also build an installer ISO (grub-mkrescue, xorriso,
# mtools) and boot it with UEFI (ovmf), a TPM (swtpm) and, for Windows, the
# guests folder over SMB (samba); hv setup compiles
# the guest's communication tools (gcc, make, libc6-dev); hv rt qualify --load (and
# hv rt bench --load) loads the host with stress-ng.
deps=(qemu-system-x86 qemu-utils busybox-static cpio rt-tests kmod xz-utils util-linux procps python3
      ovmf swtpm swtpm-tools grub-common grub-efi-amd64-bin grub-pc-bin xorriso mtools fdisk
      gcc make libc6-dev iproute2 librsvg2-bin fonts-dejavu-core mmdebstrap prometheus
      chromium chromium-driver python3-pip novnc samba pci.ids e2fsprogs openssh-client approx iputils-ping nftables stress-ng)
missing=()
for p in "${deps[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
    # The metrics test starts its own Prometheus on a free loopback port; the
    # package's service (on :9090, where systemd runs) is not wanted.
    if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
        systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    fi
    # approx is started by hvd per connection for the guests; its own socket unit is not wanted.
    if [[ " ${missing[*]} " == *" approx "* ]] && [ -d /run/systemd/system ]; then
        systemctl disable --now approx.socket >/dev/null 2>&1 || true
    fi
    # samba is here for QEMU, which starts its own smbd for a Windows guest's
    # share; the host's SMB server is not wanted.
    if [[ " ${missing[*]} " == *" samba "* ]] && [ -d /run/systemd/system ]; then
        systemctl disable --now smbd.service nmbd.service samba-ad-dc.service >/dev/null 2>&1 || true
    fi
fi
# The System Manager's browser tests drive Chromium with Selenium; the API
# contract test runs schemathesis against docs/openapi.json; the Ansible
# collection's tests run ansible-core (all from PyPI).
for py in selenium:selenium schemathesis:schemathesis ansible:ansible-core; do
    # From / : the repository's own ansible/ folder would pass for the package.
    if ! (cd / && python3 -c "import ${py%%:*}; assert ${py%%:*}.__file__") 2>/dev/null; then
        python3 -m pip install -q "${py#*:}" 2>/dev/null || python3 -m pip install -q --break-system-packages "${py#*:}"
    fi
done
