import Foundation

/// Time the machine's own hypervisor kept each core from running (the
/// "steal" column of /proc/stat). On a host that is itself a virtual machine
/// this is latency no placement can remove, so measurements report it.
public enum CPUSteal {
    /// Milliseconds stolen so far, per core.
    public static func sample(stat: String = "/proc/stat") -> [Int: Int] {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var out: [Int: Int] = [:]
        for line in SysFS().text(stat)?.split(separator: "\n") ?? [] where line.hasPrefix("cpu") {
            let f = line.split(separator: " ")
            guard f.count > 8, let core = Int(f[0].dropFirst(3)), let steal = Double(f[8]) else { continue }
            out[core] = Int(steal * 1000 / max(ticks, 1))
        }
        return out
    }

    /// What was stolen between two samples, per core.
    public static func delta(_ a: [Int: Int], _ b: [Int: Int]) -> [Int: Int] {
        b.reduce(into: [:]) { out, e in out[e.key] = e.value - (a[e.key] ?? 0) }
    }
}
