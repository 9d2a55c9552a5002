import Foundation

/// What a `.config` file may contain: its sections, their keys and the values
/// each key takes. The same schema validates files, the CLI and the API.
public struct ConfigSchema: Sendable {
    public enum ValueKind: Sendable, Equatable {
        case text
        case integer(ClosedRange<Int>)
        case choice([String])
        case boolean
        /// "auto" or a comma-separated list of CPU indices such as "1" or "2,3".
        case coreList

        var expectation: String {
            switch self {
            case .text: "any text"
            case .integer(let r): "a whole number from \(r.lowerBound) to \(r.upperBound)"
            case .choice(let c): "one of " + c.map { "\"\($0)\"" }.joined(separator: ", ")
            case .boolean: "\"yes\" or \"no\""
            case .coreList: "\"auto\" or CPU numbers such as \"1\" or \"2,3\""
            }
        }
    }

    /// The value a key has when no file sets it.
    public enum DefaultValue: Sendable, Equatable {
        /// None: required, or free text that is empty unless set.
        case none
        case value(String)
        /// RTOS and KVM guests differ.
        case byKind(rtos: String, kvm: String)
        /// Computed by hv (e.g. "the Os"); said in words, read by the caller.
        case described(String)

        /// The default for a guest of `kind` (nil: none, or described only).
        public func text(for kind: GuestKind?) -> String? {
            switch self {
            case .none, .described: nil
            case .value(let v): v
            case .byKind(let rtos, let kvm): kind == .kvm ? kvm : rtos
            }
        }

        /// For the reference: `"1024"`, `"50" (RTOS), "0" (KVM)`, or the words.
        var documented: String {
            switch self {
            case .none: ""
            case .value(let v): "`\(v.isEmpty ? "\"\"" : v)`"
            case .byKind(let rtos, let kvm): "`\(rtos)` (RTOS), `\(kvm)` (KVM)"
            case .described(let d): d
            }
        }
    }

    /// A key, declared once: where it is, what it takes, its default, its
    /// help, and (when the System Manager's edit form shows it) its field.
    public struct Key: Sendable {
        public let name: String
        public let kind: ValueKind
        public let required: Bool
        public let help: String
        /// Names people write for this key by habit (suggested, never accepted).
        public let aliases: [String]
        public let defaultValue: DefaultValue
        /// The edit form's field and label (nil: not in the form).
        public let field: Field?
        public struct Field: Sendable {
            public let name: String, label: String
            /// nil: every guest; else only guests of this kind.
            public let only: GuestKind?
            public init(_ name: String, _ label: String, only: GuestKind? = nil) {
                self.name = name
                self.label = label
                self.only = only
            }
        }
        public init(
            _ name: String, _ kind: ValueKind, required: Bool = false, aliases: [String] = [],
            default defaultValue: DefaultValue = .none, field: Field? = nil, help: String
        ) {
            self.name = name
            self.kind = kind
            self.required = required
            self.aliases = aliases
            self.help = help
            self.defaultValue = defaultValue
            self.field = field
        }
    }

    public struct Section: Sendable {
        /// The name; one that ends in a backslash matches any sub-section below it.
        public let name: String
        public let keys: [Key]
        public init(_ name: String, _ keys: [Key]) {
            self.name = name
            self.keys = keys
        }

        func matches(_ section: String) -> Bool {
            name.hasSuffix("\\")
                ? section.lowercased().hasPrefix(name.lowercased()) && section.count > name.count
                : section.caseInsensitiveEquals(name)
        }
    }

    public let sections: [Section]
    public init(sections: [Section]) { self.sections = sections }

    /// Checks every section, key and value; the first problem is thrown.
    public func validate(_ doc: RegistryDocument) throws {
        for name in doc.sections where section(for: name) == nil {
            let line =
                doc.lines.firstIndex { if case .section(let s, _) = $0 { s == name } else { false } }
                .flatMap { idx in doc.lines[..<idx].count + 1 } ?? 0
            let known = sections.map { $0.name.hasSuffix("\\") ? "[\($0.name)<name>]" : "[\($0.name)]" }
            var expected = "one of " + known.joined(separator: ", ")
            if let guess = Self.closest(name, among: sections.map(\.name)) { expected = "[\(guess)]; " + expected }
            throw ConfigError(file: doc.fileName, line: line, message: "unknown section [\(name)]", expected: expected)
        }
        for entry in doc.entries {
            guard let spec = section(for: entry.section) else { continue }
            guard let key = spec.keys.first(where: { $0.name.caseInsensitiveEquals(entry.key) }) else {
                let names = spec.keys.map(\.name)
                var expected = "a key of [\(entry.section)]: " + names.map { "\"\($0)\"" }.joined(separator: ", ")
                let byAlias = spec.keys.first { $0.aliases.contains { $0.caseInsensitiveEquals(entry.key) } }?.name
                if let guess = byAlias ?? Self.closest(entry.key, among: names) { expected = "did you mean \"\(guess)\"? " + expected }
                throw ConfigError(
                    file: doc.fileName, line: entry.line,
                    message: "unknown key \"\(entry.key)\" in [\(entry.section)]", expected: expected)
            }
            try Self.check(
                entry.value, as: key.kind, key: key.name, section: entry.section,
                file: doc.fileName, line: entry.line)
        }
    }

    public func section(for name: String) -> Section? { sections.first { $0.matches(name) } }

    /// What a file says for a key, else the key's declared default (for a
    /// guest of `kind` where defaults differ): a default is written only here.
    public func value(_ doc: RegistryDocument, _ section: String, _ key: String, kind: GuestKind? = nil) -> String? {
        doc.value(section, key) ?? defaultText(section, key, kind: kind)
    }

    /// A key's declared default (nil: none, or one hv computes).
    public func defaultText(_ section: String, _ key: String, kind: GuestKind? = nil) -> String? {
        self.key(section, key)?.defaultValue.text(for: kind)
    }

    /// The declaration of `key` in `section` (nil: not declared).
    public func key(_ section: String, _ key: String) -> Key? {
        self.section(for: section)?.keys.first { $0.name.caseInsensitiveEquals(key) }
    }

    /// The keys the edit form shows, with their sections and fields, in declaration order.
    public var formKeys: [(section: String, key: Key, field: Key.Field)] {
        sections.flatMap { s in s.keys.compactMap { k in k.field.map { (s.name, k, $0) } } }
    }

    public static func check(
        _ value: String, as kind: ValueKind, key: String, section: String,
        file: String, line: Int
    ) throws {
        let bad = {
            ConfigError(
                file: file, line: line,
                message: "bad value \"\(value)\" for \"\(key)\" in [\(section)]",
                expected: kind.expectation)
        }
        // A line break or NUL in a value would write a file that no longer parses.
        if value.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" || $0.value == 0x7F }) {
            throw ConfigError(
                file: file, line: line, message: "the value for \"\(key)\" in [\(section)] contains a control character (a line break, NUL, …)",
                expected: "text on one line")
        }
        switch kind {
        case .text: return
        case .integer(let range):
            guard let n = Int(value), range.contains(n) else { throw bad() }
        case .choice(let options):
            guard options.contains(where: { $0.caseInsensitiveEquals(value) }) else { throw bad() }
        case .boolean:
            guard parseBool(value) != nil else { throw bad() }
        case .coreList:
            guard CoreSpec(value) != nil else { throw bad() }
        }
    }

    public static func parseBool(_ s: String) -> Bool? {
        switch s.lowercased() {
        case "yes", "true", "1", "on": true
        case "no", "false", "0", "off": false
        default: nil
        }
    }

    /// The known name nearest to a misspelt one, if it is near enough to suggest.
    static func closest(_ word: String, among names: [String]) -> String? {
        let w = word.lowercased()
        let scored = names.map { ($0, editDistance(w, $0.lowercased().trimmingCharacters(in: ["\\"]))) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(2, w.count / 3) else { return nil }
        return best.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var prev = Array(0...b.count)
        for i in 1...a.count {
            var cur = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            prev = cur
        }
        return prev[b.count]
    }
}

/// "auto" or an explicit set of CPU indices.
public enum CoreSpec: Sendable, Equatable, CustomStringConvertible {
    case auto
    case cores([Int])

    public init?(_ text: String) {
        let t = text.trimmingSpaces()
        if t.caseInsensitiveEquals("auto") {
            self = .auto
            return
        }
        let parts = t.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingSpaces() }
        var cores: [Int] = []
        for p in parts {
            guard let n = Int(p), (0..<1024).contains(n), !cores.contains(n) else { return nil }
            cores.append(n)
        }
        guard !cores.isEmpty else { return nil }
        self = .cores(cores)
    }

    public var description: String {
        switch self {
        case .auto: "auto"
        case .cores(let c): c.map(String.init).joined(separator: ",")
        }
    }
}
