import Foundation
import HVCore
import HVHost

/// Lays out the RT-Linux guest's root file system in a folder.
struct RootFSAssembler {
    let root: URL
    let kernelRoot: URL
    let kernelVersion: String
    var fm: FileManager { .default }
    /// The host's programs copied in with their libraries: cyclictest and
    /// oslat for `hv rt bench` and `hv rt qualify`.
    static let binaries = [("/usr/bin/cyclictest", "rt-tests"), ("/usr/bin/oslat", "rt-tests")]

    func assemble(modules: [String]) throws {
        for dir in [
            "bin", "sbin", "usr/bin", "usr/sbin", "etc/acpi/PWRF", "proc", "sys", "dev", "tmp", "run",
            "root", "hv/guests", "var/log", "lib/modules",
        ] {
            try fm.createDirectory(at: root.appendingPathComponent(dir), withIntermediateDirectories: true)
        }
        try installBusybox()
        for (path, package) in Self.binaries { try installBinary(path, package: package) }
        try installModules(modules)
        try write(GuestInitScripts.initScript, "init", mode: 0o755)
        try write(GuestInitScripts.powerOff, "sbin/hv-poweroff", mode: 0o755)
        try write(GuestInitScripts.netUp, "sbin/hv-net-up", mode: 0o755)
        try write(GuestInitScripts.switchRoot, "sbin/hv-switch-root", mode: 0o755)
        try write(GuestInitScripts.acpiPowerButton, "etc/acpi/PWRF/00000080", mode: 0o755)
        try write(GuestInitScripts.profile, "etc/profile", mode: 0o644)
        try write("root:x:0:0:root:/root:/bin/sh\n", "etc/passwd", mode: 0o644)
        try write("root:x:0:\n", "etc/group", mode: 0o644)
    }

    func write(_ text: String, _ path: String, mode: Int) throws {
        let url = root.appendingPathComponent(path)
        try Data(text.utf8).write(to: url)
        try fm.setAttributes([.posixPermissions: mode], ofItemAtPath: url.path)
    }

    func installBusybox() throws {
        let busybox = "/bin/busybox"
        guard fm.fileExists(atPath: busybox) else {
            throw HVError(.notFound, "\(busybox) is missing", hint: "install busybox-static (hv setup does)")
        }
        let target = root.appendingPathComponent("bin/busybox")
        try fm.copyItem(atPath: busybox, toPath: target.path)
        let applets = try Command.check([busybox, "--list-full"], what: "busybox --list-full")
        for applet in applets.split(separator: "\n").map(String.init) where !applet.hasSuffix("/busybox") {
            let link = root.appendingPathComponent(applet)
            guard !fm.fileExists(atPath: link.path) else { continue }
            try fm.createDirectory(at: link.deletingLastPathComponent(), withIntermediateDirectories: true)
            try fm.createSymbolicLink(atPath: link.path, withDestinationPath: "/bin/busybox")
        }
    }

    /// Copies a dynamically linked program with the libraries ldd names.
    func installBinary(_ path: String, package: String) throws {
        guard fm.fileExists(atPath: path) else {
            throw HVError(.notFound, "\(path) is missing", hint: "install \(package) (hv setup does)")
        }
        try copyPreservingPath(path)
        let ldd = try Command.check(["ldd", path], what: "ldd \(path)")
        for line in ldd.split(separator: "\n") {
            // "\tlibc.so.6 => /lib/…/libc.so.6 (0x…)" or "\t/lib64/ld-linux-x86-64.so.2 (0x…)"
            guard
                let lib = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                    .first(where: { $0.hasPrefix("/") })
            else { continue }
            try copyPreservingPath(lib)
        }
    }

    func copyPreservingPath(_ path: String) throws {
        let dest = root.appendingPathComponent(String(path.dropFirst()))
        guard !fm.fileExists(atPath: dest.path) else { return }
        try fm.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
        let real = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        try fm.copyItem(atPath: real, toPath: dest.path)
    }

    /// The wanted modules and everything they depend on, with a modules.dep
    /// made by depmod so that the guest's modprobe resolves them.
    func installModules(_ names: [String]) throws {
        let src = kernelRoot.appendingPathComponent("lib/modules/\(kernelVersion)")
        try Command.check(["depmod", "-b", kernelRoot.path, kernelVersion], what: "depmod of the kernel package")
        let dep = try String(contentsOf: src.appendingPathComponent("modules.dep"), encoding: .utf8)
        var deps: [String: [String]] = [:]
        var byName: [String: String] = [:]
        for line in dep.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard let file = parts.first.map(String.init) else { continue }
            deps[file] = parts.count > 1 ? parts[1].split(separator: " ").map(String.init) : []
            let base = URL(fileURLWithPath: file).lastPathComponent
            let name = base.components(separatedBy: ".ko").first ?? base
            byName[name.replacingOccurrences(of: "-", with: "_")] = file
        }
        var wanted = Set<String>()
        for n in names {
            guard let f = byName[n] else {
                throw HVError(.notFound, "kernel \(kernelVersion) has no module \(n)")
            }
            wanted.insert(f)
            wanted.formUnion(deps[f] ?? [])
        }
        let dst = root.appendingPathComponent("lib/modules/\(kernelVersion)")
        for f in wanted {
            let to = dst.appendingPathComponent(f)
            try fm.createDirectory(at: to.deletingLastPathComponent(), withIntermediateDirectories: true)
            try fm.copyItem(at: src.appendingPathComponent(f), to: to)
        }
        for meta in ["modules.builtin", "modules.builtin.modinfo", "modules.order"] {
            let from = src.appendingPathComponent(meta)
            if fm.fileExists(atPath: from.path) { try fm.copyItem(at: from, to: dst.appendingPathComponent(meta)) }
        }
        try Command.check(["depmod", "-b", root.path, kernelVersion], what: "depmod of the guest modules")
    }
}
