import Foundation
import HVAPI
import HVCore
import HVHost

/// The console of a KVM guest is its desktop: a VNC viewer when this session
/// has a graphical display and a viewer is installed; otherwise exactly how
/// to reach the screen from here, another machine or a browser.
enum DesktopViewer {
    static func open(_ g: GuestStatus) throws {
        guard let d = g.display, g.state != .stopped, g.state != .crashed else {
            throw HVError(
                .conflict, "guest \(g.folder) is not running, so it has no desktop to show",
                hint: "start it: hv guest start \(g.folder) --view")
        }
        let env = ProcessInfo.processInfo.environment
        let graphical = !(env["DISPLAY"] ?? "").isEmpty || !(env["WAYLAND_DISPLAY"] ?? "").isEmpty
        if graphical, let (viewer, args) = viewer(for: d) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: viewer)
            p.arguments = args
            p.standardInput = FileHandle.nullDevice
            try p.run()
            Out.say("opened \(URL(fileURLWithPath: viewer).lastPathComponent) on the desktop of \(g.name) (\(g.folder))")
            p.waitUntilExit()
            return
        }
        Out.say(instructions(g, d, graphical: graphical))
    }

    static func instructions(_ g: GuestStatus, _ d: GuestDisplay, graphical: Bool) -> String {
        let why =
            graphical
            ? "no VNC viewer is installed here (apt-get install virt-viewer, or tigervnc-viewer)"
            : "this session has no graphical display to open a viewer on"
        var lines = [
            "\(g.name) (\(g.folder)) shows its desktop over VNC; \(why).",
            "  on this host:       remote-viewer vnc+unix://\(d.vncSocket)   (or: vncviewer \(d.vncSocket))",
            "  from your desktop:  ssh -L 5900:\(d.vncSocket) root@<this host>   then a VNC viewer on localhost:5900",
            "  in a browser:       the System Manager shows it behind its token (hv manager url)",
            "  a screenshot:       hv guest screenshot \(g.folder) screen.png",
        ]
        if let ws = d.webSocketURL {
            lines.insert("  QEMU's WebSocket:   a noVNC client on \(ws) (WebSocketPort in usr.config; loopback only and without authentication)", at: 4)
        }
        if g.os != GuestOS.windows.rawValue {
            lines.append("  its serial console: hv guest console --serial \(g.folder)")
        }
        return lines.joined(separator: "\n")
    }

    static func viewer(for d: GuestDisplay) -> (String, [String])? {
        if let rv = Executables.find("remote-viewer") { return (rv, ["vnc+unix://\(d.vncSocket)"]) }
        if let tiger = Executables.find("vncviewer") { return (tiger, [d.vncSocket]) }
        return nil
    }
}
