import Foundation
import Testing

/// docs/ARCHITECTURE.md's table of modules says what each imports; the
/// truth is Package.swift (checked by the build: scripts/test.sh builds with
/// --explicit-target-dependency-import-check). The two must not drift apart.
struct ArchitectureDocTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL

    /// Package.swift's library targets and the targets each depends on (products such as ArgumentParser left out);
    /// with `executables`, the executable targets too.
    static func packageTargets(executables: Bool = false) throws -> [String: Set<String>] {
        let text = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let kind = executables ? "(?:target|executableTarget)" : "target"
        let target = try Regex(#"\."# + kind + #"\(\s*name:\s*"(\w+)"(?:,\s*dependencies:\s*\[([^\]]*)\])?"#)
        var out: [String: Set<String>] = [:]
        for m in text.matches(of: target) {
            guard let name = m.output[1].substring.map(String.init) else { continue }
            let deps = m.output[2].substring.map(String.init) ?? ""
            out[name] = Set(deps.matches(of: try Regex(#""(\w+)""#)).compactMap { $0.output[1].substring.map(String.init) })
        }
        let names = Set(out.keys)
        return out.mapValues { $0.intersection(names) }
    }

    /// The table's rows: module → the modules its last column names (words in parentheses are remarks).
    static func documented(among modules: Set<String>) throws -> [String: Set<String>] {
        let text = try String(contentsOf: root.appendingPathComponent("docs/ARCHITECTURE.md"), encoding: .utf8)
        var out: [String: Set<String>] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| `") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 4, let name = cells.dropFirst().first?.trimmingCharacters(in: CharacterSet(charactersIn: "`")),
                modules.contains(name), let imports = cells.dropLast().last
            else { continue }
            let plain = imports.replacing(try Regex(#"\([^)]*\)"#), with: "")
            out[name] = Set(plain.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init).filter(modules.contains))
        }
        return out
    }

    static let drawingStart = "<!-- The drawing below is made from Package.swift: HV_UPDATE_GOLDEN=1 swift test --filter ArchitectureDoc -->"
    static let drawingEnd = "<!-- end of the drawing made from Package.swift -->"

    /// The module drawing, made from Package.swift: a Mermaid flowchart (drawn
    /// where Markdown is rendered) and the same arrows as text, module by
    /// module from the top. An arrow that another path already implies is
    /// left out (the table lists every import).
    static func drawing(_ targets: [String: Set<String>]) -> String {
        var layer: [String: Int] = [:]
        func depth(_ m: String) -> Int {
            if let d = layer[m] { return d }
            let d = (targets[m] ?? []).map { depth($0) + 1 }.max() ?? 0
            layer[m] = d
            return d
        }
        func reaches(_ from: String, _ to: String) -> Bool {
            (targets[from] ?? []).contains { $0 == to || reaches($0, to) }
        }
        let order = targets.keys.sorted { (depth($0), $1) > (depth($1), $0) }
        func arrows(_ m: String) -> [String] {
            let deps = targets[m] ?? []
            return deps.filter { d in !deps.contains { $0 != d && reaches($0, d) } }.sorted { (depth($0), $1) > (depth($1), $0) }
        }
        var out = [drawingStart, "", "```mermaid", "flowchart TD"]
        for m in order { for d in arrows(m) { out.append("    \(m) --> \(d)") } }
        out += ["```", "", "```"]
        let width = (order.map(\.count).max() ?? 0) + 1
        for m in order {
            let to = arrows(m)
            out.append(m.padding(toLength: width, withPad: " ", startingAt: 0) + (to.isEmpty ? "(imports no module of hv)" : "→ " + to.joined(separator: ", ")))
        }
        return (out + ["```", "", drawingEnd]).joined(separator: "\n")
    }

    /// The drawing in docs/ARCHITECTURE.md is the one Package.swift makes (HV_UPDATE_GOLDEN=1 writes it).
    @Test func theModuleDrawingIsMadeFromPackageSwift() throws {
        let doc = Self.root.appendingPathComponent("docs/ARCHITECTURE.md")
        let text = try String(contentsOf: doc, encoding: .utf8)
        let made = Self.drawing(try Self.packageTargets(executables: true))
        let start = try #require(text.range(of: Self.drawingStart), "ARCHITECTURE.md has no drawing block")
        let end = try #require(text.range(of: Self.drawingEnd, range: start.upperBound..<text.endIndex), "the drawing block has no end")
        let now = String(text[start.lowerBound..<end.upperBound])
        if ProcessInfo.processInfo.environment["HV_UPDATE_GOLDEN"] == "1" && now != made {
            let updated = text.replacingCharacters(in: start.lowerBound..<end.upperBound, with: made)
            try Data(updated.utf8).write(to: doc, options: .atomic)
            return
        }
        #expect(now == made, "the drawing in ARCHITECTURE.md is not Package.swift's; made now:\n\(made)")
        #expect(made.contains("HVCommands --> HVSetup") && !made.contains("HVCommands --> HVEngine"))
    }

    /// HVCore is the model: it parses, validates and renders, and writes no
    /// file (the writes are hvd's, and HVHost's `Files/` for what every room needs).
    @Test func theModelWritesNoFile() throws {
        let dir = Self.root.appendingPathComponent("Sources/HVCore")
        let writes = [
            "AtomicFile.write", "createDirectory(", "removeItem(", "moveItem(", "copyItem(", ".write(to:", "createFile(",
            "rename(", "unlink(", "mkdir(", "O_CREAT", "O_WRONLY", "O_RDWR",
        ]
        var found: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() where name.hasSuffix(".swift") {
            let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") {
                for w in writes where line.contains(w) { found.append("\(name):\(n + 1): \(w)") }
            }
        }
        #expect(found.isEmpty, "HVCore writes: \(found)")
    }

    @Test func theModuleTableSaysWhatPackageSwiftDeclares() throws {
        let targets = try Self.packageTargets()
        #expect(targets.count >= 10 && targets["HVCommands"] != nil, "Package.swift was read: \(targets.keys.sorted())")
        #expect(targets["HVCommands"]?.contains("HVEngine") == false, "the CLI is a client of hvd's API, not of its engine")
        let rows = try Self.documented(among: Set(targets.keys))
        for (name, deps) in targets.sorted(by: { $0.key < $1.key }) {
            #expect(rows[name] == deps, "\(name): ARCHITECTURE.md says \(rows[name]?.sorted() ?? []), Package.swift \(deps.sorted())")
        }
    }
}
