import Foundation
import Testing

@testable import HVEngine

/// How long hv waits for a starting QEMU: as long as it is using CPU (pinning
/// an assigned device's memory can take minutes), not past the hard limit,
/// and 15 s at most once it uses none.
@Suite struct StartupProgressTests {
    @Test func ticksAreReadAfterANameWithSpacesAndParentheses() {
        let line = "4242 (CPU 0/TCG) (x) R 1 2 3 4 5 6 7 8 9 10 1500 250 0 0 20 0 1 0 100 0 0"
        #expect(StartupProgress.ticks(statLine: line) == 1750)
        #expect(StartupProgress.ticks(statLine: "4242 (qemu) R 1 2") == nil)
        #expect(StartupProgress.ticks(statLine: "no parenthesis") == nil)
        #expect(StartupProgress.ticks(statLine: "1 (q) R 1 2 3 4 5 6 7 8 9 10 x 250") == nil)
    }

    @Test func aBusyStartIsWaitedForUntilTheHardLimit() {
        let t0 = Date(timeIntervalSince1970: 1000)
        var p = StartupProgress(pid: 1, now: t0)
        var ticks: UInt64 = 10
        for second in stride(from: 1.0, through: StartupProgress.hardLimit, by: 5) {
            ticks += 100
            #expect(p.check(now: t0.addingTimeInterval(second), ticks: ticks) == .waiting, "at \(second) s")
        }
        #expect(p.check(now: t0.addingTimeInterval(StartupProgress.hardLimit + 1), ticks: ticks + 1) == .tooLong)
    }

    @Test func aStartThatUsesNoCPUIsStuckAfterTheIdleLimit() {
        let t0 = Date(timeIntervalSince1970: 1000)
        var p = StartupProgress(pid: 1, now: t0)
        #expect(p.check(now: t0.addingTimeInterval(1), ticks: 50) == .waiting)
        #expect(p.check(now: t0.addingTimeInterval(30), ticks: 80) == .waiting, "it moved since the last look")
        #expect(p.check(now: t0.addingTimeInterval(40), ticks: 80) == .waiting)
        #expect(p.check(now: t0.addingTimeInterval(30 + StartupProgress.idleLimit + 1), ticks: 80) == .idle)
        // A process whose stat cannot be read (gone, or not ours) counts as making no progress.
        var gone = StartupProgress(pid: 1, now: t0)
        #expect(gone.check(now: t0.addingTimeInterval(StartupProgress.idleLimit + 1), ticks: nil) == .idle)
    }

    @Test func procIsReadAtMostTwiceASecond() {
        let t0 = Date(timeIntervalSince1970: 1000)
        // A pid that cannot exist: every real look reads nothing, so only looks move the verdict.
        var p = StartupProgress(pid: Int32.max, now: t0)
        #expect(p.sample(now: t0.addingTimeInterval(StartupProgress.idleLimit - 0.2)) == .waiting)
        // Past the idle limit, but within the sample interval of the last look: that verdict stands.
        #expect(p.sample(now: t0.addingTimeInterval(StartupProgress.idleLimit + 0.1)) == .waiting)
        #expect(p.sample(now: t0.addingTimeInterval(StartupProgress.idleLimit + 0.4)) == .idle)
    }

    @Test func aSpinningProcessGainsTicksAndASleepingOneDoesNot() throws {
        let spin = Process()
        spin.executableURL = URL(fileURLWithPath: "/bin/sh")
        spin.arguments = ["-c", "while :; do :; done"]
        let nap = Process()
        nap.executableURL = URL(fileURLWithPath: "/bin/sleep")
        nap.arguments = ["30"]
        try spin.run()
        try nap.run()
        defer {
            for p in [spin, nap] {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
            }
        }
        let spin0 = try #require(StartupProgress.cpuTicks(spin.processIdentifier))
        let nap0 = try #require(StartupProgress.cpuTicks(nap.processIdentifier))
        var spun = spin0
        for _ in 0..<40 where spun == spin0 {
            usleep(100_000)
            spun = StartupProgress.cpuTicks(spin.processIdentifier) ?? spin0
        }
        #expect(spun > spin0)
        #expect(StartupProgress.cpuTicks(nap.processIdentifier) == nap0)
    }
}
