import Foundation
import HVCore
import HVHost
import Testing

@testable import HVEngine

#if canImport(Glibc)
import Glibc
#endif

/// QEMU's user: hv_spawn_as really changes the user, sets no-new-privileges
/// and a clean environment; a region's access list lets in the guests it
/// names and nobody else. (As root, as hvd runs.)
@Suite(.enabled(if: geteuid() == 0)) struct GuestIdentityTests {
    let a = GuestIdentity(uid: GuestIdentity.uidBase + 9001, gid: GuestIdentity.uidBase, groups: [GuestIdentity.uidBase])
    let b = GuestIdentity(uid: GuestIdentity.uidBase + 9002, gid: GuestIdentity.uidBase, groups: [GuestIdentity.uidBase])

    /// Runs `sh -c script` as `who`; its exit status.
    func run(_ who: GuestIdentity, _ script: String, env: [String: String] = CleanEnvironment.make()) throws -> Int32 {
        let log = URL(fileURLWithPath: "/tmp/hv-identity-\(UUID().uuidString.prefix(6)).log")
        defer { unlink(log.path) }
        let pid = try Spawn.detached(["/bin/sh", "-c", script], log: log, environment: env, identity: who)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        return (status >> 8) & 0xff
    }

    @Test func theChildRunsAsTheGuestsUserWithNoNewPrivileges() throws {
        #expect(try run(a, "test \"$(id -u)\" = \(a.uid) && test \"$(id -g)\" = \(a.gid)") == 0)
        #expect(try run(a, "grep -q '^NoNewPrivs:[[:space:]]*1' /proc/self/status") == 0)
        #expect(try run(a, "test ! -r /etc/shadow") == 0, "not root: /etc/shadow is out of reach")
        #expect(try run(a, "umask | grep -q 077") == 0)
        // hvd's environment does not leak; hv's own variables do not carry loader tricks.
        let env = CleanEnvironment.make(["LD_PRELOAD": "/tmp/x.so", "BASH_ENV": "/tmp/x", "HV_GUEST_NAME": "g"])
        #expect(env["LD_PRELOAD"] == nil && env["BASH_ENV"] == nil && env["HV_GUEST_NAME"] == "g")
        #expect(try run(a, "test -z \"$LD_PRELOAD\" && test \"$HV_GUEST_NAME\" = g", env: env) == 0)
    }

    @Test func aRegionsAccessListLetsInOnlyItsGuests() throws {
        let dir = URL(fileURLWithPath: "/dev/shm/hv-acl-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o711])
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("region")
        let fd = open(file.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        defer { close(fd) }
        try #require(PosixACL.grant(fd: fd, readWrite: [a.uid]), "tmpfs without access lists")
        #expect(try run(a, "echo x >> \(file.path)") == 0, "a listed guest maps it")
        #expect(try run(b, "echo x >> \(file.path) 2>/dev/null") != 0, "another guest does not")
        #expect(try run(b, "cat \(file.path) >/dev/null 2>&1") != 0)
    }

    @Test func owningNeverFollowsALink() throws {
        let dir = URL(fileURLWithPath: "/tmp/hv-own-\(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let target = dir.appendingPathComponent("host-file")
        try "root's\n".write(to: target, atomically: true, encoding: .utf8)
        let link = dir.appendingPathComponent("disk.qcow2")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: target)
        #expect(throws: HVError.self) { try a.own(link, mode: 0o600) }
        var st = stat()
        #expect(stat(target.path, &st) == 0 && st.st_uid == 0, "the link's target stays root's")
    }

    @Test func eachGuestGetsItsOwnUser() {
        let x = GuestIdentity.forGuest(id: 1, folder: "guestrtlinux"), y = GuestIdentity.forGuest(id: 2, folder: "guestubuntu")
        #expect(x.uid == GuestIdentity.uidBase + 1 && y.uid == GuestIdentity.uidBase + 2 && x.gid == y.gid)
        let noID = GuestIdentity.forGuest(id: nil, folder: "guest0042")
        #expect(noID.uid > GuestIdentity.uidBase + 9999, "above every Id")
        #expect(noID == GuestIdentity.forGuest(id: nil, folder: "guest0042"), "stable")
        #expect(x.accountName == "hv-guest-1")
    }

    /// QEMU's SMB share needs its user to have a name: one is given once,
    /// without a login record, and a second call changes nothing.
    @Test func aGuestsUserGetsAnAccountOnce() throws {
        let who = GuestIdentity(uid: GuestIdentity.uidBase + 9003, gid: GuestIdentity.sharedGroup(), groups: [])
        try #require(getpwuid(who.uid) == nil, "no account left from before")
        defer { _ = try? Command.run(["userdel", who.accountName], timeout: 30) }
        try who.ensureAccount()
        let entry = try #require(getpwuid(who.uid))
        #expect(String(cString: entry.pointee.pw_name) == "hv-guest-9003")
        #expect(String(cString: entry.pointee.pw_shell) == "/usr/sbin/nologin")
        #expect(entry.pointee.pw_gid == who.gid)
        try who.ensureAccount()
        #expect(try run(who, "test \"$(id -un)\" = hv-guest-9003") == 0)
    }
}
