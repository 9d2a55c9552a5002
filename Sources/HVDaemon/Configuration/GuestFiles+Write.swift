import Foundation
import HVCore
import HVHost

/// A guest folder's files as hvd writes them (a new guest, a project's sync):
/// HVCore renders them, only hvd writes them.
extension GuestFiles {
    /// Writes a guest folder from its guest.config. Returns the paths written.
    @discardableResult
    static func write(guestConfig: RegistryDocument, into folder: GuestFolder) throws -> [URL] {
        // 0755 whatever the umask: guests read their folders through the share.
        try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        var written: [URL] = []
        try RegistryFile.write(guestConfig, to: folder.guestConfig)
        written.append(folder.guestConfig)
        let name = guestConfig.value("Guest", "Name") ?? folder.name
        try AtomicFile.write(guestConfigScript(folder: folder.name, name: name), to: folder.guestConfigScript, mode: 0o755)
        written.append(folder.guestConfigScript)
        for (url, text, mode) in [
            (folder.userConfig, userConfig, mode_t(0o644)),
            (folder.userConfigScript, userConfigScript, 0o755),
            (folder.shutdownHook, shutdownHook, 0o755),
        ]
        where !FileManager.default.fileExists(atPath: url.path) {
            try AtomicFile.write(text, to: url, mode: mode)
            written.append(url)
        }
        return written
    }
}
