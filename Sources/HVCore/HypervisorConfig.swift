import Foundation

/// `config/hv.config`: which guests exist, their ids and folders, and the
/// real-time partition of the host's CPUs.
public struct HypervisorConfig: Sendable, Equatable, Codable {
    public struct Guest: Sendable, Equatable, Codable {
        public var id: Int
        public var folder: String
        public var name: String
        public var os: GuestOS
        public var kind: GuestKind { os.kind }
        /// RTOS guests: the reserved cores ("auto": the last free core).
        public var rtCores: String
        /// KVM guests: part of the communication subsystem (RTOS guests always are).
        public var communication: Bool = false
        /// The address on the VMF network ("": from the subnet and the Id).
        public var address: String = ""
    }

    public var project: String
    public var remainingHostMemoryMiB: Int
    public var guests: [Guest]
    /// The virtual network, shared memory and events.
    public var communication: CommunicationConfig
    /// Extra sections written by document() (regions and events of a project).
    public var regions: [CommunicationConfig.Region] = []
    public var events: [CommunicationConfig.Event] = []

    static let sectionPrefix = "Guests\\"

    public static let schema = ConfigSchema(
        sections: [
            .init(
                "Hypervisor",
                [
                    .init("Project", .text, help: "the System Manager project this configuration came from"),
                    .init("Version", .integer(1...1), help: "format version"),
                ]),
            .init(
                "Hypervisor\\Host",
                [
                    .init("RemainingHostMemoryMiB", .integer(0...1_048_576), default: .value("2048"), help: "memory kept for the host itself")
                ]),
            .init(
                sectionPrefix,
                [
                    .init("Id", .integer(1...9999), required: true, help: "the guest's id, unique on this host"),
                    .init("Name", .text, required: true, help: "the guest's name"),
                    .init("Os", .choice(GuestOS.allCases.map(\.rawValue)), required: true, help: "the guest operating system"),
                    .init("Kind", .choice(GuestKind.allCases.map(\.rawValue)), default: .described("from Os"), help: "rtos or kvm; must match Os"),
                    .init(
                        "RtCores", .coreList, default: .value("auto"),
                        help:
                            "RTOS guests: reserved CPU cores, at least one per vCPU; auto: one physical core per vCPU from the highest down (SMT siblings go along, idle; core 0 stays with the host)"
                    ),
                    .init(
                        "Communication", .boolean, default: .value("no"), field: .init("communication", "Communication subsystem", only: .kvm),
                        help: "KVM guests: join the communication subsystem (virtual network, shared memory, events); RTOS guests always do"),
                    .init(
                        "Address", .text, default: .described("the subnet's address number Id"), field: .init("address", "VMF address"),
                        help: "the guest's IPv4 address on the VMF network"),
                ]),
        ] + CommunicationConfig.schemaSections)

    /// RemainingHostMemoryMiB's declared default.
    public static var defaultRemainingHostMemoryMiB: Int {
        schema.defaultText("Hypervisor\\Host", "RemainingHostMemoryMiB").flatMap { Int($0) } ?? 0
    }

    public init(
        project: String, remainingHostMemoryMiB: Int = HypervisorConfig.defaultRemainingHostMemoryMiB, guests: [Guest],
        regions: [CommunicationConfig.Region] = [], events: [CommunicationConfig.Event] = []
    ) {
        self.project = project
        self.remainingHostMemoryMiB = remainingHostMemoryMiB
        self.guests = guests
        self.regions = regions
        self.events = events
        // The network's declared defaults: the default subnet, its last address for the host, the default mode.
        let (subnet, prefix) = IPv4.parseCIDR(CommunicationConfig.defaultSubnet) ?? (IPv4(value: 0), 24)
        let net = CommunicationConfig.Network(
            subnet: subnet, prefix: prefix, hostAddress: subnet.last(prefix),
            mode: Self.schema.defaultText(CommunicationConfig.networkSection, "Mode") ?? "",
            bridgeInterface: Self.schema.defaultText(CommunicationConfig.networkSection, "BridgeInterface") ?? "")
        communication = CommunicationConfig(network: net, members: [], regions: regions, events: events)
        // The same rules as a file: parse the document this value writes.
        if let parsed = try? HypervisorConfig(document()) { communication = parsed.communication }
    }

    public static func load(_ url: URL) throws -> HypervisorConfig {
        guard let doc = try RegistryFile.readIfPresent(url) else {
            throw HVError(
                .notFound, "the hypervisor configuration \(url.path) does not exist",
                hint: "create it with hv_open_example NAME and hv_sync_example NAME, or the System Manager")
        }
        return try HypervisorConfig(doc)
    }

    public init(_ doc: RegistryDocument) throws {
        do { try Self.schema.validate(doc) } catch let e as ConfigError { throw e.asHVError }
        let v = LayeredValues(layers: [doc])
        project = v.get("Hypervisor", "Project")?.value ?? ""
        remainingHostMemoryMiB = v.int("Hypervisor\\Host", "RemainingHostMemoryMiB") ?? Self.defaultRemainingHostMemoryMiB
        var guests: [Guest] = []
        for section in doc.sections where section.lowercased().hasPrefix(Self.sectionPrefix.lowercased()) {
            let folder = String(section.dropFirst(Self.sectionPrefix.count))
            let line = doc.entries(in: section).first?.line ?? 0
            let fail = { (msg: String, expected: String) in
                ConfigError(file: doc.fileName, line: line, message: msg, expected: expected).asHVError
            }
            guard Self.isValidFolderName(folder) else {
                throw fail(
                    "bad guest folder name \"\(folder)\" in [\(section)]",
                    "letters, digits, - and _ only, such as [Guests\\guest0001]")
            }
            for key in Self.schema.sections[2].keys where key.required && doc.value(section, key.name) == nil {
                throw fail("\"\(key.name)\" is missing from [\(section)]", "\"\(key.name)\"=\"…\"")
            }
            let osValue = doc.value(section, "Os") ?? ""
            guard let os = GuestOS(rawValue: osValue.lowercased()) else { throw fail("bad Os", "a known Os") }
            if let kind = doc.entry(section, "Kind"), kind.value.lowercased() != os.kind.rawValue {
                throw ConfigError(
                    file: doc.fileName, line: kind.line,
                    message: "\"Kind\"=\"\(kind.value)\" does not match \"Os\"=\"\(os.rawValue)\"",
                    expected: "\"\(os.kind.rawValue)\""
                ).asHVError
            }
            let id = Int(doc.value(section, "Id") ?? "") ?? 0
            if let other = guests.first(where: { $0.id == id }) {
                throw fail("guest id \(id) of \(folder) is already used by \(other.folder)", "a unique \"Id\"")
            }
            guests.append(
                Guest(
                    id: id, folder: folder, name: doc.value(section, "Name") ?? folder,
                    os: os, rtCores: Self.schema.value(doc, section, "RtCores") ?? "",
                    communication: doc.value(section, "Communication").flatMap(ConfigSchema.parseBool) ?? false,
                    address: doc.value(section, "Address") ?? ""))
        }
        self.guests = guests.sorted { $0.id < $1.id }
        communication = try CommunicationConfig.parse(
            doc, guests: self.guests.map { (folder: $0.folder, id: $0.id, kind: $0.kind, section: Self.sectionPrefix + $0.folder) },
            hostMemoryMiB: Self.hostMemoryMiB(), reserveMiB: remainingHostMemoryMiB)
        regions = communication.regions
        events = communication.events
    }

    /// MemTotal, for the check that shared memory fits beside the host's reserve.
    static func hostMemoryMiB() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
            let kib = line.split(separator: " ").compactMap({ Int($0) }).first
        else { return nil }
        return kib / 1024
    }

    public func document() -> RegistryDocument {
        var doc = RegistryDocument(fileName: "hv.config")
        doc.addComment(
            "The hypervisor configuration: read and written by the System Manager (hv_sync_example).\nEditing it by hand is not recommended; a guest's own settings live in its folder."
        )
        doc.set("Hypervisor", "Project", project)
        doc.set("Hypervisor", "Version", "1")
        doc.set("Hypervisor\\Host", "RemainingHostMemoryMiB", String(remainingHostMemoryMiB))
        for g in guests {
            let s = Self.sectionPrefix + g.folder
            doc.set(s, "Id", String(g.id))
            doc.set(s, "Name", g.name)
            doc.set(s, "Os", g.os.rawValue)
            doc.set(s, "Kind", g.kind.rawValue)
            if g.kind == .rtos { doc.set(s, "RtCores", g.rtCores) }
            if g.kind == .kvm { doc.set(s, "Communication", g.communication ? "yes" : "no") }
            if !g.address.isEmpty { doc.set(s, "Address", g.address) }
        }
        if guests.contains(where: { $0.kind == .rtos || $0.communication }) {
            doc.set(CommunicationConfig.networkSection, "Subnet", CommunicationConfig.defaultSubnet)
            doc.set(CommunicationConfig.networkSection, "Mode", "switch")
        }
        for r in regions {
            doc.set(CommunicationConfig.regionPrefix + r.name, "SizeKiB", String(r.sizeKiB))
            doc.set(CommunicationConfig.regionPrefix + r.name, "Guests", r.guests.joined(separator: ","))
        }
        for e in events { doc.set(CommunicationConfig.eventPrefix + e.name, "Guests", e.guests.joined(separator: ",")) }
        return doc
    }

    public func guest(folder: String) -> Guest? { guests.first { $0.folder == folder } }

    public static func isValidFolderName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 64 && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    /// The cores each RTOS guest reserves on a host with `hostCPUs` CPUs. As in
    /// the product we model, the first RTOS guest takes the last core, the next
    /// the one below. At least one core always stays with the host; where none
    /// can be reserved the guest gets no core of its own and `notes` says so.
    /// The cores each RTOS guest reserves: its `RtCores`, or with "auto" one
    /// physical core per vCPU (`vcpus`, its Cores; 1 when not given) from the
    /// top. Physical cores go whole (`topology`'s SMT siblings never split
    /// between a guest and the host); core 0's stays with the host. In each
    /// list the vCPUs' cores come first (vCPU i on the i-th), idle siblings after.
    public func reservedCores(
        hostCPUs: Int, vcpus: [String: Int] = [:], topology: CoreTopology? = nil
    ) throws
        -> (cores: [String: [Int]], notes: [String])
    {
        let topology = topology ?? .flat(hostCPUs)
        let hostCore = Set(topology.siblings(of: 0))
        var taken = Set<Int>()
        var result: [String: [Int]] = [:]
        var notes: [String] = []
        let rtos = guests.filter { $0.kind == .rtos }
        for g in rtos {
            guard case .cores(let list)? = CoreSpec(g.rtCores) else { continue }
            var reserved = list
            for c in list {
                guard c < hostCPUs else {
                    throw HVError(
                        .invalidConfig, "guest \(g.folder) reserves core \(c), but this host has cores 0–\(hostCPUs - 1)",
                        hint: "set \"RtCores\" of [Guests\\\(g.folder)] to \"auto\" or a core below \(hostCPUs)")
                }
                guard c != 0 || hostCPUs == 1 else {
                    throw HVError(
                        .invalidConfig, "guest \(g.folder) reserves core 0, which stays with the host",
                        hint: "reserve a higher core, or \"auto\"")
                }
                guard !hostCore.contains(c) || hostCPUs == 1 else {
                    throw HVError(
                        .invalidConfig,
                        "guest \(g.folder) reserves CPU \(c), a sibling of CPU 0 on the same physical core (SMT: \(topology.description)); that core stays with the host",
                        hint: "reserve CPUs of another physical core, or \"auto\"")
                }
                // The rest of the physical core goes along, idle.
                for s in topology.siblings(of: c) where !reserved.contains(s) { reserved.append(s) }
            }
            let want = vcpus[g.folder] ?? 1
            guard want <= list.count else {
                throw HVError(
                    .invalidConfig,
                    "guest \(g.folder) has \(want) vCPUs (Cores=\(want)) but \"RtCores\"=\"\(g.rtCores)\" gives it \(list.count) core\(list.count == 1 ? "" : "s"): each vCPU needs a reserved core of its own",
                    hint: "list \(want) cores in RtCores, set it to \"auto\", or lower Cores")
            }
            for c in reserved {
                guard taken.insert(c).inserted else {
                    throw HVError(
                        .invalidConfig, "core \(c) is reserved by two guests (\(g.folder) and another)",
                        hint: "give each RTOS guest its own cores" + (topology.hasSMT ? " (SMT siblings count: \(topology.description))" : ""))
                }
            }
            result[g.folder] = reserved
        }
        for g in rtos where CoreSpec(g.rtCores) == .auto {
            let want = max(1, vcpus[g.folder] ?? 1)
            // Whole physical cores from the top, none of them the host's or taken.
            let free = topology.groups.reversed().filter { group in group.allSatisfy { !taken.contains($0) && !hostCore.contains($0) } }
            guard free.count >= want else {
                if want == 1 {
                    result[g.folder] = []
                    notes.append(
                        "no core left to reserve for \(g.folder) (the host has \(hostCPUs) CPU\(hostCPUs == 1 ? "" : "s")): it shares the host's cores")
                    continue
                }
                let left = free.flatMap { $0 }.sorted()
                throw HVError(
                    .invalidConfig,
                    "guest \(g.folder) wants \(want) reserved cores (Cores=\(want)), and the host can give \(free.count) more\(left.isEmpty ? "" : " (\(left.map(String.init).joined(separator: ",")))") of its \(hostCPUs) CPUs: core 0\(hostCore.count > 1 ? " and its siblings" : "") stay\(hostCore.count > 1 ? "" : "s") with the host\(taken.isEmpty ? "" : ", \(taken.sorted().map(String.init).joined(separator: ",")) are taken")",
                    hint: "lower Cores of \(g.folder) (usr.config) to \(max(1, free.count)), or free cores from other RTOS guests; nothing was changed")
            }
            let chosen = Array(free.prefix(want))
            let reserved = chosen.compactMap(\.first) + chosen.flatMap { $0.dropFirst() }
            reserved.forEach { taken.insert($0) }
            result[g.folder] = reserved
        }
        return (result, notes)
    }
}
