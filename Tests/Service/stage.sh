#!/bin/bash
# One stage of Tests/Service/run.sh per boot, inside the Debian 12 guest (as
# root, by hv-test.service, after hv-autostart.service). Results go to the
# 9p share; the last stage powers the machine off.
set -u
r=/mnt/hvtest/results
here=/root/hv-test
stage=$(cat "$here/stage")
g=/hv/guests/guestrtlinux
kvm=/hv/guests/guestubuntu
running() { hv guest status guestrtlinux 2>&1 | grep -q '"state" : "running"'; }
qemu_pid() { cat /hv/run/${1:-guestrtlinux}/qemu/qemu.pid 2>/dev/null; }
# Both guests run on with the QEMU pids $1 (RT-Linux) and $2 (the KVM guest), hvd knows them, and they answer.
kept() {
    for _ in $(seq 120); do hv guest status guestrtlinux > /dev/null 2>&1 && break; sleep 1; done
    kill -0 "$1" && kill -0 "$2" && running \
        && hv guest status guestrtlinux | grep -q "\"pid\" : $1" && hv guest status guestubuntu | grep -q "\"pid\" : $2" \
        && hv guest screenshot guestubuntu /root/screen.png && [ -s /root/screen.png ]
}
# Types a line on RT-Linux's console until it answers (nested TCG may be slow to); $1: the result file.
console_answers() {
    { for _ in 1 2 3 4 5; do sleep 8; grep -q hv42ok "$1" && break; printf 'echo hv$((6*7))ok\n'; done; sleep 3; } \
        | timeout 60 hv guest console guestrtlinux > "$1" 2>&1
}
next() { echo "$1" > "$here/stage"; sync; systemctl reboot; exit 0; }

case "$stage" in
1)
    {
        command -v swift && echo "a Swift toolchain is installed here"
        dpkg -i "$here/hv.deb"; rc=$?
        echo "dpkg rc=$rc"
        if [ "$rc" = 0 ] && ! command -v swift >/dev/null && ! ldd /usr/bin/hv /usr/bin/hvd | grep -qi swift; then echo INSTALLED-NO-SWIFT; fi
        echo "hvd=$(systemctl is-active hvd.service)"
        systemctl show -p Type,KillMode,Restart hvd.service
        hv --version
        ls -l /usr/share/man/man1/hv_guest_start.1.gz /usr/share/bash-completion/completions/hv_guest_start
    } > "$r/install.txt" 2>&1
    {
        mkdir -p /hv/templates && mv "$here/rt-linux" /hv/templates/
        hv setup --skip-packages && hv_open_example ubuntu_rtlinux --yes && hv_sync_example ubuntu_rtlinux || exit 1
        # QEMU under QEMU: a slow early boot is no stall, and a graceful stop may take a while.
        # The busybox image: the Debian root's own tests run outside this guest.
        printf '[Guest\\Boot]\n"BootStallSeconds"="900"\n"Root"="busybox"\n[Guest\\Stop]\n"TimeoutSeconds"="300"\n' >> "$g/usr.config"
        # The KVM guest (started for the upgrade only): SeaBIOS boots a disk whose first sector halts
        # the CPU (cli; hlt; jmp $-1), so its QEMU runs on quietly with a screen to show.
        printf '[Guest\\Boot]\n"Firmware"="bios"\n[Guest\\Memory]\n"SizeMiB"="256"\n[Guest\\Security]\n"Tpm"="no"\n[Guest\\Network]\n"Mode"="none"\n' >> "$kvm/usr.config"
        disk=/hv/VMs/example_ubuntu/ubuntu.qcow2
        mkdir -p "${disk%/*}" && qemu-img create -q -f qcow2 "$disk" 1G && chmod 600 "$disk"
        qemu-io -f qcow2 -c "write -P 0xfa 0 1" -c "write -P 0xf4 1 1" -c "write -P 0xeb 2 1" -c "write -P 0xfd 3 1" \
            -c "write -P 0x55 510 1" -c "write -P 0xaa 511 1" "$disk" > /dev/null
        echo 'echo "reason=$HV_STOP_REASON" >> /hv/guests/hook-ran.txt' >> "$g/vm_shutdown_hook.sh"
        hv autostart set guestrtlinux && hv autostart list && echo SETUP-DONE
    } > "$r/setup.txt" 2>&1
    next 2
    ;;
2)
    {
        systemctl status --no-pager hv-autostart.service | head -n 20
        hv_vmf_is_loaded
        running && echo guest=running
        hv guest status guestrtlinux
    } > "$r/boot2.txt" 2>&1
    # An upgrade (a downgrade back, and up again) with both guests running: hvd restarts,
    # adopts them, neither QEMU restarts. First, so that what follows tests the newer package.
    {
        hv guest start guestubuntu; echo "KVM guest start rc=$?"
        rt=$(qemu_pid); vm=$(qemu_pid guestubuntu); echo "QEMU pids: RT-Linux $rt, KVM guest $vm"
        echo "installed: $(dpkg-query -W -f='${Version}' hv), hvd $(systemctl show -p MainPID --value hvd.service)"
        dpkg -i "$here/hv-next.deb"; echo "upgrade rc=$?"
        echo "installed: $(dpkg-query -W -f='${Version}' hv), hvd $(systemctl show -p MainPID --value hvd.service)"
        hv --version
        kept "$rt" "$vm" && journalctl -u hvd.service --since "-2min" --no-pager | grep -q "adopted" && echo UPGRADE-KEPT
        dpkg -i "$here/hv.deb"; echo "downgrade rc=$?"
        echo "installed: $(dpkg-query -W -f='${Version}' hv)"
        kept "$rt" "$vm" && echo DOWNGRADE-KEPT
        # And up again: the rest of the test is this package's.
        dpkg -i "$here/hv-next.deb"; echo "upgrade again rc=$?"
        echo "installed: $(dpkg-query -W -f='${Version}' hv)"
        kept "$rt" "$vm" && echo UPGRADE-AGAIN-KEPT
        ls /hv/run/*.damaged-* /hv/run/*/*.damaged-* 2>/dev/null && echo "records were damaged"
        hv guest stop guestubuntu --force
    } > "$r/upgrade.txt" 2>&1
    console_answers "$r/console.txt"
    # The VMF network is the kernel's: the host's seat pings RT-Linux every 50 ms across the restart.
    hv net attach > "$r/netping.txt" 2>&1
    hv net exec -- busybox ping -q -c 100 -i 0.05 10.77.0.1 >> "$r/netping.txt" 2>&1 &
    ping_pid=$!
    sleep 1
    {
        pid=$(qemu_pid); echo "QEMU pid $pid"
        old=$(systemctl show -p MainPID --value hvd.service)
        systemctl restart hvd.service; echo "restart rc=$? hvd $old -> $(systemctl show -p MainPID --value hvd.service)"
        hv guest status guestrtlinux | grep -E '"(state|pid)"'
        kill -0 "$pid" && running && hv guest status guestrtlinux | grep -q "\"pid\" : $pid" \
            && journalctl -u hvd.service -b --no-pager | grep -q "adopted" && echo RESTART-KEPT
    } > "$r/restart.txt" 2>&1
    wait "$ping_pid"
    {
        pid=$(qemu_pid)
        old=$(systemctl show -p MainPID --value hvd.service)
        kill -9 "$old"; echo "killed hvd $old"
        for _ in $(seq 60); do
            new=$(systemctl show -p MainPID --value hvd.service)
            [ "$new" != "$old" ] && [ "$new" != 0 ] && [ "$(systemctl is-active hvd.service)" = active ] && break
            sleep 1
        done
        echo "hvd now $new ($(systemctl is-active hvd.service))"
        kill -0 "$pid" && running && hv guest status guestrtlinux | grep -q "\"pid\" : $pid" && echo KILL-KEPT
    } > "$r/kill.txt" 2>&1
    {
        journalctl -u hvd.service -b --no-pager -o json | grep -c '"PRIORITY":"6"' | sed 's/^/priority-6 entries: /'
        journalctl -u hvd.service -b --no-pager | tail -n 15
        if journalctl -u hvd.service -b -o json --no-pager | grep -q '"PRIORITY":"6".*daemon-started\|daemon-started.*"PRIORITY":"6"' \
           && ! journalctl -u hvd.service -b --no-pager | grep -q '<6>'; then echo JOURNAL-OK; fi
    } > "$r/journal2.txt" 2>&1
    rm -f /hv/guests/hook-ran.txt
    next 3
    ;;
3)
    {
        echo "hook: $(cat /hv/guests/hook-ran.txt 2>&1)"
        grep -q "reason=requested" /hv/guests/hook-ran.txt && echo HOOK-REQUESTED
        systemctl status --no-pager hv-autostart.service | head -n 12
        if running; then echo guest=running; else
            # Why not: what hvd and QEMU wait for (their threads' kernel stacks), and what they said.
            hv guest status guestrtlinux | grep -E '"(state|pid)"'
            for p in $(pidof hvd) $(qemu_pid); do
                for t in /proc/$p/task/*; do echo "== $p/${t##*/} $(cat $t/comm)"; cat $t/stack 2>/dev/null | head -n 8; done
            done
            tail -n 20 /hv/run/guestrtlinux/qemu.log; journalctl -u hvd -b --no-pager | tail -n 20; ip netns list
        fi
    } > "$r/boot3.txt" 2>&1
    {
        pid=$(qemu_pid)
        dpkg -r hv; echo "dpkg -r rc=$?"
        ls /hv/guests/guestrtlinux /hv/config
        [ ! -e /usr/bin/hv ] && [ -f /hv/config/hv.config ] && [ -f "$g/guest.config" ] && kill -0 "$pid" && echo REMOVE-KEPT
        kill -9 "$pid"
    } > "$r/remove.txt" 2>&1
    echo done > "$r/done"
    sync
    systemctl poweroff
    ;;
esac
