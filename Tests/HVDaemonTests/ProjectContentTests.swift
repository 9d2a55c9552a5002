import Foundation
import HVAPI
import HVCore
import HVHost
import Testing

@testable import HVDaemon

/// A project given as text (the Ansible collection): checked whole before anything is stored.
@Suite struct ProjectContentTests {
    func example(_ layout: HostLayout) throws -> ProjectContent {
        try ProjectStore(layout: layout).write(ExampleCatalogue.named("rt-linux"))
        let store = ProjectStore(layout: layout)
        return ProjectContent(
            hvConfig: try String(contentsOf: store.hvConfig(of: "rt-linux"), encoding: .utf8),
            guests: ["guestrtlinux": try String(contentsOf: store.guestConfig(of: "rt-linux", folder: "guestrtlinux"), encoding: .utf8)])
    }

    @Test func aPlanWritesNothingAndAStoredProjectSyncsToThePlan() throws {
        let layout = HostLayout(root: URL(fileURLWithPath: "/tmp/hv-content-\(UUID().uuidString.prefix(6))"))
        defer { try? FileManager.default.removeItem(at: layout.root) }
        try layout.ensureDirectories()
        let content = try example(layout)
        let plan = try ProjectSync.preview("line3", content: content, layout: layout)
        #expect(plan.changes.contains { $0.hasPrefix("config/hv.config: new") } && plan.affectedGuests == ["guestrtlinux"], "\(plan)")
        #expect(!FileManager.default.fileExists(atPath: layout.project("line3").path), "a plan stores nothing")
        _ = try ProjectSync.store("line3", content: content, layout: layout)
        #expect(try ProjectSync.sync("line3", layout: layout).changes == plan.changes)
        #expect(try ProjectSync.preview("line3", content: content, layout: layout).changes.isEmpty, "applied: nothing left to change")
    }

    @Test func brokenContentIsRefusedNamingWhatIsWrong() throws {
        let layout = HostLayout(root: URL(fileURLWithPath: "/tmp/hv-content-\(UUID().uuidString.prefix(6))"))
        defer { try? FileManager.default.removeItem(at: layout.root) }
        try layout.ensureDirectories()
        let good = try example(layout)
        var missing = good
        missing.guests = [:]
        var extra = good
        extra.guests["guestother"] = good.guests["guestrtlinux"]
        var broken = good
        broken.guests["guestrtlinux"] = "[Guest]\n\"Os\"=\"plan9\"\n"
        for (content, words) in [
            (missing, "guest.config is missing"), (extra, "guestother"), (broken, "plan9"),
            (ProjectContent(hvConfig: "not a config", guests: [:]), "hv.config:1"),
        ] {
            do {
                _ = try ProjectSync.store("line3", content: content, layout: layout)
                Issue.record("stored: \(content)")
            } catch let e as HVError {
                #expect(e.message.contains(words), "\(e.message)")
            }
        }
        #expect(throws: HVError.self) { try ProjectSync.preview("../x", content: good, layout: layout) }
        #expect(!FileManager.default.fileExists(atPath: layout.project("line3").path))
    }
}
