import Foundation
import HVAPI
import HVCore
import HVEngine
import Testing

extension EndToEnd.Passthrough {
    /// A USB device for a KVM guest on a real kernel: hv inside a q35 kernel
    /// guest with an xHCI controller and QEMU's USB keyboard (0627:0001) gives
    /// the keyboard to the Ubuntu example's QEMU by its ids: the node is the
    /// guest user's while it runs, QEMU takes the interface from usbhid, and
    /// after the stop the node is root's again and usbhid has it back.
    @Test func aKVMGuestGetsAUSBDeviceAndGivesItBack() throws {
        let host = try TestHost()
        defer { host.cleanup() }
        let guest = try KernelGuest(host: host)
        defer { guest.stop() }
        try EndToEnd.CgroupV2VMF().provision(guest)
        try guest.provide([URL(fileURLWithPath: "/usr/bin/qemu-img")])
        let vmf = EndToEnd.CgroupV2VMF()
        try vmf.copyResolved(URL(fileURLWithPath: "/usr/share/OVMF"), to: guest.share.appendingPathComponent("ovmf"))
        // A KVM guest's NIC and VGA need their option ROMs, which Debian keeps beside QEMU's own firmware.
        for dir in ["/usr/lib/ipxe/qemu", "/usr/share/seabios"] {
            try vmf.copyResolved(URL(fileURLWithPath: dir), to: guest.share.appendingPathComponent("share/qemu"))
        }
        try guest.provideModules(["xhci_pci", "usbhid"])
        try guest.boot(memory: "3584M", iommu: true, usb: true)
        let finished = try guest.run(EndToEnd.CgroupV2VMF.environment + Self.usbScript, timeout: 600)
        try #require(finished, "the script did not finish: \(guest.console.suffix(2000))")
        let r = guest.result

        #expect(!r("usb-port.txt").isEmpty && r("usb-driver-before.txt") == "usbhid", "\(r("usb-port.txt")) \(r("usb-driver-before.txt")) \(r("modules.txt"))")
        #expect(r("usb-start.rc") == "0", "\(r("usb-start.txt"))")
        #expect(r("usb-owner.txt").hasPrefix("17000000") && r("usb-owner.txt").hasSuffix(" 600"), "the node is the guest user's: \(r("usb-owner.txt"))")
        #expect(r("usb-driver-running.txt") != "usbhid", "QEMU did not take the interface: \(r("usb-driver-running.txt")) \(r("qemu-log.txt"))")
        #expect(r("usb-args.txt").contains("usb-host,bus=usb.0,vendorid=0x0627,productid=0x0001"), "\(r("usb-args.txt"))")
        let status = try JSONDecoder().decode(GuestStatus.self, from: Data(r("usb-status.json").utf8))
        #expect(status.devices.map(\.device) == ["usb 0627:0001"], "\(status.devices)")
        #expect(r("usb-stop.rc") == "0", "\(r("usb-stop.txt"))")
        #expect(r("usb-owner-after.txt") == "0 664", "\(r("usb-owner-after.txt"))")
        #expect(r("usb-driver-after.txt") == "usbhid", "not given back: \(r("usb-driver-after.txt"))")
    }

    static let usbScript = """
        for m in $(cat /hv/guests/modules/order); do insmod /hv/guests/modules/$m; done > $out/modules.txt 2>&1
        i=0; while [ $i -lt 20 ] && ! grep -qs 0627 /sys/bus/usb/devices/*/idVendor; do sleep 1; i=$((i+1)); done
        for d in /sys/bus/usb/devices/*; do
            [ -f $d/idVendor ] && [ "$(cat $d/idVendor):$(cat $d/idProduct)" = 0627:0001 ] && kbd=${d##*/}
        done
        echo "$kbd" > $out/usb-port.txt
        ifdrv() { basename "$(readlink /sys/bus/usb/devices/$kbd/$kbd:1.0/driver)" 2>/dev/null; }
        i=0; while [ $i -lt 10 ] && [ "$(ifdrv)" != usbhid ]; do sleep 1; i=$((i+1)); done
        ifdrv > $out/usb-driver-before.txt
        node=/dev/bus/usb/$(printf %03d $(cat /sys/bus/usb/devices/$kbd/busnum))/$(printf %03d $(cat /sys/bus/usb/devices/$kbd/devnum))
        mkdir -p /usr/share/OVMF; cp -a /hv/guests/ovmf/. /usr/share/OVMF/
        hv_open_example ubuntu_rtlinux --yes > $out/open.txt 2>&1; hv_sync_example ubuntu_rtlinux >> $out/open.txt 2>&1
        sed -i 's/"Root"="debian"/"Root"="busybox"/' /root/hv/guests/guestrtlinux/guest.config
        mkdir -p /root/hv/iso; truncate -s 1M /root/hv/iso/ubuntu.iso; chmod 644 /root/hv/iso/ubuntu.iso
        cd /root/hv/guests/guestubuntu
        printf '[Guest\\\\Devices]\\n    "Usb"="0627:0001"\\n[Guest\\\\Memory]\\n    "SizeMiB"="256"\\n' > usr.config
        hv guest start guestubuntu --no-wait > $out/usb-start.txt 2>&1; echo $? > $out/usb-start.rc
        i=0; while [ $i -lt 20 ] && [ "$(ifdrv)" = usbhid ]; do sleep 1; i=$((i+1)); done
        stat -c '%u %a' $node > $out/usb-owner.txt 2>&1
        ifdrv > $out/usb-driver-running.txt
        tr '\\0' ' ' < /proc/$(cat /root/hv/run/guestubuntu/qemu/qemu.pid)/cmdline > $out/usb-args.txt
        cp /root/hv/run/guestubuntu/qemu.log $out/qemu-log.txt 2>/dev/null
        hv guest status guestubuntu > $out/usb-status.json 2>&1
        hv guest stop guestubuntu --force > $out/usb-stop.txt 2>&1; echo $? > $out/usb-stop.rc
        i=0; while [ $i -lt 10 ] && [ "$(ifdrv)" != usbhid ]; do sleep 1; i=$((i+1)); done
        stat -c '%u %a' $node > $out/usb-owner-after.txt 2>&1
        ifdrv > $out/usb-driver-after.txt
        echo done > $out/done

        """
}
