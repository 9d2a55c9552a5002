import Foundation
import HVCore
import HVHost

/// An RT-Linux guest's own Debian root disk, made from the template at its
/// first start. It is a full copy (qcow2 without a backing file, or raw):
/// rebuilding the template never changes a disk a guest already has.
///
/// The guest's files that must differ per guest (its SSH host key, hv's
/// public key, its host name) are written into the fresh copy with
/// debugfs before any guest has run on it: the host never mounts a guest's
/// disk, nor reads one a guest has written.
public struct RTLinuxRootDisk {
    public let disk: DiskImage
    public let template: URL
    public let folderName: String
    public let layout: HostLayout

    public init(disk: DiskImage, template: URL, folderName: String, layout: HostLayout) {
        self.disk = disk
        self.template = template
        self.folderName = folderName
        self.layout = layout
    }

    /// Makes the disk, `sizeGiB` big (the guest's systemd grows its file
    /// system to it at the first boot). Built under a temporary name: a
    /// failure leaves nothing behind. Returns what it did, for the user.
    public func create(sizeGiB: Int) throws -> String {
        let fm = FileManager.default
        let dir = disk.url.deletingLastPathComponent()
        // 0755 whatever the umask: the guest's QEMU user passes through to its disk.
        try fm.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let work = dir.appendingPathComponent(".\(disk.url.lastPathComponent).creating")
        try? fm.removeItem(at: work)
        try fm.createDirectory(at: work, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        defer { try? fm.removeItem(at: work) }
        let raw = work.appendingPathComponent("root.img")
        try Command.check(["cp", "--sparse=always", template.path, raw.path], timeout: 600, what: "copying the Debian root template")
        let hostKey = work.appendingPathComponent("ssh_host_ed25519_key")
        try Command.check(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "root@\(hostName)", "-f", hostKey.path],
            what: "making the guest's SSH host key (needs openssh-client)")
        let hvKey = try GuestSSH.ensureKeyPair(layout)
        let files: [(local: URL, text: String?, path: String, mode: Int)] = [
            (hostKey, nil, "/etc/ssh/ssh_host_ed25519_key", 0o600),
            (URL(fileURLWithPath: hostKey.path + ".pub"), nil, "/etc/ssh/ssh_host_ed25519_key.pub", 0o644),
            (work.appendingPathComponent("authorized_keys"), try String(contentsOf: hvKey.publicKey, encoding: .utf8), "/root/.ssh/authorized_keys", 0o600),
            (work.appendingPathComponent("hostname"), hostName + "\n", "/etc/hostname", 0o644),
            (
                work.appendingPathComponent("hosts"), "127.0.0.1\tlocalhost\n127.0.1.1\t\(hostName)\n::1\tlocalhost ip6-localhost ip6-loopback\n", "/etc/hosts",
                0o644
            ),
        ]
        var commands: [String] = []
        for f in files {
            if let text = f.text { try Data(text.utf8).write(to: f.local) }
            chmod(f.local.path, mode_t(f.mode))
            // debugfs splits its lines at blanks unless quoted (the folder may have a space in its name).
            commands += ["rm \(f.path)", "write \"\(f.local.path)\" \(f.path)"]
        }
        let script = work.appendingPathComponent("debugfs.cmds")
        try Data((commands.joined(separator: "\n") + "\n").utf8).write(to: script)
        try Command.check(["debugfs", "-w", "-f", script.path, raw.path], what: "writing the guest's keys into its disk (debugfs)")
        // debugfs goes on after a failed command: read each file back.
        for f in files {
            let back = try Command.check(["debugfs", "-R", "cat \(f.path)", raw.path], what: "reading back \(f.path)")
            guard back == (try String(contentsOf: f.local, encoding: .utf8)) else {
                throw HVError(.io, "writing \(f.path) into the new disk of \(folderName) failed", hint: "hv setup --rebuild-image, then start again")
            }
        }
        let made = work.appendingPathComponent("disk")
        if disk.format == .qcow2 {
            try Command.check(
                ["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", "-o", "lazy_refcounts=on", raw.path, made.path],
                timeout: 600, what: "writing the guest's disk")
        } else {
            guard rename(raw.path, made.path) == 0 else { throw HVError.posix("rename \(raw.path)", errno: errno) }
        }
        try Command.check(
            ["qemu-img", "resize", "-q", "-f", disk.format.rawValue, made.path, "\(sizeGiB)G"],
            what: "sizing the guest's disk to \(sizeGiB) GiB")
        let known = "hv-\(folderName) " + (try String(contentsOf: URL(fileURLWithPath: hostKey.path + ".pub"), encoding: .utf8))
        try GuestSSH.ensureKeysDir(layout)
        try AtomicFile.write(Data(known.utf8), to: layout.guestHostKey(folderName), mode: 0o600)
        chmod(made.path, 0o600)
        guard rename(made.path, disk.url.path) == 0 else { throw HVError.posix("rename to \(disk.url.path)", errno: errno) }
        return
            "created the Debian root disk \(disk.url.path) (\(sizeGiB) GiB, \(disk.format.rawValue), a copy of \(template.path): it grows as the guest writes)"
    }

    /// The guest's host name: its folder name, as a host name may be spelled.
    var hostName: String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
        let name = String(folderName.lowercased().map { allowed.contains($0) ? $0 : "-" }.prefix(63))
        return name.trimmingCharacters(in: CharacterSet(charactersIn: "-")).isEmpty ? "rt-linux" : name
    }
}

#if canImport(Glibc)
import Glibc
#endif
