/// The files of the RT-Linux guest's root file system that hv writes itself.
enum GuestInitScripts {
    /// PID 1. Mounts the host's /hv/guests, listens for the ACPI power button
    /// (so hv can stop the guest gracefully), announces readiness on the
    /// console (hv watches for that line) and keeps a root shell there.
    static let initScript = """
        #!/bin/sh
        # /init of the hv RT-Linux guest (written by hv setup).
        export PATH=/sbin:/bin:/usr/sbin:/usr/bin
        mount -t proc proc /proc
        mount -t sysfs sysfs /sys
        mount -t devtmpfs devtmpfs /dev
        mkdir -p /dev/pts /dev/shm /run /tmp /var/log
        mount -t devpts devpts /dev/pts
        mount -t tmpfs tmpfs /run
        mount -t tmpfs tmpfs /tmp
        hostname rt-linux
        for m in virtio_pci virtio_mmio 9pnet_virtio 9p button evdev; do modprobe "$m" 2>/dev/null; done
        if grep -qsw hvguests /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag; then
            if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 hvguests /hv/guests; then
                echo "hv-guest: /hv/guests mounted from the host"
            else
                echo "hv-guest: could not mount /hv/guests"
            fi
        fi
        acpid -c /etc/acpi
        echo "hv-guest: ready ($(uname -r), $(grep -c ^processor /proc/cpuinfo) CPU)"
        while true; do
            setsid cttyhack sh -l
        done

        """

    /// Run by acpid on the power button, and usable by hand.
    static let powerOff = """
        #!/bin/sh
        echo "hv-guest: powering off"
        sync
        umount /hv/guests 2>/dev/null
        poweroff -f

        """

    static let acpiPowerButton = """
        #!/bin/sh
        exec /sbin/hv-poweroff

        """

    static let profile = """
        export PATH=/sbin:/bin:/usr/sbin:/usr/bin
        export PS1='rt-linux:\\w# '
        export TERM=${TERM:-vt100}

        """
}
