import Foundation
import HVCore
import HVHost

/// Builds templates/rt-linux/ from Debian's PREEMPT_RT kernel package (never
/// installed on the host: downloaded, cached and unpacked) plus busybox,
/// cyclictest and the kernel modules the guest needs, and the Debian root
/// that guests copy onto a disk of their own (`DebianRootBuilder`).
public struct RTLinuxImageBuilder: Sendable {
    /// Bumped when the image's layout changes; what hv puts into it is
    /// covered by `format`'s digest, so a new hv rebuilds an image whose
    /// guest tools or init scripts it would make differently.
    public static let formatVersion = "10"
    /// The manifest's Format: the layout's version and a digest of every
    /// source hv itself writes into the image.
    public static var format: String { "\(formatVersion)." + digest(contentParts) }
    /// Every source hv itself writes into the image.
    static var contentParts: [String] {
        [
            GuestToolSources.ivshmemModule, GuestToolSources.ivshmemKbuild, GuestToolSources.commTool,
            GuestInitScripts.initScript, GuestInitScripts.netUp, GuestInitScripts.switchRoot, GuestInitScripts.powerOff,
            GuestInitScripts.acpiPowerButton, GuestInitScripts.profile, wantedModules.joined(separator: ","),
            RootFSAssembler.binaries.map(\.0).joined(separator: ","),
        ]
            + DebianRootFiles.contentParts
    }
    /// FNV-1a over the parts, each closed by a NUL: stable across runs and builds.
    static func digest(_ parts: [String]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for part in parts {
            for b in part.utf8 + [0] { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        }
        return String(h, radix: 16)
    }
    static let wantedModules = [
        "virtio_pci", "virtio_mmio", "9pnet_virtio", "9p", "button", "evdev", "virtio_net", "virtio_blk", "uio_pci_generic",
        // Assigned NICs (e1000e, igb: the usual fieldbus cards); VFIO for hv inside a guest.
        "e1000e", "igb", "vfio_pci", "vfio_iommu_type1",
        // The Debian root: its disk, checksums ext4 needs, the modules' overlay.
        "ext4", "crc32c_generic", "overlay",
    ]

    public let layout: HostLayout
    public let cacheDir: URL
    public let log: @Sendable (String) -> Void

    public init(layout: HostLayout, cacheDir: URL, log: @escaping @Sendable (String) -> Void) {
        self.layout = layout
        self.cacheDir = cacheDir
        self.log = log
    }

    var files: RTLinuxImageFiles { RTLinuxImageFiles(dir: layout.template("rt-linux")) }

    /// The image's manifest when it is complete and current.
    public func currentManifest() -> RegistryDocument? {
        guard let doc = try? RegistryFile.readIfPresent(files.manifest),
            doc.value("Image", "Format") == Self.format,
            FileManager.default.fileExists(atPath: files.vmlinux.path),
            FileManager.default.fileExists(atPath: files.bzImage.path),
            FileManager.default.fileExists(atPath: files.initramfs.path),
            FileManager.default.fileExists(atPath: files.debianRoot.path),
            FileManager.default.fileExists(atPath: files.modules.path)
        else { return nil }
        return doc
    }

    /// Builds the image unless a current one is there. Returns the kernel version.
    @discardableResult
    public func build(force: Bool = false) throws -> String {
        if !force, let m = currentManifest(), let v = m.value("Image", "KernelVersion") {
            log("RT-Linux image is current (kernel \(v)) in \(files.dir.path)")
            return v
        }
        let package = try kernelPackage()
        let deb = try download(package)
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("hv-image-\(getpid())-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: work) }
        let kroot = work.appendingPathComponent("kernel")
        let root = work.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: kroot, withIntermediateDirectories: true)
        log("unpacking \(deb.lastPathComponent)")
        try Command.check(["dpkg-deb", "-x", deb.path, kroot.path], what: "unpacking the kernel package")
        let modulesDir = kroot.appendingPathComponent("lib/modules")
        guard let version = try FileManager.default.contentsOfDirectory(atPath: modulesDir.path).first(where: { $0.contains("rt") }) else {
            throw HVError(.io, "\(deb.lastPathComponent) holds no lib/modules/*rt* folder")
        }
        let vmlinuz = kroot.appendingPathComponent("boot/vmlinuz-\(version)")
        let staging = layout.templatesDir.appendingPathComponent(".rt-linux.new")
        try? FileManager.default.removeItem(at: staging)
        try FileManager.default.createDirectory(at: staging, withIntermediateDirectories: true)
        let out = RTLinuxImageFiles(dir: staging)
        log("extracting the uncompressed kernel (PVH entry) from vmlinuz-\(version)")
        try KernelExtractor.extractVmlinux(from: vmlinuz, to: out.vmlinux)
        try FileManager.default.copyItem(at: vmlinuz, to: out.bzImage)
        log("assembling the root file system (busybox, cyclictest, oslat, modules)")
        try RootFSAssembler(root: root, kernelRoot: kroot, kernelVersion: version).assemble(modules: Self.wantedModules)
        try GuestToolBuilder(cacheDir: cacheDir, kernelVersion: version, log: log)
            .build(into: root, alsoCopyTo: out.guestTools)
        try Data(GuestInitScripts.netUp.utf8).write(to: out.guestTools.appendingPathComponent("hv-net-up"))
        try DebianRootBuilder(cacheDir: cacheDir.deletingLastPathComponent(), log: log)
            .build(kernelRoot: kroot, kernelVersion: version, tools: out.guestTools, work: work, out: out)
        try Command.check(
            ["sh", "-c", "cd '\(root.path)' && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 > '\(out.initramfs.path)'"],
            what: "packing the initramfs")
        var manifest = RegistryDocument(fileName: "image.config")
        manifest.addComment("The RT-Linux guest image, built by hv setup. Rebuild with: hv setup --rebuild-image")
        manifest.set("Image", "Format", Self.format)
        manifest.set("Image", "KernelPackage", package)
        manifest.set("Image", "KernelVersion", version)
        manifest.set("Image", "DebianRoot", "Debian \(DebianRootBuilder.suite): " + DebianRootBuilder.packages.joined(separator: " "))
        manifest.set("Image", "Built", Timestamp.iso8601())
        try RegistryFile.write(manifest, to: out.manifest)
        // Swap in the new image whole: a half-built image is never seen.
        let final = files.dir
        let old = layout.templatesDir.appendingPathComponent(".rt-linux.old")
        try? FileManager.default.removeItem(at: old)
        if FileManager.default.fileExists(atPath: final.path) { try FileManager.default.moveItem(at: final, to: old) }
        try FileManager.default.moveItem(at: staging, to: final)
        try? FileManager.default.removeItem(at: old)
        log("RT-Linux image ready in \(final.path) (kernel \(version))")
        return version
    }

    /// The newest Debian 6.1 PREEMPT_RT kernel package, or $HV_RT_KERNEL_PACKAGE.
    func kernelPackage() throws -> String {
        if let p = ProcessInfo.processInfo.environment["HV_RT_KERNEL_PACKAGE"], !p.isEmpty { return p }
        if let cached = newestCachedDeb() { return cached.package }
        let pattern = "^linux-image-6\\.1\\.0-[0-9]+-rt-amd64-unsigned$"
        var names = try search(pattern)
        if names.isEmpty {
            log("apt-get update (no PREEMPT_RT kernel in the package lists yet)")
            try Command.check(["apt-get", "update"], timeout: 600, what: "apt-get update")
            names = try search(pattern)
        }
        guard let newest = names.sorted(by: { $0.compare($1, options: .numeric) == .orderedAscending }).last else {
            throw HVError(
                .notFound, "Debian's package lists have no linux-image-*-rt-amd64-unsigned package",
                hint: "check /etc/apt/sources.list, or set HV_RT_KERNEL_PACKAGE to the package to use")
        }
        return newest
    }

    func search(_ pattern: String) throws -> [String] {
        try Command.check(["apt-cache", "search", "--names-only", pattern], what: "apt-cache search")
            .split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
    }

    func newestCachedDeb() -> (package: String, url: URL)? {
        let debs = (try? FileManager.default.contentsOfDirectory(atPath: cacheDir.path)) ?? []
        return debs.filter { $0.hasPrefix("linux-image-") && $0.contains("-rt-amd64-unsigned_") && $0.hasSuffix(".deb") }
            .sorted { $0.compare($1, options: .numeric) == .orderedAscending }
            .last.map { (String($0.split(separator: "_")[0]), cacheDir.appendingPathComponent($0)) }
    }

    func download(_ package: String) throws -> URL {
        try FileManager.default.createDirectory(at: cacheDir, withIntermediateDirectories: true)
        let have = {
            (try? FileManager.default.contentsOfDirectory(atPath: cacheDir.path))?
                .first { $0.hasPrefix(package + "_") && $0.hasSuffix(".deb") }
        }
        if let f = have() {
            log("using cached \(f)")
            return cacheDir.appendingPathComponent(f)
        }
        log("downloading \(package) (about 70 MB) into \(cacheDir.path)")
        // On a terminal apt-get shows its own progress (70 MB take a while on a slow line).
        try Command.check(
            ["apt-get", "download", package], timeout: 900, cwd: cacheDir, what: "apt-get download \(package)",
            passThrough: isatty(1) == 1)
        guard let f = have() else { throw HVError(.io, "apt-get download \(package) left no .deb in \(cacheDir.path)") }
        return cacheDir.appendingPathComponent(f)
    }
}
