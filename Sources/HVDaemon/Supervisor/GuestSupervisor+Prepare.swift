import Foundation
import HVAPI
import HVCore
import HVEngine
import HVHost

/// What one start of a guest needs, decided before QEMU runs: the same
/// launch path then serves RTOS and KVM guests.
struct LaunchSpec {
    var argv: [String]
    var accelerator: Accelerator
    var acceleratorReason: String
    var readyMarker: String?
    var reservedCores: [Int] = []
    var hostCores: [Int] = []
    var rtPriority = 0
    /// Who QEMU runs as (see GuestIdentity). No default: a path that forgot
    /// it must not compile rather than run QEMU as root.
    var identity: GuestIdentity
    /// The guest's RAM is locked (mlock, or pinned for VFIO): its QEMU's RLIMIT_MEMLOCK is raised to `memlockBytes`.
    var locksMemory = false
    var memoryMiB = 0
    /// The guest's RAM and a margin for QEMU's own (its heap, threads; under
    /// TCG its 1 GiB translation buffer, which mlockall locks too): bounded,
    /// so a QEMU a guest broke out of cannot pin the host's memory.
    var memlockBytes: UInt64 {
        guard locksMemory else { return 0 }
        let margin = 512 + (accelerator == .tcg ? 1024 : 0)
        return UInt64(memoryMiB + margin) << 20
    }
    /// What QEMU maps beside the guest's RAM that the guest decides the size of: shared regions, the events table.
    var sharedBytes: UInt64 = 0
    /// The guest's memory limit: all the address space its QEMU may map
    /// (RLIMIT_AS; its threads share it). The guest's RAM, its shared memory,
    /// and 4 GiB for QEMU's own (measured: 0.5 to 0.9 GiB beside the RAM,
    /// thread stacks and malloc arenas reserved, not used), 1 GiB more under
    /// TCG for its translation buffer. hv's placement uses threaded cgroups
    /// for the vCPUs, where cgroup v2's memory controller cannot be enabled
    /// (it is a domain controller), so the limit is the process's own.
    var addressSpaceBytes: UInt64 {
        let margin = UInt64(4096 + (accelerator == .tcg ? 1024 : 0)) << 20
        return UInt64(memoryMiB) << 20 + sharedBytes + margin
    }
    var limits: ProcessLimits { ProcessLimits(lockedBytes: memlockBytes, addressSpaceBytes: addressSpaceBytes) }
    /// Under TCG QEMU's main thread is on the guest's timing path (see Placement.place).
    var emulatorPriority: Int {
        accelerator == .tcg && !reservedCores.isEmpty && rtPriority > 1 ? rtPriority - 1 : 0
    }
    var partition: CPUPartition?
    /// What GuestLauncher starts QEMU with.
    var request: GuestLauncher.Request {
        GuestLauncher.Request(
            argv: argv, reservedCores: reservedCores, hostCores: hostCores, rtPriority: rtPriority,
            emulatorPriority: emulatorPriority, partition: partition, identity: identity, limits: limits)
    }
    /// Said to the user with the start's answer.
    var steps: [String] = []
    var notes: [String] = []
    var display: GuestDisplay?
    var diskImage: String?
    var installing = false
    /// Mode bridge: the guest's TAP, removed when it stops.
    var tap: String?
    /// PCI devices bound to vfio-pci for it, and their interrupts' thread priority.
    var devices: [String] = []
    var irqPriority = 0
    /// Run just before QEMU (swtpm must listen first); returns descriptors
    /// QEMU inherits as 4, 5, ... (disks, TAPs: InheritedFD), which hvd closes once it runs.
    var beforeLaunch: () throws -> [Int32] = { [] }
    /// Undoes this start's side effects when QEMU does not come up.
    var undo: () -> Void = {}
}

extension GuestSupervisor {
    func prepareRTOS(_ config: GuestConfig, placed: Bool, vars: GuestScriptVariables) throws -> LaunchSpec {
        guard let vmf = ctx.vmf.current else {
            throw HVError(
                .notLoaded, "the VMF is not loaded: RTOS guest \(config.name) cannot start",
                hint: "run hv_vmf_start (in this guest folder) first")
        }
        guard vmf.config.guest(folder: folder.name) != nil else {
            throw HVError(
                .notLoaded, "guest \(folder.name) is not part of the loaded configuration \(vmf.configPath)",
                hint: "reload it: hv_vmf_stop, then hv_vmf_start")
        }
        // One reserved core per vCPU, as the VMF was loaded; Cores raised since then needs a reload.
        let reserved = vmf.reservedCores[folder.name] ?? []
        if placed && !reserved.isEmpty && reserved.count < config.vcpus {
            throw HVError(
                .conflict,
                "\(config.name) has \(config.vcpus) vCPUs (Cores=\(config.vcpus)) but the VMF reserved \(reserved.count) core\(reserved.count == 1 ? "" : "s") for it (\(reserved.map(String.init).joined(separator: ","))) when it was loaded",
                hint: "reload the VMF so that each vCPU gets a core of its own: hv_vmf_stop, then hv_vmf_start")
        }
        let image = try RTOSImage.locate(for: config, layout: ctx.layout)
        for file in [image.kernel, image.initrd].compactMap({ $0 }) {
            try GuestIdentity.checkReadable(file, what: "the boot image")
        }
        if config.hugePages {
            let needed = (config.memoryMiB + 1) / 2, (reserved, free) = HostFacts.hugePages()
            guard free >= needed else {
                let total = reserved + needed - free
                throw HVError(
                    .unsupported, "\(config.name) wants \(needed) huge pages of 2 MiB (\"HugePages\"=\"yes\"), and \(free) are free",
                    hint:
                        "reserve them: echo \(total) > /proc/sys/vm/nr_hugepages (at boot: hugepages=\(total) on the kernel command line), or set \"HugePages\"=\"no\" in usr.config"
                )
            }
        }
        let (accel, reason) = try ctx.facts.accelerator(for: config.accelerator)
        try checkDevices(config)
        var plan = RTOSLaunchPlan(
            folderName: folder.name, config: config, accelerator: accel, image: image, folder: folder,
            sharedGuestsDir: config.shareGuestsFolder ? ctx.layout.guestsDir.path : nil,
            kernelAppend: vars.kernelAppend, extraArgs: vars.qemuExtraArgs,
            hostTSCKHz: ctx.facts.tscKHz)
        plan.comm = CommPlan(folder: folder.name, config: vmf.config.communication, layout: ctx.layout)
        let identity = self.identity
        // All checks passed: a first start of the Debian root makes its disk now.
        var steps: [String] = [], created: [URL] = []
        if config.hasRootDisk, let template = image.rootTemplate, let modules = image.modulesImage {
            try GuestIdentity.checkReadable(modules, what: "the kernel's modules image")
            let disk = DiskImage.resolve(config, layout: ctx.layout, folder: folder)
            try GuestIdentity.checkDisk(disk.url)
            if disk.exists {
                _ = try disk.inspect(as: identity)
            } else {
                steps.append(
                    try RTLinuxRootDisk(disk: disk, template: template, folderName: folder.name, layout: ctx.layout)
                        .create(sizeGiB: config.diskSizeGiB))
                created.append(disk.url)
            }
            plan.rootDisk = disk
            // Its clock and `hv guest ssh` come through the host's seat on the VMF network.
            if plan.comm?.address != nil, let comm = ctx.vmf.comm {
                do { _ = try comm.attachHost() } catch {
                    steps.append(
                        "note: the host's seat on the VMF network is missing (no clock server, no hv guest ssh): \((error as? HVError)?.message ?? "\(error)")")
                }
            }
        }
        let disk = plan.rootDisk?.url
        var networkNotes: [String] = []
        let network = wireVMFNetwork(&plan.comm, accelerator: accel, inheritedBefore: disk == nil ? 0 : 2, notes: &networkNotes)
        var spec = LaunchSpec(
            argv: QemuCommandLine.rtos(plan), accelerator: accel, acceleratorReason: reason,
            readyMarker: image.readyMarker,
            reservedCores: placed ? vmf.reservedCores[folder.name] ?? [] : [],
            hostCores: placed ? ctx.vmf.hostCores() : [],
            rtPriority: config.rtPriority, identity: identity, locksMemory: QemuCommandLine.locksMemory(plan),
            partition: placed ? ctx.vmf.partition : nil,
            notes: networkNotes + (placed ? [] : ["started without hv's placement (no reserved core, no SCHED_FIFO, no locked memory)"]))
        spec.steps = steps
        spec.diskImage = plan.rootDisk?.url.path
        spec.sharedBytes = plan.comm?.sharedBytes ?? 0
        spec.beforeLaunch = {
            try Self.descriptors([{ try disk.map(DiskDescriptors.open) ?? [] }] + (network.map { [$0] } ?? []))
        }
        spec.undo = { for url in created { try? FileManager.default.removeItem(at: url) } }
        attachDevices(config, to: &spec)
        return spec
    }

    /// KVM guests run on the host's cores (never on a reserved one) and need no VMF.
    func prepareKVM(_ config: GuestConfig, vars: GuestScriptVariables) throws -> LaunchSpec {
        let (accel, reason) = try ctx.facts.accelerator(for: config.accelerator)
        try checkDevices(config)
        var setup = KVMGuestSetup(config: config, folder: folder, layout: ctx.layout, accelerator: accel, extraArgs: vars.qemuExtraArgs)
        setup.identity = identity
        let prepared = try setup.prepare()
        var plan = prepared.plan
        let folder = self.folder
        var notes: [String] = []
        if let vmf = ctx.vmf.current {
            plan.comm = CommPlan(folder: folder.name, config: vmf.config.communication, layout: ctx.layout)
        } else if let hv = ctx.configOnDisk(), CommPlan(folder: folder.name, config: hv.communication, layout: ctx.layout) != nil {
            notes.append("not on the VMF network and without shared memory or events: the VMF is not loaded (hv_vmf_start, then restart this guest)")
        }
        if let iso = plan.iso { try GuestIdentity.checkReadable(URL(fileURLWithPath: iso), what: "the installation ISO") }
        // The disk, the UEFI variables and the TPM state are this guest's alone.
        let identity = self.identity
        let bridge = GuestBridge(layout: ctx.layout)
        if config.networkMode == "bridge" { plan.tapName = bridge.tapName(guestNumber: identity.uid &- GuestIdentity.uidBase) }
        // The disk reaches QEMU as descriptors hvd opens (InheritedFD): its owner and mode stay as they are.
        let disk = URL(fileURLWithPath: plan.disk)
        try GuestIdentity.checkDisk(disk)
        if plan.servesSMB { try identity.ensureAccount() }
        if FileManager.default.fileExists(atPath: folder.nvram.path) { try identity.own(folder.nvram, mode: 0o600) }
        // The user network's 10.0.2.2 is the host's loopback: refused to the guest (LoopbackGuard).
        if config.networkMode == "user", let note = LoopbackGuard(layout: ctx.layout).install() { notes.append(note) }
        // After the disk's two descriptors and a bridged guest's TAP.
        let network = wireVMFNetwork(&plan.comm, accelerator: accel, inheritedBefore: plan.tapName == nil ? 2 : 3, notes: &notes)
        var spec = LaunchSpec(
            argv: QemuCommandLine.kvm(plan), accelerator: accel, acceleratorReason: reason, readyMarker: nil,
            identity: identity)
        spec.notes = notes
        spec.sharedBytes = plan.comm?.sharedBytes ?? 0
        spec.hostCores = ctx.vmf.current == nil ? [] : ctx.vmf.hostCores()
        spec.steps = prepared.steps
        spec.display = GuestDisplay(vncSocket: plan.vncSocket, webSocketPort: plan.webSocketPort)
        spec.diskImage = plan.disk
        spec.installing = plan.installing && plan.iso != nil
        let tpm = plan.tpmSocket != nil, tap = plan.tapName, interface = config.bridge, mac = QemuCommandLine.macAddress(folder.name)
        if tpm { spec.notes.append("TPM 2.0 (swtpm), state in \(folder.tpmDir.path)") }
        if let tap { spec.notes.append("on the host network of \(interface) (TAP \(tap))") }
        spec.tap = tap
        spec.beforeLaunch = {
            if tpm { try SoftwareTPM.start(folder: folder, identity: identity) }
            var openers: [() throws -> [Int32]] = [{ try DiskDescriptors.open(disk) }]
            if let tap { openers.append { [try bridge.attach(guest: folder.name, interface: interface, tap: tap, mac: mac)] } }
            if let network { openers.append(network) }
            return try Self.descriptors(openers)
        }
        let created = prepared.created
        spec.undo = {
            SoftwareTPM.stop(folder: folder)
            if let tap { bridge.detach(tap: tap) }
            for url in created { try? FileManager.default.removeItem(at: url) }
        }
        attachDevices(config, to: &spec)
        return spec
    }

    /// The user this guest's QEMU runs as: from its Id in hv.config.
    var identity: GuestIdentity {
        let hv = ctx.configInForce()
        return GuestIdentity.forGuest(id: hv?.guest(folder: folder.name)?.id, folder: folder.name)
    }

    /// Every guest's configured RAM is promised to it; the host keeps its reserve.
    func checkHostMemory(_ config: GuestConfig) throws {
        let reserve = ctx.configInForce()?.remainingHostMemoryMiB ?? 2048
        let running = ctx.allSupervisors.filter { $0 !== self }.map { $0.status() }
            .filter { $0.state.isActive }
            .map { (name: $0.name, memoryMiB: $0.memoryMiB) }
        try HostMemory.checkStart(
            guest: config.name, requestMiB: config.memoryMiB, running: running,
            reserveMiB: reserve, totalMiB: HostMemory.totalMiB())
    }
}
