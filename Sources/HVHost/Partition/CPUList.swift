import Foundation

/// Linux CPU lists: "0-3,8,10-11".
public enum CPUList {
    public static func parse(_ s: String) -> Set<Int>? {
        var out = Set<Int>()
        for part in s.split(separator: ",") {
            let r = part.split(separator: "-", omittingEmptySubsequences: false)
            guard r.count <= 2, let a = Int(r[0].trimmingCharacters(in: .whitespaces)) else { return nil }
            let b = r.count > 1 ? Int(r[1].trimmingCharacters(in: .whitespaces)) : a
            guard let b, b >= a, b - a < 4096 else { return nil }
            out.formUnion(a...b)
        }
        return out
    }

    /// The kernel's own notation, ranges folded: [0, 1, 2, 3, 8] → "0-3,8".
    public static func format(_ set: Set<Int>) -> String {
        var parts: [String] = []
        var run: (first: Int, last: Int)?
        func close() {
            guard let r = run else { return }
            parts.append(r.first == r.last ? "\(r.first)" : r.last == r.first + 1 ? "\(r.first),\(r.last)" : "\(r.first)-\(r.last)")
        }
        for c in set.sorted() {
            if let r = run, c == r.last + 1 {
                run = (r.first, c)
            } else {
                close()
                run = (c, c)
            }
        }
        close()
        return parts.joined(separator: ",")
    }
}
