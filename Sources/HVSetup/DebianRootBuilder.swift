import Foundation
import HVCore
import HVHost

/// The RT-Linux guest's Debian 12 root: Debian's own packages (mmdebstrap
/// from the archive, the tar cached like the kernel), hv's units and
/// settings, packed into a read-only ext4 template. Each guest's disk is a
/// copy of it (`RTLinuxRootDisk`). The kernel's modules go into an image of
/// their own, so a guest always loads the modules of the kernel it boots,
/// however old its disk.
struct DebianRootBuilder {
    /// What the guest has beyond Debian's minimal base, and why.
    static let packages = [
        "systemd-sysv", "udev", "kmod",  // a Debian system the user's units run on
        "openssh-server",  // hv guest ssh / copy
        "chrony",  // the host's clock
        "acpid",  // hv_guest_stop's power button
        "rt-tests", "gdbserver",  // timing and debugging the controller
        "iproute2", "iputils-ping", "ethtool", "pciutils", "procps", "e2fsprogs", "netbase", "less",
    ]
    static let suite = "bookworm"

    let cacheDir: URL
    let log: @Sendable (String) -> Void

    /// The archive mmdebstrap reads: Debian's, or $HV_DEBIAN_MIRROR (a local mirror).
    static var mirrors: [String] {
        if let m = ProcessInfo.processInfo.environment["HV_DEBIAN_MIRROR"], !m.isEmpty {
            return ["deb \(m) \(suite) main", "deb \(m) \(suite)-updates main"]
        }
        return [
            "deb http://deb.debian.org/debian \(suite) main", "deb http://deb.debian.org/debian \(suite)-updates main",
            "deb http://deb.debian.org/debian-security \(suite)-security main",
        ]
    }

    /// Builds `out.debianRoot` and `out.modules` for the kernel unpacked in `kernelRoot`.
    func build(kernelRoot: URL, kernelVersion: String, tools: URL, work: URL, out: RTLinuxImageFiles) throws {
        let tar = try bootstrap()
        let root = work.appendingPathComponent("debian")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        log("unpacking the Debian root")
        try Command.check(["tar", "-xpf", tar.path, "-C", root.path, "--numeric-owner"], timeout: 600, what: "unpacking \(tar.lastPathComponent)")
        try customize(root, tools: tools)
        log("packing the Debian root into \(out.debianRoot.lastPathComponent) (ext4)")
        try Self.makeExt4(from: root, to: out.debianRoot, label: "hv-root", journal: true)
        let modules = kernelRoot.appendingPathComponent("lib/modules/\(kernelVersion)")
        let extra = modules.appendingPathComponent("extra")
        try FileManager.default.createDirectory(at: extra, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(at: extra.appendingPathComponent("hv_ivshmem.ko"))
        try FileManager.default.copyItem(at: tools.appendingPathComponent("hv_ivshmem.ko"), to: extra.appendingPathComponent("hv_ivshmem.ko"))
        try Command.check(["depmod", "-b", kernelRoot.path, kernelVersion], what: "depmod of the kernel's modules")
        log("packing the kernel's modules into \(out.modules.lastPathComponent)")
        try Self.makeExt4(from: modules, to: out.modules, label: "hv-modules", journal: false)
    }

    /// mmdebstrap's tar, cached by what goes into it.
    func bootstrap() throws -> URL {
        let key = RTLinuxImageBuilder.digest([Self.suite] + Self.packages + Self.mirrors)
        let tar = cacheDir.appendingPathComponent("debian-root-\(Self.suite)-\(key).tar")
        if FileManager.default.fileExists(atPath: tar.path) {
            log("using cached \(tar.lastPathComponent)")
            return tar
        }
        try FileManager.default.createDirectory(at: cacheDir, withIntermediateDirectories: true)
        log("building a Debian \(Self.suite) root with mmdebstrap (about 250 MB from Debian's archive)")
        let partial = cacheDir.appendingPathComponent(".\(tar.lastPathComponent).partial")
        try? FileManager.default.removeItem(at: partial)
        let argv =
            [
                "mmdebstrap", "--variant=minbase", "--mode=root", "--format=tar",
                "--include=" + Self.packages.joined(separator: ","), Self.suite, partial.path,
            ] + Self.mirrors
        // On a terminal mmdebstrap shows its own progress.
        let r = try Command.run(argv, timeout: 1800, passThrough: isatty(1) == 1)
        guard r.status == 0 else {
            try? FileManager.default.removeItem(at: partial)
            throw HVError(
                .io, "mmdebstrap could not build the Debian root (exit \(r.status)): \(r.stderr.suffix(600))",
                hint: "hv setup needs mmdebstrap and Debian's archive (or HV_DEBIAN_MIRROR); try again, or see the output above")
        }
        guard rename(partial.path, tar.path) == 0 else { throw HVError.posix("rename \(partial.path)", errno: errno) }
        return tar
    }

    /// hv's files, hv-comm, the units enabled and masked, no host keys or
    /// machine id of the template's (each guest's disk gets its own).
    func customize(_ root: URL, tools: URL) throws {
        let fm = FileManager.default
        for f in DebianRootFiles.files {
            let url = root.appendingPathComponent(f.path)
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? fm.removeItem(at: url)
            try Data(f.text.utf8).write(to: url)
            try fm.setAttributes([.posixPermissions: f.mode], ofItemAtPath: url.path)
        }
        for dir in ["hv/guests", "var/lib/hv/modules-image", "root/.ssh"] {
            try fm.createDirectory(at: root.appendingPathComponent(dir), withIntermediateDirectories: true)
        }
        try fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: root.appendingPathComponent("root/.ssh").path)
        let comm = root.appendingPathComponent("usr/bin/hv-comm")
        try? fm.removeItem(at: comm)
        try fm.copyItem(at: tools.appendingPathComponent("hv-comm"), to: comm)
        let ssh = root.appendingPathComponent("etc/ssh")
        for key in (try? fm.contentsOfDirectory(atPath: ssh.path)) ?? [] where key.hasPrefix("ssh_host_") {
            try fm.removeItem(at: ssh.appendingPathComponent(key))
        }
        try? fm.removeItem(at: root.appendingPathComponent("var/lib/dbus/machine-id"))
        let system = root.appendingPathComponent("etc/systemd/system")
        for unit in DebianRootFiles.masked {
            let link = system.appendingPathComponent(unit)
            try? fm.removeItem(at: link)
            try fm.createSymbolicLink(atPath: link.path, withDestinationPath: "/dev/null")
        }
        // No desktop: graphical.target only waits for nothing longer.
        let defaultTarget = system.appendingPathComponent("default.target")
        try? fm.removeItem(at: defaultTarget)
        try fm.createSymbolicLink(atPath: defaultTarget.path, withDestinationPath: "/lib/systemd/system/multi-user.target")
        let wants = system.appendingPathComponent("multi-user.target.wants")
        try fm.createDirectory(at: wants, withIntermediateDirectories: true)
        for (name, _) in DebianRootFiles.units {
            let link = wants.appendingPathComponent(name)
            try? fm.removeItem(at: link)
            try fm.createSymbolicLink(atPath: link.path, withDestinationPath: "/etc/systemd/system/\(name)")
        }
        // acpid's own examples would act on the button too.
        let events = root.appendingPathComponent("etc/acpi/events")
        for f in (try? fm.contentsOfDirectory(atPath: events.path)) ?? [] where f != "hv-power" {
            try fm.removeItem(at: events.appendingPathComponent(f))
        }
    }

    /// A read-only ext4 template made from a folder with mke2fs -d: nothing
    /// is mounted. Its size is what the files take and a quarter more.
    static func makeExt4(from dir: URL, to image: URL, label: String, journal: Bool) throws {
        let du = try Command.check(["du", "-s", "--block-size=1M", dir.path], what: "du \(dir.path)")
        let usedMiB = Int(du.split(whereSeparator: { $0 == "\t" || $0 == " " }).first ?? "") ?? 1024
        let sizeMiB = usedMiB + usedMiB / 4 + 64
        try? FileManager.default.removeItem(at: image)
        var argv = ["mkfs.ext4", "-q", "-F", "-L", label, "-d", dir.path, "-E", "root_owner=0:0"]
        if !journal { argv += ["-O", "^has_journal"] }
        try Command.check(argv + [image.path, "\(sizeMiB)M"], timeout: 600, what: "mkfs.ext4 of \(image.lastPathComponent)")
        chmod(image.path, 0o644)
    }
}

#if canImport(Glibc)
import Glibc
#endif
