/// The example System Manager projects of the seed, as values.
public struct Example: Sendable, Equatable {
    public struct Guest: Sendable, Equatable {
        public var folder: String
        public var os: GuestOS
        public var vcpus: Int
        public var memoryMiB: Int
        /// KVM guests: disk image and ISO, relative to HV_ROOT.
        public var diskImage: String = ""
        public var diskSizeGiB: Int = 64
        public var installISO: String = ""
        /// KVM guests: part of the communication subsystem.
        public var communication: Bool = false
        public init(
            folder: String, os: GuestOS, vcpus: Int, memoryMiB: Int, diskImage: String = "",
            diskSizeGiB: Int = 64, installISO: String = "", communication: Bool = false
        ) {
            self.folder = folder
            self.os = os
            self.vcpus = vcpus
            self.memoryMiB = memoryMiB
            self.diskImage = diskImage
            self.diskSizeGiB = diskSizeGiB
            self.installISO = installISO
            self.communication = communication
        }
    }

    public var name: String
    public var summary: String
    public var guests: [Guest]
    public var regions: [CommunicationConfig.Region] = []
    public var events: [CommunicationConfig.Event] = []

    /// The hypervisor configuration this example's project holds.
    public var hypervisorConfig: HypervisorConfig {
        HypervisorConfig(
            project: name,
            guests: guests.enumerated().map { i, g in
                .init(id: i + 1, folder: g.folder, name: g.os.displayName, os: g.os, rtCores: "auto", communication: g.communication)
            }, regions: regions, events: events)
    }
}

public enum ExampleCatalogue {
    static let rtLinux = Example.Guest(folder: "guestrtlinux", os: .rtLinux, vcpus: 1, memoryMiB: 256)

    public static let all: [Example] = [
        Example(name: "rt-linux", summary: "RT-Linux guest in guests/guestrtlinux", guests: [rtLinux]),
        Example(
            name: "rtos-32", summary: "On Time RTOS-32 in guests/guestrtos32",
            guests: [.init(folder: "guestrtos32", os: .rtos32, vcpus: 1, memoryMiB: 64)]),
        Example(
            name: "vxworks", summary: "VxWorks in guests/guestvxworks",
            guests: [.init(folder: "guestvxworks", os: .vxworks, vcpus: 1, memoryMiB: 256)]),
        Example(
            name: "windows_rtlinux", summary: "Windows in guests/guestwindows and RT-Linux in guests/guestrtlinux",
            guests: [
                rtLinux,
                .init(
                    folder: "guestwindows", os: .windows, vcpus: 2, memoryMiB: 4096,
                    diskImage: "VMs/example_win/windows.qcow2", diskSizeGiB: 64,
                    installISO: "iso/windows.iso", communication: true),
            ],
            regions: [.init(name: "shm", sizeKiB: 1024, guests: ["guestrtlinux", "guestwindows"])],
            events: [.init(name: "ev", guests: ["guestrtlinux", "guestwindows"])]),
        Example(
            name: "ubuntu_rtlinux", summary: "Ubuntu in guests/guestubuntu and RT-Linux in guests/guestrtlinux",
            guests: [
                rtLinux,
                .init(
                    folder: "guestubuntu", os: .ubuntu, vcpus: 2, memoryMiB: 4096,
                    diskImage: "VMs/example_ubuntu/ubuntu.qcow2", diskSizeGiB: 32,
                    installISO: "iso/ubuntu.iso", communication: true),
            ],
            regions: [.init(name: "shm", sizeKiB: 1024, guests: ["guestrtlinux", "guestubuntu"])],
            events: [.init(name: "ev", guests: ["guestrtlinux", "guestubuntu"])]),
    ]

    public static var names: [String] { all.map(\.name) }

    public static func named(_ name: String) throws -> Example {
        if let e = all.first(where: { $0.name == name.lowercased() }) { return e }
        var hint = "the examples are: " + names.joined(separator: ", ")
        if let guess = ConfigSchema.closest(name, among: names) { hint = "did you mean \(guess)? " + hint }
        throw HVError(.notFound, "there is no example named \"\(name)\"", hint: hint)
    }
}
