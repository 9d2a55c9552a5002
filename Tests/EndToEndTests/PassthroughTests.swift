import Foundation
import Testing
import HVCore
import HVEngine

extension EndToEnd {
    /// PCI passthrough on a real kernel with a real (emulated) IOMMU: hv,
    /// hvd and QEMU run inside a q35 kernel guest with Intel's IOMMU
    /// (interrupt remapping, caching mode for VFIO) and an e1000e NIC. The
    /// RT-Linux example gets the NIC: refused while the NIC carries an
    /// address, then bound to vfio-pci, its group's node the guest user's,
    /// handed to the inner QEMU on a PCIe microvm; the NIC's VFIO interrupts
    /// run on the RT core with FIFO threads; after the stop the NIC is back
    /// on e1000e. (The inner guest itself is not waited for: under TCG
    /// inside TCG its kernel takes many minutes to print a line.)
    @Suite struct Passthrough {
        @Test func theRTGuestGetsTheNICAndGivesItBack() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let guest = try KernelGuest(host: host)
            defer { guest.stop() }
            try CgroupV2VMF().provision(guest)
            try guest.boot(memory: "3584M", iommu: true)
            let finished = try guest.run(CgroupV2VMF.setup + Self.script, timeout: 600)
            try #require(finished, "the script did not finish: \(guest.console.suffix(2000))")
            let r = guest.result

            let nic = r("nic.txt")
            try #require(DeviceConfig.pciAddress(nic) != nil, "no e1000e found: \(r("nic.txt")) \(guest.console.suffix(800))")
            #expect(r("driver-before.txt") == "e1000e", "\(r("driver-before.txt"))")
            // Refused while the host uses it, and nothing changed.
            #expect(r("inuse.rc") != "0" && r("inuse.txt").contains("has the address") && r("inuse.txt").contains("TakeInUse"), "\(r("inuse.txt"))")
            #expect(r("driver-inuse.txt") == "e1000e", "the refused start changed the driver: \(r("driver-inuse.txt"))")
            #expect(r("record-inuse.txt").isEmpty || r("record-inuse.txt") == "{\"devices\":{}}", "\(r("record-inuse.txt"))")

            #expect(r("start.rc") == "0", "\(r("start.txt"))")
            #expect(r("driver-running.txt") == "vfio-pci", "\(r("driver-running.txt"))")
            #expect(r("vfio-owner.txt").hasPrefix("17000000"), "the group's node belongs to the guest's user: \(r("vfio-owner.txt"))")
            #expect(r("qemu-args.txt").contains("vfio-pci,host=\(nic)") && r("qemu-args.txt").contains("microvm,pcie=on"), "\(r("qemu-args.txt"))")

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
            #expect(r("irq-affinity.txt").split(separator: "\n").allSatisfy { $0.hasSuffix(" 1") } && !r("irq-affinity.txt").isEmpty,
                    "\(r("irq-affinity.txt"))")

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
            hv_vmf_start > $out/load.txt 2>&1
            # The host uses the NIC (an address on it): refused, nothing changed.
            ip addr add 169.254.77.1/16 dev $dev
            hv guest start guestrtlinux --no-wait > $out/inuse.txt 2>&1; echo $? > $out/inuse.rc
            drv > $out/driver-inuse.txt; cat /root/hv/run/devices.json > $out/record-inuse.txt 2>/dev/null
            ip addr flush dev $dev
            hv guest start guestrtlinux --no-wait > $out/start.txt 2>&1; echo $? > $out/start.rc
            drv > $out/driver-running.txt
            tr '\\0' ' ' < /proc/$(cat /root/hv/run/guestrtlinux/qemu/qemu.pid)/cmdline > $out/qemu-args.txt
            g=$(basename "$(readlink /sys/bus/pci/devices/$nic/iommu_group)")
            stat -c %u /dev/vfio/$g > $out/vfio-owner.txt 2>&1
            # VFIO's vectors are placed once they exist (INTx at once, MSI-X when the guest's driver enables it).
            i=0; while [ $i -lt 30 ] && ! hv guest status guestrtlinux | grep -q '"priority" : 51'; do sleep 1; i=$((i+1)); done
            hv guest list --json > $out/list.json 2>&1
            grep vfio /proc/interrupts > $out/vfio-irqs.txt
            for n in $(grep vfio /proc/interrupts | cut -d: -f1); do echo "$n $(cat /proc/irq/$n/smp_affinity_list)"; done > $out/irq-affinity.txt
            hv guest stop guestrtlinux > $out/stop.txt 2>&1; echo $? > $out/stop.rc
            drv > $out/driver-after.txt
            stat -c %u /dev/vfio/$g > $out/vfio-owner-after.txt 2>/dev/null
            cat /root/hv/run/devices.json > $out/record-after.txt 2>/dev/null
            hv_vmf_stop --yes > $out/unload.txt 2>&1; echo $? > $out/unload.rc
            echo done > $out/done

            """
    }
}
