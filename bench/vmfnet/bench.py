#!/usr/bin/env python3
"""bench/vmfnet: the VMF network between RT-Linux and a KVM guest, against
the limit: the same two QEMUs on a plain Linux bridge, in the same run.

hv's VMF network is a bridge in hv's namespace with nftables rules that hold
each guest to its MAC; the baseline moves the very same TAPs (QEMU keeps its
descriptors) into a namespace of the bench's own, onto a plain bridge with
no rules and nothing of hv, and back. Alternated in quarters (hv, plain,
plain, hv), so drift on a loaded host falls on both alike:

- a one-byte UDP echo KVM guest -> RT-Linux -> KVM guest (`hv-comm bench
  udp` against `hv-comm udp-echo`), median and p99;
- ping RT-Linux -> KVM guest (every 50 ms), median and p99;
- a bulk transfer KVM guest <- RT-Linux (busybox wget of a 16 MiB file from
  busybox httpd), in MiB/s.

Under KVM hv gives each TAP vhost-net; under TCG (here) plain TAP.
Usage: bench/vmfnet/run.sh [ROUNDS]   (root; HV_BENCH_BIN=path/to/hv for another build)
"""
import os, re, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common import api, boot_ubuntu_example, guest, hv, ping_times, prepare_ubuntu_example, stats, stop_ubuntu_example  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 400
# Ids 1 and 2 in the example: their TAPs (VMFNetwork.tapName).
TAPS = ["vmfg1", "vmfg2"]


def ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True)


def move(taps, src, dst, bridge):
    for t in taps:
        ip("-n", src, "link", "set", t, "netns", dst)
        ip("-n", dst, "link", "set", t, "master", bridge)
        ip("-n", dst, "link", "set", t, "up")


def udp(env, rounds):
    out = guest(env, "guestubuntu", f"hv-comm bench udp 10.77.0.1 7777 {rounds}", timeout=rounds * 2 + 120, serial=True)
    found = re.findall(r"udp rounds=\d+ median_us=([0-9.]+) p99_us=([0-9.]+)", out)
    if not found:
        raise RuntimeError(f"udp bench: {out[-400:]}")
    return float(found[-1][0]) / 1000, float(found[-1][1]) / 1000


def bulk(env):
    out = guest(env, "guestubuntu", "time wget -q -O /dev/null http://10.77.0.1:8080/blob", timeout=600, serial=True)
    m = re.findall(r"real\s+(\d+)m\s*([0-9.]+)s", out)
    if not m:
        raise RuntimeError(f"bulk transfer: {out[-400:]}")
    seconds = int(m[-1][0]) * 60 + float(m[-1][1])
    return 16 / seconds


def main():
    root = tempfile.mkdtemp(prefix="hv-bench-vmfnet-")
    os.chmod(root, 0o755)
    env = dict(os.environ, HV_ROOT=root)
    plain = f"hvbench-plain-{os.getpid()}"
    hvns = None
    try:
        prepare_ubuntu_example(env, root)
        hv(env, "vmf", "start")
        boot_ubuntu_example(env, root)
        hvns = api(root, "GET", "/v1/comm")["namespace"]
        ip("netns", "add", plain)
        ip("-n", plain, "link", "add", "plainbr", "type", "bridge")
        ip("-n", plain, "link", "set", "plainbr", "up")
        guest(env, "guestrtlinux", "(hv-comm udp-echo 7777 >/dev/null 2>&1 &); mkdir -p /tmp/www; "
                                   "dd if=/dev/zero of=/tmp/www/blob bs=1M count=16 2>/dev/null; (httpd -p 8080 -h /tmp/www &); sleep 1")
        results = {"hv": {"udp": [], "ping": [], "bulk": []}, "plain": {"udp": [], "ping": [], "bulk": []}}
        quarter = max(20, ROUNDS // 4)
        # ABBA: a drift over the run (a warming cache, a loaded host) falls on both alike.
        for order in (("hv", "plain"), ("plain", "hv")):
            for kind in order:
                if kind == "plain":
                    move(TAPS, hvns, plain, "plainbr")
                try:
                    results[kind]["udp"].append(udp(env, quarter))
                    results[kind]["ping"] += ping_times(guest(env, "guestrtlinux", f"ping -c {quarter} -i 0.05 10.77.0.2",
                                                              timeout=quarter + 60))
                    results[kind]["bulk"].append(bulk(env))
                finally:
                    if kind == "plain":
                        move(TAPS, plain, hvns, "vmfbr")

        def udp_figures(kind):
            xs = results[kind]["udp"]
            return sum(m for m, _ in xs) / len(xs), sum(p for _, p in xs) / len(xs)

        print(f"\nVMF network (TCG here), {2 * quarter} UDP echoes and pings each, alternated in quarters:")
        print(f"{'':52}{'median':>10}{'p99':>10}")
        rows = {}
        for kind, label in (("hv", "hv's VMF network"), ("plain", "plain bridge, same QEMUs")):
            rows[kind] = {"udp": udp_figures(kind), "ping": stats(results[kind]["ping"])}
            print(f"{'UDP echo KVM->RT->KVM, ' + label:52}{rows[kind]['udp'][0]:>8.3f} ms{rows[kind]['udp'][1]:>8.3f} ms")
            print(f"{'ping RT->KVM, ' + label:52}{rows[kind]['ping'][0]:>8.3f} ms{rows[kind]['ping'][1]:>8.3f} ms")
            bulk_mean = sum(results[kind]["bulk"]) / len(results[kind]["bulk"])
            rows[kind]["bulk"] = bulk_mean
            print(f"{'bulk RT->KVM (16 MiB wget), ' + label:52}{bulk_mean:>8.1f} MiB/s")
        for what in ("udp", "ping"):
            (mh, ph), (mp, pp) = rows["hv"][what], rows["plain"][what]
            print(f"ratio {what} hv / plain bridge: median {mh / mp:.2f}, p99 {ph / pp:.2f} (target <= 1.05)")
        print(f"ratio bulk hv / plain bridge: {rows['hv']['bulk'] / rows['plain']['bulk']:.2f} (higher is better)")
    finally:
        if hvns and subprocess.run(["ip", "-n", plain, "link", "show", TAPS[0]], capture_output=True).returncode == 0:
            move(TAPS, plain, hvns, "vmfbr")
        subprocess.run(["ip", "netns", "delete", plain], capture_output=True)
        stop_ubuntu_example(env, root)


if __name__ == "__main__":
    main()
