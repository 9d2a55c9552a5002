import Foundation
import HVCore

// HVCore describes the host's files (the layout, the .config format) and
// writes none; the writes that every room needs are here, with the host.

extension RegistryFile {
    /// A `.config` file written atomically, after its text was checked to read back.
    public static func write(_ doc: RegistryDocument, to url: URL) throws {
        try AtomicFile.write(checkedText(doc, for: url), to: url)
    }
}

extension HostLayout {
    /// The folders every host has (`standardDirectories`), made where missing.
    public func ensureDirectories() throws {
        let fm = FileManager.default
        for (dir, mode) in standardDirectories {
            do {
                if !fm.fileExists(atPath: dir.path) {
                    try fm.createDirectory(
                        at: dir, withIntermediateDirectories: true,
                        attributes: [.posixPermissions: mode])
                }
            } catch {
                throw HVError(
                    .io, "cannot create \(dir.path): \(error.localizedDescription)",
                    hint: "run hv as root, or set HV_ROOT to a folder you may write")
            }
        }
    }
}
