#!/usr/bin/env bash
# Installs the Debian packages that building and testing hv need, if missing.
set -euo pipefail
# The KVM-guest tests also build an installer ISO (grub-mkrescue, xorriso,
# mtools) and boot it with UEFI (ovmf) and a TPM (swtpm); hv setup compiles
# the guest's communication tools (gcc, make, libc6-dev).
deps=(qemu-system-x86 qemu-utils busybox-static cpio rt-tests kmod xz-utils util-linux procps python3
      ovmf swtpm swtpm-tools grub-common grub-efi-amd64-bin grub-pc-bin xorriso mtools fdisk
      gcc make libc6-dev iproute2 librsvg2-bin fonts-dejavu-core mmdebstrap
      chromium chromium-driver python3-pip novnc)
missing=()
for p in "${deps[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
# The System Manager's browser tests drive Chromium with Selenium; the API
# contract test runs schemathesis against docs/openapi.json (both from PyPI).
for py in selenium schemathesis; do
    if ! python3 -c "import $py" 2>/dev/null; then
        python3 -m pip install -q "$py" 2>/dev/null || python3 -m pip install -q --break-system-packages "$py"
    fi
done
