// `skiff bench pods` starts real pods through the in-process agent and ends with its JSON line;
// the figures are for people to read, so only their presence is checked, never their size.
import Foundation
import SkiffTestSupport
import XCTest

final class PodBenchTests: XCTestCase {
  func testBenchPodsRunsEveryPodCleansUpAndEndsWithOneJSONLine() throws {
    let result = try Fixtures.run([Fixtures.buildDirectory + "/skiff", "bench", "pods", "--pods", "5", "--runtime", "process"])
    XCTAssertEqual(result.status, 0, result.output)
    XCTAssertTrue(result.output.contains("all 5 pods gone"), result.output)
    let last = try XCTUnwrap(result.output.split(separator: "\n").last)
    let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], result.output)
    XCTAssertEqual(json["runtime"] as? String, "process")
    XCTAssertEqual(json["pods"] as? Int, 5)
    for key in ["p50_ms", "p99_ms", "max_ms", "idle_rss_mb", "running_rss_mb"] {
      XCTAssertGreaterThan(json[key] as? Double ?? 0, 0, key)
    }
  }
}
