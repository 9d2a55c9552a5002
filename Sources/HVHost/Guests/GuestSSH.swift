import Foundation
import HVCore

/// hv's own way into its RT-Linux guests: one key pair of the host's
/// (made once, root's alone), whose public half goes into each Debian root
/// disk hv makes, and each guest's host key, pinned when hv made it, so a
/// login never trusts a key on first sight.
public enum GuestSSH {
    public struct KeyPair: Sendable {
        public var privateKey: URL
        public var publicKey: URL
    }

    public static func ensureKeysDir(_ layout: HostLayout) throws {
        let dir = layout.keysDir
        if !FileManager.default.fileExists(atPath: dir.path) {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        chmod(dir.path, 0o700)
    }

    /// The host's key pair, made on first use.
    public static func ensureKeyPair(_ layout: HostLayout) throws -> KeyPair {
        try ensureKeysDir(layout)
        let pair = KeyPair(privateKey: layout.sshKey, publicKey: URL(fileURLWithPath: layout.sshKey.path + ".pub"))
        let fm = FileManager.default
        if fm.fileExists(atPath: pair.privateKey.path) && fm.fileExists(atPath: pair.publicKey.path) { return pair }
        let tmp = layout.keysDir.appendingPathComponent(".hv_ed25519.new-\(getpid())")
        try? fm.removeItem(at: tmp)
        try? fm.removeItem(at: URL(fileURLWithPath: tmp.path + ".pub"))
        try Command.check(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hv@\(ProcessInfo.processInfo.hostName)", "-f", tmp.path],
            what: "making hv's SSH key (needs openssh-client)")
        // The public half last: a pair is complete once both are there.
        guard rename(tmp.path, pair.privateKey.path) == 0,
            rename(tmp.path + ".pub", pair.publicKey.path) == 0
        else { throw HVError.posix("rename \(tmp.path)", errno: errno) }
        return pair
    }

    /// ssh's options for a guest: hv's key, the guest's pinned host key, no agent, no password.
    public static func options(_ layout: HostLayout, folder: String) -> [String] {
        [
            "-i", layout.sshKey.path, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "UserKnownHostsFile=\(layout.guestHostKey(folder).path)", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "StrictHostKeyChecking=yes", "-o", "HostKeyAlias=hv-\(folder)",
            "-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR",
        ]
    }
}

#if canImport(Glibc)
import Glibc
#endif
