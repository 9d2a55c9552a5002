#!/usr/bin/env python3
"""bench/memory: what a running KVM guest costs the host beyond its RAM.

The ubuntu_rtlinux example's guest is installed from the test installer ISO
(Tests/Fixtures/installer-iso), then booted by hv; once its system is up,
QEMU's resident memory is split (from /proc/PID/smaps) into the guest RAM it
has touched and everything else (the overhead). The same installed disk is
then booted by plain qemu-system-x86_64 (q35, the same OVMF, the same RAM and
vCPUs, QEMU's default devices) in the same run, and the overheads are compared.
Under TCG, QEMU's translated-code buffer is part of the overhead and is shown
on its own line (KVM has none).

Usage: bench/memory/run.sh [ROUNDS]   (root; builds hv first). Target: hv's overhead <= 64 MiB.
"""
import os, re, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common import hv, prepare_ubuntu_example, remove_root  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 2
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HV = os.path.join(REPO, ".build", "debug", "hv")
READY = "hv-test: ready"
SETTLE = 5


def smaps(pid):
    """Each mapping's size, perms, name and resident KiB."""
    maps, cur = [], None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
            if m:
                cur = {"kib": (int(m.group(2), 16) - int(m.group(1), 16)) // 1024, "perms": m.group(3),
                       "name": m.group(4), "rss": 0}
                maps.append(cur)
            elif line.startswith("Rss:") and cur is not None:
                cur["rss"] = int(line.split()[1])
    return maps


def measure(pid, ram_mib):
    maps = smaps(pid)
    total = sum(m["rss"] for m in maps)
    # Guest RAM: the one anonymous mapping of exactly the configured size.
    ram = [m for m in maps if m["kib"] == ram_mib * 1024 and not m["name"]]
    touched = max((m["rss"] for m in ram), default=0)
    # TCG's translated code: anonymous executable memory (none under KVM).
    tcg = sum(m["rss"] for m in maps if "x" in m["perms"] and not m["name"])
    # Files mapped in (QEMU's binary, libraries, firmware): page cache that every guest shares.
    files = sum(m["rss"] for m in maps if m["name"].startswith("/"))
    return {"rss": total / 1024, "ram": touched / 1024, "overhead": (total - touched) / 1024, "tcg": tcg / 1024,
            "files": files / 1024, "private": (total - touched - tcg - files) / 1024}


def wait_file(path, needle, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if needle in open(path, errors="replace").read():
                return
        except FileNotFoundError:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"no {needle!r} in {path} within {timeout}s")




def main():
    root = tempfile.mkdtemp(prefix="hv-bench-mem-")
    # Each guest's QEMU runs as a user of its own and must pass through the root.
    os.chmod(root, 0o755)
    env = dict(os.environ, HV_ROOT=root)
    try:
        prepare_ubuntu_example(env, root)
        folder = os.path.join(root, "guests", "guestubuntu")
        console = os.path.join(folder, "console.log")
        ram_mib = 4096
        print("installing the test system onto VMs/example_ubuntu/ubuntu.qcow2 ...", flush=True)
        hv(env, "guest", "start", "guestubuntu")
        wait_file(console, "hv-test: installed", 600)
        deadline = time.monotonic() + 60
        while "stopped" not in hv(env, "guest", "status", "guestubuntu").stdout and time.monotonic() < deadline:
            time.sleep(0.5)
        disk = os.path.join(root, "VMs", "example_ubuntu", "ubuntu.qcow2")

        results = {"hv": [], "plain": []}
        for rnd in range(ROUNDS):
            # hv
            offset = os.path.getsize(console)
            hv(env, "guest", "start", "guestubuntu")
            deadline = time.monotonic() + 300
            while READY not in open(console, errors="replace").read()[offset:]:
                if time.monotonic() > deadline:
                    raise TimeoutError("hv's guest did not come up")
                time.sleep(0.25)
            time.sleep(SETTLE)
            pid = int(open(os.path.join(root, "run", "guestubuntu", "qemu", "qemu.pid")).read())
            results["hv"].append(measure(pid, ram_mib))
            hv(env, "guest", "stop", "guestubuntu")

            # plain QEMU on an overlay of the same disk
            work = tempfile.mkdtemp(prefix="plain-", dir=root)
            overlay = os.path.join(work, "overlay.qcow2")
            subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", disk, overlay], check=True)
            vars_fd = os.path.join(work, "vars.fd")
            shutil.copy("/usr/share/OVMF/OVMF_VARS_4M.fd", vars_fd)
            serial = os.path.join(work, "serial.log")
            p = subprocess.Popen(["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-smp", "2", "-m", str(ram_mib),
                                  "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd",
                                  "-drive", f"if=pflash,format=raw,unit=1,file={vars_fd}",
                                  "-drive", f"if=virtio,format=qcow2,file={overlay}",
                                  "-display", "none", "-serial", f"file:{serial}"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                wait_file(serial, READY, 300)
                time.sleep(SETTLE)
                results["plain"].append(measure(p.pid, ram_mib))
            finally:
                p.kill()
                p.wait()
            print(f"round {rnd + 1}: hv overhead {results['hv'][-1]['overhead']:.0f} MiB, "
                  f"plain QEMU {results['plain'][-1]['overhead']:.0f} MiB", flush=True)

        def med(who, key):
            return statistics.median(r[key] for r in results[who])

        print(f"\nKVM guest (ubuntu_rtlinux's guestubuntu, {ram_mib} MiB RAM, TCG here), median of {ROUNDS}:")
        print(f"{'':24}{'hv':>10}{'plain QEMU':>12}")
        for key, label in [("rss", "QEMU resident"), ("ram", "guest RAM touched"), ("overhead", "overhead (RSS - RAM)"),
                           ("tcg", "  of it TCG code"), ("files", "  of it shared files"),
                           ("private", "  the rest (this guest's)")]:
            print(f"{label:24}{med('hv', key):>8.0f} M{med('plain', key):>10.0f} M")
        ratio = med("hv", "overhead") / med("plain", "overhead")
        print(f"overhead ratio hv / plain QEMU: {ratio:.2f}")
        print(f"hv's overhead without TCG's code buffer (what KVM would cost): {med('hv', 'overhead') - med('hv', 'tcg'):.0f} MiB,"
              f" of which {med('hv', 'private'):.0f} MiB are this guest's own (target: overhead <= 64 MiB)")
    finally:
        subprocess.run([HV, "daemon", "stop"], env=env, capture_output=True)
        remove_root(root)


if __name__ == "__main__":
    main()
