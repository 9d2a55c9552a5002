import Foundation
import HVAPI
import HVCore
import HVEngine
import Testing

extension EndToEnd {
    /// `hv guest backup` and `hv guest restore` under a real hvd and QEMU:
    /// RT-Linux's backup taken while the guest writes, the guest deleted,
    /// a truncated copy of the archive refused with nothing created, then
    /// the backup restored under another name, booted, and its data checked.
    @Suite struct Backups {
        @Test func aBackupTakenWhileTheGuestWritesRestoresUnderANewNameAndBoots() throws {
            let host = try TestHost()
            defer { host.cleanup() }
            let dir = try host.prepare(root: .debian)
            let start = host.run("hv_guest_start", cwd: dir, timeout: 300)
            try #require(start.status == 0, "\(start.all)")
            let data = "head -c 8M /dev/urandom > /root/data && sha256sum /root/data > /root/data.sum && sync && echo written"
            try #require(host.run("hv", ["guest", "ssh", "guestrtlinux", "--", data], timeout: 120).out.contains("written"))
            // The guest keeps writing while the backup is taken (in its background: ssh returns at once).
            let busy = "nohup sh -c 'while true; do date >> /root/busy; sync; sleep 0.2; done' > /dev/null 2>&1 &"
            #expect(host.run("hv", ["guest", "ssh", "guestrtlinux", "--", busy], timeout: 60).status == 0)
            let writing = host.run(
                "hv",
                [
                    "guest", "ssh", "guestrtlinux", "--",
                    "for i in $(seq 50); do test -s /root/busy && break; sleep 0.2; done; test -s /root/busy && echo writing",
                ], timeout: 60)
            try #require(writing.out.contains("writing"), "\(writing.all)")

            let backup = host.run("hv", ["guest", "backup", "guestrtlinux"], timeout: 1200)
            try #require(backup.status == 0, "\(backup.all)")
            #expect(backup.out.contains("taken while it ran"), "\(backup.out)")
            let archives = try FileManager.default.contentsOfDirectory(atPath: host.layout.backupDir.path).filter { $0.hasSuffix(".hvbackup.tar") }
            try #require(archives.count == 1, "\(archives)")
            let archive = host.layout.backupDir.appendingPathComponent(archives[0])
            // The snapshot QEMU made for it is gone again.
            let snaps = host.run("hv", ["guest", "snapshot", "guestrtlinux", "list", "--json"])
            let tags = try? JSONDecoder().decode(SnapshotList.self, from: Data(snaps.out.utf8))
            #expect(tags?.diskOnly == [] && tags?.snapshots == [], "\(snaps.all)")
            #expect(host.text(host.layout.daemonLog).contains("guestrtlinux: backup-written: \(archive.path)"))

            // A bad day: the guest is gone.
            #expect(host.run("hv_guest_stop", cwd: dir, timeout: 180).status == 0)
            #expect(host.run("hv", ["guest", "delete", "guestrtlinux", "--yes"]).status == 0)
            let guestsBefore = try FileManager.default.contentsOfDirectory(atPath: host.layout.guestsDir.path).sorted()

            // A truncated copy is refused, named, and creates nothing.
            let whole = try Data(contentsOf: archive)
            let truncated = host.root.appendingPathComponent("truncated.tar")
            try whole.prefix(whole.count * 2 / 3).write(to: truncated)
            chmod(truncated.path, 0o600)
            let refused = host.run("hv", ["guest", "restore", truncated.path, "--as", "broken", "--yes"], timeout: 600)
            #expect(refused.status != 0 && refused.all.contains(truncated.path) && refused.all.contains("nothing was changed"), "\(refused.all)")
            // Without a terminal and without --yes nothing is restored either.
            let unasked = host.run("hv", ["guest", "restore", archive.path, "--as", "rtcopy"], timeout: 600)
            #expect(unasked.status != 0 && unasked.out.contains("creates: the guest folder"), "\(unasked.all)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: host.layout.guestsDir.path).sorted() == guestsBefore)

            let restore = host.run("hv", ["guest", "restore", archive.path, "--as", "rtcopy", "--yes"], timeout: 1200)
            try #require(restore.status == 0, "\(restore.all)")
            #expect(restore.out.contains("it is not in the loaded VMF: reload it"), "\(restore.out)")
            let copy = host.folder("rtcopy")
            #expect(host.run("hv_vmf_stop", ["--yes"], timeout: 60).status == 0)
            #expect(host.run("hv_vmf_start", cwd: copy, timeout: 60).status == 0)
            let boot = host.run("hv_guest_start", cwd: copy, timeout: 300)
            try #require(boot.status == 0, "\(boot.all)")
            let check = host.run("hv", ["guest", "ssh", "rtcopy", "--", "cd /root && sha256sum -c data.sum && test -s busy && echo busy-kept"], timeout: 120)
            #expect(check.out.contains("data: OK") && check.out.contains("busy-kept"), "\(check.all)")
            #expect(host.run("hv_guest_stop", cwd: copy, timeout: 180).status == 0)
        }
    }
}
