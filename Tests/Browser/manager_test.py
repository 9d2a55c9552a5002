#!/usr/bin/env python3
"""Browser tests of the System Manager: the real page in headless Chromium
(Debian's chromium + chromium-driver, Selenium from PyPI) against a real hvd
and a real RT-Linux guest under QEMU, in a temporary HV_ROOT.

Screenshots of each page go to .build/test-output/manager-*.png.
Usage: python3 Tests/Browser/manager_test.py   (after `swift build`; root)
"""
import json, os, shutil, signal, socket, subprocess, sys, tempfile, time, traceback

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HV = os.path.join(REPO, ".build", "debug", "hv")
OUT = os.path.join(REPO, ".build", "test-output")
IMAGE = "/tmp/hv-e2e-image"   # built by the end-to-end tests (hv setup); built here if missing

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from selenium.common.exceptions import NoAlertPresentException, NoSuchElementException, StaleElementReferenceException


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Host:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="hv-browser-")
        # Guests' QEMUs run as users of their own: they must pass through the root (mkdtemp makes it 0700).
        os.chmod(self.root, 0o755)
        self.env = dict(os.environ, HV_ROOT=self.root)
        os.makedirs(os.path.join(self.root, "templates"))
        if not os.path.exists(os.path.join(IMAGE, "templates", "rt-linux", "vmlinux")):
            os.makedirs(IMAGE, exist_ok=True)
            subprocess.run([HV, "setup", "--skip-packages"], env=dict(os.environ, HV_ROOT=IMAGE), check=True, capture_output=True)
        os.symlink(os.path.join(IMAGE, "templates", "rt-linux"), os.path.join(self.root, "templates", "rt-linux"))
        self.port = free_port()
        os.makedirs(os.path.join(self.root, "config"), exist_ok=True)
        with open(os.path.join(self.root, "config", "manager.config"), "w") as f:
            f.write(f'[Manager]\n    "Port"="{self.port}"\n')

    def hv(self, *args, check=True):
        r = subprocess.run([HV, *args], env=self.env, capture_output=True, text=True, timeout=300)
        if check and r.returncode != 0:
            raise AssertionError(f"hv {' '.join(args)}: {r.stdout}{r.stderr}")
        return r

    def cleanup(self):
        self.hv("vmf", "stop", "--yes", check=False)
        run = os.path.join(self.root, "run")
        for d in os.listdir(run) if os.path.isdir(run) else []:
            pidfile = os.path.join(run, d, "qemu", "qemu.pid")
            try:
                pid = int(open(pidfile).read())
                if self.root in open(f"/proc/{pid}/cmdline").read():
                    os.kill(pid, signal.SIGKILL)
            except (OSError, ValueError):
                pass
        self.hv("daemon", "stop", check=False)
        # Guests' exchange folders are file systems of their own: unmount them first.
        points = []
        for line in open("/proc/self/mountinfo"):
            point = line.split(" ")[4].replace("\\040", " ")
            if point.startswith(self.root + "/"):
                points.append(point)
        for point in sorted(points, key=len, reverse=True):
            if subprocess.run(["umount", point], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", point], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def browser():
    o = webdriver.ChromeOptions()
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,860"]:
        o.add_argument(a)
    o.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)


def row(d, folder):
    return d.find_element(By.CSS_SELECTOR, f'tr[data-folder="{folder}"]')


def act(d, folder, action):
    """Clicks a row's button; a redraw between finding and clicking it means: find it again."""
    def click():
        row(d, folder).find_element(By.CSS_SELECTOR, f"button[data-act={action}]").click()
        return True
    wait(d, f"the {action} button of {folder}", click, 10)


def confirm_dialog(d):
    """The page's confirmation; it may open only after the page asked hvd what the action touches."""
    wait(d, "the confirmation dialog", lambda: d.switch_to.alert is not None, 10)
    return d.switch_to.alert


def row_text(d, folder):
    for _ in range(40):
        try:
            return row(d, folder).text
        except StaleElementReferenceException:
            time.sleep(0.25)
    return row(d, folder).text


def state(d, folder):
    try:
        return row(d, folder).find_element(By.CSS_SELECTOR, "[data-role=state]").text
    except Exception:
        return ""


def wait(d, what, condition, seconds=90):
    # The page redraws its list on every event: an element read a moment ago may be gone, so look again.
    try:
        WebDriverWait(d, seconds, poll_frequency=0.25,
                      ignored_exceptions=(NoAlertPresentException, NoSuchElementException, StaleElementReferenceException)).until(lambda _: condition())
    except Exception:
        raise AssertionError(f"timed out waiting for {what}")


def shot(d, name):
    os.makedirs(OUT, exist_ok=True)
    d.save_screenshot(os.path.join(OUT, f"manager-{name}.png"))


def test_wrong_token_is_refused(host, d):
    d.get(f"http://127.0.0.1:{host.port}/#code=not-a-code")
    wait(d, "the refusal", lambda: "login code is not valid" in d.find_element(By.ID, "denied").text, 15)
    assert "code" not in d.current_url, "the code leaves the address bar"
    d.execute_script("sessionStorage.clear()")
    d.get(f"http://127.0.0.1:{host.port}/")
    wait(d, "the refusal without a token", lambda: "valid token" in d.find_element(By.ID, "denied").text, 15)
    assert d.get_cookies() == [], f"the token is never a cookie: {d.get_cookies()}"


def test_start_and_stop_a_guest_live(host, d):
    url = host.hv("manager", "url").stdout.strip()
    token = open(os.path.join(host.root, "run", "manager.token")).read().strip()
    assert "#code=" in url and token not in url, f"the address carries a login code, not the token: {url}"
    # The address is good once: a second tab (its own session storage) that opens it later is refused.
    d.get(url)
    wait(d, "the guests table", lambda: state(d, "guestrtlinux") == "stopped")
    assert "code" not in d.current_url, "the code leaves the address bar"
    assert d.get_cookies() == [], f"the token is never a cookie: {d.get_cookies()}"
    assert d.execute_script("return sessionStorage.getItem('hv_token')") == token, "the token lives in the tab's session storage"
    d.switch_to.new_window("tab")
    d.get(url)
    wait(d, "the spent code refused", lambda: "login code is not valid" in d.find_element(By.ID, "denied").text, 15)
    assert not d.execute_script("return sessionStorage.getItem('hv_token')")
    d.close()
    d.switch_to.window(d.window_handles[0])
    shot(d, "guests-stopped")
    d.find_element(By.ID, "vmf-load").click()
    wait(d, "the VMF to load", lambda: d.find_element(By.ID, "vmf-state").text == "loaded")
    act(d, "guestrtlinux", "start")
    wait(d, "RT-Linux running", lambda: state(d, "guestrtlinux").startswith("running"))
    wait(d, "RT-Linux booted", lambda: state(d, "guestrtlinux") == "running")
    shot(d, "guests-running")
    # A change made from the CLI shows up by itself.
    host.hv("guest", "stop", "guestrtlinux")
    wait(d, "the CLI's stop to show", lambda: state(d, "guestrtlinux") == "stopped", 30)
    act(d, "guestrtlinux", "start")
    wait(d, "RT-Linux running again", lambda: state(d, "guestrtlinux") == "running")
    act(d, "guestrtlinux", "stop")
    alert = confirm_dialog(d)
    assert "Stop RT-Linux?" in alert.text, alert.text
    alert.accept()
    wait(d, "RT-Linux stopped from the page", lambda: state(d, "guestrtlinux") == "stopped")


def test_cpu_and_memory_tabs(host, d):
    d.find_element(By.CSS_SELECTOR, "nav button[data-tab=cpu]").click()
    cores = d.find_element(By.ID, "cores").text
    assert "RT-Linux" in cores and "reserved" in cores, cores
    # Moving RT-Linux: core 0 stays with the host (refused next to the field), core 1 is saved.
    from selenium.webdriver.support.ui import Select
    row_ = d.find_element(By.CSS_SELECTOR, '.assign-row[data-folder="guestrtlinux"]')
    Select(row_.find_element(By.CSS_SELECTOR, "select")).select_by_value("0")
    row_.find_element(By.CSS_SELECTOR, "button[data-role=apply]").click()
    wait(d, "the conflict to be shown", lambda: "core 0" in d.find_element(By.CSS_SELECTOR, '.assign-row[data-folder="guestrtlinux"] [data-role=error]').text, 10)
    shot(d, "cpu-conflict")
    hv_config = os.path.join(host.root, "config", "hv.config")
    assert '"RtCores"="auto"' in open(hv_config).read(), "a refused move changes nothing"
    row_ = d.find_element(By.CSS_SELECTOR, '.assign-row[data-folder="guestrtlinux"]')
    Select(row_.find_element(By.CSS_SELECTOR, "select")).select_by_value("1")
    row_.find_element(By.CSS_SELECTOR, "button[data-role=apply]").click()
    wait(d, "the move to be saved", lambda: '"RtCores"="1"' in open(hv_config).read(), 10)
    shot(d, "cpu")
    d.find_element(By.CSS_SELECTOR, "nav button[data-tab=memory]").click()
    text = d.find_element(By.ID, "membar").text
    assert "RTOS guests 256 MiB" in text and "host reserve 2048 MiB" in text, text
    shot(d, "memory")


def console_uname(d, folder, seconds=90):
    """Opens the page's console on a running guest and reads `uname -a`'s answer."""
    d.find_element(By.CSS_SELECTOR, "nav button[data-tab=console]").click()
    wait(d, f"{folder} in the console list", lambda: folder in d.find_element(By.ID, "con-guest").get_attribute("innerHTML"), 10)
    d.execute_script(f"document.getElementById('con-guest').value = '{folder}'")
    d.find_element(By.ID, "con-open").click()
    wait(d, "the console to connect", lambda: d.find_element(By.ID, "con-input").is_enabled(), 20)
    d.find_element(By.ID, "con-input").send_keys("uname -a\n")
    # A guest on the Debian root may still be booting: its login banner names the kernel too.
    wait(d, "uname's answer", lambda: "PREEMPT_RT" in d.find_element(By.ID, "term").text, seconds)


def close_console(d):
    d.find_element(By.ID, "con-close").click()
    wait(d, "the console to close", lambda: d.find_element(By.ID, "con-open").is_enabled(), 10)


def test_console_in_the_page(host, d):
    d.find_element(By.CSS_SELECTOR, "nav button[data-tab=guests]").click()
    if not state(d, "guestrtlinux").startswith("running"):
        host.hv("guest", "start", "guestrtlinux")
    wait(d, "RT-Linux running", lambda: state(d, "guestrtlinux") == "running")
    console_uname(d, "guestrtlinux")
    shot(d, "console")
    # One interactive console: the CLI is told who holds it.
    r = host.hv("guest", "console", "guestrtlinux", check=False)
    assert r.returncode == 5 and "System Manager" in r.stderr, r.stderr
    close_console(d)
    host.hv("guest", "stop", "guestrtlinux")


def test_create_sync_start_console_edit_delete(host, d):
    """The whole life of a guest made in the page: create an RT-Linux guest,
    sync the host to it (reload the VMF), start it, `uname -a` in its console,
    stop it, edit it, delete it."""
    from selenium.webdriver.support.ui import Select
    d.find_element(By.CSS_SELECTOR, "nav button[data-tab=guests]").click()
    form = d.find_element(By.ID, "add")
    Select(form.find_element(By.NAME, "type")).select_by_value("rt-linux")
    form.find_element(By.NAME, "name").send_keys("Controller")
    form.find_element(By.NAME, "memoryMiB").send_keys("8")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    error = lambda: form.find_element(By.CSS_SELECTOR, '[data-field="memoryMiB"]').text
    wait(d, "the memory field's error", lambda: "16" in error(), 10)
    shot(d, "add-guest-error")
    assert not os.path.exists(os.path.join(host.root, "guests", "guest0002")), "a refused form writes nothing"
    mem = form.find_element(By.NAME, "memoryMiB")
    mem.clear(); mem.send_keys("128")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(d, "the new guest in the list", lambda: state(d, "guest0002") == "stopped", 15)
    assert "Controller" in row_text(d, "guest0002")
    # Sync: the loaded VMF knows only the old configuration; reloading it takes the new guest in.
    d.find_element(By.ID, "vmf-unload").click()
    wait(d, "the VMF to unload", lambda: d.find_element(By.ID, "vmf-state").text == "not loaded")
    d.find_element(By.ID, "vmf-load").click()
    wait(d, "the VMF to load", lambda: d.find_element(By.ID, "vmf-state").text == "loaded")
    act(d, "guest0002", "start")
    # An RT-Linux guest made in the page boots its Debian root (on the host's cores here, beside the
    # service test's guest: its boot may take minutes); the row says so and names its disk.
    wait(d, "Controller running", lambda: state(d, "guest0002").startswith("running"))
    wait(d, "its root and disk in the row", lambda: "Debian root · disk.qcow2" in row(d, "guest0002").text, 30)
    wait(d, "Controller booted", lambda: state(d, "guest0002") == "running", 300)
    # Once it is up, hvd measures its clock against the host's.
    wait(d, "its clock offset in the row", lambda: "clock " in row(d, "guest0002").text and " ms" in row(d, "guest0002").text, 120)
    shot(d, "guests-added")
    console_uname(d, "guest0002")
    shot(d, "console-new-guest")
    close_console(d)
    d.find_element(By.CSS_SELECTOR, "nav button[data-tab=guests]").click()
    act(d, "guest0002", "stop")
    confirm_dialog(d).accept()
    wait(d, "Controller stopped", lambda: state(d, "guest0002") == "stopped")

    # Edit: a bad value is refused next to its field and nothing is written; then a good one is saved.
    guest_config = os.path.join(host.root, "guests", "guest0002", "guest.config")
    before = open(guest_config).read()
    act(d, "guest0002", "edit")
    edit = d.find_element(By.ID, "edit-form")
    wait(d, "the edit form", lambda: d.find_element(By.ID, "edit").is_displayed() and edit.find_element(By.NAME, "name").get_attribute("value") == "Controller", 10)
    assert edit.find_element(By.NAME, "memoryMiB").get_attribute("value") == "128"
    assert not edit.find_element(By.NAME, "diskImage").is_displayed(), "an RTOS guest has no disk field"
    for name, value in [("name", "Press line"), ("memoryMiB", "100000000"), ("rtPriority", "70")]:
        box = edit.find_element(By.NAME, name)
        box.clear(); box.send_keys(value)
    edit.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(d, "the memory field's error", lambda: edit.find_element(By.CSS_SELECTOR, '[data-field="memoryMiB"]').text != "", 10)
    shot(d, "edit-guest-error")
    assert open(guest_config).read() == before, "a refused edit writes nothing"
    box = edit.find_element(By.NAME, "memoryMiB")
    box.clear(); box.send_keys("192")
    edit.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(d, "the edit to be saved", lambda: not d.find_element(By.ID, "edit").is_displayed(), 10)
    text = open(guest_config).read()
    assert '"SizeMiB"="192"' in text and '"Name"="Press line"' in text and '"RtPriority"="70"' in text, text
    wait(d, "the new name in the list", lambda: "Press line" in row(d, "guest0002").text, 10)
    assert "192 MiB" in row_text(d, "guest0002")
    shot(d, "guests-edited")

    act(d, "guest0002", "delete")
    alert = confirm_dialog(d)
    assert "guest0002" in alert.text and "backup" in alert.text, alert.text
    alert.accept()
    wait(d, "Press line gone", lambda: not d.find_elements(By.CSS_SELECTOR, 'tr[data-folder="guest0002"]'), 15)
    assert any(os.path.isdir(os.path.join(host.root, "backup", b, "guests", "guest0002")) for b in os.listdir(os.path.join(host.root, "backup")))


def installer_iso():
    iso = os.path.join(IMAGE, "installer.iso")
    if not os.path.exists(iso):
        subprocess.run(["bash", os.path.join(REPO, "Tests/Fixtures/installer-iso/build.sh"), iso, "",
                        os.path.join(IMAGE, "templates", "rt-linux", "guest-tools")], check=True, capture_output=True)
    return iso


def test_kvm_desktop_through_novnc(host, d):
    from selenium.webdriver.support.ui import Select
    d.find_element(By.CSS_SELECTOR, "nav button[data-tab=guests]").click()
    form = d.find_element(By.ID, "add")
    Select(form.find_element(By.NAME, "type")).select_by_value("general")
    # An ISO the page names must lie under HV_ROOT (iso/, VMs/ or the guest's folder): a copy of the test ISO there.
    os.makedirs(os.path.join(host.root, "iso"), exist_ok=True)
    shutil.copyfile(installer_iso(), os.path.join(host.root, "iso", "installer.iso"))
    os.chmod(os.path.join(host.root, "iso", "installer.iso"), 0o644)
    outside = form.find_element(By.NAME, "iso")
    for name, value in [("name", "Desktop"), ("folder", "desktop1"), ("memoryMiB", "512"), ("diskSizeGiB", "2"), ("iso", installer_iso())]:
        form.find_element(By.NAME, name).send_keys(value)
    # A path outside HV_ROOT is refused next to its field, and nothing is created.
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(d, "the ISO outside HV_ROOT refused", lambda: "outside the places" in form.find_element(By.CSS_SELECTOR, '[data-field="iso"]').text, 15)
    assert not os.path.exists(os.path.join(host.root, "guests", "desktop1"))
    outside.clear()
    outside.send_keys("iso/installer.iso")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(d, "the desktop guest in the list", lambda: state(d, "desktop1") == "stopped", 15)
    # The test ISO installs and powers off within a minute; shown then, the screen may already be dark.
    # Its installed system stays up with its console on the screen, so the desktop is checked on that.
    act(d, "desktop1", "start")
    wait(d, "the desktop guest installing", lambda: state(d, "desktop1") == "running", 30)
    wait(d, "the installer to finish and power off", lambda: state(d, "desktop1") == "stopped", 240)
    act(d, "desktop1", "start")
    wait(d, "the installed desktop guest running", lambda: state(d, "desktop1") == "running", 30)
    wait(d, "its Desktop button", lambda: row(d, "desktop1").find_element(By.CSS_SELECTOR, "button[data-act=desktop]").is_enabled(), 10)
    main_window = d.current_window_handle
    act(d, "desktop1", "desktop")
    wait(d, "the noVNC window", lambda: len(d.window_handles) > 1, 10)
    d.switch_to.window([w for w in d.window_handles if w != main_window][0])
    lit = ("const c = document.querySelector('#screen canvas'); if (!c || !c.width) return 0;"
           "const p = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;"
           "for (let i = 0; i < p.length; i += 4) if (p[i] + p[i + 1] + p[i + 2] > 60) n++; return n;")
    wait(d, "a connected, non-blank desktop", lambda: "Connected" in d.find_element(By.ID, "status").text and d.execute_script(lit) > 4000, 90)
    shot(d, "desktop-novnc")
    d.close()
    d.switch_to.window(main_window)
    host.hv("guest", "stop", "desktop1", "--force")
    host.hv("guest", "delete", "desktop1", "--yes")


def snapshot_rows(d):
    return [r.get_attribute("data-snap") for r in d.find_elements(By.CSS_SELECTOR, "#snap-list tr[data-snap]")]


def test_snapshots_taken_reverted_deleted(host, d):
    """A KVM guest's snapshots from its row: taken, listed, reverted after the page showed hvd's
    words for what goes back (the disk's bytes come back, what was replaced is kept), deleted."""
    from selenium.webdriver.support.ui import Select
    d.find_element(By.CSS_SELECTOR, "nav button[data-tab=guests]").click()
    form = d.find_element(By.ID, "add")
    Select(form.find_element(By.NAME, "type")).select_by_value("general")
    for name, value in [("name", "Snap"), ("folder", "snap1"), ("memoryMiB", "256"), ("diskSizeGiB", "1")]:
        el = form.find_element(By.NAME, name); el.clear(); el.send_keys(value)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(d, "the new guest in the list", lambda: state(d, "snap1") == "stopped", 15)
    # Its disk as a first start would make it, without starting it: qemu-io writes and reads its bytes.
    disk = os.path.join(host.root, "guests", "snap1", "disk.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "1G"], check=True)
    os.chmod(disk, 0o600)
    qemu_io = lambda cmd: subprocess.run(["qemu-io", "-f", "qcow2", "-c", cmd, disk], capture_output=True, text=True)
    assert qemu_io("write -P 0x5a 0 64k").returncode == 0

    act(d, "snap1", "snapshots")
    wait(d, "the snapshots card", lambda: not d.find_element(By.ID, "snapshots").get_attribute("hidden"), 10)
    wait(d, "the empty list", lambda: "No snapshots yet" in d.find_element(By.ID, "snap-list").text, 10)
    d.find_element(By.ID, "snap-name").send_keys("bad name")
    d.find_element(By.ID, "snap-take").click()
    wait(d, "the name refused", lambda: "not a snapshot name" in d.find_element(By.ID, "snap-error").text, 10)
    d.find_element(By.ID, "snap-name").clear()
    d.find_element(By.ID, "snap-name").send_keys("clean")
    d.find_element(By.ID, "snap-take").click()
    wait(d, "the snapshot listed", lambda: snapshot_rows(d) == ["clean"], 30)
    assert "disk (qcow2 internal snapshot)" in d.find_element(By.ID, "snap-list").text

    assert qemu_io("write -P 0x77 0 64k").returncode == 0
    d.find_element(By.CSS_SELECTOR, 'tr[data-snap="clean"] button[data-snap-act=revert]').click()
    alert = confirm_dialog(d)
    assert "puts back the disk" in alert.text and "Revert to clean?" in alert.text, alert.text
    alert.accept()
    wait(d, "the automatic snapshot listed", lambda: len(snapshot_rows(d)) == 2 and "kept by a revert" in d.find_element(By.ID, "snap-list").text, 30)
    check = qemu_io("read -P 0x5a 0 64k")
    assert check.returncode == 0 and "verification failed" not in check.stdout, check.stdout
    shot(d, "snapshots")

    # Deleting asks too; declined, nothing goes.
    d.find_element(By.CSS_SELECTOR, 'tr[data-snap="clean"] button[data-snap-act=delete]').click()
    confirm_dialog(d).dismiss()
    time.sleep(1)
    assert "clean" in snapshot_rows(d)
    d.find_element(By.CSS_SELECTOR, 'tr[data-snap="clean"] button[data-snap-act=delete]').click()
    confirm_dialog(d).accept()
    wait(d, "the snapshot gone", lambda: "clean" not in snapshot_rows(d), 30)
    d.find_element(By.ID, "snap-close").click()
    host.hv("guest", "delete", "snap1", "--yes")


def test_projects(host, d):
    d.find_element(By.CSS_SELECTOR, "nav button[data-tab=projects]").click()
    d.find_element(By.ID, "project-name").send_keys("../bad")
    d.find_element(By.ID, "project-save").click()
    wait(d, "the name's error", lambda: "not a project name" in d.find_element(By.ID, "project-error").text, 10)
    name = d.find_element(By.ID, "project-name")
    name.clear(); name.send_keys("line3")
    d.find_element(By.ID, "project-save").click()
    wait(d, "the saved project", lambda: d.find_elements(By.CSS_SELECTOR, 'tr[data-project="line3"]'), 10)
    d.find_element(By.CSS_SELECTOR, 'tr[data-project="rt-linux"] button[data-role=preview]').click()
    wait(d, "the preview", lambda: not d.find_element(By.ID, "preview").get_attribute("hidden"), 10)
    shot(d, "projects")
    d.find_element(By.ID, "preview-cancel").click()


def test_devices_tab(host, d):
    """The host's PCI devices as hv devices list sees them, with the reason a device cannot be given."""
    d.find_element(By.CSS_SELECTOR, "nav button[data-tab=devices]").click()
    cli = json.loads(host.hv("devices", "list", "--json").stdout)
    shown = [p for p in cli if p["classCode"] >> 16 != 6]
    if not shown:
        wait(d, "the empty list", lambda: "No PCI devices" in d.find_element(By.ID, "devices").text, 10)
        return
    first = shown[0]["address"]
    wait(d, "the device rows", lambda: d.find_elements(By.CSS_SELECTOR, f'tr[data-device="{first}"]'), 10)
    assert len(d.find_elements(By.CSS_SELECTOR, "#devices tr[data-device]")) == len(shown), "every non-bridge device has a row"
    text = d.find_element(By.CSS_SELECTOR, f'tr[data-device="{first}"]').text
    assert (shown[0]["driver"] or "none") in text, text
    iommu_off = any(w.startswith("the IOMMU is off") for w in shown[0]["notAssignable"])
    if iommu_off:
        assert "intel_iommu=on" in d.find_element(By.ID, "devices-note").text
    shot(d, "devices")


def test_qualification_report(host, d):
    """hv rt qualify's report opened in the browser: the verdict, the figures
    per vCPU, the histogram drawn, and not one request made for it."""
    host.hv("guest", "start", "guestrtlinux")
    deadline = time.time() + 120
    while time.time() < deadline and not json.loads(host.hv("guest", "status", "guestrtlinux").stdout).get("booted"):
        time.sleep(2)
    r = host.hv("rt", "qualify", "guestrtlinux", "--duration", "10")
    assert ": passed;" in host.hv("rt", "qualify", "guestrtlinux", "--status").stdout, r.stdout
    status = json.load(open(os.path.join(host.root, "guests", "guestrtlinux", "qualify", "latest.json")))
    # The page shows the run in the guest's row (from hvd's snapshots, as it goes and after).
    d.find_element(By.CSS_SELECTOR, "nav button[data-tab=guests]").click()
    wait(d, "the qualification in the row", lambda: "qualification passed" in row_text(d, "guestrtlinux"), 30)
    d.get("file://" + status["reportHTML"])
    wait(d, "the report", lambda: d.find_element(By.ID, "verdict").text.startswith("Passed"), 20)
    rows = d.find_elements(By.CSS_SELECTOR, "#figures tr")
    assert [row.find_elements(By.TAG_NAME, "td")[0].text for row in rows[1:]] == [f"vCPU {i}" for i in range(len(status["vcpus"]))] + ["all"], \
        [row.text for row in rows]
    bars = d.find_elements(By.CSS_SELECTOR, "#histogram svg rect")
    assert len(bars) > 3, f"the histogram is drawn: {len(bars)} rects"
    assert d.execute_script("return performance.getEntriesByType('resource').length") == 0, "the report fetched something"
    shot(d, "qualification-report")
    host.hv("guest", "stop", "guestrtlinux")


def main():
    passed = failed = 0
    host = Host()
    d = None
    try:
        host.hv("example", "open", "rt-linux", "--yes")
        host.hv("example", "sync", "rt-linux")
        # The example's guest boots the busybox image here (the page-made guest boots the Debian root).
        with open(os.path.join(host.root, "guests", "guestrtlinux", "usr.config"), "w") as f:
            f.write('[Guest\\Boot]\n    "Root"="busybox"\n')
        d = browser()
        for test in [test_wrong_token_is_refused, test_start_and_stop_a_guest_live, test_cpu_and_memory_tabs,
                     test_console_in_the_page, test_create_sync_start_console_edit_delete, test_kvm_desktop_through_novnc,
                     test_snapshots_taken_reverted_deleted, test_projects, test_devices_tab, test_qualification_report]:
            try:
                test(host, d)
                print(f"✔ browser {test.__name__} passed", flush=True)
                passed += 1
            except Exception:
                print(f"✘ browser {test.__name__} failed:\n{traceback.format_exc()}", flush=True)
                if d:
                    try:  # a confirmation left open would refuse every later command
                        d.switch_to.alert.dismiss()
                    except NoAlertPresentException:
                        pass
                    shot(d, f"failed-{test.__name__}")
                    # A test that failed in a second window (noVNC) must not take the next tests with it.
                    for w in d.window_handles[1:]:
                        d.switch_to.window(w); d.close()
                    d.switch_to.window(d.window_handles[0])
                failed += 1
    finally:
        if d:
            d.quit()
        host.cleanup()
    print(f"browser tests: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
