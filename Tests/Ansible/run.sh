#!/usr/bin/env bash
# The Ansible collection (ansible/ansible_collections/hv/plant): built with
# ansible-galaxy, checked with ansible-test sanity, then driven with
# ansible-core against two hv hosts on this machine (two scratch roots as two
# inventory hosts, local connection): a project applied to both, check mode
# reporting no change the second time and showing a change with --diff
# without making it, the VMF and a guest started on one host, facts, and a
# failing task carrying hv's own message; the host role with a guest running
# (it runs on in the same process), a backup and its restore under a new name, a short qualification
# and one whose break fails the task. Prints "✔ ansible …" / "✘ ansible …".
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
bin=$repo/.build/debug
work=$(mktemp -d /tmp/hv-ansible-XXXXXX)
chmod 755 "$work"
failures=0
ok() { echo "✔ ansible: $1"; }
no() { echo "✘ ansible: $1"; failures=$((failures + 1)); [ -n "${2:-}" ] && sed 's/^/    /' "$2" | tail -n 25; }
cleanup() {
    for r in "$work/a" "$work/b" "$work/example"; do
        [ -d "$r" ] || continue
        HV_ROOT=$r "$bin/hv" vmf stop --yes >/dev/null 2>&1
        for f in "$r"/run/*/qemu/qemu.pid; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done
        HV_ROOT=$r "$bin/hv" daemon stop >/dev/null 2>&1
        awk -v r="$r/" 'index($5, r) == 1 {print $5}' /proc/self/mountinfo | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
    done
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
# pip puts ansible-galaxy, ansible-test and ansible-playbook beside the python3 it installed into.
PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
export ANSIBLE_LOCAL_TEMP=$work/tmp ANSIBLE_REMOTE_TEMP=$work/tmp ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 \
       ANSIBLE_COLLECTIONS_PATH=$work/collections ANSIBLE_HOST_KEY_CHECKING=0 ANSIBLE_STDOUT_CALLBACK=default

# Build and install the collection as a user would.
if ansible-galaxy collection build ansible/ansible_collections/hv/plant --output-path "$work/dist" > "$work/build.txt" 2>&1 \
   && ansible-galaxy collection install "$work"/dist/hv-plant-*.tar.gz -p "$work/collections" >> "$work/build.txt" 2>&1; then
    ok "ansible-galaxy collection build and install"
else
    no "ansible-galaxy collection build and install" "$work/build.txt"
fi

# ansible-test sanity, from the collection's own folder (the checks that need no containers).
# Its Python requirements come from PyPI (--requirements); the PowerShell and shell linters are not installed here.
# ansible-test fetches pip's bootstrap script from a host outside PyPI: a stand-in that installs pip from PyPI.
pipver=$(python3 -c 'import re, ansible_test._internal.python_requirements as r, inspect; print(re.search(r"pip=.([0-9.]+)", inspect.getsource(r)).group(1))' 2>/dev/null || echo 24.2)
mkdir -p ~/.ansible/test/cache
[ -f ~/.ansible/test/cache/get_pip_${pipver//./_}.py ] || cp Tests/Ansible/get_pip_stub.py ~/.ansible/test/cache/get_pip_${pipver//./_}.py
(cd ansible/ansible_collections/hv/plant && ansible-test sanity --python "$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
    --requirements --skip-test pslint --skip-test shellcheck > "$work/sanity.txt" 2>&1)
if [ $? = 0 ]; then ok "ansible-test sanity"; else no "ansible-test sanity" "$work/sanity.txt"; fi

# Two hv hosts: two roots, each with its own System Manager port; the RT-Linux image of the tests.
for h in a b; do
    mkdir -p "$work/$h/config" "$work/$h/templates"; chmod 755 "$work/$h"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    printf '[Manager]\n    "Port"="%s"\n' "$port" > "$work/$h/config/manager.config"
    ln -s /tmp/hv-e2e-image/templates/rt-linux "$work/$h/templates/rt-linux"
done
# The desired project, as files: the rt-linux example's, under the name line3.
mkdir -p "$work/example"; chmod 755 "$work/example"
HV_ROOT=$work/example "$bin/hv" example open rt-linux --yes > /dev/null
mkdir -p "$work/project"
cp -r "$work/example/projects/rt-linux/." "$work/project/"
HV_ROOT=$work/example "$bin/hv" daemon stop > /dev/null 2>&1

cat > "$work/inventory.ini" <<INV
[hv]
hosta ansible_connection=local hv_root=$work/a
hostb ansible_connection=local hv_root=$work/b
[hv:vars]
ansible_python_interpreter=/usr/bin/python3
hv_bin=$bin/hv
project=$work/project
INV
cat > "$work/project.yml" <<'PLAY'
- hosts: hv
  gather_facts: false
  tasks:
    - name: Both hosts run project line3
      hv.plant.hv_project:
        name: line3
        src: "{{ project }}"
        hv_root: "{{ hv_root }}"
        hv_bin: "{{ hv_bin }}"
PLAY
cat > "$work/memory.yml" <<'PLAY'
- hosts: hosta
  gather_facts: false
  tasks:
    - name: RT-Linux with more memory (given inline)
      hv.plant.hv_project:
        name: line3
        hv_config: "{{ lookup('file', project + '/hv.config') }}"
        guests:
          guestrtlinux: "{{ lookup('file', project + '/guests/guestrtlinux/guest.config') | regex_replace('\"SizeMiB\"=\"[0-9]+\"', '\"SizeMiB\"=\"320\"') | regex_replace('\"Root\"=\"debian\"', '\"Root\"=\"busybox\"') }}"
        hv_root: "{{ hv_root }}"
        hv_bin: "{{ hv_bin }}"
PLAY
cat > "$work/run.yml" <<'PLAY'
- hosts: hosta
  gather_facts: false
  tasks:
    - hv.plant.hv_vmf: {state: loaded, hv_root: "{{ hv_root }}", hv_bin: "{{ hv_bin }}"}
    - hv.plant.hv_guest: {name: guestrtlinux, state: started, hv_root: "{{ hv_root }}", hv_bin: "{{ hv_bin }}"}
      register: started
    - hv.plant.hv_guest: {name: guestrtlinux, state: started, hv_root: "{{ hv_root }}", hv_bin: "{{ hv_bin }}"}
      register: again
    - hv.plant.hv_facts: {audit: false, hv_root: "{{ hv_root }}", hv_bin: "{{ hv_bin }}"}
    - name: The facts show it running, on its reserved core
      ansible.builtin.assert:
        that:
          - started is changed
          - again is not changed
          - (ansible_facts.hv.guests | selectattr('folder', 'eq', 'guestrtlinux') | first).state == 'running'
          - ansible_facts.hv.vmf.loaded
    - name: The host role with the guest running (no package to install here) finds it in the same process
      ansible.builtin.include_role:
        name: hv.plant.host
      vars: {hv_setup_args: [--skip-packages]}
    - name: A backup of the running guest
      hv.plant.hv_backup: {name: guestrtlinux, hv_root: "{{ hv_root }}", hv_bin: "{{ hv_bin }}"}
      register: backup
    - name: Restored under another name
      hv.plant.hv_restore: {archive: "{{ backup.archive }}", name: guestcopy, hv_root: "{{ hv_root }}", hv_bin: "{{ hv_bin }}"}
      register: restored
    - name: Restored again (it is there already)
      hv.plant.hv_restore: {archive: "{{ backup.archive }}", name: guestcopy, hv_root: "{{ hv_root }}", hv_bin: "{{ hv_bin }}"}
      register: restored_again
    - name: The backup and the restore did their work once
      ansible.builtin.assert:
        that:
          - backup is changed
          - backup.archive is match('.*[.]hvbackup[.]tar$')
          - restored is changed
          - restored.folder == 'guestcopy'
          - restored_again is not changed
    - name: A short qualification of the running guest (a plant's runs hours)
      hv.plant.hv_rt_qualify: {name: guestrtlinux, duration: 10, hv_root: "{{ hv_root }}", hv_bin: "{{ hv_bin }}"}
      register: qualified
    - name: One that breaks at the first latency above 1 µs fails the task
      hv.plant.hv_rt_qualify: {name: guestrtlinux, duration: 30, break_us: 1, hv_root: "{{ hv_root }}", hv_bin: "{{ hv_bin }}"}
      register: broke
      ignore_errors: true
    - name: The first passed and is the baseline; the break failed with hv's words and its report
      ansible.builtin.assert:
        that:
          - qualified is changed
          - qualified.state == 'passed'
          - qualified.report_html is match('.*/qualify/.*/report[.]html$')
          - broke is failed
          - broke.state == 'broke'
          - "'broke' in broke.msg"
    - name: A guest that does not exist
      hv.plant.hv_guest: {name: "no such guest", state: started, hv_root: "{{ hv_root }}", hv_bin: "{{ hv_bin }}"}
      register: missing
      ignore_errors: true
    - name: The failure carries hv's own message
      ansible.builtin.assert:
        that:
          - missing is failed
          - "'no such guest' in missing.msg"
    - hv.plant.hv_guest: {name: guestrtlinux, state: stopped, force: true, hv_root: "{{ hv_root }}", hv_bin: "{{ hv_bin }}"}
    - hv.plant.hv_vmf: {state: unloaded, hv_root: "{{ hv_root }}", hv_bin: "{{ hv_bin }}"}
PLAY
cat > "$work/role.yml" <<'PLAY'
- hosts: hostb
  gather_facts: false
  roles:
    - role: hv.plant.host
      vars: {hv_setup_args: [--skip-packages], hv_autostart: [guestrtlinux]}
PLAY
play() { ansible-playbook -i "$work/inventory.ini" "$@"; }
recap() { grep -E "^host$1 +:" "$2" | head -n 1; }

play "$work/project.yml" > "$work/apply.txt" 2>&1
if recap a "$work/apply.txt" | grep -q "changed=1" && recap b "$work/apply.txt" | grep -q "changed=1" \
   && grep -q '"Project"="line3"' "$work/a/config/hv.config" && [ -f "$work/b/guests/guestrtlinux/guest.config" ]; then
    ok "a project applied to two hosts"
else
    no "a project applied to two hosts" "$work/apply.txt"
fi
play "$work/project.yml" --check --diff > "$work/again.txt" 2>&1
if recap a "$work/again.txt" | grep -q "changed=0 .*failed=0" && recap b "$work/again.txt" | grep -q "changed=0 .*failed=0"; then
    ok "check mode the second time: no change on either host"
else
    no "check mode the second time: no change on either host" "$work/again.txt"
fi
before=$(cat "$work/a/guests/guestrtlinux/guest.config")
play "$work/memory.yml" --check --diff > "$work/diff.txt" 2>&1
if grep -q 'SizeMiB.*320' "$work/diff.txt" && recap a "$work/diff.txt" | grep -q "changed=1" \
   && [ "$before" = "$(cat "$work/a/guests/guestrtlinux/guest.config")" ]; then
    ok "--check --diff shows the sync preview of a change and makes none"
else
    no "--check --diff shows the sync preview of a change and makes none" "$work/diff.txt"
fi
play "$work/memory.yml" > "$work/memory.txt" 2>&1
if grep -q '"SizeMiB"="320"' "$work/a/guests/guestrtlinux/guest.config" && ls "$work/a/backup" | grep -q . ; then
    ok "the change applied through hvd, with a backup of what it replaced"
else
    no "the change applied through hvd, with a backup of what it replaced" "$work/memory.txt"
fi
play "$work/role.yml" > "$work/role.txt" 2>&1
play "$work/role.yml" > "$work/role2.txt" 2>&1
if recap b "$work/role.txt" | grep -q "changed=1 .*failed=0" && recap b "$work/role2.txt" | grep -q "changed=0 .*failed=0" \
   && HV_ROOT=$work/b "$bin/hv" autostart list | grep -q "1. guestrtlinux"; then
    ok "the host role: hv setup (image current), autostart set once, nothing changed the second time"
else
    no "the host role: hv setup (image current), autostart set once, nothing changed the second time" "$work/role.txt"
    sed 's/^/    /' "$work/role2.txt" | tail -n 15
fi
play "$work/run.yml" > "$work/run.txt" 2>&1
if recap a "$work/run.txt" | grep -q "failed=0" && grep -q "ok: \[hosta\]" "$work/run.txt" && grep -q "no such guest" "$work/run.txt"; then
    ok "the VMF and a guest started on one host, the host role with it running, a backup restored under a new name once, facts, a failure with hv's message"
else
    no "the VMF and a guest started on one host, the host role with it running, a backup restored under a new name once, facts, a failure with hv's message" "$work/run.txt"
fi
[ "$failures" = 0 ]
