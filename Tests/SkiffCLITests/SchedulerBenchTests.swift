// `skiff bench scheduler` runs end to end on a small cluster and ends with its JSON line; the
// figures are for people to read, so only their presence is checked, never their size.
import Foundation
import SkiffTestSupport
import XCTest

final class SchedulerBenchTests: XCTestCase {
  func testBenchSchedulerBindsEveryPodAndEndsWithOneJSONLine() throws {
    let result = try Fixtures.run([Fixtures.buildDirectory + "/skiff", "bench", "scheduler", "--nodes", "20", "--pods", "50"])
    XCTAssertEqual(result.status, 0, result.output)
    let last = try XCTUnwrap(result.output.split(separator: "\n").last)
    let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], result.output)
    XCTAssertEqual(json["nodes"] as? Int, 20)
    XCTAssertEqual(json["pods"] as? Int, 50)
    XCTAssertEqual(json["workload"] as? String, "basic")
    for key in ["pods_per_second", "create_seconds", "schedule_seconds", "cycle_p50_us", "cycle_p99_us", "rss_mb"] {
      XCTAssertGreaterThan(json[key] as? Double ?? 0, 0, key)
    }
  }

  func testWorkloadsNeedingMissingPluginsAreRefused() throws {
    let result = try Fixtures.run([Fixtures.buildDirectory + "/skiff", "bench", "scheduler", "--nodes", "2", "--pods", "2",
                                   "--workload", "anti-affinity"])
    XCTAssertNotEqual(result.status, 0)
    XCTAssertTrue(result.output.contains("workload anti-affinity is not supported yet: InterPodAffinity is not implemented"),
                  result.output)
  }
}
