"""Times hv_vmf_is_loaded and `hv guest list --json` from two builds against
their own hvd in a scratch root (the rt-linux example synced), and reads
each hvd's resident memory once it is idle."""
import os, shutil, statistics, subprocess, sys, tempfile, time

rounds = int(sys.argv[1])
builds = {"static (package)": os.path.abspath(sys.argv[2]), "dynamic": os.path.abspath(sys.argv[3])}


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def measure(bindir):
    root = tempfile.mkdtemp(prefix="hv-bench-cli-")
    os.chmod(root, 0o755)
    links = tempfile.mkdtemp(prefix="hv-bench-cli-bin-")
    for name in ("hv", "hvd"):
        os.symlink(os.path.join(bindir, name), os.path.join(links, name))
    os.symlink("hv", os.path.join(links, "hv_vmf_is_loaded"))
    env = dict(os.environ, HV_ROOT=root, HV_NO_SYSTEMD="1")
    hv = os.path.join(links, "hv")
    try:
        subprocess.run([hv, "example", "open", "rt-linux", "--yes"], env=env, check=True, capture_output=True)
        subprocess.run([hv, "example", "sync", "rt-linux"], env=env, check=True, capture_output=True)
        out = {}
        for label, argv, ok in (("hv_vmf_is_loaded", [os.path.join(links, "hv_vmf_is_loaded")], (0, 1)),
                                ("hv guest list --json", [hv, "guest", "list", "--json"], (0,))):
            times = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                r = subprocess.run(argv, env=env, capture_output=True)
                times.append((time.perf_counter() - t0) * 1000)
                if r.returncode not in ok:
                    raise RuntimeError(f"{label}: {r.stderr.decode()}")
            out[label] = statistics.median(times)
        time.sleep(2)
        with open(os.path.join(root, "run", "hvd.pid")) as f:
            pid = int(f.read().strip())
        out["hvd idle RSS (MiB)"] = rss_kib(pid) / 1024
        return out
    finally:
        subprocess.run([hv, "daemon", "stop"], env=env, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(links, ignore_errors=True)


results = {name: measure(path) for name, path in builds.items()}
static, dynamic = results["static (package)"], results["dynamic"]
print(f"{'':24} {'static (package)':>18} {'dynamic':>10} {'static/dynamic':>15}")
for key in static:
    unit = "" if "MiB" in key else " ms"
    print(f"{key:24} {static[key]:15.1f}{unit:3} {dynamic[key]:7.1f}{unit:3} {static[key] / dynamic[key]:14.2f}x")
print(f"median of {rounds} runs each; targets: hv_vmf_is_loaded <= 10 ms, hvd idle <= 20 MiB")
