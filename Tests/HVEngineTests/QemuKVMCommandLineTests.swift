import Foundation
import HVCore
import HVHost
import Testing

@testable import HVEngine

/// The KVM guests' QEMU command lines (firmware, TPM, devices) against golden files.
@Suite struct QemuKVMCommandLineTests {
    static let golden = QemuCommandLineTests.golden

    /// The example's guest (windows_rtlinux or ubuntu_rtlinux), as a plan with fixed host facts.
    func plan(
        _ example: String, usr: String = "", accel: Accelerator = .kvm, installing: Bool = true,
        tpm: Bool = true, smb: Bool = true, iso: Bool = true
    ) throws -> KVMLaunchPlan {
        let g = try #require(try ExampleCatalogue.named(example).guests.last)
        let base = try RegistryDocument(parsing: GuestFiles.guestConfig(g, project: example).render(), fileName: "guest.config")
        let config = try GuestConfig(base: base, user: try RegistryDocument(parsing: usr, fileName: "usr.config"))
        let layout = HostLayout(root: URL(fileURLWithPath: "/hv"))
        let folder = layout.guest(g.folder)
        let secure = g.os == .windows
        let firmware = FirmwareFiles(
            code: URL(fileURLWithPath: secure ? "/usr/share/OVMF/OVMF_CODE_4M.ms.fd" : "/usr/share/OVMF/OVMF_CODE_4M.fd"),
            varsTemplate: URL(fileURLWithPath: "/usr/share/OVMF/OVMF_VARS_4M.fd"), secureBoot: secure)
        let disk = DiskImage.resolve(config, layout: layout, folder: folder)
        return KVMLaunchPlan(
            folderName: g.folder, config: config, accelerator: accel,
            firmware: config.firmware == .uefi ? firmware : nil,
            nvram: folder.nvram.path, disk: disk.url.path, diskFormat: disk.format,
            iso: iso ? layout.resolve(config.installISO).path : nil, installing: installing,
            tpmSocket: tpm ? folder.swtpmSocket.path : nil, vncSocket: folder.vncSocket.path,
            webSocketPort: config.webSocketPort, sharedGuestsDir: "/hv/guests", smbAvailable: smb,
            qmpSocket: folder.qmpSocket.path, serialSocket: folder.serialSocket.path,
            consoleLog: folder.consoleLog.path, pidFile: folder.pidFile.path, extraArgs: [])
    }

    func check(_ argv: [String], _ name: String) throws {
        try QemuCommandLineTests().check(argv, name)
    }

    /// HostForward rules go onto the user network as QEMU's hostfwd.
    @Test func hostForwardsOnTheUserNetwork() throws {
        let argv = QemuCommandLine.kvm(try plan("ubuntu_rtlinux", usr: "[Guest\\Network]\n    \"HostForward\"=\"tcp:2222:22,udp:0.0.0.0:5000:5000\"\n"))
        let netdev = try #require(argv.firstIndex(of: "-netdev").map { argv[$0 + 1] })
        #expect(netdev == "user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp:0.0.0.0:5000-:5000", "\(netdev)")
    }

    /// The disk is no path QEMU opens but the two descriptors hvd passes, and
    /// a bridged guest's TAP comes after them: the numbers match InheritedFD.
    @Test func theDiskAndTheTAPArriveAsDescriptors() throws {
        var p = try plan("ubuntu_rtlinux", usr: "[Guest\\Network]\n    \"Mode\"=\"bridge\"\n    \"Bridge\"=\"br0\"\n")
        p.tapName = "hvtap7"
        let argv = QemuCommandLine.kvm(p)
        let fds = argv.indices.filter { argv[$0] == "-add-fd" && $0 + 1 < argv.count }.map { argv[$0 + 1] }
        #expect(fds == ["fd=\(InheritedFD.diskReadWrite),set=1", "fd=\(InheritedFD.diskReadOnly),set=1"], "\(fds)")
        #expect(argv.contains { $0.hasPrefix("if=none,id=disk0,") && $0.contains("file=/dev/fdset/1,") }, "\(argv)")
        #expect(!argv.contains { $0.contains(p.disk) }, "QEMU never opens the disk by its path")
        #expect(argv.contains("tap,id=net0,fd=\(InheritedFD.tap)"), "\(argv)")
        #expect(InheritedFD.tap > InheritedFD.diskReadOnly && InheritedFD.diskReadWrite == InheritedFD.lock + 1)
    }

    /// A KVM guest with a PCI card (VFIO) and two USB devices (by ids, by port) on its xHCI controller.
    @Test func hostDevicesForAKVMGuest() throws {
        let argv = QemuCommandLine.kvm(try plan("ubuntu_rtlinux", usr: "[Guest\\Devices]\n    \"Pci\"=\"0000:05:00.0\"\n    \"Usb\"=\"046d:c52b,3-1.4\"\n"))
        let devices = argv.indices.filter { argv[$0] == "-device" && $0 + 1 < argv.count }.map { argv[$0 + 1] }
        #expect(devices.contains("usb-host,bus=usb.0,vendorid=0x046d,productid=0xc52b,id=hostusb0"), "\(devices)")
        #expect(devices.contains("usb-host,bus=usb.0,hostbus=3,hostport=1.4,id=hostusb1"), "\(devices)")
        #expect(devices.contains("vfio-pci,host=0000:05:00.0,id=hostpci0"), "\(devices)")
        #expect(devices.firstIndex(of: "qemu-xhci,id=usb")! < devices.firstIndex { $0.hasPrefix("usb-host") }!)
    }

    @Test func windowsInstallingUnderKVM() throws {
        try check(QemuCommandLine.kvm(try plan("windows_rtlinux")), "windows-kvm-install.args")
    }

    @Test func windowsInstalledUnderTCGWithoutTPMOrSamba() throws {
        try check(
            QemuCommandLine.kvm(try plan("windows_rtlinux", accel: .tcg, installing: false, tpm: false, smb: false, iso: false)),
            "windows-tcg-installed.args")
    }

    @Test func ubuntuInstallingUnderTCG() throws {
        try check(QemuCommandLine.kvm(try plan("ubuntu_rtlinux", accel: .tcg, tpm: false)), "ubuntu-tcg-install.args")
    }

    @Test func ubuntuWithBIOSAndNoNetworkKeepingItsISO() throws {
        // A configured WebSocketPort opens QEMU's own (unauthenticated, loopback) VNC WebSocket; without it there is none.
        let usr =
            "[Guest\\Boot]\n    \"Firmware\"=\"bios\"\n[Guest\\Network]\n    \"Mode\"=\"none\"\n[Guest\\Install]\n    \"Attach\"=\"always\"\n"
            + "[Guest\\Display]\n    \"WebSocketPort\"=\"5701\"\n"
        try check(QemuCommandLine.kvm(try plan("ubuntu_rtlinux", usr: usr, installing: false, tpm: false)), "ubuntu-kvm-bios.args")
    }

    @Test func ubuntuInTheCommunicationSubsystem() throws {
        var p = try plan("ubuntu_rtlinux", accel: .tcg, installing: false, tpm: false)
        let hv = try ExampleCatalogue.named("ubuntu_rtlinux").hypervisorConfig
        p.comm = CommPlan(folder: "guestubuntu", config: hv.communication, layout: HostLayout(root: URL(fileURLWithPath: "/hv")))
        p.comm?.tapFD = InheritedFD.after(2)
        try check(QemuCommandLine.kvm(p), "ubuntu-tcg-comm.args")
    }

    /// Under KVM the VMF network's TAP gets vhost-net: its descriptor follows the TAP's.
    @Test func underKVMTheVMFNetworkUsesVhostNet() throws {
        var p = try plan("ubuntu_rtlinux", accel: .kvm, installing: false, tpm: false)
        let hv = try ExampleCatalogue.named("ubuntu_rtlinux").hypervisorConfig
        p.comm = CommPlan(folder: "guestubuntu", config: hv.communication, layout: HostLayout(root: URL(fileURLWithPath: "/hv")))
        p.comm?.tapFD = InheritedFD.after(2)
        p.comm?.vhostFD = InheritedFD.after(3)
        let a = QemuCommandLine.kvm(p)
        #expect(a.contains("tap,id=vmfnet,fd=6,vhost=on,vhostfd=7"))
        #expect(a.contains { $0.hasPrefix("virtio-net-pci,netdev=vmfnet,mac=52:54:01:") })
    }

    @Test func theInstallerBootsFirstOnlyWhileInstalling() throws {
        func bootIndex(_ a: [String], _ device: String) -> String? {
            a.first { $0.hasPrefix(device) }?.split(separator: ",").first { $0.hasPrefix("bootindex=") }.map(String.init)
        }
        let installing = QemuCommandLine.kvm(try plan("ubuntu_rtlinux"))
        #expect(bootIndex(installing, "ide-cd") == "bootindex=0")
        #expect(bootIndex(installing, "virtio-blk-pci") == "bootindex=1")
        let installed = QemuCommandLine.kvm(try plan("ubuntu_rtlinux", installing: false))
        #expect(bootIndex(installed, "virtio-blk-pci") == "bootindex=0")
        #expect(bootIndex(installed, "ide-cd") == "bootindex=1")
    }

    @Test func windowsGetsDevicesItDrivesWithoutExtraDrivers() throws {
        let a = QemuCommandLine.kvm(try plan("windows_rtlinux")).joined(separator: " ")
        for device in ["ide-hd,bus=ide.0", "e1000e,", "usb-tablet", "-device VGA", "tpm-crb", "smm=on", "smb=/hv/guests"] {
            #expect(a.contains(device), "\(device) missing")
        }
        #expect(!a.contains("virtio"), "Windows has no virtio drivers out of the box")
        #expect(!a.contains("websocket"), "QEMU's VNC WebSocket has no authentication: off unless configured")
    }

    @Test func macAddressesAreStableAndLocal() {
        #expect(QemuCommandLine.macAddress("guestubuntu") == QemuCommandLine.macAddress("guestubuntu"))
        #expect(QemuCommandLine.macAddress("guestubuntu") != QemuCommandLine.macAddress("guestwindows"))
        #expect(QemuCommandLine.macAddress("x").hasPrefix("52:54:00:"))
    }
}
