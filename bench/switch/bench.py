#!/usr/bin/env python3
"""bench/switch: what hvd's VMF network switch adds to a frame.

Two members of the VMF network, played by this script on the sockets their
QEMUs would use (run/<guest>/qemu/net.sock, the guests are not started),
bounce a 60-byte frame: A -> switch -> B -> switch -> A, with the MACs hv
assigned them. The baseline is the same bounce on the same sockets straight
from A to B and back (the kernel's datagram path alone), in the same run.
The difference is two passes through the switch; compare it with the UDP echo
between guests that bench/comm measures (the guests' own network stacks).

Usage: bench/switch/run.sh [ROUNDS]   (root; HV_BENCH_BIN=path/to/hv for another build)
"""
import os, socket, struct, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common import HV, api, hv, remove_root, stats  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5000


def bounce(a, b, a_to, b_to, frame_ab, frame_ba):
    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        a.sendto(frame_ab, a_to)
        if b.recv(2048) != frame_ab:
            raise RuntimeError("B got another frame")
        b.sendto(frame_ba, b_to)
        if a.recv(2048) != frame_ba:
            raise RuntimeError("A got another frame")
        times.append((time.perf_counter() - t0) * 1e6)
    return times


def main():
    root = tempfile.mkdtemp(prefix="hv-bench-switch-")
    os.chmod(root, 0o755)
    env = dict(os.environ, HV_ROOT=root)
    socks = []
    try:
        hv(env, "setup", "--skip-packages")
        hv(env, "example", "open", "ubuntu_rtlinux", "--yes")
        hv(env, "example", "sync", "ubuntu_rtlinux")
        hv(env, "vmf", "start")
        members = api(root, "GET", "/v1/comm")["members"]
        if len(members) < 2:
            raise RuntimeError(f"the example's VMF network has {len(members)} members")
        ends = []
        for m in members[:2]:
            path = os.path.join(root, "run", m["folder"], "qemu", "net.sock")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(path)
            s.settimeout(5)
            socks.append(s)
            ends.append((s, path, bytes.fromhex(m["mac"].replace(":", ""))))
        (a, pa, ma), (b, pb, mb) = ends
        switch = os.path.join(root, "run", "net", "switch.sock")
        payload = bytes(46)  # the smallest Ethernet frame: 60 bytes, a process-data exchange's size
        ab = mb + ma + struct.pack("!H", 0x88B5) + payload
        ba = ma + mb + struct.pack("!H", 0x88B5) + payload
        bounce(a, b, switch, switch, ab, ba)  # the switch learns both; warm-up
        through = bounce(a, b, switch, switch, ab, ba)
        direct = bounce(a, b, pb, pa, ab, ba)
        (mt, pt), (md, pd) = stats(through), stats(direct)
        print(f"\nVMF network switch (hvd beside {HV}), {ROUNDS} round trips of a 60-byte frame:")
        print(f"{'':40}{'median':>10}{'p99':>10}")
        print(f"{'A -> switch -> B -> switch -> A':40}{mt:>7.1f} us{pt:>7.1f} us")
        print(f"{'A -> B -> A (sockets alone)':40}{md:>7.1f} us{pd:>7.1f} us")
        print(f"ratio through the switch / sockets alone: median {mt / md:.2f}, p99 {pt / pd:.2f}")
        print(f"the switch adds per pass: median {(mt - md) / 2:.1f} us, p99 {(pt - pd) / 2:.1f} us")
    finally:
        for s in socks:
            s.close()
        hv(env, "vmf", "stop", "--yes", check=False)
        hv(env, "daemon", "stop", check=False)
        remove_root(root)


if __name__ == "__main__":
    main()
