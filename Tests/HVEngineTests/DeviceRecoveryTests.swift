import Foundation
import HVCore
import HVHost
import Testing

@testable import HVEngine

/// run/devices.json found damaged: the devices its bytes still name are
/// given back or kept for the guest that holds them, on a fake sysfs and
/// /proc (the real kernel's side is PassthroughTests' nested guest).
@Suite struct DeviceRecoveryTests {
    @Test func addressesAreFoundInWhateverIsLeft() {
        #expect(PCIPassthrough.addresses(in: #"{"devices":{"0000:13:00.0":{"guest":"a"},"0000:14:00.1":{"gu"#) == ["0000:13:00.0", "0000:14:00.1"])
        #expect(PCIPassthrough.addresses(in: "\u{0}0000:13:00.0\u{0}0000:13:00.0 zz00:03:00.0 0000:3:00.0") == ["0000:13:00.0"])
        #expect(PCIPassthrough.addresses(in: "").isEmpty)
    }

    /// (Addresses no other test uses: a release in progress is known by its address, process-wide.)
    @Test func theDevicesADamagedRecordNamesAreNotForgotten() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hv-recover-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: root) }
        let layout = HostLayout(root: root.appendingPathComponent("hv"))
        try layout.ensureDirectories()
        let sys = root.appendingPathComponent("sys").path, proc = root.appendingPathComponent("proc").path
        let fm = FileManager.default
        try fm.createDirectory(atPath: sys + "/sys/bus/pci/drivers/vfio-pci", withIntermediateDirectories: true)
        _ = fm.createFile(atPath: sys + "/sys/bus/pci/drivers_probe", contents: Data())
        // Three devices bound as hv binds them (groups 5, 6, 7) and one the admin bound without an override.
        let devices = [("0000:13:00.0", 5, "vfio-pci"), ("0000:14:00.0", 6, "vfio-pci"), ("0000:15:00.0", 7, "vfio-pci"), ("0000:16:00.0", 8, "(null)")]
        for (address, group, override) in devices {
            let base = sys + "/sys/bus/pci/devices/\(address)"
            try fm.createDirectory(atPath: base, withIntermediateDirectories: true)
            try fm.createDirectory(atPath: sys + "/sys/kernel/iommu_groups/\(group)", withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: base + "/iommu_group", withDestinationPath: "../../../kernel/iommu_groups/\(group)")
            try fm.createSymbolicLink(atPath: base + "/driver", withDestinationPath: "../../drivers/vfio-pci")
            _ = fm.createFile(atPath: base + "/driver_override", contents: Data((override + "\n").utf8))
            try fm.createDirectory(atPath: sys + "/dev/vfio", withIntermediateDirectories: true)
            _ = fm.createFile(atPath: sys + "/dev/vfio/\(group)", contents: Data())
        }
        _ = fm.createFile(atPath: sys + "/sys/bus/pci/drivers/vfio-pci/unbind", contents: Data())
        // Pid 100 is guestubuntu's QEMU and holds group 5; pid 200 is someone else's and holds group 6.
        for (pid, group) in [(100, 5), (200, 6)] {
            try fm.createDirectory(atPath: "\(proc)/\(pid)/fd", withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: "\(proc)/\(pid)/fd/9", withDestinationPath: sys + "/dev/vfio/\(group)")
        }
        let aside = layout.runDir.appendingPathComponent("devices.json.damaged-x")
        try Data(
            #"{"devices":{"0000:13:00.0":{"group":5,"guest":"guestubuntu"},"0000:14:00.0":{},"0000:15:00.0":{"gr"#.utf8
                + [0, 0] + Array("0000:16:00.0".utf8)
        ).write(to: aside)

        let pci = PCIPassthrough(layout: layout, sysRoot: sys)
        let notes = pci.recover(fromDamaged: aside, guests: [100: "guestubuntu"], procRoot: proc)
        #expect(notes.count == 3, "\(notes)")
        // Held by a guest's QEMU: recorded for that guest again, so its stop gives it back.
        #expect(pci.record.devices["0000:13:00.0"] == .init(guest: "guestubuntu", driver: nil, group: 5))
        #expect(notes.contains { $0.hasPrefix("0000:13:00.0: held by guestubuntu") })
        // Held by a process that is no guest's: left alone.
        #expect(pci.record.devices["0000:14:00.0"] == nil && notes.contains { $0.contains("0000:14:00.0") && $0.contains("pid 200") })
        #expect(overrideCleared("0000:14:00.0") == false)
        // Held by nobody: given back now (its override cleared, unbound from vfio-pci).
        #expect(overrideCleared("0000:15:00.0") == true)
        #expect(SysFS(root: sys).text("/sys/bus/pci/drivers/vfio-pci/unbind") == "0000:15:00.0")
        #expect(notes.contains { $0.hasPrefix("0000:15:00.0: nobody holds it; given back") })
        // Bound to vfio-pci, but not the way hv binds: not hv's to touch.
        #expect(!notes.contains { $0.contains("0000:16:00.0") } && overrideCleared("0000:16:00.0") == false)
        #expect(overrideCleared("0000:13:00.0") == false)
        // The guest's stop gives its device back through the new record.
        pci.release(guest: "guestubuntu")
        #expect(pci.record.devices.isEmpty)
        #expect(overrideCleared("0000:13:00.0") == true)
        #expect(SysFS(root: sys).text("/sys/bus/pci/drivers/vfio-pci/unbind") == "0000:13:00.0")

        /// A fake sysfs file keeps what was there after a write (no truncation, as sysfs does not need):
        /// hv's clearing write is a newline at its start.
        func overrideCleared(_ address: String) -> Bool? {
            (try? Data(contentsOf: URL(fileURLWithPath: sys + "/sys/bus/pci/devices/\(address)/driver_override"))).map { $0.first == 0x0a }
        }
    }
}

/// run/usb-devices.json found damaged: the nodes still owned by a guest's
/// user are kept for that guest while it runs, else given back to root.
/// Needs root (device nodes made with mknod, chowned to guest users).
@Suite struct USBRecoveryTests {
    @Test(.enabled(if: geteuid() == 0)) func nodesAGuestUserOwnsAreNotForgotten() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hv-usbrecover-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: root) }
        let layout = HostLayout(root: root.appendingPathComponent("hv"))
        try layout.ensureDirectories()
        let sys = root.appendingPathComponent("sys").path, fm = FileManager.default
        let running = GuestIdentity.uidBase + 1, stopped = GuestIdentity.uidBase + 2
        // Port 2-1 is the running guest's, 2-2 a stopped guest's, 2-3 nobody's (udev's: root).
        for (port, dev, owner) in [("2-1", 3, running), ("2-2", 4, stopped), ("2-3", 5, uid_t(0))] {
            let base = sys + "/sys/bus/usb/devices/\(port)"
            try fm.createDirectory(atPath: base, withIntermediateDirectories: true)
            for (file, text) in [("idVendor", "0781"), ("idProduct", "5567"), ("busnum", "2"), ("devnum", "\(dev)")] {
                try Data(text.utf8).write(to: URL(fileURLWithPath: base + "/" + file))
            }
            let node = sys + String(format: "/dev/bus/usb/%03d/%03d", 2, dev)
            try fm.createDirectory(atPath: (node as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try #require(mknod(node, S_IFCHR | 0o600, dev_t((1 << 8) | 3)) == 0, "mknod \(node)")
            try #require(chown(node, owner, 0) == 0)
        }
        let usb = USBPassthrough(layout: layout, sysRoot: sys)
        let notes = usb.recover(guests: [running: "guestwindows"])
        #expect(notes.count == 2, "\(notes)")
        #expect(usb.record == ["/dev/bus/usb/002/003": "guestwindows"])
        func owner(_ dev: Int) -> uid_t {
            var st = stat()
            _ = lstat(sys + String(format: "/dev/bus/usb/%03d/%03d", 2, dev), &st)
            return st.st_uid
        }
        #expect(owner(3) == running, "the running guest keeps its device")
        #expect(owner(4) == 0, "a stopped guest's device goes back to root")
        usb.release(guest: "guestwindows")
        #expect(owner(3) == 0 && usb.record.isEmpty)
    }
}
