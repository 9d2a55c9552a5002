import Foundation

/// `[Guest\Devices]`: host devices a guest gets for itself. PCI devices
/// (a fieldbus NIC, a CAN or I/O board) go through VFIO; USB devices (KVM
/// guests) through QEMU's usb-host. Only the spelling is checked here; what
/// the host has and whether it can be given is decided at the start.
public enum DeviceConfig {
    /// A PCI address in sysfs spelling, `0000:03:00.0` (domain, bus, device,
    /// function); `03:00.0` gets the domain 0000. Lower-case hex.
    public static func pciAddress(_ text: String) -> String? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        let full = t.split(separator: ":").count == 2 ? "0000:" + t : t
        let parts = full.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2,
            parts.allSatisfy({ !$0.isEmpty })
        else { return nil }
        let df = parts[2].split(separator: ".", omittingEmptySubsequences: false)
        guard df.count == 2, df[0].count == 2, df[1].count == 1,
            let dev = Int(df[0], radix: 16), dev < 32, let fn = Int(df[1], radix: 16), fn < 8,
            [parts[0], parts[1]].allSatisfy({ $0.allSatisfy(\.isHexDigit) })
        else { return nil }
        return full
    }

    public static let pciExpected = "PCI addresses as `hv devices list` shows them, comma-separated: \"0000:03:00.0\" or \"03:00.0,03:00.1\""

    /// Parses `"Pci"`: addresses, each once.
    public static func parsePCI(_ text: String) -> Result<[String], PortForward.ParseError> {
        var out: [String] = []
        for raw in text.split(separator: ",") where !raw.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let a = pciAddress(String(raw)) else {
                return .failure(.init(message: "\"\(raw.trimmingCharacters(in: .whitespaces))\" is not a PCI address"))
            }
            guard !out.contains(a) else { return .failure(.init(message: "\(a) is listed twice")) }
            out.append(a)
        }
        return .success(out)
    }

    public static let usbExpected =
        "USB devices, comma-separated: vendor:product in hex (\"046d:c52b\") or a port as sysfs names it, bus-port[.port…] (\"1-2\", \"3-1.4\")"

    /// Parses `"Usb"`: each a vendor:product pair or a port, each once.
    public static func parseUSB(_ text: String) -> Result<[USBDeviceSpec], PortForward.ParseError> {
        var out: [USBDeviceSpec] = []
        for raw in text.split(separator: ",") {
            let t = raw.trimmingCharacters(in: .whitespaces)
            guard !t.isEmpty else { continue }
            guard let spec = USBDeviceSpec(t) else { return .failure(.init(message: "\"\(t)\" is neither vendor:product nor a USB port")) }
            guard !out.contains(spec) else { return .failure(.init(message: "\(t) is listed twice")) }
            out.append(spec)
        }
        return .success(out)
    }
}

/// One USB device a KVM guest gets: by its ids (whichever port it is on) or
/// by the port (whatever is plugged in there).
public enum USBDeviceSpec: Sendable, Equatable, Codable, CustomStringConvertible {
    /// Four hex digits each, lower-case.
    case ids(vendor: String, product: String)
    /// sysfs's name of the port: "1-2", "3-1.4" (bus, then the ports from the root hub).
    case port(bus: Int, path: String)

    public init?(_ text: String) {
        let t = text.lowercased()
        let colon = t.split(separator: ":", omittingEmptySubsequences: false)
        if colon.count == 2 {
            guard colon.allSatisfy({ $0.count == 4 && $0.allSatisfy(\.isHexDigit) }) else { return nil }
            self = .ids(vendor: String(colon[0]), product: String(colon[1]))
            return
        }
        let dash = t.split(separator: "-", omittingEmptySubsequences: false)
        guard dash.count == 2, let bus = Int(dash[0]), (1...255).contains(bus), !dash[1].isEmpty else { return nil }
        let ports = dash[1].split(separator: ".", omittingEmptySubsequences: false)
        guard ports.count <= 7, ports.allSatisfy({ p in Int(p).map { (1...255).contains($0) } ?? false }) else { return nil }
        self = .port(bus: bus, path: String(dash[1]))
    }

    public var description: String {
        switch self {
        case .ids(let v, let p): "\(v):\(p)"
        case .port(let bus, let path): "\(bus)-\(path)"
        }
    }
}

extension GuestConfig {
    /// `"Pci"` and `"Usb"` of [Guest\Devices], each error with its file and line.
    static func devices(_ v: LayeredValues, kind: GuestKind, baseFile: String) throws -> ([String], [USBDeviceSpec]) {
        let pciEntry = v.get("Guest\\Devices", "Pci"), usbEntry = v.get("Guest\\Devices", "Usb")
        func fail(_ e: LayeredValues.Found?, _ message: String, _ expected: String) -> HVError {
            ConfigError(file: e?.file ?? baseFile, line: e?.line ?? 0, message: message, expected: expected).asHVError
        }
        let pci: [String]
        switch DeviceConfig.parsePCI(pciEntry?.value ?? "") {
        case .success(let list): pci = list
        case .failure(let e): throw fail(pciEntry, "\"Pci\": " + e.message, DeviceConfig.pciExpected)
        }
        let usb: [USBDeviceSpec]
        switch DeviceConfig.parseUSB(usbEntry?.value ?? "") {
        case .success(let list): usb = list
        case .failure(let e): throw fail(usbEntry, "\"Usb\": " + e.message, DeviceConfig.usbExpected)
        }
        // An RTOS guest's bus: devices from slot 0x02 up, its doorbells from 0x0f down.
        let rtosSlots = 0x0f - 0x02 + 1 - CommunicationConfig.maxEventSetsPerGuest
        if kind == .rtos && pci.count > rtosSlots {
            throw fail(
                pciEntry, "\"Pci\" names \(pci.count) devices; an RTOS guest's bus has room for \(rtosSlots) beside its doorbells",
                "at most \(rtosSlots) PCI devices for an RTOS guest")
        }
        if !usb.isEmpty && kind != .kvm {
            throw fail(
                usbEntry, "\"Usb\" is for KVM guests: an RTOS guest has no USB controller",
                "no \"Usb\" here; give the RTOS guest the USB controller itself through \"Pci\"")
        }
        return (pci, usb)
    }
}
