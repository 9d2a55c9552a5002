import Foundation
import HVCore
import HVEngine
import HVHost
import Testing

extension EndToEnd {
    /// HV_ROOT itself on a small file system of the test's, filled to its
    /// last block: every write hv makes fails with the place named and what
    /// to free, nothing that was whole is changed, hvd answers, and once
    /// room is made everything works again.
    @Suite struct FullRoot {
        @Test func aFullRootRefusesEachWriteCleanlyAndHvdStaysUp() throws {
            let host = try TestHost()
            let image = URL(fileURLWithPath: host.root.path + ".ext4")
            defer {
                host.cleanup()
                _ = try? Command.run(["umount", host.root.path], timeout: 30)
                try? FileManager.default.removeItem(at: host.root)
                try? FileManager.default.removeItem(at: image)
            }
            for step in [
                ["truncate", "-s", "48M", image.path], ["mkfs.ext4", "-q", "-F", "-m", "0", image.path],
                ["mount", "-o", "loop", image.path, host.root.path],
            ] {
                let r = try Command.run(step, timeout: 60)
                try #require(r.status == 0, "\(step.joined(separator: " ")): \(r.stderr)")
            }
            chmod(host.root.path, 0o755)
            try FileManager.default.createDirectory(at: host.layout.templatesDir, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                at: host.layout.template("rt-linux"),
                withDestinationURL: HostLayout(root: TestHost.imageRoot).template("rt-linux"))
            let port = try host.useFreeManagerPort()
            let dir = try host.prepare()
            #expect(host.run("hv", ["manager", "url"]).status == 0)
            let token = host.text(host.layout.managerToken).trimmingCharacters(in: .whitespacesAndNewlines)
            let headers = ["Authorization": "Bearer \(token)", "X-HV-Request": "1", "Content-Type": "application/json"]

            // Full to the last block (a second file takes what the first left).
            let ballast = host.root.appendingPathComponent("ballast")
            for (i, size) in ["", "-small"].enumerated() {
                _ = try Command.run(["dd", "if=/dev/zero", "of=\(ballast.path)\(size)", "bs=\(i == 0 ? "1M" : "4k")", "conv=fsync"], timeout: 120)
            }
            let before = snapshotOfFiles(host.root)

            let start = host.run("hv_guest_start", cwd: dir)
            #expect(start.status != 0 && start.all.contains("no room to start guestrtlinux") && start.all.contains("nothing was started"), "\(start.all)")
            #expect(!GuestLock.isHeld(host.layout.guest("guestrtlinux").lockFile), "no QEMU runs")
            let autostart = host.run("hv", ["autostart", "set", "guestrtlinux"])
            #expect(autostart.status != 0 && autostart.all.contains("no room to write"), "\(autostart.all)")
            let edit = Manager.request(port, "PATCH", "/v1/guests/guestrtlinux/settings", headers: headers, body: #"{"name":"Line 3 RT"}"#)
            let answer = String(decoding: edit?.body ?? Data(), as: UTF8.self)
            #expect(edit?.status ?? 0 >= 400 && answer.contains("no room to write") && answer.contains("free space there"), "\(answer)")

            // hvd answers, and every file is as it was: whole, parsing, no half-written temporary left.
            let list = host.run("hv", ["guest", "list"])
            #expect(list.status == 0 && list.out.contains("guestrtlinux"), "\(list.all)")
            let after = snapshotOfFiles(host.root)
            let changed = before.keys.filter { before[$0] != after[$0] && !$0.hasSuffix(".log") && !$0.contains("/run/") }
            #expect(changed.isEmpty, "changed on a full disk: \(changed)")
            #expect(after.keys.filter { $0.contains(".tmp-") }.isEmpty, "temporary files left: \(after.keys.filter { $0.contains(".tmp-") })")
            for (path, _) in after where path.hasSuffix(".config") && path != AutostartFiles.listFile(host.layout).path {
                let text = host.text(URL(fileURLWithPath: path))
                #expect((try? RegistryDocument(parsing: text, fileName: path)) != nil, "\(path) parses")
            }
            #expect((try? AutostartFiles.read(host.layout)) != nil, "the autostart plan reads")
            for (path, _) in after where path.hasSuffix(".json") && path.contains("/run/") {
                #expect((try? JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))) != nil, "\(path) parses")
            }

            // Room again: each works.
            try FileManager.default.removeItem(at: ballast)
            try? FileManager.default.removeItem(atPath: ballast.path + "-small")
            let again = host.run("hv_guest_start", cwd: dir)
            #expect(again.status == 0, "\(again.all)")
            #expect(host.run("hv", ["autostart", "set", "guestrtlinux"]).status == 0)
            let edited = Manager.request(port, "PATCH", "/v1/guests/guestrtlinux/settings", headers: headers, body: #"{"name":"Line 3 RT"}"#)
            #expect(edited?.status == 200, "\(String(decoding: edited?.body ?? Data(), as: UTF8.self))")
            // Full again while the guest runs: its console log cannot grow, it runs on, and hvd answers.
            _ = try Command.run(["dd", "if=/dev/zero", "of=\(ballast.path)", "bs=1M", "conv=fsync"], timeout: 120)
            let typed = host.guestRun("guestrtlinux", "echo hv$((6*7))ok")
            #expect(typed.contains("hv42ok"), "the console answers with its log full: \(typed)")
            #expect((try? host.status("guestrtlinux").state) == .running)
            try FileManager.default.removeItem(at: ballast)
            #expect(host.run("hv_guest_stop", cwd: dir, timeout: 120).status == 0)
        }

        /// Every regular file under `root` and its content's hash.
        func snapshotOfFiles(_ root: URL) -> [String: Int] {
            var files: [String: Int] = [:]
            let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: [.isRegularFileKey, .isSymbolicLinkKey])
            while let url = walker?.nextObject() as? URL {
                if (try? url.resourceValues(forKeys: [.isSymbolicLinkKey]))?.isSymbolicLink == true {
                    walker?.skipDescendants()
                    continue
                }
                guard (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true,
                    !url.lastPathComponent.hasPrefix("ballast"), let data = try? Data(contentsOf: url)
                else { continue }
                files[url.path] = data.hashValue
            }
            return files
        }
    }
}
