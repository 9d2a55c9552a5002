import Foundation
import HVCore
import HVHost
import Testing

@testable import HVDaemon

/// hvd serves the page from texts embedded in it; they must be manager/'s.
@Suite struct ManagerAssetsTests {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("manager")

    @Test func embeddedPageMatchesTheFiles() throws {
        for (embedded, path) in [(ManagerAssets.html, "index.html"), (ManagerAssets.css, "manager.css"), (ManagerAssets.script, "manager.js")] {
            let file = try String(contentsOf: Self.dir.appendingPathComponent(path), encoding: .utf8)
            #expect(embedded == file, "manager/\(path) changed: run python3 scripts/embed-sources.py")
        }
    }

    /// No inline script: the page's CSP allows scripts from the server's own files only.
    @Test func thePageHasNoInlineScript() {
        #expect(!ManagerAssets.html.contains("<script>") && ManagerAssets.html.contains(#"<script src="/manager.js">"#))
        #expect(!ManagerAssets.html.contains(" onclick=") && !ManagerAssets.html.contains("javascript:"))
    }

    @Test func ticketsAreGoodOnceAndBounded() throws {
        let book = TicketBook(lifetime: TicketBook.lifetime)
        let t = try #require(book.issue() as String?)
        #expect(book.redeem(t))
        #expect(!book.redeem(t), "a ticket is good once")
        #expect(!book.redeem("") && !book.redeem(String(repeating: "0", count: 64)))
        var issued = 0
        while book.issue() != nil && issued < 1000 { issued += 1 }
        #expect(issued == TicketBook.maxOutstanding, "at most \(TicketBook.maxOutstanding) outstanding: \(issued)")
        book.revokeAll()
        let after = try #require(book.issue() as String?, "revoking makes room")
        #expect(book.redeem(after))
        let spent = TicketBook(lifetime: -1)
        let expired = try #require(spent.issue() as String?)
        #expect(!spent.redeem(expired) && !book.redeem(expired), "an expired ticket is refused, and no book takes another's")
    }

    /// The manager token does everything, the metrics token reads metrics only,
    /// a login code is worth the manager token once; a rotation voids the old.
    @Test func credentialsAreWhatTheyAreWorth() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("hv-cred-\(UUID().uuidString.prefix(6))")
        defer { try? FileManager.default.removeItem(at: root) }
        let layout = HostLayout(root: root)
        try layout.ensureDirectories()
        let c = try ManagerCredentials(layout: layout)
        let manager = try String(contentsOf: layout.managerToken, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let metrics = try String(contentsOf: layout.metricsToken, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(manager.count == 64 && metrics.count == 64 && manager != metrics)
        #expect(c.access(manager) == .full && c.access(metrics) == .metrics && c.access("") == .none && c.access(manager + "0") == .none)
        let code = try #require(c.loginCodes.issue() as String?)
        #expect(c.login(code: code) == manager && c.login(code: code) == nil)
        // A fresh hvd reads the same tokens.
        #expect(try ManagerCredentials(layout: layout).access(manager) == .full)
        let pending = try #require(c.loginCodes.issue() as String?), ticket = try #require(c.tickets.issue() as String?)
        try c.rotate(.manager)
        #expect(c.access(manager) == .none && c.access(metrics) == .metrics)
        #expect(c.login(code: pending) == nil && !c.tickets.redeem(ticket))
        let fresh = try String(contentsOf: layout.managerToken, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(c.access(fresh) == .full && fresh != manager)
        try c.rotate(.metrics)
        #expect(c.access(metrics) == .none && c.access(fresh) == .full)
        // A damaged token file is replaced, not trusted.
        try "short\n".write(to: layout.metricsToken, atomically: true, encoding: .utf8)
        #expect(try ManagerCredentials(layout: layout).access("short") == .none)
    }
}
