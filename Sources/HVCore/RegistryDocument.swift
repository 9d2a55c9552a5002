import Foundation

/// A `.config` file in the registry style of the original product:
///
///     ; a comment
///     [Guest\Cpu]
///         "Cores"="1"
///
/// The document keeps every line (comments, blank lines, order, indentation)
/// so that a program that changes one value rewrites only that line.
public struct RegistryDocument: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var section: String
        public var key: String
        public var value: String
        /// 1-based line in the file it was read from (0 for entries added since).
        public var line: Int
    }

    enum Line: Sendable, Equatable {
        case verbatim(String)  // blank or comment
        case section(String, raw: String)
        case entry(Entry, indent: String, trailer: String)
    }

    var lines: [Line] = []
    /// The file name used in error messages.
    public var fileName: String

    public init(fileName: String) { self.fileName = fileName }

    public init(parsing text: String, fileName: String) throws {
        self.fileName = fileName
        var current: String?
        var seenSections = Set<String>()
        var seenKeys = Set<String>()
        var rawLines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if text.hasSuffix("\n") { rawLines.removeLast() }
        for (index, raw) in rawLines.enumerated() {
            let lineNo = index + 1
            var line = String(raw)
            if line.hasSuffix("\r") { line.removeLast() }
            let trimmed = line.trimmingSpaces()
            if trimmed.isEmpty || trimmed.hasPrefix(";") || trimmed.hasPrefix("#") {
                lines.append(.verbatim(line))
                continue
            }
            if trimmed.hasPrefix("[") {
                guard trimmed.hasSuffix("]"), trimmed.count > 2 else {
                    throw ConfigError(
                        file: fileName, line: lineNo,
                        message: "broken section header \(trimmed.quoted)",
                        expected: "[Section] or [Section\\Sub] on a line of its own")
                }
                let name = String(trimmed.dropFirst().dropLast()).trimmingSpaces()
                guard !name.isEmpty, !name.contains("["), !name.contains("]") else {
                    throw ConfigError(
                        file: fileName, line: lineNo, message: "broken section header \(trimmed.quoted)",
                        expected: "a section name such as [Guest\\Cpu]")
                }
                guard seenSections.insert(name.lowercased()).inserted else {
                    throw ConfigError(
                        file: fileName, line: lineNo, message: "section [\(name)] appears twice",
                        expected: "each section once; merge the two")
                }
                current = name
                lines.append(.section(name, raw: line))
                continue
            }
            guard let section = current else {
                throw ConfigError(
                    file: fileName, line: lineNo, message: "\(trimmed.quoted) stands before any section",
                    expected: "a [Section] header first")
            }
            let indent = String(line.prefix { $0 == " " || $0 == "\t" })
            var scanner = Scanner(Substring(trimmed))
            guard let key = scanner.quoted() else {
                throw ConfigError(
                    file: fileName, line: lineNo, message: "cannot read \(trimmed.quoted)",
                    expected: "\"Key\"=\"Value\" (both in double quotes), a [Section] or a ; comment")
            }
            scanner.skipSpaces()
            guard scanner.take("=") else {
                throw ConfigError(
                    file: fileName, line: lineNo, message: "missing = after \"\(key)\"",
                    expected: "\"\(key)\"=\"Value\"")
            }
            scanner.skipSpaces()
            guard let value = scanner.quoted() else {
                throw ConfigError(
                    file: fileName, line: lineNo, message: "the value of \"\(key)\" is not a quoted string",
                    expected: "\"\(key)\"=\"Value\" with the value in double quotes")
            }
            let trailer = String(scanner.rest)
            let rest = trailer.trimmingSpaces()
            guard rest.isEmpty || rest.hasPrefix(";") || rest.hasPrefix("#") else {
                throw ConfigError(
                    file: fileName, line: lineNo, message: "unexpected \(rest.quoted) after the value of \"\(key)\"",
                    expected: "nothing, or a ; comment")
            }
            guard !key.isEmpty else {
                throw ConfigError(file: fileName, line: lineNo, message: "empty key", expected: "\"Key\"=\"Value\"")
            }
            guard seenKeys.insert(section.lowercased() + "\u{0}" + key.lowercased()).inserted else {
                throw ConfigError(
                    file: fileName, line: lineNo, message: "\"\(key)\" is set twice in [\(section)]",
                    expected: "each key once per section")
            }
            lines.append(
                .entry(
                    Entry(section: section, key: key, value: value, line: lineNo),
                    indent: indent, trailer: trailer))
        }
    }

    public var entries: [Entry] {
        lines.compactMap { if case .entry(let e, _, _) = $0 { e } else { nil } }
    }

    public var sections: [String] {
        lines.compactMap { if case .section(let s, _) = $0 { s } else { nil } }
    }

    public func entry(_ section: String, _ key: String) -> Entry? {
        // Straight over the lines: no array of all entries per lookup.
        for line in lines {
            if case .entry(let e, _, _) = line, e.key.caseInsensitiveEquals(key), e.section.caseInsensitiveEquals(section) { return e }
        }
        return nil
    }

    public func value(_ section: String, _ key: String) -> String? { entry(section, key)?.value }

    public func entries(in section: String) -> [Entry] {
        entries.filter { $0.section.caseInsensitiveEquals(section) }
    }

    /// Sets a value, rewriting its line in place, or adds it at the end of its
    /// section (creating the section at the end of the file).
    public mutating func set(_ section: String, _ key: String, _ value: String) {
        if let i = lines.firstIndex(where: {
            if case .entry(let e, _, _) = $0 { e.section.caseInsensitiveEquals(section) && e.key.caseInsensitiveEquals(key) } else { false }
        }), case .entry(var e, let indent, let trailer) = lines[i] {
            e.value = value
            lines[i] = .entry(e, indent: indent, trailer: trailer)
            return
        }
        let newEntry = Line.entry(Entry(section: section, key: key, value: value, line: 0), indent: "    ", trailer: "")
        guard let start = lines.firstIndex(where: { if case .section(let s, _) = $0 { s.caseInsensitiveEquals(section) } else { false } }) else {
            lines.append(.section(section, raw: "[\(section)]"))
            lines.append(newEntry)
            return
        }
        // After the section's last entry (comments that follow it belong to the next section).
        var insertAt = start + 1
        var i = start + 1
        while i < lines.count {
            if case .section = lines[i] { break }
            if case .entry = lines[i] { insertAt = i + 1 }
            i += 1
        }
        lines.insert(newEntry, at: insertAt)
    }

    /// Removes a key; true when it was there.
    @discardableResult
    public mutating func remove(_ section: String, _ key: String) -> Bool {
        let before = lines.count
        lines.removeAll {
            if case .entry(let e, _, _) = $0 { e.section.caseInsensitiveEquals(section) && e.key.caseInsensitiveEquals(key) } else { false }
        }
        return lines.count != before
    }

    /// Removes a section header and its entries (comments between stay); true when it was there.
    @discardableResult
    public mutating func removeSection(_ section: String) -> Bool {
        let before = lines.count
        lines.removeAll {
            switch $0 {
            case .section(let s, _): s.caseInsensitiveEquals(section)
            case .entry(let e, _, _): e.section.caseInsensitiveEquals(section)
            default: false
            }
        }
        return lines.count != before
    }

    public mutating func addComment(_ text: String) {
        lines.append(.verbatim(text.split(separator: "\n", omittingEmptySubsequences: false).map { "; \($0)" }.joined(separator: "\n")))
    }

    public mutating func addBlankLine() { lines.append(.verbatim("")) }

    public func render() -> String {
        var out = ""
        for line in lines {
            switch line {
            case .verbatim(let s): out += s
            case .section(_, let raw): out += raw
            case .entry(let e, let indent, let trailer):
                out += "\(indent)\"\(e.key.registryEscaped)\"=\"\(e.value.registryEscaped)\"\(trailer)"
            }
            out += "\n"
        }
        return out
    }
}

/// A problem in a `.config` file, with the file and line it is on.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public var expected: String

    public var description: String {
        let place = line > 0 ? "\(file):\(line)" : file
        return "\(place): \(message) (expected \(expected))"
    }

    public var asHVError: HVError {
        HVError(.invalidConfig, description, hint: "fix that line of \(file), then try again")
    }
}

/// A tiny cursor over one line.
struct Scanner {
    var rest: Substring
    init(_ s: Substring) { rest = s }

    mutating func skipSpaces() { rest = rest.drop { $0 == " " || $0 == "\t" } }

    mutating func take(_ c: Character) -> Bool {
        guard rest.first == c else { return false }
        rest = rest.dropFirst()
        return true
    }

    /// A double-quoted string with \" and \\ escapes.
    mutating func quoted() -> String? {
        var s = rest
        guard s.first == "\"" else { return nil }
        s = s.dropFirst()
        var out = ""
        while let c = s.first {
            s = s.dropFirst()
            switch c {
            case "\"":
                rest = s
                return out
            case "\\":
                guard let next = s.first, next == "\"" || next == "\\" else { return nil }
                out.append(next)
                s = s.dropFirst()
            default:
                out.append(c)
            }
        }
        return nil
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }

    var quoted: String { "\"\(self)\"" }

    var registryEscaped: String {
        replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }

    func caseInsensitiveEquals(_ other: String) -> Bool {
        self == other || (utf8.count == other.utf8.count && lowercased() == other.lowercased())
    }
}
