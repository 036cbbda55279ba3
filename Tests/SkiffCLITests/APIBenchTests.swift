// `skiff bench api` runs end to end on a small scale and ends with its JSON line; the figures
// themselves are for people to read, so only their presence is checked.
import Foundation
import SkiffTestSupport
import XCTest

final class APIBenchTests: XCTestCase {
  func testBenchAPIEndsWithOneJSONLineOfFigures() throws {
    let result = try Fixtures.run([Fixtures.buildDirectory + "/skiff", "bench", "api", "--seconds", "0.2",
                                   "--pods", "200", "--starts", "1", "--idle-seconds", "0.1"])
    XCTAssertEqual(result.status, 0, result.output)
    let last = try XCTUnwrap(result.output.split(separator: "\n").last)
    let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], result.output)
    XCTAssertEqual(json["pods"] as? Int, 200)
    for key in ["creates_per_second_1", "creates_per_second_16", "write_p50_ms", "write_p99_ms", "watch_p50_ms",
                "watch_p99_ms", "list_10k_pods_ms", "list_10k_pods_paged_ms", "ready_ms", "idle_rss_mb", "loaded_rss_mb"] {
      XCTAssertGreaterThan(json[key] as? Double ?? 0, 0, key)
    }
  }
}
