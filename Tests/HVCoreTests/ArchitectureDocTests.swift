import Foundation
import Testing

/// docs/ARCHITECTURE.md's table of modules says what each imports; the
/// truth is Package.swift (checked by the build: scripts/test.sh builds with
/// --explicit-target-dependency-import-check). The two must not drift apart.
struct ArchitectureDocTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL

    /// Package.swift's library targets and the targets each depends on (products such as ArgumentParser left out).
    static func packageTargets() throws -> [String: Set<String>] {
        let text = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let target = try Regex(#"\.target\(\s*name:\s*"(\w+)"(?:,\s*dependencies:\s*\[([^\]]*)\])?"#)
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
                  modules.contains(name), let imports = cells.dropLast().last else { continue }
            let plain = imports.replacing(try Regex(#"\([^)]*\)"#), with: "")
            out[name] = Set(plain.split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init).filter(modules.contains))
        }
        return out
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
