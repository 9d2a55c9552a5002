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
        .target(name: "HVEvents", dependencies: ["HVCore", "HVAPI", "CHVSys"], swiftSettings: strict),
        .target(name: "HVEngine", dependencies: ["HVCore", "HVAPI", "HVEvents", "QMP", "CHVSys"], swiftSettings: strict),
        // hv setup's RT-Linux image and guest tools; the real-time audit, latency bench and plots.
        // The CLI links them, hvd does not.
        .target(name: "HVSetup", dependencies: ["HVCore", "HVEngine"], swiftSettings: strict),
        .target(name: "HVRealTime", dependencies: ["HVCore", "HVAPI", "HVEngine"], swiftSettings: strict),
        .target(name: "HVDaemon", dependencies: ["HVCore", "HVAPI", "HVEvents", "HVEngine", "QMP"], swiftSettings: strict),
        .target(
            name: "HVCommands",
            dependencies: ["HVCore", "HVAPI", "HVEvents", "HVEngine", "HVSetup", "HVRealTime",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict),
        .executableTarget(name: "hv", dependencies: ["HVCommands"], swiftSettings: strict),
        .executableTarget(name: "hvd", dependencies: ["HVDaemon"], swiftSettings: strict),
        .testTarget(name: "HVCoreTests", dependencies: ["HVCore"], swiftSettings: strict),
        .testTarget(name: "HVAPITests", dependencies: ["HVAPI", "HVCore"], swiftSettings: strict),
        .testTarget(name: "HVEventsTests", dependencies: ["HVEvents", "HVCore", "HVEngine", "CHVSys"], swiftSettings: strict),
        .testTarget(name: "QMPTests", dependencies: ["QMP", "HVCore"], swiftSettings: strict),
        .testTarget(name: "HVEngineTests", dependencies: ["HVAPI", "HVEngine", "HVSetup", "HVCore", "QMP"], exclude: ["Golden"], swiftSettings: strict),
        .testTarget(name: "HVSetupTests", dependencies: ["HVSetup", "HVEngine", "HVCore"], swiftSettings: strict),
        .testTarget(name: "HVRealTimeTests", dependencies: ["HVAPI", "HVRealTime", "HVEngine", "HVCore"], swiftSettings: strict),
        .testTarget(name: "HVDaemonTests", dependencies: ["HVAPI", "HVDaemon", "HVCore", "HVEngine"], swiftSettings: strict),
        .testTarget(name: "EndToEndTests", dependencies: ["HVAPI", "HVCore", "HVEngine"], swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
