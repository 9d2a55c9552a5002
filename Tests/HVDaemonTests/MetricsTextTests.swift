import Foundation
import Testing

@testable import HVDaemon

/// The exposition format: each family declared once, label values escaped, numbers as Prometheus reads them.
@Suite struct MetricsTextTests {
    @Test func labelsAreEscapedAndFamiliesDeclaredOnce() {
        var m = MetricsText()
        m.family("hv_guest_up", .gauge, "1 while up.\nSecond line \\ here")
        m.family("hv_guest_up", .gauge, "declared again: ignored")
        m.sample("hv_guest_up", [("guest", "a \"quoted\"\nname\\x")], 1)
        m.sample("hv_guest_up", [], 0.25)
        m.sample("hv_guest_up", [], .nan)
        #expect(
            m.text == """
                # HELP hv_guest_up 1 while up.\\nSecond line \\\\ here
                # TYPE hv_guest_up gauge
                hv_guest_up{guest="a \\"quoted\\"\\nname\\\\x"} 1
                hv_guest_up 0.25
                hv_guest_up NaN

                """)
    }

    @Test func largeAndInfiniteValues() {
        #expect(MetricsText.format(1_764_567_890) == "1764567890")
        #expect(MetricsText.format(.infinity) == "+Inf" && MetricsText.format(-.infinity) == "-Inf")
        #expect(MetricsText.format(1e20) == "1e+20")
    }
}
