import Foundation
import HVCore

#if canImport(Glibc)
import Glibc
#endif

public enum Accelerator: String, Sendable, Codable {
    case kvm, tcg
}

/// What this host can do, read once from /proc and /dev.
public struct HostFacts: Sendable, Equatable {
    public var cpuCount: Int
    public var cpuFlags: Set<String>
    public var kvmDeviceOpens: Bool
    /// The TSC rate in kHz, from /proc/cpuinfo (nil when unknown).
    public var tscKHz: Int?
    /// Which CPUs share a physical core (SMT siblings).
    public var topology: CoreTopology

    public init(cpuCount: Int, cpuFlags: Set<String>, kvmDeviceOpens: Bool, tscKHz: Int? = nil, topology: CoreTopology? = nil) {
        self.cpuCount = cpuCount
        self.cpuFlags = cpuFlags
        self.kvmDeviceOpens = kvmDeviceOpens
        self.tscKHz = tscKHz
        self.topology = topology ?? .flat(cpuCount)
    }

    /// The SMT sibling groups the kernel reports (thread_siblings_list), for CPUs 0..<cpus.
    public static func topology(cpus: Int, sysRoot: String = "") -> CoreTopology {
        let sys = SysFS(root: sysRoot)
        var groups: [[Int]] = []
        for c in 0..<max(1, cpus) where !groups.contains(where: { $0.contains(c) }) {
            let listed = sys.text("/sys/devices/system/cpu/cpu\(c)/topology/thread_siblings_list").flatMap(CPUList.parse) ?? [c]
            groups.append(listed.filter { $0 < cpus }.sorted() + (listed.contains(c) ? [] : [c]))
        }
        return CoreTopology(groups: groups)
    }

    public static func probe() -> HostFacts {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let flagsLine = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }
        let flags = Set((flagsLine?.split(separator: ":").last ?? "").split(separator: " ").map(String.init))
        let fd = open("/dev/kvm", O_RDWR | O_CLOEXEC)
        if fd >= 0 { close(fd) }
        let online = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        // With constant_tsc the TSC ticks at the nominal rate that "cpu MHz" shows; inside a
        // virtual machine (the "hypervisor" flag) "cpu MHz" is the TSC rate its hypervisor gives
        // (under QEMU's TCG there is no constant_tsc, and a microvm guest's calibration can hang).
        let mhz = cpuinfo.split(separator: "\n").first { $0.hasPrefix("cpu MHz") }?
            .split(separator: ":").last.flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        let khz = flags.contains("constant_tsc") || flags.contains("hypervisor") ? mhz.map { Int($0 * 1000) } : nil
        return HostFacts(
            cpuCount: max(1, online), cpuFlags: flags, kvmDeviceOpens: fd >= 0, tscKHz: khz,
            topology: topology(cpus: max(1, online)))
    }

    /// 2 MiB huge pages right now: how many are reserved, how many are free.
    public static func hugePages(sysRoot: String = "") -> (reserved: Int, free: Int) {
        let sys = SysFS(root: sysRoot)
        return (
            sys.int("/proc/sys/vm/nr_hugepages") ?? 0,
            sys.int("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") ?? 0
        )
    }

    /// Hardware virtualisation that stock guest kernels boot on.
    public var hasHardwareVirtualization: Bool { cpuFlags.contains("vmx") || cpuFlags.contains("svm") }

    /// The accelerator for a guest, and a sentence saying why. `auto` takes KVM
    /// only where /dev/kvm opens *and* the CPU shows vmx/svm: a paravirtual
    /// nested KVM without them hangs stock kernels in early boot.
    public func accelerator(for choice: AcceleratorChoice) throws -> (Accelerator, String) {
        switch choice {
        case .tcg:
            return (.tcg, "TCG (software emulation), as configured")
        case .kvm:
            guard kvmDeviceOpens else {
                throw HVError(
                    .unsupported, "the guest asks for KVM, but /dev/kvm cannot be opened on this host",
                    hint: "load the kvm module, or set \"Accelerator\"=\"auto\" in usr.config")
            }
            return (.kvm, "KVM, as configured")
        case .auto:
            if kvmDeviceOpens && hasHardwareVirtualization { return (.kvm, "KVM (hardware virtualisation)") }
            if kvmDeviceOpens {
                return (.tcg, "TCG: /dev/kvm exists but the CPU shows no vmx/svm (a nested paravirtual KVM, on which stock kernels hang)")
            }
            return (.tcg, "TCG: this host has no usable /dev/kvm")
        }
    }
}
