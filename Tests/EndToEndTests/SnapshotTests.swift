import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost
import Testing

extension EndToEnd {
    /// `hv guest snapshot` on RT-Linux's own disk under a real hvd and QEMU:
    /// a snapshot taken while the guest runs keeps a file the guest then
    /// deletes; a revert (refused while it runs, asked for, then done while
    /// stopped) brings the file back, and keeps what it replaced.
    @Suite struct Snapshots {
        @Test func aFileDeletedAfterASnapshotIsBackAfterTheRevert() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare(root: .debian)
            let start = host.run("hv_guest_start", cwd: dir, timeout: 300)
            try #require(start.status == 0, "\(start.all)")
            let wrote = host.run(
                "hv", ["guest", "ssh", "guestrtlinux", "--", "echo kept-by-a-snapshot > /root/precious && sync && echo written"], timeout: 120)
            try #require(wrote.out.contains("written"), "\(wrote.all)")

            let take = host.run("hv", ["guest", "snapshot", "guestrtlinux", "create", "before-cleanup"], timeout: 600)
            try #require(take.status == 0, "\(take.all)")
            #expect(take.out.contains("while it ran"), "\(take.out)")

            let gone = host.run("hv", ["guest", "ssh", "guestrtlinux", "--", "rm /root/precious && sync && ls /root"], timeout: 120)
            #expect(gone.status == 0 && !gone.out.contains("precious"), "\(gone.all)")
            let whileRunning = host.run("hv", ["guest", "snapshot", "guestrtlinux", "revert", "before-cleanup", "--yes"])
            #expect(whileRunning.status != 0 && whileRunning.err.contains("stop it first"), "\(whileRunning.all)")
            #expect(host.run("hv_guest_stop", cwd: dir, timeout: 180).status == 0)

            // A stopped guest's snapshot: qemu-img makes it, as the guest's user.
            let offline = host.run("hv", ["guest", "snapshot", "guestrtlinux", "create", "stopped"], timeout: 600)
            #expect(offline.status == 0 && !offline.out.contains("while it ran"), "\(offline.all)")
            // Without a terminal and without --yes nothing is reverted.
            let unasked = host.run("hv", ["guest", "snapshot", "guestrtlinux", "revert", "before-cleanup"])
            #expect(unasked.status != 0 && unasked.all.contains("nothing was changed"), "\(unasked.all)")
            #expect(try list(host).snapshots.count == 2)

            let revert = host.run("hv", ["guest", "snapshot", "guestrtlinux", "revert", "before-cleanup", "--yes"], timeout: 600)
            try #require(revert.status == 0, "\(revert.all)")
            let after = try list(host)
            #expect(after.snapshots.map(\.name).prefix(2) == ["before-cleanup", "stopped"], "in the order they were taken")
            #expect(after.snapshots.filter(\.automatic).count == 1 && after.diskOnly.isEmpty, "\(after)")
            #expect(host.text(host.layout.daemonLog).contains("guestrtlinux: snapshot-reverted: reverted to snapshot before-cleanup"))

            let again = host.run("hv_guest_start", cwd: dir, timeout: 300)
            try #require(again.status == 0, "\(again.all)")
            let back = host.run("hv", ["guest", "ssh", "guestrtlinux", "--", "cat /root/precious"], timeout: 120)
            #expect(back.out.contains("kept-by-a-snapshot"), "the file is back: \(back.all)")

            let delete = host.run("hv", ["guest", "snapshot", "guestrtlinux", "delete", "stopped", "--yes"], timeout: 300)
            #expect(delete.status == 0, "\(delete.all)")
            #expect(try list(host).snapshots.map(\.name).contains("stopped") == false)
            #expect(host.run("hv_guest_stop", cwd: dir, timeout: 180).status == 0)
            let disk = host.folder("guestrtlinux").appendingPathComponent("disk.qcow2")
            let check = try Command.run(["qemu-img", "check", disk.path], timeout: 120)
            #expect(check.status == 0 && check.stdout.contains("No errors"), "\(check.stdout)\(check.stderr)")
        }

        func list(_ host: TestHost) throws -> SnapshotList {
            let r = host.run("hv", ["guest", "snapshot", "guestrtlinux", "list", "--json"])
            try #require(r.status == 0, "\(r.all)")
            return try JSONDecoder().decode(SnapshotList.self, from: Data(r.out.utf8))
        }
    }
}
