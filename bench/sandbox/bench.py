#!/usr/bin/env python3
"""bench/sandbox: what QEMU's seccomp sandbox (as hv starts every guest:
-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny)
costs the RT-Linux guest's boot: the same QEMU command line with and without
it, alternating, in one run, as root (hv's own user drop is not part of this).
Prints the median time from launch to "hv-guest: ready" and the ratio.

Usage: bench/sandbox/run.sh [ROUNDS] [IMAGE_DIR]   (IMAGE_DIR: templates/rt-linux of an hv root)
"""
import os, statistics, subprocess, sys, time

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
IMAGE = sys.argv[2] if len(sys.argv) > 2 else "/hv/templates/rt-linux"
SANDBOX = ["-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"]


def tsc_khz():
    for line in open("/proc/cpuinfo"):
        if line.startswith("cpu MHz"):
            return int(float(line.split(":")[1]) * 1000)
    return 0


def boot(sandboxed):
    argv = ["qemu-system-x86_64", "-nodefaults", "-no-user-config"] + (SANDBOX if sandboxed else []) + [
        "-machine", "microvm", "-accel", "tcg", "-cpu", "qemu64,+arat", "-smp", "1", "-m", "256M",
        "-kernel", os.path.join(IMAGE, "vmlinux"), "-initrd", os.path.join(IMAGE, "initramfs.cpio"),
        "-append", f"console=ttyS0 panic=5 quiet cryptomgr.notests tsc_early_khz={tsc_khz()} tsc=reliable pci=off",
        "-serial", "stdio", "-display", "none"]
    start = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    buf = b""
    try:
        while b"hv-guest: ready" not in buf:
            chunk = p.stdout.read1(4096)
            if not chunk:
                raise RuntimeError(f"QEMU ended: {buf[-400:]!r}")
            buf += chunk
            if time.monotonic() - start > 120:
                raise TimeoutError(buf[-400:])
        return time.monotonic() - start
    finally:
        p.kill()
        p.wait()


with_s, without = [], []
for _ in range(ROUNDS):
    without.append(boot(False))
    with_s.append(boot(True))
a, b = statistics.median(with_s), statistics.median(without)
print(f"boot to ready, median of {ROUNDS}: with the sandbox {a:.2f} s, without {b:.2f} s, ratio {a / b:.2f}")
