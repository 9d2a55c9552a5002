"""What the benches share: running the built hv against a scratch HV_ROOT,
and preparing the ubuntu_rtlinux example with the test installer as its ISO."""
import json, os, re, socket, statistics, subprocess, time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# HV_BENCH_BIN: another build's hv (and the hvd beside it), e.g. a release build.
HV = os.environ.get("HV_BENCH_BIN") or os.path.join(REPO, ".build", "debug", "hv")


def hv(env, *args, check=True, timeout=600):
    r = subprocess.run([HV, *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"hv {' '.join(args)}: {r.stdout}{r.stderr}")
    return r


def prepare_ubuntu_example(env, root):
    """hv setup, open + sync ubuntu_rtlinux, the test installer at iso/ubuntu.iso (with the guest tools)."""
    os.makedirs(os.path.join(root, "templates"), exist_ok=True)
    hv(env, "setup", "--skip-packages")
    hv(env, "example", "open", "ubuntu_rtlinux", "--yes")
    hv(env, "example", "sync", "ubuntu_rtlinux")
    # RT-Linux as the earlier figures measured it (the busybox image); bench/boot and bench/rt set their own.
    with open(os.path.join(root, "guests", "guestrtlinux", "usr.config"), "w") as f:
        f.write('[Guest\\Boot]\n    "Root"="busybox"\n')
    tools = os.path.join(root, "templates", "rt-linux", "guest-tools")
    subprocess.run(["bash", os.path.join(REPO, "Tests/Fixtures/installer-iso/build.sh"),
                    os.path.join(root, "iso", "ubuntu.iso"), "", tools], check=True, capture_output=True)


def remove_root(root):
    """Removes a scratch HV_ROOT: first every mount below it (the guests'
    exchange folders are loop-mounted file systems), then the files."""
    import shutil
    prefix = root.rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if line.split()[4].startswith(prefix)]
    for m in sorted(mounts, reverse=True):
        if subprocess.run(["umount", m], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", m], capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


def api(root, method, path, body=None):
    """One request to hvd's API on its Unix socket (one request per connection)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(os.path.join(root, "run", "hvd.sock"))
    data = json.dumps(body or {}).encode()
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: hvd\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
    reply = b""
    while chunk := s.recv(65536):
        reply += chunk
    s.close()
    head, _, payload = reply.partition(b"\r\n\r\n")
    if b" 200 " not in head.split(b"\r\n")[0]:
        raise RuntimeError(f"{path}: {reply[:300]!r}")
    return json.loads(payload)


def stats(samples):
    """Median and p99."""
    s = sorted(samples)
    return statistics.median(s), s[min(len(s) - 1, int(round(0.99 * (len(s) - 1))))]


def boot_ubuntu_example(env, root):
    """Starts RT-Linux, installs the test system as the KVM guest, boots it; the VMF must be loaded."""
    hv(env, "guest", "start", "guestrtlinux")
    print("installing the test system as the KVM guest ...", flush=True)
    hv(env, "guest", "start", "guestubuntu")
    deadline = time.monotonic() + 600
    while '"state" : "stopped"' not in hv(env, "guest", "status", "guestubuntu").stdout:
        if time.monotonic() > deadline:
            raise TimeoutError("install")
        time.sleep(1)
    console = os.path.join(root, "guests", "guestubuntu", "console.log")
    offset = os.path.getsize(console)
    hv(env, "guest", "start", "guestubuntu")
    while "hv-test: ready" not in open(console, errors="replace").read()[offset:]:
        time.sleep(0.5)


def stop_ubuntu_example(env, root):
    """Stops what boot_ubuntu_example started, unloads the VMF, stops hvd and removes the scratch root."""
    hv(env, "guest", "stop", "guestubuntu", "--force", check=False)
    hv(env, "vmf", "stop", "--yes", check=False)
    hv(env, "daemon", "stop", check=False)
    remove_root(root)


def guest(env, folder, command, timeout=120, serial=False):
    """Runs a shell command on a guest's serial console; returns its output."""
    token = f"bench-{time.monotonic_ns()}"
    p = subprocess.Popen([HV, "guest", "console"] + (["--serial"] if serial else []) + [folder], env=env,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    p.stdin.write(f"\n{command}; echo {token}-$((40+2))\n".encode())
    p.stdin.flush()
    os.set_blocking(p.stdout.fileno(), False)
    out, deadline = b"", time.monotonic() + timeout
    while f"{token}-42".encode() not in out:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{command!r} in {folder}: {out[-400:]!r}")
        chunk = p.stdout.read()
        if chunk:
            out += chunk
        else:
            time.sleep(0.02)
    p.stdin.write(b"\x1d")
    p.stdin.flush()
    p.wait(timeout=20)
    return out.decode(errors="replace")


def ping_times(text):
    return [float(m) for m in re.findall(r"time=([0-9.]+) ms", text)]
