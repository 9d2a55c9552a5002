import Foundation

/// What starts at boot: the VMF with a hypervisor configuration, then the
/// listed guests in order, each after the one before is ready (and after its
/// own delay). Kept in two files of config/: `usr_guest_autostart.config`
/// (the product's own: one guest folder a line, optionally a delay in
/// seconds) and `autostart.config` (whether autostart is on, and with which
/// hv.config). hvd writes both; `hv autostart run` reads them at boot.
public struct AutostartPlan: Sendable, Codable, Equatable {
    public struct Entry: Sendable, Codable, Equatable {
        public var folder: String
        /// Waited after the guest before it is ready, before this one starts.
        public var delaySeconds: Int
        public init(folder: String, delaySeconds: Int = 0) {
            self.folder = folder
            self.delaySeconds = delaySeconds
        }
    }
    public var enabled: Bool
    /// The hypervisor configuration loaded at boot (absolute path).
    public var hypervisorConfig: String
    public var guests: [Entry]
    /// Filled in by hvd when it answers: what is wrong with the plan now (a folder gone).
    public var problems: [String]?

    public init(enabled: Bool, hypervisorConfig: String, guests: [Entry]) {
        self.enabled = enabled
        self.hypervisorConfig = hypervisorConfig
        self.guests = guests
    }

    public static let maxGuests = 64
    public static let maxDelaySeconds = 3600
}

public enum AutostartFiles {
    public static func listFile(_ layout: HostLayout) -> URL { layout.configDir.appendingPathComponent("usr_guest_autostart.config") }
    public static func stateFile(_ layout: HostLayout) -> URL { layout.configDir.appendingPathComponent("autostart.config") }

    /// The plan on disk; off with no guests when the files are missing.
    public static func read(_ layout: HostLayout) throws -> AutostartPlan {
        let state = try RegistryFile.readIfPresent(stateFile(layout))
        let enabled = state?.value("Autostart", "Enabled").flatMap(ConfigSchema.parseBool) ?? false
        let config = state?.value("Autostart", "HypervisorConfig") ?? layout.hvConfig.path
        let guests = try readList(layout)
        return AutostartPlan(enabled: enabled, hypervisorConfig: config, guests: guests)
    }

    /// `usr_guest_autostart.config`: `FOLDER [DELAY]` a line, `#` comments;
    /// FOLDER is a guest folder's name or its path under guests/.
    public static func readList(_ layout: HostLayout) throws -> [AutostartPlan.Entry] {
        let url = listFile(layout)
        guard FileManager.default.fileExists(atPath: url.path) else { return [] }
        let data = try TrustedFile.readConfig(url)
        guard let text = String(data: data, encoding: .utf8) else {
            throw HVError(.invalidConfig, "\(url.path) is not UTF-8 text", hint: "save it as UTF-8")
        }
        return try parseList(text, file: url.path, layout: layout)
    }

    public static func parseList(_ text: String, file: String, layout: HostLayout) throws -> [AutostartPlan.Entry] {
        var entries: [AutostartPlan.Entry] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }).map(String.init)
            guard let first = words.first else { continue }
            let at = "\(file), line \(n + 1)"
            guard words.count <= 2 else {
                throw HVError(
                    .invalidConfig, "\(at): expected a guest folder and an optional delay in seconds, found \(words.count) words",
                    hint: "one guest a line, e.g. `guestrtlinux` or `guestubuntu 10`; a folder name with a space cannot be listed here (rename it)")
            }
            var delay = 0
            if words.count == 2 {
                guard let d = Int(words[1]), (0...AutostartPlan.maxDelaySeconds).contains(d) else {
                    throw HVError(.invalidConfig, "\(at): the delay \"\(words[1])\" is not a number of seconds from 0 to \(AutostartPlan.maxDelaySeconds)")
                }
                delay = d
            }
            entries.append(.init(folder: try folderName(first, at: at, layout: layout), delaySeconds: delay))
        }
        return entries
    }

    /// A guest folder's name from a name or a path inside guests/.
    static func folderName(_ word: String, at: String, layout: HostLayout) throws -> String {
        guard word.contains("/") else { return word }
        let url = URL(fileURLWithPath: word).standardizedFileURL
        guard url.deletingLastPathComponent().path == layout.guestsDir.standardizedFileURL.path else {
            throw HVError(
                .invalidConfig, "\(at): \(word) is not a folder in \(layout.guestsDir.path)",
                hint: "name the guest's folder, e.g. guestrtlinux")
        }
        return url.lastPathComponent
    }

    /// Checks a plan against the host: folders with a guest, no guest twice,
    /// delays in range, a hypervisor configuration that exists. Names the entry.
    public static func problems(_ plan: AutostartPlan, layout: HostLayout) -> [String] {
        var problems: [String] = []
        if plan.guests.count > AutostartPlan.maxGuests {
            problems.append("at most \(AutostartPlan.maxGuests) guests start at boot (\(plan.guests.count) listed)")
        }
        var seen = Set<String>()
        for (i, g) in plan.guests.enumerated() {
            let what = "guest \(i + 1) (\(g.folder))"
            if g.folder.isEmpty || g.folder.contains("/") || g.folder.hasPrefix(".") || g.folder.contains(where: { $0.isNewline || $0 == " " || $0 == "\t" }) {
                problems.append("\(what): not a guest folder's name")
                continue
            }
            if !seen.insert(g.folder).inserted { problems.append("\(what): listed twice") }
            if !(0...AutostartPlan.maxDelaySeconds).contains(g.delaySeconds) {
                problems.append("\(what): the delay must be 0 to \(AutostartPlan.maxDelaySeconds) seconds")
            }
            if !FileManager.default.fileExists(atPath: layout.guest(g.folder).guestConfig.path) {
                problems.append("\(what): \(layout.guest(g.folder).url.path) has no guest.config")
            }
        }
        if plan.enabled && !FileManager.default.fileExists(atPath: plan.hypervisorConfig) {
            problems.append("the hypervisor configuration \(plan.hypervisorConfig) does not exist")
        }
        return problems
    }

}
