"""What the benches share: running the built hv against a scratch HV_ROOT,
and preparing the ubuntu_rtlinux example with the test installer as its ISO."""
import os, subprocess

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HV = os.path.join(REPO, ".build", "debug", "hv")


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
    tools = os.path.join(root, "templates", "rt-linux", "guest-tools")
    subprocess.run(["bash", os.path.join(REPO, "Tests/Fixtures/installer-iso/build.sh"),
                    os.path.join(root, "iso", "ubuntu.iso"), "", tools], check=True, capture_output=True)
