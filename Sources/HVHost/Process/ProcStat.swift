/// /proc/PID/stat and /proc/PID/task/TID/stat: the fields after the name,
/// which may hold spaces and parentheses (QEMU's "CPU 0/TCG"), so the split
/// starts after the last ")". fields[0] is field 3 of proc(5), the state.
public enum ProcStat {
    public static func fields(_ line: String) -> [Substring]? {
        guard let close = line.lastIndex(of: ")") else { return nil }
        return line[line.index(after: close)...].split(separator: " ")
    }

    public static func fields(path: String, sys: SysFS = SysFS()) -> [Substring]? {
        sys.text(path).flatMap(fields)
    }
}
