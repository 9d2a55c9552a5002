#!/usr/bin/env python3
"""bench/boot: time from `hv_guest_start -view` to the RT-Linux guest (the
busybox image) answering a command on its console, against plain
qemu-system-x86_64 booting the same image with its defaults (-M pc, the
compressed bzImage), in the same run; then the Debian root's time from
`hv_guest_start` to `hv guest ssh` answering, beside it (its first start,
which makes the disk, apart). Also the median time of `hv_vmf_is_loaded`.
Prints medians and ratios.

Usage: bench/boot/run.sh [ROUNDS]   (root; builds hv first)
"""
import os, shutil, statistics, subprocess, sys, tempfile, time

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PRODUCTS = os.path.join(REPO, ".build", "debug")
SEED = ["hv_open_example", "hv_sync_example", "hv_vmf_start", "hv_vmf_is_loaded", "hv_vmf_stop",
        "hv_guest_start", "hv_guest_restart", "hv_guest_console", "hv_guest_stop"]
PROMPT = b"rt-linux:/# "


def wait_for(proc, needle, buf, timeout):
    """Reads proc's stdout until needle shows up; returns the buffer."""
    deadline = time.monotonic() + timeout
    os.set_blocking(proc.stdout.fileno(), False)
    while needle not in buf:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {needle!r} within {timeout}s; got {buf[-300:]!r}")
        try:
            chunk = proc.stdout.read()
        except BlockingIOError:
            chunk = None
        if chunk:
            buf += chunk
        elif proc.poll() is not None:
            raise RuntimeError(f"exited before {needle!r}: {buf[-300:]!r}")
        else:
            time.sleep(0.005)
    return buf


def answer_time(argv, env=None, cwd=None):
    """Seconds from launch to the shell answering `echo` on the console."""
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         env=env, cwd=cwd)
    try:
        buf = wait_for(p, PROMPT, b"", 120)
        p.stdin.write(b"echo bench-$((40+2))\n")
        p.stdin.flush()
        wait_for(p, b"bench-42", buf, 60)
        return time.monotonic() - t0, p
    except Exception:
        p.kill()
        p.wait()
        raise


def main():
    if os.geteuid() != 0:
        sys.exit("bench/boot runs as root (hv reserves cores and sets SCHED_FIFO)")
    root = tempfile.mkdtemp(prefix="hvbench-", dir="/tmp")
    os.chmod(root, 0o755)  # the guests' QEMUs (users of their own) pass through it
    bindir = root + "-bin"
    os.makedirs(bindir)
    for exe in ("hv", "hvd"):
        os.symlink(os.path.join(PRODUCTS, exe), os.path.join(bindir, exe))
    for name in SEED:
        os.symlink("hv", os.path.join(bindir, name))
    env = dict(os.environ, HV_ROOT=root, PATH=bindir + ":" + os.environ.get("PATH", ""))
    run = lambda *a, **k: subprocess.run(list(a), env=env, check=True, stdout=subprocess.DEVNULL, **k)
    hv_times, qemu_times, loaded_times, debian_times, debian_first = [], [], [], [], []
    try:
        run("hv", "setup", "--skip-packages")
        run("hv_open_example", "rt-linux", "--yes")
        run("hv_sync_example", "rt-linux")
        guest = os.path.join(root, "guests", "guestrtlinux")
        usr = os.path.join(guest, "usr.config")
        with open(usr, "w") as f:
            f.write('[Guest\\Boot]\n    "Root"="busybox"\n')
        run("hv_vmf_start", cwd=guest)
        tpl = os.path.join(root, "templates", "rt-linux")
        baseline = ["qemu-system-x86_64", "-m", "256", "-kernel", os.path.join(tpl, "bzImage"),
                    "-initrd", os.path.join(tpl, "initramfs.cpio"), "-append", "console=ttyS0", "-nographic"]
        for i in range(ROUNDS):
            t, p = answer_time(["hv_guest_start", "-view"], env=env, cwd=guest)
            hv_times.append(t)
            p.stdin.write(b"\x1d")
            p.stdin.flush()
            p.wait(timeout=20)
            run("hv_guest_stop", "--force", cwd=guest)
            t, p = answer_time(baseline)
            qemu_times.append(t)
            p.kill()
            p.wait()
            print(f"round {i + 1}: hv {hv_times[-1]:.2f} s, plain QEMU {qemu_times[-1]:.2f} s", flush=True)
        # The Debian root: ready means ssh answers (the first start also makes its disk).
        with open(usr, "w") as f:
            f.write('[Guest\\Boot]\n    "Root"="debian"\n')
        for i in range(ROUNDS + 1):
            t0 = time.monotonic()
            run("hv_guest_start", cwd=guest)
            while subprocess.run(["hv", "guest", "ssh", "guestrtlinux", "--", "true"], env=env, capture_output=True).returncode != 0:
                if time.monotonic() - t0 > 300:
                    raise TimeoutError("the Debian root's ssh did not answer within 300 s")
                time.sleep(0.2)
            (debian_times if i else debian_first).append(time.monotonic() - t0)
            run("hv_guest_stop", cwd=guest)
            print(f"Debian root {'round ' + str(i) if i else 'first start'}: {(debian_times or debian_first)[-1]:.2f} s", flush=True)
        for _ in range(30):
            t0 = time.monotonic()
            subprocess.run(["hv_vmf_is_loaded"], env=env, cwd=guest, stdout=subprocess.DEVNULL)
            loaded_times.append(time.monotonic() - t0)
    finally:
        subprocess.run(["hv_vmf_stop", "--yes"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        pidfile = os.path.join(root, "run", "hvd.pid")
        if os.path.exists(pidfile):
            try:
                os.kill(int(open(pidfile).read().strip()), 9)
            except (ProcessLookupError, ValueError):
                pass
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        from common import remove_root
        remove_root(root)
        shutil.rmtree(bindir, ignore_errors=True)
    hv_med, q_med = statistics.median(hv_times), statistics.median(qemu_times)
    print()
    print(f"boot to a console answer, median of {ROUNDS}:")
    print(f"  hv_guest_start -view (PVH vmlinux, microvm, tuned line) : {hv_med:.2f} s")
    print(f"  plain qemu-system-x86_64 defaults (bzImage, -M pc):          {q_med:.2f} s")
    print(f"  ratio hv / plain: {hv_med / q_med:.2f}   (target <= 0.40)")
    d_med = statistics.median(debian_times)
    print(f"  the Debian root, hv_guest_start to hv guest ssh answering: {d_med:.2f} s (first start, making its disk: {debian_first[0]:.2f} s)"
          f"   (target <= 20 s)")
    print(f"  ratio Debian root / busybox image: {d_med / hv_med:.2f}")
    print(f"hv_vmf_is_loaded, median of {len(loaded_times)}: {statistics.median(loaded_times) * 1000:.1f} ms   (target <= 50 ms)")


if __name__ == "__main__":
    main()
