#!/usr/bin/env python3
"""bench/manager: how fast the System Manager's guests page answers with 50
guests defined (1 RT-Linux + 49 KVM guests), against hvd's cheapest route
(GET /v1/vmf) on the same server in the same run. The page is the HTML plus
GET /v1/guests, which the page's live stream repeats on every change.

Usage: bench/manager/run.sh [ROUNDS]   (root; builds hv first). Target: median <= 100 ms.
"""
import os, re, shutil, socket, statistics, subprocess, sys, tempfile, time

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 50
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HV = os.path.join(REPO, ".build", "debug", "hv")
GUESTS = 50


def get(port, path, token):
    t0 = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n".encode())
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    if b" 200 " not in data.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"{path}: {data[:200]!r}")
    return (time.perf_counter() - t0) * 1000, len(data)


def main():
    root = tempfile.mkdtemp(prefix="hv-bench-manager-")
    # Each guest's QEMU runs as a user of its own and must pass through the root.
    os.chmod(root, 0o755)
    env = dict(os.environ, HV_ROOT=root)
    run = lambda *a: subprocess.run([HV, *a], env=env, capture_output=True, text=True, check=True)
    try:
        s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
        os.makedirs(os.path.join(root, "config"))
        with open(os.path.join(root, "config", "manager.config"), "w") as f:
            f.write(f'[Manager]\n    "Port"="{port}"\n')
        run("example", "open", "ubuntu_rtlinux", "--yes")
        run("example", "sync", "ubuntu_rtlinux")
        guests = os.path.join(root, "guests")
        with open(os.path.join(root, "config", "hv.config"), "a") as cfg:
            for i in range(3, GUESTS + 1):
                folder = f"guest{i:04d}"
                shutil.copytree(os.path.join(guests, "guestubuntu"), os.path.join(guests, folder))
                gc = os.path.join(guests, folder, "guest.config")
                text = open(gc).read().replace('"Name"="Ubuntu"', f'"Name"="Desktop {i}"')
                text = text.replace("VMs/example_ubuntu/ubuntu.qcow2", f"VMs/{folder}/disk.qcow2")
                open(gc, "w").write(text)
                cfg.write(f'[Guests\\{folder}]\n    "Id"="{i}"\n    "Name"="Desktop {i}"\n    "Os"="ubuntu"\n    "Kind"="kvm"\n')
        token = run("manager", "token").stdout.strip()
        count = len(re.findall(r'"folder"', subprocess.run(
            [HV, "guest", "list", "--json"], env=env, capture_output=True, text=True).stdout))
        assert count == GUESTS, f"{count} guests listed"
        for _ in range(3):
            get(port, "/v1/guests", token)
        page, guests_api, vmf = [], [], []
        for _ in range(ROUNDS):
            a, _ = get(port, "/", token)
            b, size = get(port, "/v1/guests", token)
            page.append(a + b)
            guests_api.append(b)
            vmf.append(get(port, "/v1/vmf", token)[0])
        med = statistics.median
        print(f"System Manager with {GUESTS} guests, {ROUNDS} rounds (debug build):")
        print(f"  guests page (HTML + GET /v1/guests, {size // 1024} KiB)  median {med(page):6.1f} ms  (target <= 100)")
        print(f"  GET /v1/guests alone                       median {med(guests_api):6.1f} ms")
        print(f"  GET /v1/vmf (baseline: the cheapest route)  median {med(vmf):6.1f} ms")
        print(f"  ratio guests page / baseline: {med(page) / med(vmf):.1f}")
    finally:
        subprocess.run([HV, "daemon", "stop"], env=env, capture_output=True)
        remove_root(root)


if __name__ == "__main__":
    main()
