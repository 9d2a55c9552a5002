import Foundation
import HVCore
import Testing

@testable import HVDaemon

/// The guest folder's and the boot list's files as hvd writes them.
struct ConfigurationWritesTests {
    @Test func syncKeepsTheUsersFilesAndRegeneratesTheRest() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hv-files-\(UUID())")
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = HostLayout(root: root).guest("guestrtlinux")
        let g = ExampleCatalogue.all[0].guests[0]
        let first = try GuestFiles.write(guestConfig: GuestFiles.guestConfig(g, project: "rt-linux"), into: folder)
        #expect(first.map(\.lastPathComponent).sorted() == ["guest.config", "guest_config.sh", "usr.config", "usr_guest_config.sh", "vm_shutdown_hook.sh"])
        try "[Guest\\Memory]\n    \"SizeMiB\"=\"300\"\n".write(to: folder.userConfig, atomically: true, encoding: .utf8)
        try "broken on purpose".write(to: folder.guestConfig, atomically: true, encoding: .utf8)
        let second = try GuestFiles.write(guestConfig: GuestFiles.guestConfig(g, project: "rt-linux"), into: folder)
        #expect(second.map(\.lastPathComponent).sorted() == ["guest.config", "guest_config.sh"])
        #expect(try String(contentsOf: folder.userConfig, encoding: .utf8).contains("300"))
        #expect(try GuestConfig.load(from: folder).memoryMiB == 300)
    }

    @Test func problemsNameTheEntryAndAGoodPlanRoundTrips() throws {
        let layout = try AutostartTests().scratch()
        defer { try? FileManager.default.removeItem(at: layout.root) }
        let bad = AutostartPlan(
            enabled: true, hypervisorConfig: layout.hvConfig.path,
            guests: [
                .init(folder: "guestrtlinux"), .init(folder: "guestrtlinux"), .init(folder: "nope"),
                .init(folder: "../etc"), .init(folder: "guestubuntu", delaySeconds: -1),
            ])
        let problems = AutostartFiles.problems(bad, layout: layout)
        #expect(problems.contains { $0.contains("guest 2 (guestrtlinux): listed twice") }, "\(problems)")
        #expect(problems.contains { $0.contains("guest 3 (nope)") && $0.contains("no guest.config") })
        #expect(problems.contains { $0.contains("guest 4 (../etc): not a guest folder") })
        #expect(problems.contains { $0.contains("guest 5") && $0.contains("delay") })
        #expect(problems.contains { $0.contains("hv.config does not exist") })

        try "[Hypervisor]\n".write(to: layout.hvConfig, atomically: true, encoding: .utf8)
        let good = AutostartPlan(
            enabled: true, hypervisorConfig: layout.hvConfig.path,
            guests: [.init(folder: "guestrtlinux"), .init(folder: "guestubuntu", delaySeconds: 10)])
        #expect(AutostartFiles.problems(good, layout: layout).isEmpty)
        try AutostartFiles.write(good, layout: layout)
        #expect(try AutostartFiles.read(layout) == good)
        // The product's own file is plain lines a user can edit.
        let list = try String(contentsOf: AutostartFiles.listFile(layout), encoding: .utf8)
        #expect(list.hasSuffix("guestrtlinux\nguestubuntu 10\n"))
        // Off, with the files missing.
        try FileManager.default.removeItem(at: AutostartFiles.stateFile(layout))
        try FileManager.default.removeItem(at: AutostartFiles.listFile(layout))
        #expect(try AutostartFiles.read(layout) == AutostartPlan(enabled: false, hypervisorConfig: layout.hvConfig.path, guests: []))
    }
}
