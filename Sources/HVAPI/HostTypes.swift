import Foundation

/// One PCI device: what `hv devices list` shows.
public struct PCIDevice: Sendable, Codable, Equatable {
    public var address: String
    public var vendorID: String
    public var deviceID: String
    public var classCode: UInt32
    public var vendorName: String?
    public var deviceName: String?
    public var className: String
    public var driver: String?
    public var iommuGroup: Int?
    /// The other devices of its IOMMU group (bridges left out).
    public var groupMembers: [String] = []
    /// Its network interfaces (a NIC).
    public var interfaces: [String] = []
    /// How the host uses it now.
    public var inUse: [String] = []
    /// Why it cannot be given to a guest (empty: it can).
    public var notAssignable: [String] = []
    /// The guest of hv's that holds it now (bound to vfio-pci for it).
    public var heldBy: String?
    /// How the kernel can reset it (reset_method: flr, pm, bus, ...); empty:
    /// it cannot, and goes back to the host as the guest left it.
    public var resetMethods: [String] = []

    public init(
        address: String, vendorID: String, deviceID: String, classCode: UInt32, vendorName: String?, deviceName: String?,
        className: String, driver: String?, iommuGroup: Int?
    ) {
        self.address = address
        self.vendorID = vendorID
        self.deviceID = deviceID
        self.classCode = classCode
        self.vendorName = vendorName
        self.deviceName = deviceName
        self.className = className
        self.driver = driver
        self.iommuGroup = iommuGroup
    }

    public var assignable: Bool { notAssignable.isEmpty }
    public var isBridge: Bool { classCode >> 16 == 0x06 }

    /// "0000:03:00.0": domain, bus, device, function.
    public static func isAddress(_ s: String) -> Bool {
        let parts = s.split(separator: ":")
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2 else { return false }
        let df = parts[2].split(separator: ".")
        return df.count == 2 && df[0].count == 2 && df[1].count == 1
            && s.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
    }

    public static func className(_ code: UInt32) -> String {
        switch code >> 16 {
        case 0x01: "storage controller"
        case 0x02: "network controller"
        case 0x03: "display controller"
        case 0x04: "multimedia controller"
        case 0x06: "bridge"
        case 0x07: "communication controller"
        case 0x08: "system peripheral"
        case 0x0c: code >> 8 & 0xff == 0x03 ? "USB controller" : code >> 8 & 0xff == 0x05 ? "SMBus" : "serial bus controller"
        case 0x11: "signal processing (data acquisition) controller"
        case 0xff: "unassigned class"
        default: String(format: "class %06x", code)
        }
    }
}
