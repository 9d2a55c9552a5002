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
        # hv.root=disk: the guest's own Debian root, on a disk of its own.
        case " $(cat /proc/cmdline) " in
        *" hv.root=disk "*)
            for m in virtio_mmio virtio_blk crc32c_generic ext4 overlay virtio_net 9pnet_virtio 9p button evdev; do modprobe "$m" 2>/dev/null; done
            exec /sbin/hv-switch-root ;;
        esac
        for m in virtio_pci virtio_mmio virtio_net 9pnet_virtio 9p button evdev; do modprobe "$m" 2>/dev/null; done
        # Drivers for PCI devices given to the guest: modules.alias holds their patterns.
        for dev in /sys/bus/pci/devices/*; do
            [ -f "$dev/modalias" ] && [ ! -e "$dev/driver" ] || continue
            id=$(cat "$dev/modalias")
            while read -r word pattern module; do
                case "$id" in $pattern) modprobe "$module" 2>/dev/null && echo "hv-guest: $module for ${dev##*/}" ;; esac
            done < "/lib/modules/$(uname -r)/modules.alias"
        done
        hv-net-up /proc/cmdline
        if grep -qsw hvguests /sys/bus/virtio/drivers/9pnet_virtio/*/mount_tag; then
            if mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 hvguests /hv/guests; then
                echo "hv-guest: /hv/guests mounted from the host"
            else
                echo "hv-guest: could not mount /hv/guests"
            fi
        fi
        acpid -c /etc/acpi
        g=; beat=
        for w in $(cat /proc/cmdline); do
            case "$w" in hv.guest=*) g=${w#hv.guest=} ;; hv.hb) beat=1 ;; esac
        done
        # The heartbeat hvd watches (Watchdog in [Guest\\Recovery]): a normal-priority
        # loop, so a real-time task that starves the guest stops it too.
        hb=/hv/guests/$g/exchange/.hv-heartbeat
        if [ -n "$g" ] && [ -n "$beat" ] && date +%s > "$hb" 2>/dev/null; then
            (while date +%s > "$hb"; do sleep 1; done) >/dev/null 2>&1 &
            echo $! > /run/hv-heartbeat.pid
            echo "hv-guest: heartbeat in $hb"
        fi
        echo "hv-guest: ready ($(uname -r), $(grep -c ^processor /proc/cpuinfo) CPU)"
        # The user's application: autorun.sh in the guest's folder on the host
        # (read-only here), started at every boot; its output goes to /var/log/autorun.log.
        if [ -n "$g" ] && [ -f "/hv/guests/$g/autorun.sh" ]; then
            sh "/hv/guests/$g/autorun.sh" > /var/log/autorun.log 2>&1 < /dev/null &
            echo "hv-guest: started autorun.sh (pid $!; output in /var/log/autorun.log)"
        fi
        while true; do
            setsid cttyhack sh -l
        done

        """

    /// Mounts the guest's Debian root (the virtio disk with serial hv-root)
    /// with the kernel's modules (serial hv-modules, read-only) under an
    /// overlay at /usr/lib/modules/<version> (modules the user adds land on
    /// the root disk), then hands over to its systemd.
    static let switchRoot = """
        #!/bin/sh
        fail() { echo "hv-guest: $*; staying in the initramfs shell"; exec setsid cttyhack sh -l; }
        rootdev=; moddev=; n=0
        while [ $n -lt 100 ]; do
            for b in /sys/block/vd*; do
                [ -e "$b/serial" ] || continue
                case "$(cat "$b/serial")" in hv-root) rootdev=/dev/${b##*/} ;; hv-modules) moddev=/dev/${b##*/} ;; esac
            done
            [ -b "$rootdev" ] && [ -b "$moddev" ] && break
            n=$((n + 1)); usleep 100000
        done
        [ -b "$rootdev" ] || fail "no root disk (a virtio disk with serial hv-root)"
        mkdir -p /newroot
        mount -t ext4 -o rw "$rootdev" /newroot || fail "cannot mount the root disk $rootdev"
        v=$(uname -r); m=/newroot/var/lib/hv
        if [ -b "$moddev" ] && mkdir -p $m/modules-image $m/modules/$v/upper $m/modules/$v/work /newroot/usr/lib/modules/$v &&
           mount -t ext4 -o ro,noload "$moddev" $m/modules-image &&
           mount -t overlay overlay -o lowerdir=$m/modules-image,upperdir=$m/modules/$v/upper,workdir=$m/modules/$v/work /newroot/usr/lib/modules/$v; then
            :
        else
            echo "hv-guest: the kernel's modules are not available in the Debian root"
        fi
        [ -L /newroot/sbin/init ] || [ -e /newroot/sbin/init ] || fail "the root disk $rootdev has no /sbin/init"
        echo "hv-guest: booting the Debian root from $rootdev"
        mount --move /dev /newroot/dev
        mount --move /proc /newroot/proc
        mount --move /sys /newroot/sys
        exec switch_root /newroot /sbin/init

        """

    /// The communication subsystem from hv's words (hv.net=MAC,ADDR/PREFIX,
    /// hv.ev=SLOT) in the file given: the card with that MAC gets the address;
    /// events load the doorbell driver. Shared by the RT-Linux image and the
    /// tests' KVM guest (which reads fw_cfg opt/hv/comm).
    static let netUp = """
        #!/bin/sh
        ip link set lo up
        for w in $(cat "$@" 2>/dev/null); do
            case "$w" in
            hv.net=*) net=${w#hv.net=} ;;
            hv.ev=*) ev=1 ;;
            esac
        done
        if [ -n "$net" ]; then
            mac=${net%%,*}; addr=${net#*,}; dev=
            for i in /sys/class/net/*; do
                [ "$(cat "$i/address")" = "$mac" ] && dev=${i##*/}
            done
            if [ -n "$dev" ] && ip addr add "$addr" dev "$dev" && ip link set "$dev" up; then
                echo "hv-guest: $dev is $addr on the VMF network"
            else
                echo "hv-guest: no network card $mac for $addr"
            fi
        fi
        if [ -n "$ev" ]; then
            modprobe hv_ivshmem && echo "hv-guest: events ready (hv-comm event wait|signal NAME)"
        fi

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
