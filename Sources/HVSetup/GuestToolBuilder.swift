import Foundation
import HVCore
import HVHost

/// Builds the guest-side tools of the communication subsystem for the
/// RT-Linux kernel: the hv_ivshmem module (against Debian's headers for that
/// kernel, downloaded and unpacked like the kernel, never installed) and the
/// static `hv-comm` program. Needs gcc and make.
struct GuestToolBuilder {
    let cacheDir: URL
    let kernelVersion: String
    let log: @Sendable (String) -> Void

    /// Puts hv_ivshmem.ko under lib/modules/<version>/extra and hv-comm in usr/bin of `root`.
    func build(into root: URL, alsoCopyTo toolsDir: URL) throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("hv-tools-\(getpid())-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: work) }
        let fm = FileManager.default
        try fm.createDirectory(at: work.appendingPathComponent("module"), withIntermediateDirectories: true)
        try fm.createDirectory(at: toolsDir, withIntermediateDirectories: true)

        log("building hv-comm (static)")
        let toolSource = work.appendingPathComponent("hv-comm.c")
        try GuestToolSources.commTool.write(to: toolSource, atomically: true, encoding: .utf8)
        let tool = root.appendingPathComponent("usr/bin/hv-comm")
        try Command.check(["gcc", "-static", "-O2", "-Wall", "-o", tool.path, toolSource.path], what: "compiling hv-comm (needs gcc, libc6-dev)")

        log("building the hv_ivshmem module for \(kernelVersion)")
        let headers = try unpackHeaders(into: work.appendingPathComponent("headers"))
        let moduleDir = work.appendingPathComponent("module")
        try GuestToolSources.ivshmemModule.write(to: moduleDir.appendingPathComponent("hv_ivshmem.c"), atomically: true, encoding: .utf8)
        try GuestToolSources.ivshmemKbuild.write(to: moduleDir.appendingPathComponent("Kbuild"), atomically: true, encoding: .utf8)
        try Command.check(
            ["make", "-s", "-C", headers.path, "M=\(moduleDir.path)", "modules"], timeout: 600,
            what: "building hv_ivshmem.ko (needs make and gcc)")
        let extra = root.appendingPathComponent("lib/modules/\(kernelVersion)/extra")
        try fm.createDirectory(at: extra, withIntermediateDirectories: true)
        try fm.copyItem(at: moduleDir.appendingPathComponent("hv_ivshmem.ko"), to: extra.appendingPathComponent("hv_ivshmem.ko"))
        try Command.check(["depmod", "-b", root.path, kernelVersion], what: "depmod of the guest modules")
        for (from, name) in [(tool, "hv-comm"), (extra.appendingPathComponent("hv_ivshmem.ko"), "hv_ivshmem.ko")] {
            try fm.copyItem(at: from, to: toolsDir.appendingPathComponent(name))
        }
    }

    /// linux-headers-<version> and what it includes, from the cache (downloaded once).
    func unpackHeaders(into dir: URL) throws -> URL {
        let main = "linux-headers-\(kernelVersion)"
        let first = try download(main)
        let depends = try Command.check(["dpkg-deb", "-f", first.path, "Depends"], what: "reading \(main)'s dependencies")
        let related = depends.split(separator: ",").compactMap { $0.trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) }
            .filter { $0.hasPrefix("linux-headers-") || $0.hasPrefix("linux-kbuild-") }
        for deb in [first] + (try related.map(download)) {
            try Command.check(["dpkg-deb", "-x", deb.path, dir.path], what: "unpacking \(deb.lastPathComponent)")
        }
        // Debian's Makefile includes the common headers by absolute path: point it into the unpacked tree.
        let src = dir.appendingPathComponent("usr/src/\(main)")
        let makefile = src.appendingPathComponent("Makefile")
        let text = try String(contentsOf: makefile, encoding: .utf8)
        try text.replacingOccurrences(of: "/usr/src/", with: dir.path + "/usr/src/").write(to: makefile, atomically: true, encoding: .utf8)
        return src
    }

    func download(_ package: String) throws -> URL {
        let have = {
            (try? FileManager.default.contentsOfDirectory(atPath: cacheDir.path))?
                .first { $0.hasPrefix(package + "_") && $0.hasSuffix(".deb") }
        }
        if let f = have() { return cacheDir.appendingPathComponent(f) }
        log("downloading \(package) into \(cacheDir.path)")
        try Command.check(["apt-get", "download", package], timeout: 900, cwd: cacheDir, what: "apt-get download \(package)")
        guard let f = have() else { throw HVError(.io, "apt-get download \(package) left no .deb in \(cacheDir.path)") }
        return cacheDir.appendingPathComponent(f)
    }
}
