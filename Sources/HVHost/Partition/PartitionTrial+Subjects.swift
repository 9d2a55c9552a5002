import CHVSys
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What the partition trial places and observes: a busy host process and a
/// thread standing in for a vCPU.
extension PartitionTrial {
    /// A spinning shell, started by this process as any host program would be.
    final class BusyChild {
        let process = Process()
        var pid: pid_t { process.processIdentifier }

        init() throws {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "while :; do :; done"]
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        func stop() {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// A thread that works 1 ms and sleeps 1 ms until stopped, like a vCPU
    /// with a guest that is half idle: it shows where the kernel runs it
    /// without starving anything on the RT core while it is SCHED_FIFO.
    final class StandInThread: @unchecked Sendable {
        private let cond = NSCondition()
        private var id: pid_t = 0
        private var stopping = false
        private var finished = false

        init() {
            let thread = Thread { [self] in
                cond.lock()
                id = hv_gettid()
                cond.broadcast()
                cond.unlock()
                while true {
                    cond.lock()
                    let stop = stopping
                    cond.unlock()
                    if stop { break }
                    let until = Date().addingTimeInterval(0.001)
                    while Date() < until {}
                    usleep(1_000)
                }
                cond.lock()
                finished = true
                cond.broadcast()
                cond.unlock()
            }
            thread.start()
        }

        /// Its kernel thread id, once it runs (nil if it did not start within 2 s).
        var tid: pid_t? {
            cond.lock()
            defer { cond.unlock() }
            let deadline = Date().addingTimeInterval(2)
            while id == 0 && cond.wait(until: deadline) {}
            return id == 0 ? nil : id
        }

        func stop() {
            cond.lock()
            defer { cond.unlock() }
            stopping = true
            let deadline = Date().addingTimeInterval(2)
            while !finished && cond.wait(until: deadline) {}
        }
    }
}
