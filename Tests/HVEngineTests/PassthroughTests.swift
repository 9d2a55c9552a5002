import Foundation
import HVAPI
import HVCore
import HVHost
import Testing

@testable import HVEngine

/// What a start refuses before any device changes hands, the device
/// configuration's spelling, and where VFIO's interrupts are found.
@Suite struct PassthroughTests {
    static func dev(
        _ a: String, cls: UInt32 = 0x020000, driver: String? = "e1000e", group: Int? = 1,
        members: [String] = [], inUse: [String] = [], reset: [String] = ["flr"]
    ) -> PCIDevice {
        var d = PCIDevice(
            address: a, vendorID: "8086", deviceID: "10d3", classCode: cls, vendorName: "Intel Corporation",
            deviceName: "82574L", className: PCIDevice.className(cls), driver: driver, iommuGroup: group)
        d.groupMembers = members
        d.inUse = inUse
        d.resetMethods = reset
        return d
    }

    func refusal(
        _ wanted: [String], _ devices: [PCIDevice], iommu: Bool = true, heldBy: [String: String] = [:],
        takeInUse: Bool = false, allowNoReset: Bool = false
    ) -> HVError? {
        do {
            try PCIPassthrough.check(
                wanted, guest: "guestrtlinux", devices: devices, iommu: iommu, heldBy: heldBy, takeInUse: takeInUse,
                allowNoReset: allowNoReset)
            return nil
        } catch let e as HVError { return e } catch { return HVError(.internal, "\(error)") }
    }

    @Test func aFreeDeviceWithItsWholeGroupPasses() {
        #expect(refusal(["0000:03:00.0"], [Self.dev("0000:03:00.0")]) == nil)
        #expect(
            refusal(
                ["0000:03:00.0", "0000:03:00.1"],
                [
                    Self.dev("0000:03:00.0", members: ["0000:03:00.1"]),
                    Self.dev("0000:03:00.1", members: ["0000:03:00.0"]),
                ]) == nil)
        // This guest's own devices (a restart after a crash) are its own.
        #expect(refusal(["0000:03:00.0"], [Self.dev("0000:03:00.0", driver: "vfio-pci")], heldBy: ["0000:03:00.0": "guestrtlinux"]) == nil)
    }

    @Test func withoutAnIOMMUTheKernelParameterIsNamed() throws {
        let e = try #require(refusal(["0000:03:00.0"], [Self.dev("0000:03:00.0")], iommu: false))
        #expect(e.code == .unsupported && e.message.contains("the IOMMU is off") && (e.hint ?? "").contains("intel_iommu=on"), "\(e)")
    }

    @Test func aDeviceTheHostUsesIsRefusedUnlessTaken() throws {
        let used = Self.dev("0000:03:00.0", inUse: ["the host uses it: its interface enp3s0 has the address 192.168.1.5/24"])
        let e = try #require(refusal(["0000:03:00.0"], [used]))
        #expect(e.code == .conflict && e.message.contains("enp3s0 has the address") && (e.hint ?? "").contains("\"TakeInUse\"=\"yes\""), "\(e)")
        #expect(refusal(["0000:03:00.0"], [used], takeInUse: true) == nil)
    }

    /// A device the kernel cannot reset goes back to the host as the guest left it (reflashed, wedged).
    @Test func aDeviceWithoutAResetIsRefusedUnlessAllowed() throws {
        let stuck = Self.dev("0000:03:00.0", reset: [])
        let e = try #require(refusal(["0000:03:00.0"], [stuck]))
        #expect(e.code == .unsupported && e.message.contains("no reset method") && (e.hint ?? "").contains("\"AllowNoReset\"=\"yes\""), "\(e)")
        #expect(refusal(["0000:03:00.0"], [stuck], allowNoReset: true) == nil)
        #expect(refusal(["0000:03:00.0"], [Self.dev("0000:03:00.0", reset: ["bus"])]) == nil)
    }

    @Test func anIncompleteGroupNamesWhatIsMissing() throws {
        let e = try #require(
            refusal(
                ["0000:03:00.0"],
                [
                    Self.dev("0000:03:00.0", group: 7, members: ["0000:03:00.1"]),
                    Self.dev("0000:03:00.1", driver: "snd_hda_intel", group: 7, members: ["0000:03:00.0"]),
                ]))
        #expect(e.message.contains("shares IOMMU group 7 with 0000:03:00.1 (snd_hda_intel)") && (e.hint ?? "").contains("add 0000:03:00.1"), "\(e)")
    }

    @Test func anotherGuestsDeviceABridgeAStrangersBindingAndAnUnknownAddressAreRefused() throws {
        let held = try #require(refusal(["0000:03:00.0"], [Self.dev("0000:03:00.0", driver: "vfio-pci")], heldBy: ["0000:03:00.0": "guestvxworks"]))
        #expect(held.code == .conflict && held.message.contains("in use by guest guestvxworks"), "\(held)")
        let stranger = try #require(refusal(["0000:03:00.0"], [Self.dev("0000:03:00.0", driver: "vfio-pci")]))
        #expect(stranger.message.contains("something other than hv"), "\(stranger)")
        let bridge = try #require(refusal(["0000:00:1c.0"], [Self.dev("0000:00:1c.0", cls: 0x060400, driver: "pcieport")]))
        #expect(bridge.message.contains("is a PCI bridge"), "\(bridge)")
        let missing = try #require(refusal(["0000:09:00.0"], [Self.dev("0000:03:00.0")]))
        #expect(missing.code == .notFound && (missing.hint ?? "").contains("hv devices list"), "\(missing)")
        let ungrouped = try #require(refusal(["0000:03:00.0"], [Self.dev("0000:03:00.0", group: nil)]))
        #expect(ungrouped.message.contains("in no IOMMU group"), "\(ungrouped)")
    }

    @Test func vfioVectorsAreFoundByTheirDevice() {
        let text = """
                       CPU0       CPU1
              0:         36          0   IO-APIC   2-edge      timer
             24:          0         12   PCI-MSIX-0000:00:02.0    0-edge      vfio-msix[0](0000:00:02.0)
             25:          3          0   PCI-MSIX-0000:00:02.0    1-edge      vfio-msix[1](0000:00:02.0)
             26:          0          0   PCI-MSIX-0000:00:03.0    0-edge      vfio-msix[0](0000:00:03.0)
             27:          9          0   PCI-MSI-0000:00:04.0   0-edge      enp0s4
             28:          1          0   IO-APIC  11-fasteoi   vfio-intx(0000:00:05.0)
            """
        #expect(DeviceInterrupts.vectors(of: "0000:00:02.0", in: text) == [24, 25])
        #expect(DeviceInterrupts.vectors(of: "0000:00:05.0", in: text) == [28])
        #expect(DeviceInterrupts.vectors(of: "0000:00:04.0", in: text).isEmpty)
    }

    /// A vector is placed once; placed again only when the guest's driver
    /// requested it anew (its thread is another), over a fake /proc.
    @Test func aVectorIsPlacedOnceAndAgainWhenItsThreadChanges() throws {
        let t = PCIDevicesTests.Tree()
        defer { t.cleanup() }
        try t.file("proc/interrupts", "           CPU0       CPU1\n 24:  0  3   PCI-MSIX-0000:00:02.0  0-edge  vfio-msix[0](0000:00:02.0)\n")
        // Empty: sysfs takes one write; a plain file would keep what the write did not cover.
        try t.file("proc/irq/24/smp_affinity_list", "")
        try t.file("proc/500/comm", "irq/24-vfio-msix\n")
        try t.file("proc/500/stat", "500 (irq/24-vfio-msix) S 2 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 -51 0 1 0 900 0 0\n")
        try t.file("proc/7/comm", "bash\n")
        // A user's process that named itself like the thread (PR_SET_NAME), with a lower pid: not a kernel thread.
        try t.file("proc/400/comm", "irq/24-vfio-msix\n")
        try t.file("proc/400/stat", "400 (irq/24-vfio-msix) R 7 400 400 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 800 0 0\n")
        let irqs = DeviceInterrupts(sysRoot: t.root.path)
        let affinity = t.root.appendingPathComponent("proc/irq/24/smp_affinity_list")
        func pinned() -> String { (try? String(contentsOf: affinity, encoding: .utf8)) ?? "" }
        var done: [Int: pid_t] = [:]
        #expect(irqs.place(addresses: ["0000:00:02.0"], cores: [1], priority: 0, done: &done).isEmpty)
        #expect(done == [24: 500] && pinned() == "1", "the kernel's thread, not the impostor 400: \(done)")
        #expect(irqs.threads() == [24: 500] && !irqs.isKernelThread(400) && irqs.isKernelThread(500))
        try "".write(to: affinity, atomically: false, encoding: .utf8)
        _ = irqs.place(addresses: ["0000:00:02.0"], cores: [1], priority: 0, done: &done)
        #expect(pinned() == "", "placed twice")
        try "kworker/0:1\n".write(to: t.root.appendingPathComponent("proc/500/comm"), atomically: false, encoding: .utf8)
        try t.file("proc/600/comm", "irq/24-vfio-msix\n")
        try t.file("proc/600/stat", "600 (irq/24-vfio-msix) S 2 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 -51 0 1 0 950 0 0\n")
        try "".write(to: affinity, atomically: false, encoding: .utf8)
        _ = irqs.place(addresses: ["0000:00:02.0"], cores: [1], priority: 0, done: &done)
        #expect(done == [24: 600] && pinned() == "1")
        #expect(irqs.observe(["0000:00:02.0"])["0000:00:02.0"]?.map(\.irq) == [24])
    }

    @Test func usbDevicesResolveByIdsOrPortAndAMissingOneIsNamed() throws {
        let devices = [
            USBPassthrough.Found(port: "1-2", vendor: "046d", product: "c52b", bus: 1, address: 3),
            USBPassthrough.Found(port: "3-1.4", vendor: "0403", product: "6001", bus: 3, address: 7),
        ]
        #expect(try USBPassthrough.resolve([.ids(vendor: "046d", product: "c52b")], among: devices).map(\.node) == ["/dev/bus/usb/001/003"])
        #expect(try USBPassthrough.resolve([.port(bus: 3, path: "1.4")], among: devices).map(\.node) == ["/dev/bus/usb/003/007"])
        #expect(throws: HVError.self) { try USBPassthrough.resolve([.ids(vendor: "dead", product: "beef")], among: devices) }
    }

    /// Two devices with the same ids: which one QEMU takes is luck, so the port must say; a device the host uses waits for TakeInUse.
    @Test func ambiguousIdsAndUSBDevicesTheHostUsesAreRefused() throws {
        let twins = [
            USBPassthrough.Found(port: "1-2", vendor: "0403", product: "6001", bus: 1, address: 3),
            USBPassthrough.Found(port: "1-3", vendor: "0403", product: "6001", bus: 1, address: 4),
        ]
        let e = try #require(throws: HVError.self) { try USBPassthrough.resolve([.ids(vendor: "0403", product: "6001")], among: twins) }
        #expect(e.message.contains("matches 2 devices (ports 1-2, 1-3)") && (e.hint ?? "").contains("by its port"), "\(e)")
        #expect(try USBPassthrough.resolve([.port(bus: 1, path: "3")], among: twins).map(\.port) == ["1-3"])
        let stick = [
            USBPassthrough.Found(
                port: "2-1", vendor: "0781", product: "5583", bus: 2, address: 5,
                inUse: ["the host uses it: /dev/sdb1 is mounted or swap"])
        ]
        let used = try #require(throws: HVError.self) { try USBPassthrough.resolve([.port(bus: 2, path: "1")], among: stick) }
        #expect(used.message.contains("/dev/sdb1 is mounted") && (used.hint ?? "").contains("\"TakeInUse\"=\"yes\""), "\(used)")
        #expect(try USBPassthrough.resolve([.port(bus: 2, path: "1")], among: stick, takeInUse: true).count == 1)
    }

    /// A release whose sysfs write the kernel holds (here a FIFO nobody reads)
    /// holds up no other guest: the device lock is free meanwhile, and the
    /// device stays in the record (nobody else takes it) until it is back.
    @Test func aBlockedReleaseHoldsUpNoOtherGuest() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hv-release-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: root) }
        let layout = HostLayout(root: root.appendingPathComponent("hv"))
        try layout.ensureDirectories()
        let sys = root.appendingPathComponent("sys").path
        let fm = FileManager.default
        for (address, driver) in [("0000:03:00.0", "slowdrv"), ("0000:04:00.0", "e1000e")] {
            let base = sys + "/sys/bus/pci/devices/\(address)"
            try fm.createDirectory(atPath: base, withIntermediateDirectories: true)
            _ = fm.createFile(atPath: base + "/driver_override", contents: Data())
            try fm.createDirectory(atPath: sys + "/sys/bus/pci/drivers/\(driver)", withIntermediateDirectories: true)
        }
        _ = fm.createFile(atPath: sys + "/sys/bus/pci/drivers/e1000e/bind", contents: Data())
        _ = fm.createFile(atPath: sys + "/sys/bus/pci/drivers_probe", contents: Data())
        let held = sys + "/sys/bus/pci/drivers/slowdrv/bind"
        try #require(mkfifo(held, 0o600) == 0)
        let record = PCIPassthrough.Record(devices: [
            "0000:03:00.0": .init(guest: "slow", driver: "slowdrv", group: 7),
            "0000:04:00.0": .init(guest: "other", driver: "e1000e", group: 8),
        ])
        try AtomicFile.write(try JSONEncoder().encode(record), to: layout.runDir.appendingPathComponent("devices.json"), mode: 0o600)
        let pci = PCIPassthrough(layout: layout, sysRoot: sys)

        let slowDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            pci.release(guest: "slow")
            slowDone.signal()
        }
        usleep(300_000)
        #expect(slowDone.wait(timeout: .now()) == .timedOut, "the slow release is stuck in its write")
        let otherDone = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            pci.release(guest: "other")
            otherDone.signal()
        }
        #expect(otherDone.wait(timeout: .now() + 5) == .success, "another guest's release went on meanwhile")
        #expect(pci.held(by: "slow") == ["0000:03:00.0"] && pci.held(by: "other").isEmpty)
        let e = try #require(throws: HVError.self) {
            try pci.claim(["0000:03:00.0"], guest: "slow", takeInUse: false, owner: (uid: 0, gid: 0))
        }
        #expect(e.message.contains("still being given back"), "\(e)")
        // The kernel lets go: the write completes, and the device leaves the record.
        let reader = open(held, O_RDONLY | O_NONBLOCK)
        defer { close(reader) }
        #expect(slowDone.wait(timeout: .now() + 5) == .success)
        #expect(pci.held(by: "slow").isEmpty)
    }
}
