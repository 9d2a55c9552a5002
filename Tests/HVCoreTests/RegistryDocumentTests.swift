import Foundation
import Testing

@testable import HVCore

@Suite struct RegistryDocumentTests {
    let sample = """
        ; a comment that must survive
        [Guest]
            "Name"="RT-Linux"   ; trailing comment
            "Os"="rt-linux"

        # another comment
        [Guest\\Cpu]
            "Cores"="1"

        """

    @Test func roundTripKeepsEverything() throws {
        let doc = try RegistryDocument(parsing: sample, fileName: "guest.config")
        #expect(doc.render() == sample)
        #expect(doc.value("Guest", "Name") == "RT-Linux")
        #expect(doc.value("guest\\cpu", "cores") == "1")
        #expect(doc.entry("Guest\\Cpu", "Cores")?.line == 8)
    }

    @Test func setRewritesOnlyThatLine() throws {
        var doc = try RegistryDocument(parsing: sample, fileName: "guest.config")
        doc.set("Guest", "Name", "Line \"3\" controller")
        let lines = doc.render().split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[2] == #"    "Name"="Line \"3\" controller"   ; trailing comment"#)
        let again = try RegistryDocument(parsing: doc.render(), fileName: "x")
        #expect(again.value("Guest", "Name") == "Line \"3\" controller")
    }

    @Test func setAddsToTheEndOfItsSectionOrANewSection() throws {
        var doc = try RegistryDocument(parsing: sample, fileName: "guest.config")
        doc.set("Guest", "Description", "cell 4")
        doc.set("Guest\\Memory", "SizeMiB", "512")
        let text = doc.render()
        let reparsed = try RegistryDocument(parsing: text, fileName: "x")
        #expect(reparsed.entries.map(\.key) == ["Name", "Os", "Description", "Cores", "SizeMiB"])
        #expect(text.hasPrefix("; a comment that must survive\n"))
        #expect(text.contains("# another comment"))
    }

    @Test(arguments: [
        ("[Guest\n    Name=\"x\"\n", 1, "broken section header"),
        ("[Guest]\n    \"Name\"\"x\"\n", 2, "missing ="),
        ("[Guest]\n    \"Name\"=x\n", 2, "not a quoted string"),
        ("[Guest]\n    \"Name\"=\"x\" junk\n", 2, "unexpected"),
        ("    \"Name\"=\"x\"\n", 1, "before any section"),
        ("[Guest]\n\"A\"=\"1\"\n\"a\"=\"2\"\n", 3, "set twice"),
        ("[Guest]\n[Guest]\n", 2, "appears twice"),
        ("[Guest]\n    Name = x\n", 2, "cannot read"),
        ("[Guest]\n    \"Name\"=\"unterminated\n", 2, "not a quoted string"),
    ])
    func brokenLinesNameTheFileAndLine(text: String, line: Int, words: String) {
        #expect {
            _ = try RegistryDocument(parsing: text, fileName: "usr.config")
        } throws: { error in
            guard let e = error as? ConfigError else { return false }
            return e.file == "usr.config" && e.line == line && e.description.contains(words)
                && e.description.hasPrefix("usr.config:\(line): ")
        }
    }

    @Test func atomicWriteReplacesWholeAndLeavesNoTemporaryFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hv-atomic-\(UUID())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("hv.config")
        try AtomicFile.write("one\n", to: url)
        try AtomicFile.write("two\n", to: url)
        #expect(try String(contentsOf: url, encoding: .utf8) == "two\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["hv.config"])
    }
}
