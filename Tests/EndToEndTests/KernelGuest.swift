import Foundation
import HVCore
import HVEngine
import HVHost
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Debian's PREEMPT_RT kernel (the RT-Linux image) with two vCPUs under plain
/// QEMU, used as a second real kernel: it has the cgroup v2 layout of a
/// Debian 12 host, which this machine (cpuset bound to cgroup v1) cannot
/// switch to. Host programs run in it from a folder shared over 9p (its
/// /hv/guests), with the libraries `ldd` names; a script's results come back
/// through the same folder.
final class KernelGuest {
    let share: URL
    let results: URL
    private var qemu: Session?

    init(host: TestHost) throws {
        share = host.root.appendingPathComponent("kernel-guest")
        results = share.appendingPathComponent("results")
        try FileManager.default.createDirectory(at: share.appendingPathComponent("bin"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: share.appendingPathComponent("lib"), withIntermediateDirectories: true)
    }

    /// Copies executables into bin/ and every library they (and `alsoLibsOf`) load into lib/.
    func provide(_ executables: [URL], alsoLibsOf: [URL] = []) throws {
        let fm = FileManager.default
        for exe in executables {
            let dest = share.appendingPathComponent("bin").appendingPathComponent(exe.lastPathComponent)
            if !fm.fileExists(atPath: dest.path) { try fm.copyItem(at: exe.resolvingSymlinksInPath(), to: dest) }
        }
        for path in try (executables + alsoLibsOf).flatMap(Self.libraries) {
            let dest = share.appendingPathComponent("lib").appendingPathComponent(URL(fileURLWithPath: path).lastPathComponent)
            if !fm.fileExists(atPath: dest.path) { try fm.copyItem(at: URL(fileURLWithPath: path).resolvingSymlinksInPath(), to: dest) }
        }
    }

    /// The shared objects `ldd` lists, with the dynamic loader.
    static func libraries(of binary: URL) throws -> [String] {
        let ldd = Process()
        ldd.executableURL = URL(fileURLWithPath: "/usr/bin/ldd")
        ldd.arguments = [binary.resolvingSymlinksInPath().path]
        let out = Pipe()
        ldd.standardOutput = out
        ldd.standardError = FileHandle.nullDevice
        try ldd.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        ldd.waitUntilExit()
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" and "/lib64/ld-linux-x86-64.so.2 (0x…)"
        return text.split(separator: "\n").compactMap { line -> String? in
            let words = line.split { $0 == " " || $0 == "\t" }
            if let arrow = words.firstIndex(of: "=>"), arrow + 1 < words.count, words[arrow + 1].hasPrefix("/") { return String(words[arrow + 1]) }
            return words.first.map(String.init).flatMap { $0.hasPrefix("/") ? $0 : nil }
        }
    }

    /// Copies kernel modules the RT-Linux image leaves out (USB host
    /// drivers, say) with everything they need into modules/, in load order
    /// (modules/order): from the kernel package hv setup cached.
    func provideModules(_ names: [String]) throws {
        let debs = URL(fileURLWithPath: (ProcessInfo.processInfo.environment["HV_CACHE"] ?? "/var/cache/hv") + "/debs")
        let deb = try #require(
            ((try? FileManager.default.contentsOfDirectory(atPath: debs.path)) ?? [])
                .first { $0.hasPrefix("linux-image-") && $0.hasSuffix(".deb") }, "no kernel package in \(debs.path) (hv setup caches it)")
        let tree = share.appendingPathComponent("kernel-package")
        let modules = share.appendingPathComponent("modules")
        try FileManager.default.createDirectory(at: modules, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: tree) }
        _ = try Self.sh("mkdir -p '\(tree.path)' && dpkg-deb --fsys-tarfile '\(debs.path)/\(deb)' | tar -x -C '\(tree.path)' --wildcards './lib/modules/*'")
        let version = try #require(try FileManager.default.contentsOfDirectory(atPath: tree.path + "/lib/modules").first)
        _ = try Self.sh("depmod -b '\(tree.path)' \(version)")
        var order: [String] = []
        for name in names {
            // --show-depends takes one module: its dependencies first, as insmod lines.
            for line in try Self.sh("modprobe -d '\(tree.path)' -S \(version) --show-depends \(name)").split(separator: "\n") where line.hasPrefix("insmod ") {
                let path = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces)
                let file = URL(fileURLWithPath: path).lastPathComponent
                guard !order.contains(file) else { continue }
                try FileManager.default.copyItem(atPath: path, toPath: modules.appendingPathComponent(file).path)
                order.append(file)
            }
        }
        try (order.joined(separator: "\n") + "\n").write(to: modules.appendingPathComponent("order"), atomically: true, encoding: .utf8)
    }

    static func sh(_ script: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", script]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        try #require(p.terminationStatus == 0, "\(script) failed")
        return text
    }

    /// Boots the kernel (hv's TCG boot line) and waits for its shell.
    /// `iommu`: a q35 machine with an emulated Intel IOMMU (interrupt
    /// remapping) and an e1000e NIC on PCIe, instead of microvm without PCI.
    /// `usb`: an xHCI controller with QEMU's USB keyboard (0627:0001) on it.
    /// `sharedGroup`: two e1000 NICs (8086:100e) behind a PCIe-to-PCI bridge,
    /// which the IOMMU cannot tell apart: one IOMMU group.
    func boot(memory: String = "256M", cpus: Int = 2, iommu: Bool = false, usb: Bool = false, sharedGroup: Bool = false) throws {
        let template = HostLayout(root: TestHost.imageRoot).template("rt-linux")
        // tsc_early_khz as hv passes it: microvm's TSC calibration can hang without it.
        let tsc = HostFacts.probe().tscKHz.map { " tsc_early_khz=\($0)" } ?? ""
        // Two vCPUs under TCG on microvm still stall in early boot now and then (seen once in
        // many runs, after "PCI: Fatal"); as hv's own boot watch does, a stalled boot is tried once more.
        var s: Session?
        for attempt in 1...2 {
            let machine =
                iommu
                ? [
                    "-machine", "q35", "-device", "intel-iommu,intremap=on,caching-mode=on",
                    "-netdev", "user,id=n0,restrict=on", "-device", "e1000e,netdev=n0",
                ] : ["-machine", "microvm"]
            let usbDevices = usb ? ["-device", "qemu-xhci,id=xhci", "-device", "usb-kbd,bus=xhci.0"] : []
            let bridged =
                sharedGroup
                ? [
                    "-device", "pcie-root-port,id=rp1,bus=pcie.0,chassis=1", "-device", "pcie-pci-bridge,id=pbr,bus=rp1",
                    "-device", "e1000,bus=pbr,addr=1", "-device", "e1000,bus=pbr,addr=2",
                ] : []
            let session = Session(
                bin: URL(fileURLWithPath: "/usr/bin"), root: share, "qemu-system-x86_64",
                [
                    "-nodefaults", "-no-user-config", "-no-reboot",
                ] + machine + usbDevices + bridged + [
                    "-accel", "tcg",
                    "-cpu", "qemu64,+arat", "-smp", String(cpus), "-m", memory,
                    "-kernel", template.appendingPathComponent("vmlinux").path,
                    "-initrd", template.appendingPathComponent("initramfs.cpio").path,
                    "-append", "console=ttyS0 panic=5 quiet cryptomgr.notests tsc=reliable" + (iommu ? " intel_iommu=on" : " pci=off") + tsc,
                    "-serial", "stdio", "-display", "none",
                    "-fsdev", "local,id=hvguests,path=\(share.path),security_model=none",
                    "-device", (iommu ? "virtio-9p-pci" : "virtio-9p-device") + ",fsdev=hvguests,mount_tag=hvguests",
                ], cwd: nil)
            if session.waitFor("hv-guest: ready", timeout: 90) {
                s = session
                break
            }
            if attempt == 2 {
                qemu = session
                throw HVError(.timeout, "the kernel guest did not boot twice: \(session.output.suffix(800))")
            }
            kill(session.process.processIdentifier, SIGKILL)
            session.process.waitUntilExit()
        }
        guard let s else { return }
        qemu = s
        // The ready line may still be arriving: wait for its end.
        try #require(s.waitFor("\(cpus) CPU", timeout: 10), "\(cpus) vCPUs expected: \(s.output.suffix(400))")
    }

    /// Runs a script in the guest (it ends by writing results/done); false if it did not finish in time.
    func run(_ script: String, timeout: Double) throws -> Bool {
        try script.write(to: share.appendingPathComponent("run.sh"), atomically: true, encoding: .utf8)
        qemu?.send("sh /hv/guests/run.sh\n")
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: results.appendingPathComponent("done").path) { return true }
            usleep(250_000)
        }
        return false
    }

    func result(_ name: String) -> String {
        ((try? String(contentsOf: results.appendingPathComponent(name), encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    var console: String { qemu?.output ?? "" }

    /// Powers the guest off; QEMU is killed by pid if it does not end.
    func stop() {
        guard let qemu else { return }
        qemu.send("poweroff -f\n")
        _ = qemu.finish(timeout: 30)
        self.qemu = nil
    }
}
