import Foundation
import HVAPI
import HVCore
import HVEngine
import Testing

extension EndToEnd {
    /// PCI passthrough on a real kernel with a real (emulated) IOMMU: hv,
    /// hvd and QEMU run inside a q35 kernel guest with Intel's IOMMU
    /// (interrupt remapping, caching mode for VFIO) and an e1000e NIC. The
    /// RT-Linux example gets the NIC: refused while the NIC carries an
    /// address, then bound to vfio-pci, its group's node the guest user's,
    /// handed to the inner QEMU on a PCIe microvm; the NIC's VFIO interrupts
    /// run on the RT core with FIFO threads; after the stop the NIC is back
    /// on e1000e. Refused on the way: one of two NICs that share an IOMMU
    /// group, the NIC while the host uses it, the NIC for a second guest
    /// while the first has it. The inner guest sees the NIC, loads e1000e and
    /// brings the link up (it boots the bzImage: see `RTOSImage.locate`).
    @Suite struct Passthrough {
        @Test func theRTGuestGetsTheNICAndGivesItBack() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let guest = try KernelGuest(host: host)
            defer { guest.stop() }
            try CgroupV2VMF().provision(guest)
            try guest.boot(memory: "3584M", iommu: true, sharedGroup: true)
            let finished = try guest.run(CgroupV2VMF.setup + Self.script, timeout: 1800)
            try #require(finished, "the script did not finish: \(guest.console.suffix(2000))")
            let r = guest.result

            // An incomplete IOMMU group: refused, naming the other device, nothing changed.
            let pair = r("pair.txt").split(separator: " ").map(String.init)
            try #require(pair.count == 2, "two e1000 expected: \(r("pair.txt"))")
            #expect(
                r("group.rc") != "0" && r("group.txt").contains("shares IOMMU group") && r("group.txt").contains(pair[1])
                    && r("group.txt").contains("add \(pair[1])"), "\(r("group.txt"))")
            #expect(r("pair-drivers-after.txt") == r("pair-drivers-before.txt"), "\(r("pair-drivers-before.txt")) -> \(r("pair-drivers-after.txt"))")
            #expect(!r("record-group.txt").contains(pair[0]), "\(r("record-group.txt"))")

            let nic = r("nic.txt")
            try #require(DeviceConfig.pciAddress(nic) != nil, "no e1000e found: \(r("nic.txt")) \(guest.console.suffix(800))")
            #expect(r("driver-before.txt") == "e1000e", "\(r("driver-before.txt"))")
            // Refused while the host uses it, and nothing changed.
            #expect(r("inuse.rc") != "0" && r("inuse.txt").contains("has the address") && r("inuse.txt").contains("TakeInUse"), "\(r("inuse.txt"))")
            #expect(r("driver-inuse.txt") == "e1000e", "the refused start changed the driver: \(r("driver-inuse.txt"))")
            #expect(!r("record-inuse.txt").contains(nic), "\(r("record-inuse.txt"))")

            #expect(r("start.rc") == "0", "\(r("start.txt"))")
            #expect(r("driver-running.txt") == "vfio-pci", "\(r("driver-running.txt"))")
            #expect(r("vfio-owner.txt").hasPrefix("17000000"), "the group's node belongs to the guest's user: \(r("vfio-owner.txt"))")
            #expect(
                r("qemu-args.txt").contains("vfio-pci,host=\(nic)") && r("qemu-args.txt").contains("microvm,pcie=on")
                    && r("qemu-args.txt").contains("-kernel /root/hv/templates/rt-linux/bzImage "), "\(r("qemu-args.txt"))")

            // VFIO pins the guest's RAM: its QEMU may lock that and a margin (512 MiB, and 1 GiB
            // for TCG's translation buffer), not the host's whole memory.
            #expect(r("memlock.txt") == "Max locked memory \((256 + 512 + 1024) << 20) \((256 + 512 + 1024) << 20) bytes", "\(r("memlock.txt"))")

            // Inside the guest: the NIC, its driver, the link.
            let inner = r("inner-console.txt")
            #expect(inner.contains("hv-guest: e1000e for "), "the guest's init did not load e1000e: \(inner.suffix(1500))")
            #expect(inner.contains("nic-seen: ") && inner.contains("driver=e1000e"), "\(inner.suffix(1500))")
            // The serial console ends lines with "\r\n", one Character in Swift. The guest's
            // shell shares the console: its prompt (and a terminal query) may come first on the line.
            #expect(
                inner.split(whereSeparator: \.isNewline).contains { line in
                    line.range(of: "nic-link: ").map { line[$0.lowerBound...].hasSuffix(" up") } ?? false
                }, "\(inner.suffix(1500))")

            let list = try JSONDecoder().decode([GuestStatus].self, from: Data(r("list.json").utf8))
            let g = try #require(list.first, "\(r("list.json")) \(r("start.txt"))")
            let dev = try #require(g.devices.first, "no device in the status: \(r("list.json").prefix(1500))")
            #expect(dev.device == nic && dev.driver == "vfio-pci", "\(dev)")
            #expect(!dev.interrupts.isEmpty, "no VFIO interrupt read back: \(dev) \(r("vfio-irqs.txt"))")
            for irq in dev.interrupts {
                #expect(irq.cores == [1], "interrupt \(irq.irq) is not on the RT core: \(irq)")
                let thread = try #require(irq.thread, "interrupt \(irq.irq) has no thread on this PREEMPT_RT kernel")
                #expect(thread.policy == "fifo" && thread.priority == 51, "\(thread)")
            }
            // The kernel's own files agree.
            #expect(
                r("irq-affinity.txt").split(separator: "\n").allSatisfy { $0.hasSuffix(" 1") } && !r("irq-affinity.txt").isEmpty,
                "\(r("irq-affinity.txt"))")

            // Another guest's device: refused while the RT guest holds it, and the refused start made nothing.
            #expect(r("held.rc") != "0" && r("held.txt").contains("is in use by guest guestrtlinux"), "\(r("held.txt"))")
            #expect(r("hmi-files.txt") == "guest.config usr.config", "\(r("hmi-files.txt"))")
            #expect(!r("vms.txt").contains("guesthmi"), "\(r("vms.txt"))")
            #expect(r("driver-held.txt") == "vfio-pci", "\(r("driver-held.txt"))")

            #expect(r("stop.rc") == "0", "\(r("stop.txt"))")
            #expect(r("driver-after.txt") == "e1000e", "not given back: \(r("driver-after.txt"))")
            #expect(r("vfio-owner-after.txt").isEmpty || r("vfio-owner-after.txt").hasPrefix("0"), "\(r("vfio-owner-after.txt"))")
            #expect(!r("record-after.txt").contains(nic), "\(r("record-after.txt"))")
            #expect(r("unload.rc") == "0", "\(r("unload.txt"))")
        }

        static let script = """
            for d in /sys/bus/pci/devices/*; do
                [ "$(cat $d/vendor) $(cat $d/device)" = "0x8086 0x10d3" ] && nic=${d##*/}
            done
            echo "$nic" > $out/nic.txt
            drv() { basename "$(readlink /sys/bus/pci/devices/$nic/driver)" 2>/dev/null; }
            drv > $out/driver-before.txt
            dev=$(ls /sys/bus/pci/devices/$nic/net); ip link set $dev up
            # TCG inside TCG: the inner kernel takes minutes, not seconds, to print its first line.
            printf '[Guest\\\\Devices]\\n    "Pci"="%s"\\n[Guest\\\\Boot]\\n    "BootStallSeconds"="900"\\n' "$nic" > usr.config
            cat > autorun.sh <<'EOF'
            for d in /sys/bus/pci/devices/*; do
                [ "$(cat $d/vendor) $(cat $d/device)" = "0x8086 0x10d3" ] || continue
                echo "nic-seen: ${d##*/} driver=$(basename "$(readlink $d/driver)")" > /dev/console
                n=$(ls $d/net | head -1); ip link set "$n" up
                i=0; while [ $i -lt 120 ] && [ "$(cat /sys/class/net/$n/operstate)" != up ]; do sleep 1; i=$((i+1)); done
                echo "nic-link: $n $(cat /sys/class/net/$n/operstate)" > /dev/console
            done
            EOF
            hv_vmf_start > $out/load.txt 2>&1
            # Two e1000 behind one PCIe-to-PCI bridge share an IOMMU group: one alone is refused, nothing changes.
            e1=; e2=
            for d in /sys/bus/pci/devices/*; do
                [ "$(cat $d/vendor) $(cat $d/device)" = "0x8086 0x100e" ] && { [ -z "$e1" ] && e1=${d##*/} || e2=${d##*/}; }
            done
            echo "$e1 $e2" > $out/pair.txt
            drvof() { basename "$(readlink /sys/bus/pci/devices/$1/driver)" 2>/dev/null || echo none; }
            echo "$(drvof $e1) $(drvof $e2)" > $out/pair-drivers-before.txt
            cp usr.config usr.config.nic
            printf '[Guest\\\\Devices]\\n    "Pci"="%s"\\n' "$e1" > usr.config
            hv guest start guestrtlinux --no-wait > $out/group.txt 2>&1; echo $? > $out/group.rc
            echo "$(drvof $e1) $(drvof $e2)" > $out/pair-drivers-after.txt
            cat /root/hv/run/devices.json > $out/record-group.txt 2>/dev/null
            mv usr.config.nic usr.config
            # The host uses the NIC (an address on it): refused, nothing changed.
            ip addr add 169.254.77.1/16 dev $dev
            hv guest start guestrtlinux --no-wait > $out/inuse.txt 2>&1; echo $? > $out/inuse.rc
            drv > $out/driver-inuse.txt; cat /root/hv/run/devices.json > $out/record-inuse.txt 2>/dev/null
            ip addr flush dev $dev
            hv guest start guestrtlinux --no-wait > $out/start.txt 2>&1; echo $? > $out/start.rc
            drv > $out/driver-running.txt
            # The inner guest sees the NIC, its init loads e1000e, and the link comes up (under
            # TCG inside TCG its boot takes minutes: the bzImage's decompressor alone about one).
            c=/root/hv/guests/guestrtlinux/console.log
            i=0; while [ $i -lt 1200 ] && ! grep -q 'nic-link:' $c; do sleep 1; i=$((i+1)); done
            cp $c $out/inner-console.txt
            tr '\\0' ' ' < /proc/$(cat /root/hv/run/guestrtlinux/qemu/qemu.pid)/cmdline > $out/qemu-args.txt
            grep 'Max locked memory' /proc/$(cat /root/hv/run/guestrtlinux/qemu/qemu.pid)/limits | tr -s ' ' > $out/memlock.txt
            g=$(basename "$(readlink /sys/bus/pci/devices/$nic/iommu_group)")
            stat -c %u /dev/vfio/$g > $out/vfio-owner.txt 2>&1
            # VFIO's vectors are placed once they exist (INTx at once, MSI-X when the guest's driver
            # enables it, one vector after another): wait until each has its thread at priority 51.
            i=0; while [ $i -lt 60 ] && [ "$(hv guest status guestrtlinux | grep -c '"priority" : 51')" -lt "$(grep -c vfio /proc/interrupts)" ]; do sleep 1; i=$((i+1)); done
            hv guest list --json > $out/list.json 2>&1
            grep vfio /proc/interrupts > $out/vfio-irqs.txt
            for n in $(grep vfio /proc/interrupts | cut -d: -f1); do echo "$n $(cat /proc/irq/$n/smp_affinity_list)"; done > $out/irq-affinity.txt
            # A second guest (a KVM HMI) that names the NIC while the RT guest has it: refused, nothing created.
            hmi=/root/hv/guests/guesthmi; mkdir -p $hmi
            printf '[Guest]\\n    "Name"="HMI"\\n    "Os"="ubuntu"\\n    "Kind"="kvm"\\n[Guest\\\\Memory]\\n    "SizeMiB"="256"\\n' > $hmi/guest.config
            printf '[Guest\\\\Devices]\\n    "Pci"="%s"\\n' "$nic" > $hmi/usr.config
            hv guest start guesthmi --no-wait > $out/held.txt 2>&1; echo $? > $out/held.rc
            ls -A $hmi | tr '\\n' ' ' > $out/hmi-files.txt; ls -A /root/hv/VMs > $out/vms.txt 2>&1
            drv > $out/driver-held.txt
            hv guest stop guestrtlinux > $out/stop.txt 2>&1; echo $? > $out/stop.rc
            drv > $out/driver-after.txt
            stat -c %u /dev/vfio/$g > $out/vfio-owner-after.txt 2>/dev/null
            cat /root/hv/run/devices.json > $out/record-after.txt 2>/dev/null
            hv_vmf_stop --yes > $out/unload.txt 2>&1; echo $? > $out/unload.rc
            echo done > $out/done

            """
    }
}
