import Foundation
import HVCore
import HVHost

/// Gets the uncompressed ELF `vmlinux` out of a bzImage. Under TCG the
/// in-guest decompressor costs ~3 s; QEMU loads the ELF directly through its
/// PVH entry note instead. Debian's payload is xz: it starts at the xz magic.
public enum KernelExtractor {
    static let xzMagic: [UInt8] = [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]

    public static func payloadOffset(in data: Data) -> Int? {
        let bytes = [UInt8](data)
        guard bytes.count > xzMagic.count else { return nil }
        // The payload sits after the setup code; its header is never in the first 512 bytes.
        var i = 512
        while i + xzMagic.count <= bytes.count {
            if bytes[i] == 0xFD && Array(bytes[i..<(i + xzMagic.count)]) == xzMagic { return i }
            i += 1
        }
        return nil
    }

    public static func extractVmlinux(from bzImage: URL, to output: URL) throws {
        let data = try Data(contentsOf: bzImage)
        guard let offset = payloadOffset(in: data) else {
            throw HVError(
                .unsupported, "\(bzImage.lastPathComponent) has no xz-compressed payload",
                hint: "use a Debian kernel package (their payload is xz)")
        }
        let payload = FileManager.default.temporaryDirectory.appendingPathComponent("hv-payload-\(getpid()).xz")
        defer { try? FileManager.default.removeItem(at: payload) }
        try data.subdata(in: offset..<data.count).write(to: payload)
        // --single-stream: the bzImage carries data after the xz stream.
        let out = try Command.run(["xz", "-dc", "--single-stream", payload.path], timeout: 120, stdoutTo: output)
        guard out.status == 0 else {
            throw HVError(.io, "decompressing the kernel failed: \(out.stderr)", hint: "install xz-utils")
        }
        let elf = try FileHandle(forReadingFrom: output)
        defer { try? elf.close() }
        guard elf.readData(ofLength: 4) == Data([0x7F, 0x45, 0x4C, 0x46]) else {
            throw HVError(.io, "the kernel payload of \(bzImage.lastPathComponent) is not an ELF file")
        }
    }
}
