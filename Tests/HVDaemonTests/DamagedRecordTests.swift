import Foundation
import HVCore
import HVEngine
import HVHost
import Testing

@testable import HVDaemon

/// hvd meets records it cannot read (a power cut, a full disk, a hand edit):
/// each is kept aside and said as a `record-damaged` event, none is taken
/// for "nothing recorded" silently, and a damaged VMF record does not make
/// hvd tear down a network guests may still be on.
@Suite struct DamagedRecordTests {
    @Test func hvdKeepsDamagedRecordsAsideAndSaysSo() throws {
        let root = URL(fileURLWithPath: "/tmp/hv-damaged-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: root) }
        let layout = HostLayout(root: root)
        try layout.ensureDirectories()
        let damaged = [
            (layout.vmfState, "{\"configPath\": \"/hv/con"), (layout.devicesRecord, "\u{0}\u{0}\u{0}\u{0}"),
            (layout.bridgesRecord, "{\"bridges\": 7}"),
        ]
        for (url, text) in damaged { try Data(text.utf8).write(to: url) }

        let ctx = DaemonContext(layout: layout)
        #expect(ctx.vmf.current == nil, "a damaged VMF record is no loaded VMF")
        #expect(PCIPassthrough(layout: layout).record.devices.isEmpty)
        #expect(GuestBridge(layout: layout).record.bridges.isEmpty)

        let said = ctx.events.after(0, wait: 0).events.filter { $0.kind == .recordDamaged }
        #expect(said.count == 3, "\(said.map(\.detail))")
        let kept = try FileManager.default.contentsOfDirectory(atPath: layout.runDir.path).filter { $0.contains(".damaged-") }
        for (url, text) in damaged {
            let name = url.lastPathComponent
            #expect(said.contains { $0.detail.contains(url.path) && $0.detail.contains("kept as") }, "\(name) is said")
            let aside = try #require(kept.first { $0.hasPrefix(name + ".damaged-") }, "\(name) is kept aside: \(kept)")
            #expect(try Data(contentsOf: layout.runDir.appendingPathComponent(aside)) == Data(text.utf8))
            #expect(!FileManager.default.fileExists(atPath: url.path))
        }
    }
}
