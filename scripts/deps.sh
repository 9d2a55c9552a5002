#!/usr/bin/env bash
# Installs the Debian packages that building and testing hv need, if missing.
set -euo pipefail
deps=(qemu-system-x86 qemu-utils busybox-static cpio rt-tests kmod xz-utils util-linux procps python3)
missing=()
for p in "${deps[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
