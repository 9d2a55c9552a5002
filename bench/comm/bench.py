#!/usr/bin/env python3
"""bench/comm: the communication subsystem's round trips, each against the
same exchange through QEMU's user-mode network, in the same run.

- event round trip host -> RT-Linux -> host: the host signals event "ping"
  through hvd's API (two HTTP requests a round), and again through one
  `hv event session` (two lines a round), its lines answered by hvd
  (`--through-hvd`) and by hv on the doorbells itself (`--direct`);
  `hv-comm event relay ping pong` in
  the guest signals "pong", the host's wait returns; against a one-byte TCP echo host -> guest ->
  host through a user-mode NIC of the same guest (hostfwd, busybox nc + cat).
- the same event round trip from a host program with include/hv/hv_events.h
  (the doorbells in the program), against a one-byte TCP echo from the same
  program to the same guest.
- ping RTT RT-Linux -> KVM guest over the VMF network, against ping from the
  same RT-Linux guest to the user-mode network's gateway (10.0.2.2).
- the HMI <-> controller path: event round trips KVM guest -> RT-Linux -> KVM
  guest through the doorbells (`hv-comm bench event` against `hv-comm event
  relay`; hvd is not in the path), against a one-byte UDP echo between the
  same two guests over the VMF network (`hv-comm bench udp` / `udp-echo`);
  and the same round trips with both sides sleeping in poll()
  (HV_COMM_WAKE=poll: woken from the interrupt thread, as hv_ivshmem did
  before its handler ran in hard interrupt context), alternated in quarters.

Usage: bench/comm/run.sh [ROUNDS]   (root; builds hv first). Prints medians, p99 and ratios.
"""
import os, re, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common import api, boot_ubuntu_example, guest, hv, ping_times, prepare_ubuntu_example, stats, stop_ubuntu_example  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HV = os.path.join(REPO, ".build", "debug", "hv")
PORT = 17007


def main():
    root = tempfile.mkdtemp(prefix="hv-bench-comm-")
    # Each guest's QEMU runs as a user of its own and must pass through the root.
    os.chmod(root, 0o755)
    env = dict(os.environ, HV_ROOT=root)
    try:
        prepare_ubuntu_example(env, root)
        cfg = os.path.join(root, "config", "hv.config")
        with open(cfg, "a") as f:
            f.write('[Event\\ping]\n    "Guests"="guestrtlinux"\n[Event\\pong]\n    "Guests"="guestrtlinux"\n'
                    '[Event\\kping]\n    "Guests"="guestrtlinux,guestubuntu"\n[Event\\kpong]\n    "Guests"="guestrtlinux,guestubuntu"\n')
        # The baseline: a user-mode NIC on the same RT-Linux guest, port-forwarded from the host.
        with open(os.path.join(root, "guests", "guestrtlinux", "usr_guest_config.sh"), "a") as f:
            f.write(f"HV_QEMU_EXTRA_ARGS=(-netdev user,id=bench,hostfwd=tcp:127.0.0.1:{PORT}-10.0.2.15:7 "
                    f"-device virtio-net-device,netdev=bench,mac=52:54:00:be:0c:01)\n")
        hv(env, "vmf", "start")
        boot_ubuntu_example(env, root)

        guest(env, "guestrtlinux", "for i in /sys/class/net/*; do [ $(cat $i/address) = 52:54:00:be:0c:01 ] && d=${i##*/}; done; "
                                   "ip addr add 10.0.2.15/24 dev $d; ip link set $d up; "
                                   "(nc -ll -p 7 -e cat >/dev/null 2>&1 &); (hv-comm event relay ping pong 0 >/dev/null 2>&1 & echo $! > /tmp/bench-relay); "
                                   "(hv-comm udp-echo 7777 >/dev/null 2>&1 &); sleep 1")

        # Event round trips through hvd's API.
        ev = []
        pong = next(e["count"] for e in api(root, "GET", "/v1/comm")["events"] if e["name"] == "pong")
        for _ in range(ROUNDS):
            t0 = time.perf_counter()
            api(root, "POST", "/v1/events/ping/signal")
            pong = api(root, "POST", "/v1/events/pong/wait", {"after": pong, "timeoutSeconds": 10})["count"]
            ev.append((time.perf_counter() - t0) * 1000)
        # The same round trips through one hv event session (no HTTP request per event):
        # lines answered by hvd, then by hv itself on the doorbells (hvd out of the path).
        def session_rounds(mode, rounds):
            sess = subprocess.Popen([HV, "event", "session", mode], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    text=True, bufsize=1)
            times = []
            try:
                sess.stdin.write("count pong\n")
                pong = int(sess.stdout.readline().split()[1])
                for _ in range(rounds):
                    t0 = time.perf_counter()
                    sess.stdin.write(f"signal ping\nwait pong {pong} 10\n")
                    sess.stdout.readline()
                    answer = sess.stdout.readline().split()
                    if answer[0] != "pong":
                        raise RuntimeError(f"event session {mode}: {answer}")
                    pong = int(answer[1])
                    times.append((time.perf_counter() - t0) * 1000)
            finally:
                sess.stdin.close()
                sess.wait(timeout=30)
            return times
        # Alternated in quarters, so neither mode gets the quieter part of the run.
        sev, dev = [], []
        for _ in range(2):
            dev += session_rounds("--direct", ROUNDS // 2)
            sev += session_rounds("--through-hvd", ROUNDS // 2)
        # The same exchange through the user-mode network.
        tcp = []
        s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(ROUNDS):
            t0 = time.perf_counter()
            s.sendall(b"x")
            if s.recv(1) != b"x":
                raise RuntimeError("echo failed")
            tcp.append((time.perf_counter() - t0) * 1000)
        s.close()

        # A host program with include/hv/hv_events.h: the doorbells in the program (no hv, no hvd),
        # against a one-byte TCP echo from the same program to the same guest.
        program = os.path.join(root, "host_events")
        subprocess.run(["gcc", "-std=gnu11", "-O2", "-I", os.path.join(REPO, "include"), "-o", program,
                        os.path.join(REPO, "Tests/Fixtures/host-events/host_events.c")], check=True)
        # A line per events table: its host socket and its names (ping and pong list the same guests: one table).
        table = next(line for line in hv(env, "event", "list", "--names").stdout.splitlines() if "ping" in line.split(" ", 1)[-1].split(","))
        sock, names = table.split(" ", 1)
        out = subprocess.run([program, sock, names, "bench", "ping", "pong", str(ROUNDS), str(PORT)],
                             capture_output=True, text=True, timeout=ROUNDS + 120, check=True).stdout
        def program_row(kind):
            m = re.search(kind + r" rounds=\d+ median_us=([0-9.]+) p99_us=([0-9.]+)", out)
            if not m:
                raise RuntimeError(f"host_events: {out}")
            return float(m.group(1)) / 1000, float(m.group(2)) / 1000
        prog_ev, prog_tcp = program_row("event"), program_row("tcp")

        count = max(20, ROUNDS // 4)
        vmf = ping_times(guest(env, "guestrtlinux", f"ping -c {count} -i 0.2 10.77.0.2", timeout=count + 60))
        user = ping_times(guest(env, "guestrtlinux", f"ping -c {count} -i 0.2 10.0.2.2", timeout=count + 60))

        # The HMI <-> controller path, measured inside the KVM guest (µs, converted to ms).
        def guest_bench(kind, command):
            out = guest(env, "guestubuntu", command, timeout=ROUNDS * 2 + 120, serial=True)
            # The console replays earlier output too: the last report of this kind is this one's.
            found = re.findall(kind + r" rounds=\d+ median_us=([0-9.]+) p99_us=([0-9.]+)", out)
            if not found:
                raise RuntimeError(f"{command}: {out[-400:]}")
            return float(found[-1][0]) / 1000, float(found[-1][1]) / 1000
        # Woken from the hard interrupt (blocking read) against poll() woken from a thread, as the
        # module did before: both guests, alternated in quarters; the mean of the two halves' figures.
        # Only the quarter's own relay sleeps on RT-Linux's doorbell meanwhile (a poll() sleeper
        # would make every interrupt wake the thread too).
        guest(env, "guestrtlinux", "kill $(cat /tmp/bench-relay)")
        halves = {"read": [], "poll": []}
        for _ in range(2):
            for mode, env_word in (("read", ""), ("poll", "HV_COMM_WAKE=poll ")):
                guest(env, "guestrtlinux", f"({env_word}hv-comm event relay kping kpong {ROUNDS // 2} >/dev/null 2>&1 &); sleep 1")
                halves[mode].append(guest_bench("event", f"{env_word}hv-comm bench event kping kpong {ROUNDS // 2}"))
        kvm_ev, kvm_poll = ((sum(m for m, _ in halves[k]) / 2, sum(p for _, p in halves[k]) / 2) for k in ("read", "poll"))
        kvm_udp = guest_bench("udp", f"hv-comm bench udp 10.77.0.1 7777 {ROUNDS}")

        print(f"\ncommunication subsystem (TCG here), {ROUNDS} event rounds, {count} pings each way:")
        print(f"{'':42}{'median':>10}{'p99':>10}")
        rows = [("event host->RT->host (hv, HTTP)", ev), ("event host->RT->host (session via hvd)", sev),
                ("event host->RT->host (session, direct)", dev),
                ("TCP echo host->RT->host (user-mode)", tcp),
                ("ping RT->KVM guest (VMF network)", vmf), ("ping RT->gateway (user-mode)", user)]
        for label, xs in rows:
            m, p = stats(xs)
            print(f"{label:42}{m:>8.2f} ms{p:>8.2f} ms")
        for label, (m, p) in [("event host->RT->host (program, hv_events.h)", prog_ev), ("TCP echo host->RT->host (program)", prog_tcp),
                              ("event KVM->RT->KVM (doorbells)", kvm_ev), ("event KVM->RT->KVM (poll() wake)", kvm_poll),
                              ("UDP echo KVM->RT->KVM (VMF network)", kvm_udp)]:
            print(f"{label:42}{m:>8.2f} ms{p:>8.2f} ms")
        print(f"ratio event (program, hv_events.h) / TCP echo (program): median {prog_ev[0] / prog_tcp[0]:.2f}, "
              f"p99 {prog_ev[1] / prog_tcp[1]:.2f} (target <= 1)")
        print(f"ratio event KVM<->RT / UDP echo KVM<->RT: median {kvm_ev[0] / kvm_udp[0]:.2f}, p99 {kvm_ev[1] / kvm_udp[1]:.2f} (target <= 0.5)")
        print(f"ratio event KVM<->RT, hard-interrupt wake / poll() wake: median {kvm_ev[0] / kvm_poll[0]:.2f}, p99 {kvm_ev[1] / kvm_poll[1]:.2f}")
        for label, a, b in [("event (HTTP) / user-mode TCP echo", ev, tcp), ("event (session via hvd) / user-mode TCP echo", sev, tcp),
                            ("event (session, direct) / user-mode TCP echo", dev, tcp),
                            ("event session / HTTP", sev, ev), ("VMF ping / user-mode ping", vmf, user)]:
            (ma, pa), (mb, pb) = stats(a), stats(b)
            print(f"ratio {label}: median {ma / mb:.2f}, p99 {pa / pb:.2f}")
    finally:
        stop_ubuntu_example(env, root)


if __name__ == "__main__":
    main()
