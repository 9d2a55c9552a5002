import Foundation
import HVCore
import HVHost
import Testing

@testable import HVSetup

/// `hv setup` keeps an image only when hv would build the same one: an
/// image made by an hv whose guest tools differed is built again.
@Suite struct ImageManifestTests {
    func image(format: String?, withBzImage: Bool = true, withDebianRoot: Bool = true) throws -> (RTLinuxImageBuilder, URL) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hv-manifest-\(UUID().uuidString.prefix(8))")
        let builder = RTLinuxImageBuilder(layout: HostLayout(root: root), cacheDir: root, log: { _ in })
        let files = builder.files
        try FileManager.default.createDirectory(at: files.dir, withIntermediateDirectories: true)
        for f in [files.vmlinux, files.initramfs] + (withBzImage ? [files.bzImage] : []) + (withDebianRoot ? [files.debianRoot, files.modules] : []) {
            try Data("x".utf8).write(to: f)
        }
        if let format {
            var doc = RegistryDocument(fileName: "image.config")
            doc.set("Image", "Format", format)
            doc.set("Image", "KernelVersion", "6.1.0-57-rt-amd64")
            try RegistryFile.write(doc, to: files.manifest)
        }
        return (builder, root)
    }

    @Test func onlyAnImageOfThisHvsMakingIsCurrent() throws {
        for (format, current) in [
            (RTLinuxImageBuilder.format, true), (RTLinuxImageBuilder.formatVersion, false),
            (RTLinuxImageBuilder.formatVersion + ".0", false), (nil, false),
        ] {
            let (builder, root) = try image(format: format)
            defer { try? FileManager.default.removeItem(at: root) }
            #expect((builder.currentManifest() != nil) == current, "Format \(format ?? "missing")")
        }
        // A guest with PCI devices boots the bzImage: an image without it is built again.
        let (builder, root) = try image(format: RTLinuxImageBuilder.format, withBzImage: false)
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(builder.currentManifest() == nil)
        // So is an image of an older hv that had no Debian root.
        let (older, olderRoot) = try image(format: RTLinuxImageBuilder.format, withDebianRoot: false)
        defer { try? FileManager.default.removeItem(at: olderRoot) }
        #expect(older.currentManifest() == nil)
    }

    @Test func aChangedGuestSourceChangesTheFormat() {
        let parts = RTLinuxImageBuilder.contentParts
        #expect(parts.contains(GuestToolSources.ivshmemModule) && parts.contains(GuestToolSources.commTool))
        let base = RTLinuxImageBuilder.digest(parts)
        var edited = parts
        edited[0] += "\n/* one line more */"
        #expect(RTLinuxImageBuilder.digest(edited) != base)
        // Where one part ends counts: "ab" + "c" is not "a" + "bc".
        #expect(RTLinuxImageBuilder.digest(["ab", "c"]) != RTLinuxImageBuilder.digest(["a", "bc"]))
        #expect(RTLinuxImageBuilder.digest(parts) == base, "the same sources, the same digest")
        #expect(RTLinuxImageBuilder.format == RTLinuxImageBuilder.formatVersion + "." + base)
    }
}
