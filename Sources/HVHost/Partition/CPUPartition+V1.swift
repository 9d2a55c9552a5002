import Foundation
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// cgroup v1: a host cpuset without the RT cores receives every task of the
/// root cpuset; an RT cpuset holds the vCPU threads.
extension CPUPartition {
    func applyV1(_ state: inout State) -> [String] {
        let name = Self.groupName(for: stateFile)
        let host = cpusetRoot + "/" + name + "-host", rt = cpusetRoot + "/" + name + "-rt"
        let mems = read(cpusetRoot + "/cpuset.mems") ?? "0"
        do {
            for (dir, cores) in [(host, state.hostCores), (rt, state.rtCores)] {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                try write(dir + "/cpuset.mems", mems)
                try write(dir + "/cpuset.cpus", CPUList.format(Set(cores)))
            }
            let (moved, refused) = moveTasks(from: cpusetRoot + "/tasks", to: host + "/tasks")
            state.mode = .cpusetV1
            state.hostGroup = host
            state.rtGroup = rt
            guard refused > 0 else { return [] }
            return [
                "\(refused) task\(refused == 1 ? "" : "s") (kernel threads bound to a core) stayed where they were; \(moved) moved off core \(CPUList.format(Set(state.rtCores)))"
            ]
        } catch {
            try? FileManager.default.removeItem(atPath: host)
            try? FileManager.default.removeItem(atPath: rt)
            return ["could not set up cpusets under \(cpusetRoot) (\(error)): the RT cores are kept by thread affinity only"]
        }
    }

    func releaseV1(_ s: State) -> [String] {
        var notes: [String] = []
        for group in [s.rtGroup, s.hostGroup] where FileManager.default.fileExists(atPath: group) {
            // A task forked while its parent was being moved lands in the group again, and rmdir
            // answers EBUSY: move what is there once more, for up to a second.
            var error: Int32 = 0
            for attempt in 0..<50 {
                _ = moveTasks(from: group + "/tasks", to: cpusetRoot + "/tasks")
                if rmdir(group) == 0 || errno == ENOENT {
                    error = 0
                    break
                }
                error = errno
                guard error == EBUSY else { break }
                if attempt < 49 { usleep(20_000) }
            }
            if error != 0 { notes.append("could not remove \(group): \(String(cString: strerror(error)))") }
        }
        return notes
    }

    /// Moves every task; `refused` counts those still left behind at the end.
    func moveTasks(from: String, to: String) -> (moved: Int, refused: Int) {
        var moved = 0
        // Tasks that fork while we move them appear on the next pass.
        for _ in 0..<3 {
            let tids = (read(from) ?? "").split(separator: "\n")
            let before = moved
            for tid in tids where (try? write(to, String(tid))) != nil { moved += 1 }
            if moved == before { break }
        }
        return (moved, (read(from) ?? "").split(separator: "\n").count)
    }
}
