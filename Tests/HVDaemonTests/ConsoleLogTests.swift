import Foundation
import HVCore
import HVEngine
import HVHost
import Testing

@testable import HVDaemon

@Suite struct ConsoleLogTests {
    @Test func aFullLogMovesToDotOneAndTheWriterGoesOn() throws {
        let root = URL(fileURLWithPath: "/tmp/hv-rot-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        let folder = HostLayout(root: root).guest("g")
        try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
        // QEMU opens the log with O_APPEND; so does this writer.
        let fd = open(folder.consoleLog.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        defer { close(fd) }
        let first = String(repeating: "boot line\n", count: 300)
        _ = first.withCString { write(fd, $0, strlen($0)) }
        ConsoleLog.rotateIfNeeded(folder, maxBytes: 10_000)
        #expect(FileSize.of(folder.consoleLog) == 3000, "under the cap: left alone")
        ConsoleLog.rotateIfNeeded(folder, maxBytes: 2048)
        #expect(try String(contentsOf: folder.consoleLogPrevious, encoding: .utf8) == first)
        #expect(FileSize.of(folder.consoleLog) == 0)
        _ = "after\n".withCString { write(fd, $0, strlen($0)) }
        #expect(try String(contentsOf: folder.consoleLog, encoding: .utf8) == "after\n", "no hole where the old bytes were")
    }

    /// Old cursor-position questions in the log are not replayed (the new terminal would answer them into the guest).
    @Test func theReplayLeavesOutOldTerminalQuestions() {
        let log = Data("rt-linux:/# \u{1B}[6nuname\r\nLinux\r\nrt-linux:/# \u{1B}[6n\u{1B}[1m".utf8)
        let replay = String(decoding: ConsoleReplay.scrub(log), as: UTF8.self)
        #expect(replay == "rt-linux:/# uname\r\nLinux\r\nrt-linux:/# \u{1B}[1m")
        #expect(ConsoleReplay.scrub(Data([0x1B, 0x5B, 0x36])) == Data([0x1B, 0x5B, 0x36]), "a cut-off sequence stays")
    }

    @Test func runRecordSurvivesARoundTrip() throws {
        let url = URL(fileURLWithPath: "/tmp/hv-rec-\(UUID().uuidString.prefix(8)).json")
        defer { try? FileManager.default.removeItem(at: url) }
        let rec = RunRecord(
            pid: 42, name: "RT-Linux", os: .rtLinux, vcpus: 1, memoryMiB: 256,
            startedAt: Date(timeIntervalSince1970: 1_800_000_000), accelerator: .tcg, acceleratorReason: "TCG",
            placement: .init(cores: [1], vcpuThreads: [43], schedFIFO: true, notes: []),
            bootLogOffset: 7, bootStartedAt: Date(timeIntervalSince1970: 1_800_000_000), bootedAt: nil,
            readyMarker: "hv-guest: ready", bootStallSeconds: 30, stopTimeoutSeconds: 10,
            consoleLogMaxBytes: 1 << 20, hookEnvironment: ["PLANT": "3"], notes: [])
        rec.save(url)
        let back = try #require(RunRecord.load(url))
        #expect(back.pid == 42 && back.placement.cores == [1] && back.hookEnvironment == ["PLANT": "3"] && back.bootLogOffset == 7)
    }
}

@Suite struct VMFStateTests {
    @Test func aVMFLoadedBeforeARebootIsNotLoaded() throws {
        let root = URL(fileURLWithPath: "/tmp/hv-vmf-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        let layout = HostLayout(root: root)
        try layout.ensureDirectories()
        let config = HypervisorConfig(project: "t", guests: [])
        let stale = VMF.Record(
            configPath: "/x/hv.config", config: config, loadedAt: Date(), reservedCores: [:], notes: [],
            bootID: "an-earlier-boot")
        let e = JSONEncoder()
        e.dateEncodingStrategy = .iso8601
        try e.encode(stale).write(to: layout.vmfState)
        try Data("{}".utf8).write(to: layout.partitionState)
        let facts = HostFacts(cpuCount: 2, cpuFlags: [], kvmDeviceOpens: false)
        #expect(VMF(layout: layout, facts: facts).current == nil)
        #expect(!FileManager.default.fileExists(atPath: layout.vmfState.path))
        #expect(!FileManager.default.fileExists(atPath: layout.partitionState.path))
        var current = stale
        current.bootID = VMF.bootID
        try e.encode(current).write(to: layout.vmfState)
        #expect(VMF(layout: layout, facts: facts).current?.configPath == "/x/hv.config", "same boot: still loaded")
    }
}
