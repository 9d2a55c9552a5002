import Foundation
import HVCore
import HVEvents
import HVHost
import HVSetup
import Testing

@testable import HVEngine

/// The QEMU command line is a pure function of the configuration: checked
/// against golden files (HV_UPDATE_GOLDEN=1 rewrites them after a deliberate change).
@Suite struct QemuCommandLineTests {
    static let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    func plan(usr: String = "", accel: Accelerator = .tcg, share: Bool = true, append: String = "", extra: [String] = []) throws -> RTOSLaunchPlan {
        let g = ExampleCatalogue.all[0].guests[0]
        let base = try RegistryDocument(parsing: GuestFiles.guestConfig(g, project: "rt-linux").render(), fileName: "guest.config")
        let config = try GuestConfig(base: base, user: try RegistryDocument(parsing: usr, fileName: "usr.config"))
        let layout = HostLayout(root: URL(fileURLWithPath: "/hv"))
        let image = RTOSImage(
            kernel: URL(fileURLWithPath: "/hv/templates/rt-linux/vmlinux"),
            initrd: URL(fileURLWithPath: "/hv/templates/rt-linux/initramfs.cpio"),
            readyMarker: RTOSImage.rtLinuxReadyMarker, kernelArgs: RTLinuxImageFiles.defaultKernelArgs)
        return RTOSLaunchPlan(
            folderName: "guestrtlinux", config: config, accelerator: accel, image: image,
            folder: layout.guest("guestrtlinux"), sharedGuestsDir: share ? "/hv/guests" : nil,
            kernelAppend: append, extraArgs: extra, hostTSCKHz: 2_445_424)
    }

    func check(_ argv: [String], _ name: String) throws {
        let text = argv.joined(separator: "\n") + "\n"
        let file = Self.golden.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["HV_UPDATE_GOLDEN"] == "1" {
            try text.write(to: file, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: file, encoding: .utf8)
        #expect(text == expected, "\(name) differs; if the change is deliberate, rerun with HV_UPDATE_GOLDEN=1")
    }

    @Test func rtLinuxUnderTCG() throws {
        try check(QemuCommandLine.rtos(try plan()), "rt-linux-tcg.args")
    }

    @Test func rtLinuxUnderKVMWithUserSettings() throws {
        let usr = "[Guest\\Cpu]\n    \"Cores\"=\"2\"\n[Guest\\Memory]\n    \"SizeMiB\"=\"512\"\n[Guest\\Boot]\n    \"KernelArgs\"=\"nosmt\"\n"
        try check(
            QemuCommandLine.rtos(
                try plan(
                    usr: usr, accel: .kvm, share: false, append: "isolcpus=1",
                    extra: ["-device", "virtio-rng-pci"])), "rt-linux-kvm-user.args")
    }

    @Test func rtLinuxUnderTCGWithLockedMemory() throws {
        try check(QemuCommandLine.rtos(try plan(usr: "[Guest\\Memory]\n    \"Lock\"=\"yes\"\n")), "rt-linux-tcg-locked.args")
    }

    @Test func rtLinuxOnHugePages() throws {
        let usr = "[Guest\\Memory]\n    \"HugePages\"=\"yes\"\n    \"Lock\"=\"yes\"\n"
        try check(QemuCommandLine.rtos(try plan(usr: usr, accel: .kvm)), "rt-linux-hugepages.args")
    }

    /// With shared memory and events the guest needs PCI: microvm,pcie=on, no pci=off.
    @Test func rtLinuxInTheCommunicationSubsystem() throws {
        var p = try plan()
        let hv = ExampleCatalogue.all.first { $0.name == "ubuntu_rtlinux" }!.hypervisorConfig
        p.comm = CommPlan(folder: "guestrtlinux", config: hv.communication, layout: HostLayout(root: URL(fileURLWithPath: "/hv")))
        // No root disk: its TAP on the VMF network is the first descriptor after the lock.
        p.comm?.tapFD = InheritedFD.after(0)
        try check(QemuCommandLine.rtos(p), "rt-linux-comm.args")
        #expect(QemuCommandLine.rtos(p).contains("tap,id=vmfnet,fd=4"))
        #expect(!QemuCommandLine.kernelCommandLine(p).contains("pci=off"))
        #expect(QemuCommandLine.kernelCommandLine(p).contains("hv.net=52:54:01:"))
    }

    /// A guest in two sets of events gets two doorbells, each on its set's
    /// server, at 0x0f and 0x0e, and is told both; a guest in one set gets that one alone.
    @Test func aDoorbellPerSetOfEvents() throws {
        var hv = ExampleCatalogue.all.first { $0.name == "ubuntu_rtlinux" }!.hypervisorConfig
        hv.communication.events.append(.init(name: "rtonly", guests: ["guestrtlinux"]))
        let layout = HostLayout(root: URL(fileURLWithPath: "/hv"))
        let rt = try #require(CommPlan(folder: "guestrtlinux", config: hv.communication, layout: layout))
        #expect(rt.doorbells == [.init(socket: "/hv/run/ivshmem-1.sock", slot: 0x0f), .init(socket: "/hv/run/ivshmem-2.sock", slot: 0x0e)])
        #expect(rt.guestWords.contains("hv.ev=0f,0e"))
        let args = rt.qemuArgs(nic: "virtio-net-device").joined(separator: " ")
        #expect(args.contains("-chardev socket,id=hvevents,path=/hv/run/ivshmem-1.sock -device ivshmem-doorbell,chardev=hvevents,vectors=1,addr=0x0f"))
        #expect(args.contains("-chardev socket,id=hvevents1,path=/hv/run/ivshmem-2.sock -device ivshmem-doorbell,chardev=hvevents1,vectors=1,addr=0x0e"))
        let ubuntu = try #require(CommPlan(folder: "guestubuntu", config: hv.communication, layout: layout))
        #expect(ubuntu.doorbells == [.init(socket: "/hv/run/ivshmem-1.sock", slot: 0x0f)])
        #expect(ubuntu.guestWords.contains("hv.ev=0f") && !ubuntu.guestWords.contains("0e"))
        #expect(ubuntu.sharedBytes == rt.sharedBytes - UInt64(EventTable.regionSize), "one table less to map")
    }

    /// The Debian root: its own disk and the kernel's modules (read-only), found by serial in the guest.
    @Test func rtLinuxOnItsDebianRoot() throws {
        var p = try plan()
        p.image.modulesImage = URL(fileURLWithPath: "/hv/templates/rt-linux/modules.img")
        p.image.kernelArgs += " hv.root=disk"
        p.rootDisk = DiskImage(url: URL(fileURLWithPath: "/hv/guests/guestrtlinux/disk.qcow2"), inGuestFolder: true)
        try check(QemuCommandLine.rtos(p), "rt-linux-debian-root.args")
        let a = QemuCommandLine.rtos(p)
        #expect(a.contains { $0.contains("modules.img,format=raw,readonly=on") })
        #expect(a.contains("virtio-blk-device,drive=hvroot,serial=hv-root"))
    }

    /// Assigned PCI devices: microvm with PCIe, no pci=off, vfio-pci at fixed slots.
    @Test func rtLinuxWithAnAssignedNIC() throws {
        let p = try plan(usr: "[Guest\\Devices]\n    \"Pci\"=\"03:00.0,03:00.1\"\n")
        try check(QemuCommandLine.rtos(p), "rt-linux-devices.args")
        #expect(!QemuCommandLine.kernelCommandLine(p).contains("pci=off"))
    }

    @Test func commasInPathsAreDoubled() throws {
        var p = try plan()
        p.consoleLog = "/srv/a,b/console.log"
        #expect(QemuCommandLine.rtos(p).contains { $0.contains("logfile=/srv/a,,b/console.log,") })
    }

    @Test func theGuestStartsPausedAndWithoutDefaultDevices() throws {
        let a = QemuCommandLine.rtos(try plan())
        #expect(a.contains("-S") && a.contains("-nodefaults") && a.contains("-no-user-config"))
        #expect(QemuCommandLine.kernelCommandLine(try plan(append: "x=1")).hasSuffix("hv.guest=guestrtlinux x=1"))
    }
}

@Suite struct HostFactsTests {
    /// SMT siblings as the kernel lists them (a fake sysfs tree).
    @Test func topologyComesFromThreadSiblings() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hv-topology-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: root) }
        for (cpu, siblings) in [(0, "0,2"), (1, "1-1,3"), (2, "0,2"), (3, "1,3")] {
            let dir = root.appendingPathComponent("sys/devices/system/cpu/cpu\(cpu)/topology")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try "\(siblings)\n".write(to: dir.appendingPathComponent("thread_siblings_list"), atomically: true, encoding: .utf8)
        }
        #expect(HostFacts.topology(cpus: 4, sysRoot: root.path).groups == [[0, 2], [1, 3]])
        #expect(HostFacts.topology(cpus: 2, sysRoot: root.appendingPathComponent("missing").path) == .flat(2))
    }

    @Test func autoTakesKVMOnlyWithHardwareVirtualisation() throws {
        let nested = HostFacts(cpuCount: 2, cpuFlags: ["sse2", "tsc"], kvmDeviceOpens: true)
        #expect(try nested.accelerator(for: .auto).0 == .tcg)
        #expect(try nested.accelerator(for: .auto).1.contains("no vmx/svm"))
        let real = HostFacts(cpuCount: 8, cpuFlags: ["vmx"], kvmDeviceOpens: true)
        #expect(try real.accelerator(for: .auto).0 == .kvm)
        #expect(try real.accelerator(for: .tcg).0 == .tcg)
        let none = HostFacts(cpuCount: 2, cpuFlags: ["svm"], kvmDeviceOpens: false)
        #expect(try none.accelerator(for: .auto).0 == .tcg)
        #expect(throws: HVError.self) { try none.accelerator(for: .kvm) }
    }

    @Test func kernelPayloadIsFoundAfterTheSetupCode() {
        var data = Data(repeating: 0, count: 600)
        data[10] = 0xFD  // a stray byte in the setup header is not the payload
        data.append(contentsOf: [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00, 1, 2, 3])
        #expect(KernelExtractor.payloadOffset(in: data) == 600)
        #expect(KernelExtractor.payloadOffset(in: Data(repeating: 0, count: 2000)) == nil)
    }
}
