import Foundation
import HVCore

/// A new guest from the System Manager's form: the five types of the product
/// we model, each field checked by the same schema that checks `.config`
/// files (errors name their field), then written like a synced project: the
/// guest folder and its `[Guests\…]` entry in hv.config.
public struct NewGuestRequest: Sendable, Codable, Equatable {
    public enum GuestType: String, Sendable, Codable, CaseIterable {
        case rtLinux = "rt-linux", vxworks, rtos32 = "rtos-32"
        case generalWithComm = "general+comm", general
    }
    public var type: GuestType
    public var name: String
    /// For general-purpose guests: "ubuntu" or "windows".
    public var os: String?
    public var folder: String?
    public var cores: Int?
    public var memoryMiB: Int?
    /// RTOS guests: the folder under templates/.
    public var image: String?
    public var diskImage: String?
    public var diskSizeGiB: Int?
    public var iso: String?

    public init(
        type: GuestType, name: String, os: String? = nil, folder: String? = nil, cores: Int? = nil, memoryMiB: Int? = nil,
        image: String? = nil, diskImage: String? = nil, diskSizeGiB: Int? = nil, iso: String? = nil
    ) {
        self.type = type
        self.name = name
        self.os = os
        self.folder = folder
        self.cores = cores
        self.memoryMiB = memoryMiB
        self.image = image
        self.diskImage = diskImage
        self.diskSizeGiB = diskSizeGiB
        self.iso = iso
    }
}

public struct NewGuestResult: Sendable, Codable, Equatable {
    public var folder: String
    public var id: Int
    public var message: String
    public init(folder: String, id: Int, message: String) {
        self.folder = folder
        self.id = id
        self.message = message
    }
}

/// An existing guest's settings as the System Manager's edit form shows and
/// changes them. In a request every field is optional: only the fields sent
/// change. `folder`, `kind`, `os` and `overridden` are answers only.
public struct GuestSettings: Sendable, Codable, Equatable {
    public var folder: String?
    public var kind: String?
    public var os: String?
    public var name: String?
    public var cores: Int?
    public var memoryMiB: Int?
    /// RTOS guests.
    public var rtPriority: Int?
    public var image: String?
    /// KVM guests.
    public var diskImage: String?
    public var diskSizeGiB: Int?
    public var iso: String?
    public var isoAttach: String?
    public var networkMode: String?
    /// Mode bridge: the host bridge or free interface.
    public var bridge: String?
    /// Mode user: host ports forwarded in ("tcp:8080:80,...").
    public var hostForward: String?
    /// Host PCI devices the guest gets (VFIO): "0000:03:00.0,...".
    public var pciDevices: String?
    /// KVM guests: a second card on the VMF network (RTOS guests always have one).
    public var communication: Bool?
    /// The address on the VMF network; "" = the default (subnet + Id).
    public var address: String?
    /// Fields that usr.config sets: the user's overrides win, so the form leaves them alone.
    public var overridden: [String]?

    public init(
        name: String? = nil, cores: Int? = nil, memoryMiB: Int? = nil, rtPriority: Int? = nil, image: String? = nil,
        diskImage: String? = nil, diskSizeGiB: Int? = nil, iso: String? = nil, isoAttach: String? = nil,
        networkMode: String? = nil, communication: Bool? = nil, address: String? = nil
    ) {
        self.name = name
        self.cores = cores
        self.memoryMiB = memoryMiB
        self.rtPriority = rtPriority
        self.image = image
        self.diskImage = diskImage
        self.diskSizeGiB = diskSizeGiB
        self.iso = iso
        self.isoAttach = isoAttach
        self.networkMode = networkMode
        self.communication = communication
        self.address = address
    }
}

public struct GuestEditResult: Sendable, Codable, Equatable {
    public var folder: String
    /// One line per changed value, "Memory: 256 → 512 MiB (guest.config)".
    public var changes: [String]
    /// When the changes take effect, and what stays as it was (an existing disk, say).
    public var notes: [String]
    public var message: String
    public init(folder: String, changes: [String], notes: [String], message: String) {
        self.folder = folder
        self.changes = changes
        self.notes = notes
        self.message = message
    }
}
