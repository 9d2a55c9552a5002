// swift-tools-version:6.0
import PackageDescription

// Warnings are errors in our own targets (not in dependencies).
let strict: [SwiftSetting] = [.unsafeFlags(["-warnings-as-errors"])]

let package = Package(
    name: "hv",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hv", targets: ["hv"]),
        .executable(name: "hvd", targets: ["hvd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Errors, sockets, atomic files, Monitor: what every room needs and nothing of hv's model.
        .target(name: "HVSystem", swiftSettings: strict),
        .target(name: "HVCore", dependencies: ["HVSystem"], swiftSettings: strict),
        // The API's wire: endpoints, request and answer types, HTTP/1.1 and WebSocket framing; client and server.
        .target(name: "HVAPI", dependencies: ["HVCore"], swiftSettings: strict),
        .target(name: "QMP", dependencies: ["HVSystem"], swiftSettings: strict),
        .target(name: "CHVSys"),
        // Named events between guests and the host: the table, the doorbell server and its peers.
        .target(name: "HVEvents", dependencies: ["HVCore", "HVAPI", "CHVSys"], exclude: ["README.md"], swiftSettings: strict),
        // The host as hv finds and shapes it, with or without hvd: facts, sysfs, the CPU partition
        // and its trial, guest users and their lock, spawning (as them), systemd.
        .target(name: "HVHost", dependencies: ["HVCore", "HVAPI", "CHVSys"], swiftSettings: strict),
        .target(name: "HVEngine", dependencies: ["HVCore", "HVAPI", "HVHost", "HVEvents", "QMP", "CHVSys"], swiftSettings: strict),
        // hv setup's RT-Linux image and guest tools; the real-time audit, latency bench and plots.
        // The CLI links them, hvd does not.
        .target(name: "HVSetup", dependencies: ["HVCore", "HVHost"], swiftSettings: strict),
        .target(name: "HVRealTime", dependencies: ["HVCore", "HVAPI", "HVHost"], swiftSettings: strict),
        .target(name: "HVDaemon", dependencies: ["HVCore", "HVAPI", "HVHost", "HVEvents", "HVEngine", "HVRealTime", "QMP"], swiftSettings: strict),
        .target(
            name: "HVCommands",
            dependencies: ["HVCore", "HVAPI", "HVHost", "HVEvents", "HVSetup", "HVRealTime",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict),
        .executableTarget(name: "hv", dependencies: ["HVCommands"], swiftSettings: strict),
        .executableTarget(name: "hvd", dependencies: ["HVDaemon"], swiftSettings: strict),
        .testTarget(name: "HVCoreTests", dependencies: ["HVCore"], swiftSettings: strict),
        .testTarget(name: "HVAPITests", dependencies: ["HVAPI", "HVCore"], swiftSettings: strict),
        .testTarget(name: "HVHostTests", dependencies: ["HVHost", "HVAPI", "HVCore"], swiftSettings: strict),
        .testTarget(name: "HVEventsTests", dependencies: ["HVHost", "HVEvents", "HVCore", "HVEngine", "CHVSys"], swiftSettings: strict),
        .testTarget(name: "QMPTests", dependencies: ["QMP", "HVCore"], swiftSettings: strict),
        .testTarget(name: "HVEngineTests", dependencies: ["HVHost", "HVAPI", "HVEngine", "HVSetup", "HVCore", "HVEvents", "QMP"], exclude: ["Golden"], swiftSettings: strict),
        .testTarget(name: "HVSetupTests", dependencies: ["HVHost", "HVSetup", "HVEngine", "HVCore"], swiftSettings: strict),
        .testTarget(name: "HVRealTimeTests", dependencies: ["HVHost", "HVAPI", "HVRealTime", "HVEngine", "HVCore"], swiftSettings: strict),
        .testTarget(name: "HVCommandsTests", dependencies: ["HVCommands", "HVCore",
                                                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
                    exclude: ["Help"], swiftSettings: strict),
        .testTarget(name: "HVDaemonTests", dependencies: ["HVHost", "HVAPI", "HVDaemon", "HVCore", "HVEngine"], swiftSettings: strict),
        .testTarget(name: "EndToEndTests", dependencies: ["HVHost", "HVAPI", "HVCore", "HVEngine", "HVRealTime"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
