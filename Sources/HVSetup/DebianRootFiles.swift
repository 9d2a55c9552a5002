/// The files hv writes into the RT-Linux guest's Debian root (beside what
/// Debian's packages bring): hv's own start-up as systemd units, and the
/// settings that keep a real-time guest quiet. Each is (path, mode, text).
enum DebianRootFiles {
    struct File {
        var path: String
        var mode: Int
        var text: String
    }

    /// What hv's guest does at every boot before ssh and chrony start: the
    /// VMF network's address, /hv/guests, the clock and package sources
    /// (both on the host's VMF address), the doorbell driver.
    static let guestStart = """
        #!/bin/sh
        # hv's start-up of the RT-Linux guest (written by hv setup).
        g=; host=
        for w in $(cat /proc/cmdline); do
            case "$w" in hv.guest=*) g=${w#hv.guest=} ;; hv.host=*) host=${w#hv.host=} ;; esac
        done
        /usr/sbin/hv-net-up /proc/cmdline
        # The root file system fills its disk ([Guest\\Disk] SizeGiB; nothing to do once it has).
        for b in /sys/block/vd*; do
            [ "$(cat "$b/serial" 2>/dev/null)" = hv-root ] && resize2fs "/dev/${b##*/}" >/dev/null 2>&1
        done
        mkdir -p /hv/guests /run/hv-chrony
        if grep -qsw hvguests /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag; then
            if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 hvguests /hv/guests; then
                echo "hv-guest: /hv/guests mounted from the host"
            else
                echo "hv-guest: could not mount /hv/guests"
            fi
        fi
        # The clock follows the host's (hvd serves NTP on its VMF address) and
        # answers hvd's own measurement of its offset, from that address only.
        if [ -n "$host" ]; then
            echo "server $host iburst minpoll 0 maxpoll 4" > /run/hv-chrony/hv.sources
            printf 'allow %s\\n' "$host" > /run/hv-chrony/hv.conf
            # Under KVM the host's clock itself, without the network: ptp_kvm (fails harmlessly under TCG).
            if modprobe ptp_kvm 2>/dev/null; then
                for p in /sys/class/ptp/ptp*; do
                    [ "$(cat "$p/clock_name" 2>/dev/null)" = "KVM virtual PTP" ] &&
                        echo "refclock PHC /dev/${p##*/} poll 2 dpoll -2 prefer" >> /run/hv-chrony/hv.conf
                done
            fi
            # Debian's archive through the host's package proxy (hvd hands it to approx).
            printf 'deb http://%s:9999/debian bookworm main\\ndeb http://%s:9999/debian bookworm-updates main\\ndeb http://%s:9999/security bookworm-security main\\n' \\
                "$host" "$host" "$host" > /etc/apt/sources.list.d/hv.list
        else
            : > /run/hv-chrony/hv.conf
        fi
        exit 0

        """

    /// The heartbeat hvd watches (Watchdog in [Guest\\Recovery]): a normal
    /// priority loop, so a real-time task that starves the guest stops it too.
    static let heartbeat = """
        #!/bin/sh
        g=
        for w in $(cat /proc/cmdline); do case "$w" in hv.guest=*) g=${w#hv.guest=} ;; esac; done
        hb=/hv/guests/$g/exchange/.hv-heartbeat
        [ -n "$g" ] || exit 0
        echo "hv-guest: heartbeat in $hb"
        while date +%s > "$hb"; do sleep 1; done

        """

    static let ready = """
        #!/bin/sh
        echo "hv-guest: ready ($(uname -r), $(grep -c ^processor /proc/cpuinfo) CPU, Debian $(cat /etc/debian_version))" > /dev/console

        """

    /// autorun.sh in the guest's folder on the host (read-only here), as in the busybox image.
    static let autorun = """
        #!/bin/sh
        g=
        for w in $(cat /proc/cmdline); do case "$w" in hv.guest=*) g=${w#hv.guest=} ;; esac; done
        [ -n "$g" ] && [ -f "/hv/guests/$g/autorun.sh" ] || exit 0
        echo "hv-guest: started autorun.sh (output in /var/log/autorun.log)" > /dev/console
        exec sh "/hv/guests/$g/autorun.sh" > /var/log/autorun.log 2>&1 < /dev/null

        """

    /// The ACPI power button (hv_guest_stop) shuts the system down in order.
    static let powerOff = """
        #!/bin/sh
        echo "hv-guest: powering off" > /dev/console
        exec systemctl poweroff

        """

    static func unit(
        _ description: String, after: String, before: String = "", type: String = "oneshot",
        exec: String, extra: String = ""
    ) -> String {
        var text = "[Unit]\nDescription=\(description)\nAfter=\(after)\n"
        if !before.isEmpty { text += "Before=\(before)\n" }
        text += extra + "\n[Service]\nType=\(type)\nExecStart=\(exec)\nStandardOutput=journal+console\n"
        if type == "oneshot" { text += "RemainAfterExit=yes\n" }
        return text + "\n[Install]\nWantedBy=multi-user.target\n"
    }

    /// Units hv enables (multi-user.target.wants).
    static let units: [(name: String, text: String)] = [
        (
            "hv-guest.service",
            unit(
                "hv: network, /hv/guests, clock and package sources", after: "systemd-udevd.service local-fs.target",
                before: "ssh.service chrony.service network.target", exec: "/usr/lib/hv/hv-guest-start")
        ),
        (
            "hv-heartbeat.service",
            unit(
                "hv: heartbeat in exchange/ (Watchdog)", after: "hv-guest.service", type: "simple",
                exec: "/usr/lib/hv/hv-heartbeat", extra: "ConditionKernelCommandLine=hv.hb\n")
        ),
        (
            "hv-ready.service",
            unit(
                "hv: tell the host the guest is up", after: "hv-guest.service ssh.service chrony.service",
                exec: "/usr/lib/hv/hv-ready")
        ),
        (
            "hv-autorun.service",
            unit(
                "hv: autorun.sh from the guest's folder", after: "hv-ready.service", type: "simple",
                exec: "/usr/lib/hv/hv-autorun")
        ),
    ]

    static let sshd = """
        # hv: keys only (hv's own is put into the disk when it is made), one host key.
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        PermitRootLogin prohibit-password
        HostKey /etc/ssh/ssh_host_ed25519_key
        UseDNS no

        """

    /// A disk whose host key was removed by hand still gets ssh back.
    static let sshHostKey = """
        [Service]
        ExecStartPre=
        ExecStartPre=/bin/sh -c 'test -e /etc/ssh/ssh_host_ed25519_key || ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key'
        ExecStartPre=/usr/sbin/sshd -t

        """

    static let chrony = """
        # hv: the host's clock, from hvd's NTP server on the host's VMF address
        # (written at each boot by hv-guest-start into /run/hv-chrony).
        confdir /run/hv-chrony
        sourcedir /run/hv-chrony
        driftfile /var/lib/chrony/chrony.drift
        makestep 1 3
        maxupdateskew 100.0
        ntsdumpdir /var/lib/chrony
        logdir /var/log/chrony

        """

    /// The serial console is the operator's root shell, as in the busybox image.
    static let autologin = """
        [Service]
        ExecStart=
        ExecStart=-/sbin/agetty --autologin root --noclear --keep-baud 115200,57600,38400,9600 %I $TERM

        """

    static let acpiEvent = """
        event=button/power.*
        action=/usr/sbin/hv-poweroff

        """

    /// The guest reaches Debian's archive only through the host: hv-guest-start
    /// writes sources.list.d/hv.list at each boot with the host's VMF address.
    static let sources = """
        # Debian's archive comes through the host: see /etc/apt/sources.list.d/hv.list (written at each boot).

        """

    /// The root is mounted read-write by hv's initramfs (the disk with serial hv-root):
    /// an entry here would only make systemd wait for udev to name it.
    static let fstab = """
        # / is the guest's own disk (serial hv-root), mounted by hv's initramfs.

        """

    /// Timers and services that wake a real-time guest for nothing (each
    /// masked: a package upgrade cannot enable it again).
    static let masked = [
        "apt-daily.timer", "apt-daily-upgrade.timer", "apt-daily.service", "apt-daily-upgrade.service",
        "man-db.timer", "e2scrub_all.timer", "e2scrub_reap.service", "fstrim.timer",
        "dpkg-db-backup.timer", "systemd-tmpfiles-clean.timer",
        "getty@tty1.service", "getty-static.service", "systemd-timesyncd.service",
        "proc-sys-fs-binfmt_misc.automount", "proc-sys-fs-binfmt_misc.mount", "systemd-binfmt.service",
    ]

    static var files: [File] {
        [
            File(path: "usr/lib/hv/hv-guest-start", mode: 0o755, text: guestStart),
            File(path: "usr/lib/hv/hv-heartbeat", mode: 0o755, text: heartbeat),
            File(path: "usr/lib/hv/hv-ready", mode: 0o755, text: ready),
            File(path: "usr/lib/hv/hv-autorun", mode: 0o755, text: autorun),
            File(path: "usr/sbin/hv-poweroff", mode: 0o755, text: powerOff),
            File(path: "usr/sbin/hv-net-up", mode: 0o755, text: GuestInitScripts.netUp),
            File(path: "etc/ssh/sshd_config.d/hv.conf", mode: 0o644, text: sshd),
            File(path: "etc/systemd/system/ssh.service.d/hv-host-key.conf", mode: 0o644, text: sshHostKey),
            File(path: "etc/chrony/chrony.conf", mode: 0o644, text: chrony),
            File(path: "etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf", mode: 0o644, text: autologin),
            File(path: "etc/acpi/events/hv-power", mode: 0o644, text: acpiEvent),
            File(path: "etc/apt/sources.list", mode: 0o644, text: sources),
            File(path: "etc/fstab", mode: 0o644, text: fstab),
            File(path: "etc/hostname", mode: 0o644, text: "rt-linux\n"),
            File(path: "etc/machine-id", mode: 0o444, text: ""),
        ]
            + units.map { File(path: "etc/systemd/system/\($0.name)", mode: 0o644, text: $0.text) }
    }

    /// Every text, for the image's digest.
    static var contentParts: [String] { files.map { $0.path + "\n" + $0.text } + masked + DebianRootBuilder.packages }
}
