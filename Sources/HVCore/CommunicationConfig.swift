import Foundation

/// The communication subsystem in `hv.config`: the VMF's virtual network,
/// named shared-memory regions and named events, validated with file and line.
public struct CommunicationConfig: Sendable, Equatable, Codable {
    /// The events one table holds (HVEvents' `EventTable.capacity`).
    public static let maxEvents = 64
    public struct Network: Sendable, Equatable, Codable {
        public var subnet: IPv4
        public var prefix: Int
        /// The host's address when it joins (`hv net attach`).
        public var hostAddress: IPv4
        /// "switch": frames stay between the guests and the host's seat on
        /// hv's bridge; "bridge": `bridgeInterface` joins that bridge too.
        public var mode: String
        public var bridgeInterface: String
        public var cidr: String { "\(subnet)/\(prefix)" }
    }

    public struct Member: Sendable, Equatable, Codable {
        public var folder: String
        public var address: IPv4
    }

    public struct Region: Sendable, Equatable, Codable {
        public var name: String
        public var sizeKiB: Int
        public var guests: [String]
        public var bytes: Int { sizeKiB * 1024 }
    }

    public struct Event: Sendable, Equatable, Codable {
        public var name: String
        public var guests: [String]
        public init(name: String, guests: [String]) {
            self.name = name
            self.guests = guests
        }
    }

    public var network: Network
    /// Guests on the virtual network (every RTOS guest; KVM guests with "Communication"="yes").
    public var members: [Member]
    public var regions: [Region]
    public var events: [Event]

    public func member(_ folder: String) -> Member? { members.first { $0.folder == folder } }
    public func regions(of folder: String) -> [Region] { regions.filter { $0.guests.contains(folder) } }
    public func events(of folder: String) -> [Event] { events.filter { $0.guests.contains(folder) } }

    /// Events that list exactly the same guests share one table, one doorbell
    /// server and one doorbell device in each of those guests: a guest maps
    /// the tables of its own sets and no other, so it can neither count,
    /// signal nor wait on an event it is not listed for, nor ring a guest it
    /// shares no event with. Numbered from 1 in the order of their first event.
    public struct EventSet: Sendable, Equatable, Codable {
        public var number: Int
        /// The guests, sorted (the set's identity; the host is always in it).
        public var guests: [String]
        /// The events in slot order (their order in hv.config).
        public var events: [Event]
        public var names: [String] { events.map(\.name) }
    }

    public var eventSets: [EventSet] {
        var sets: [EventSet] = []
        for e in events {
            let key = Array(Set(e.guests)).sorted()
            if let i = sets.firstIndex(where: { $0.guests == key }) {
                sets[i].events.append(e)
            } else {
                sets.append(EventSet(number: sets.count + 1, guests: key, events: [e]))
            }
        }
        return sets
    }

    /// The sets a guest is in, in order: its doorbell devices, one each.
    public func eventSets(of folder: String) -> [EventSet] { eventSets.filter { $0.guests.contains(folder) } }

    /// A guest's doorbell devices sit at PCI slots 0x0f, 0x0e, … (an RTOS
    /// guest's assigned devices count up from 0x02): at most this many sets each.
    public static let maxEventSetsPerGuest = 4

    public static let networkSection = "Hypervisor\\Network"
    public static let regionPrefix = "SharedMemory\\"
    public static let eventPrefix = "Event\\"
    public static let defaultSubnet = "10.77.0.0/24"

    public static let schemaSections: [ConfigSchema.Section] = [
        .init(
            networkSection,
            [
                .init(
                    "Subnet", .text, default: .value(defaultSubnet),
                    help: "the VMF's virtual network, such as \"10.77.0.0/24\"; it is never routed off the host"),
                .init(
                    "HostAddress", .text, default: .described("the last address of the subnet"),
                    help: "the host's address on it when joined with `hv net attach`"),
                .init(
                    "Mode", .choice(["switch", "bridge"]), default: .value("switch"),
                    help: "switch: the guests and the host's seat only; bridge: BridgeInterface joins them"),
                .init(
                    "BridgeInterface", .text, default: .value(""),
                    help: "bridge mode: a host interface without an address of the host's, joined to the VMF network (the host no longer uses it)"),
            ]),
        .init(
            regionPrefix,
            [
                .init("SizeKiB", .integer(4...1_048_576), required: true, help: "the region's size in KiB, a power of two"),
                .init("Guests", .text, required: true, help: "comma-separated guest folders that map the region"),
            ]),
        .init(
            eventPrefix,
            [
                .init(
                    "Guests", .text, required: true,
                    help:
                        "comma-separated guest folders that may wait for and signal the event (the host always may); events listing the same guests share a table, and a guest is in at most 4 such sets"
                )
            ]),
    ]

    /// Parses and validates; `guests` are the configuration's guests (folder, id, kind) and
    /// `addresses`/`communication` their per-guest keys.
    static func parse(
        _ doc: RegistryDocument, guests: [(folder: String, id: Int, kind: GuestKind, section: String)],
        hostMemoryMiB: Int?, reserveMiB: Int
    ) throws -> CommunicationConfig {
        func fail(_ line: Int, _ message: String, _ expected: String) -> HVError {
            ConfigError(file: doc.fileName, line: line, message: message, expected: expected).asHVError
        }
        let subnetEntry = doc.entry(networkSection, "Subnet")
        guard let (subnet, prefix) = IPv4.parseCIDR(subnetEntry?.value ?? defaultSubnet), (8...30).contains(prefix) else {
            throw fail(subnetEntry?.line ?? 0, "\"Subnet\"=\"\(subnetEntry?.value ?? "")\" is not an IPv4 network", "such as \"10.77.0.0/24\" (prefix 8 to 30)")
        }
        guard subnet.masked(prefix) == subnet else {
            throw fail(subnetEntry?.line ?? 0, "\"Subnet\"=\"\(subnet)/\(prefix)\" has host bits set", "\"\(subnet.masked(prefix))/\(prefix)\"")
        }
        let hostEntry = doc.entry(networkSection, "HostAddress")
        let host: IPv4
        if let hostEntry {
            guard let a = IPv4(hostEntry.value), a.isHost(in: subnet, prefix) else {
                throw fail(
                    hostEntry.line, "\"HostAddress\"=\"\(hostEntry.value)\" is not a host address of \(subnet)/\(prefix)", "an address inside the subnet")
            }
            host = a
        } else {
            host = subnet.last(prefix)
        }
        let mode = HypervisorConfig.schema.value(doc, networkSection, "Mode")?.lowercased() ?? ""
        let bridge = HypervisorConfig.schema.value(doc, networkSection, "BridgeInterface") ?? ""
        if mode == "bridge" && bridge.isEmpty {
            throw fail(
                doc.entry(networkSection, "Mode")?.line ?? 0, "\"Mode\"=\"bridge\" names no \"BridgeInterface\"",
                "\"BridgeInterface\"=\"eth1\" (a host interface)")
        }
        let network = Network(subnet: subnet, prefix: prefix, hostAddress: host, mode: mode, bridgeInterface: bridge)

        var members: [Member] = []
        var used: [IPv4: String] = [host: "the host (HostAddress)"]
        for g in guests {
            let comm = doc.entry(g.section, "Communication").flatMap { ConfigSchema.parseBool($0.value) }
            guard g.kind == .rtos || comm == true else { continue }
            let entry = doc.entry(g.section, "Address")
            let address: IPv4
            if let entry {
                guard let a = IPv4(entry.value), a.isHost(in: subnet, prefix) else {
                    throw fail(
                        entry.line, "\"Address\"=\"\(entry.value)\" of \(g.folder) is not a host address of \(subnet)/\(prefix)", "an address inside the subnet"
                    )
                }
                address = a
            } else {
                address = subnet.adding(g.id)
                guard address.isHost(in: subnet, prefix) else {
                    throw fail(
                        doc.entry(g.section, "Id")?.line ?? 0, "guest \(g.folder) (Id \(g.id)) gets no address in \(subnet)/\(prefix)",
                        "an \"Address\" for it, or a larger subnet")
                }
            }
            if let other = used[address] {
                throw fail(
                    entry?.line ?? doc.entry(g.section, "Id")?.line ?? 0, "address \(address) of \(g.folder) is already used by \(other)",
                    "one address per guest")
            }
            used[address] = g.folder
            members.append(Member(folder: g.folder, address: address))
        }

        let folders = guests.map(\.folder)
        func guestList(_ section: String) throws -> [String] {
            let entry = doc.entry(section, "Guests")
            let list = (entry?.value ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            for name in list where !folders.contains(name) {
                var expected = "guest folders of this configuration: " + folders.joined(separator: ", ")
                if let guess = ConfigSchema.closest(name, among: folders) { expected = "\"\(guess)\"? " + expected }
                throw fail(entry?.line ?? 0, "[\(section)] names an unknown guest \"\(name)\"", expected)
            }
            return list
        }
        var regions: [Region] = []
        for section in doc.sections where section.lowercased().hasPrefix(regionPrefix.lowercased()) {
            let name = String(section.dropFirst(regionPrefix.count))
            guard Self.isValidName(name) else {
                throw fail(doc.entries(in: section).first?.line ?? 0, "bad region name \"\(name)\"", "letters, digits, - and _ only")
            }
            let sizeEntry = doc.entry(section, "SizeKiB")
            let size = Int(sizeEntry?.value ?? "") ?? 0
            guard size > 0, size & (size - 1) == 0 else {
                throw fail(sizeEntry?.line ?? 0, "\"SizeKiB\"=\"\(sizeEntry?.value ?? "")\" of region \(name) is not a power of two", "4, 8, 16, …, 1048576")
            }
            regions.append(Region(name: name, sizeKiB: size, guests: try guestList(section)))
        }
        if let total = hostMemoryMiB {
            let sum = regions.reduce(0) { $0 + $1.sizeKiB } / 1024
            if sum > max(0, total - reserveMiB) {
                let line = doc.entry(regions.last.map { regionPrefix + $0.name } ?? "", "SizeKiB")?.line ?? 0
                throw fail(
                    line,
                    "the shared-memory regions need \(sum) MiB, more than the \(max(0, total - reserveMiB)) MiB the host can give beyond its reserve (\(reserveMiB) MiB of \(total) MiB)",
                    "smaller regions")
            }
        }
        var events: [Event] = []
        for section in doc.sections where section.lowercased().hasPrefix(eventPrefix.lowercased()) {
            let name = String(section.dropFirst(eventPrefix.count))
            guard Self.isValidName(name), name.utf8.count <= 31 else {
                throw fail(doc.entries(in: section).first?.line ?? 0, "bad event name \"\(name)\"", "up to 31 letters, digits, - and _")
            }
            events.append(Event(name: name, guests: try guestList(section)))
        }
        guard events.count <= CommunicationConfig.maxEvents else {
            throw fail(0, "\(events.count) events are declared", "at most \(CommunicationConfig.maxEvents)")
        }
        let config = CommunicationConfig(network: network, members: members, regions: regions, events: events)
        for folder in folders {
            let sets = config.eventSets(of: folder)
            guard sets.count <= maxEventSetsPerGuest else {
                let last = sets[maxEventSetsPerGuest].events[0].name
                throw fail(
                    doc.entry(eventPrefix + last, "Guests")?.line ?? 0,
                    "guest \(folder) is in \(sets.count) different sets of events (events listing the same guests form one set, a doorbell device each)",
                    "at most \(maxEventSetsPerGuest) per guest: give events that go together the same \"Guests\"")
            }
        }
        return config
    }

    static func isValidName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 64 && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }
    }

    /// Guests whose part of the subsystem differs between two configurations
    /// (they see the change only after a restart).
    public func guestsAffected(comparedTo old: CommunicationConfig) -> [String] {
        var folders = Set(members.map(\.folder) + old.members.map(\.folder))
        folders.formUnion(regions.flatMap(\.guests) + old.regions.flatMap(\.guests))
        folders.formUnion(events.flatMap(\.guests) + old.events.flatMap(\.guests))
        return folders.filter { f in
            member(f) != old.member(f) || regions(of: f) != old.regions(of: f) || events(of: f) != old.events(of: f)
                || (member(f) != nil && network != old.network)
        }.sorted()
    }
}

/// An IPv4 address as a 32-bit number.
public struct IPv4: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
    public var value: UInt32
    public init(value: UInt32) { self.value = value }

    public init?(_ text: String) {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard let b = UInt8(p), String(b) == p else { return nil }
            v = v << 8 | UInt32(b)
        }
        value = v
    }

    public static func parseCIDR(_ text: String) -> (IPv4, Int)? {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let a = IPv4(String(parts[0])), let p = Int(parts[1]), (0...32).contains(p) else { return nil }
        return (a, p)
    }

    public var description: String { (0..<4).map { String(value >> (24 - 8 * $0) & 0xff) }.joined(separator: ".") }
    static func mask(_ prefix: Int) -> UInt32 { prefix == 0 ? 0 : ~UInt32(0) << (32 - prefix) }
    public func masked(_ prefix: Int) -> IPv4 { IPv4(value: value & Self.mask(prefix)) }
    public func adding(_ n: Int) -> IPv4 { IPv4(value: value &+ UInt32(truncatingIfNeeded: n)) }
    /// The last host address (below the broadcast address).
    public func last(_ prefix: Int) -> IPv4 { IPv4(value: (value | ~Self.mask(prefix)) - 1) }
    /// Inside the subnet, and neither its network nor its broadcast address.
    public func isHost(in subnet: IPv4, _ prefix: Int) -> Bool {
        masked(prefix) == subnet && value != subnet.value && value != (subnet.value | ~Self.mask(prefix))
    }
    public static func < (a: IPv4, b: IPv4) -> Bool { a.value < b.value }
}

extension HVError {
    /// An event session asked of a VMF whose configuration has no event (hvd's and hv's own).
    public static var noEventDeclared: HVError {
        HVError(.notFound, "the loaded configuration declares no event", hint: "declare one in hv.config: [Event\\NAME] with \"Guests\"")
    }
}
