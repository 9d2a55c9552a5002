import Foundation
import HVCore

#if canImport(Glibc)
import Glibc
#endif

/// Paths that reach a guest's configuration through the API (a new guest,
/// the edit form, a project PUT) are the token holder's word, not root's:
/// the start hands the file to the guest's QEMU read-write. So they may name
/// only what a guest's disk or ISO is for: a disk in the guest's own folder
/// or under VMs/, an ISO under iso/, VMs/ or the guest's folder; never a
/// link, hv's own files (configuration, records, keys, templates, the
/// exchange images the host mounts), another guest's folder or disk. Block
/// devices and paths elsewhere stay possible from guest.config and
/// usr.config written by hand, which only root can (TrustedFile).
public enum APIPaths {
    static let diskExtensions: Set<String> = ["qcow2", "img", "raw"]

    /// Where a guest's disk is: its folder's disk.qcow2 unless the configuration names one.
    public static func diskURL(_ config: GuestConfig, folder: String, layout: HostLayout) -> URL {
        config.diskImage.isEmpty ? layout.guest(folder).defaultDisk : layout.resolve(config.diskImage)
    }

    /// Every path of a guest's configuration (a new guest, a project's guest);
    /// `others`: the disks of the other guests it must not take.
    public static func check(_ config: GuestConfig, folder: String, layout: HostLayout, others: [String: URL]) throws {
        try checkImage(config.image)
        if !config.diskImage.isEmpty { try checkDisk(config.diskImage, folder: folder, layout: layout, others: others) }
        if config.kind == .kvm, !config.installISO.isEmpty { try checkISO(config.installISO, folder: folder, layout: layout) }
    }

    /// An RTOS image is a folder of templates/, named, not a path.
    public static func checkImage(_ name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard !name.isEmpty, !name.hasPrefix("."), name.count <= 64, name.allSatisfy({ allowed.contains($0) }) else {
            throw HVError(
                .invalidArgument, "the image \"\(name)\" is not a folder name of templates/",
                hint: "name the image folder, such as rt-linux (letters, digits, . _ -); nothing was changed", field: "image")
        }
    }

    public static func checkDisk(_ path: String, folder: String, layout: HostLayout, others: [String: URL]) throws {
        let url = layout.resolve(path), guest = layout.guest(folder)
        let field = "diskImage", shown = "the disk image \(path)"
        let places = [guest.url, layout.vmsDir]
        try checkPlace(
            url, shown: shown, field: field, places: places, layout: layout, guest: guest,
            hint:
                "put the disk in the guest's folder (\(guest.url.path)) or under \(layout.vmsDir.path)/; a block device or a disk elsewhere can be named only in guest.config by hand (as root)"
        )
        guard diskExtensions.contains(url.pathExtension.lowercased()), url.lastPathComponent != guest.exchangeImage.lastPathComponent else {
            throw HVError(
                .invalidArgument, "\(shown) is not named as a disk image (.qcow2, .img or .raw)",
                hint: "such as VMs/\(folder)/disk.qcow2; nothing was changed", field: field)
        }
        if let owner = others.first(where: { $0.value.standardizedFileURL.path == url.path }) {
            throw HVError(
                .conflict, "\(shown) is the disk of guest \(owner.key)",
                hint: "give each guest a disk of its own (copy it first, with the other guest stopped); nothing was changed", field: field)
        }
    }

    public static func checkISO(_ path: String, folder: String, layout: HostLayout) throws {
        let url = layout.resolve(path), guest = layout.guest(folder)
        let shown = "the installation ISO \(path)"
        try checkPlace(
            url, shown: shown, field: "iso", places: [layout.isoDir, layout.vmsDir, guest.url], layout: layout, guest: guest,
            hint: "put it under \(layout.isoDir.path)/ (or VMs/, or the guest's folder); one elsewhere can be named only in guest.config by hand (as root)")
        guard url.pathExtension.lowercased() == "iso" else {
            throw HVError(.invalidArgument, "\(shown) is not named as an ISO image (.iso)", hint: "such as iso/ubuntu.iso; nothing was changed", field: "iso")
        }
    }

    /// Under one of `places`, not in the guest's exchange folder (the guest's
    /// own writable file system: it could plant links there), no link on the way.
    static func checkPlace(_ url: URL, shown: String, field: String, places: [URL], layout: HostLayout, guest: GuestFolder, hint: String) throws {
        let path = url.standardizedFileURL.path
        let inside = { (dir: URL) in path.hasPrefix(dir.standardizedFileURL.path + "/") }
        guard places.contains(where: inside), !url.lastPathComponent.hasPrefix(".") else {
            throw HVError(.invalidArgument, "\(shown) is outside the places a guest's files may be (\(path))", hint: hint, field: field)
        }
        guard !inside(guest.exchangeDir), !inside(guest.tpmDir) else {
            throw HVError(
                .invalidArgument, "\(shown) is in the guest's \(inside(guest.tpmDir) ? "TPM state" : "exchange folder, which the guest itself writes")",
                hint: hint, field: field)
        }
        // Each component below HV_ROOT: a link there could point anywhere, now or later.
        var dir = layout.root.standardizedFileURL
        for part in path.dropFirst(dir.path.count).split(separator: "/") {
            dir = dir.appendingPathComponent(String(part))
            var st = stat()
            guard lstat(dir.path, &st) == 0 else { break }
            let kind = st.st_mode & S_IFMT
            let last = dir.path == path
            guard kind != S_IFLNK, last ? kind == S_IFREG : kind == S_IFDIR else {
                throw HVError(
                    .invalidArgument, "\(shown): \(dir.path) is \(kind == S_IFLNK ? "a symbolic link" : last ? "not a regular file" : "not a folder")",
                    hint: hint, field: field)
            }
        }
    }

    /// The disks of the guests hv.config lists, but `folder`'s.
    public static func configuredDisks(layout: HostLayout, except folder: String) -> [String: URL] {
        guard let doc = try? RegistryFile.readIfPresent(layout.hvConfig), let hv = try? HypervisorConfig(doc) else { return [:] }
        var disks: [String: URL] = [:]
        for g in hv.guests where g.folder != folder {
            if let c = try? GuestConfig.load(from: layout.guest(g.folder)) { disks[g.folder] = diskURL(c, folder: g.folder, layout: layout) }
        }
        return disks
    }
}
