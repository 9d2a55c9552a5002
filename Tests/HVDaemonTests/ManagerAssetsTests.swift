import Foundation
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
        let book = TicketBook()
        let t = try #require(book.issue() as String?)
        #expect(book.redeem(t))
        #expect(!book.redeem(t), "a ticket is good once")
        #expect(!book.redeem("") && !book.redeem(String(repeating: "0", count: 64)))
        var issued = 0
        while book.issue() != nil && issued < 1000 { issued += 1 }
        #expect(issued == TicketBook.maxOutstanding, "at most \(TicketBook.maxOutstanding) outstanding: \(issued)")
    }
}
