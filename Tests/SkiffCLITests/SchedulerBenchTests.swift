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

  func testAntiAffinityWorkloadPlacesOnePodPerNode() throws {
    let result = try Fixtures.run([Fixtures.buildDirectory + "/skiff", "bench", "scheduler", "--nodes", "30", "--pods", "30",
                                   "--workload", "anti-affinity"])
    XCTAssertEqual(result.status, 0, result.output)
    let last = try XCTUnwrap(result.output.split(separator: "\n").last)
    let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
    XCTAssertEqual(json["workload"] as? String, "anti-affinity")
    XCTAssertEqual(json["pods"] as? Int, 30, "every pod bound, one per node")
  }

  func testWorkloadsTheBenchCannotBuildAreRefused() throws {
    let spread = try Fixtures.run([Fixtures.buildDirectory + "/skiff", "bench", "scheduler", "--nodes", "2", "--pods", "2",
                                   "--workload", "topology-spread"])
    XCTAssertNotEqual(spread.status, 0)
    XCTAssertTrue(spread.output.contains("workload topology-spread is not supported yet: hollow nodes carry no zone labels yet"),
                  spread.output)
    let crowded = try Fixtures.run([Fixtures.buildDirectory + "/skiff", "bench", "scheduler", "--nodes", "2", "--pods", "3",
                                    "--workload", "anti-affinity"])
    XCTAssertNotEqual(crowded.status, 0)
    XCTAssertTrue(crowded.output.contains("--pods must be at most --nodes (2)"), crowded.output)
  }
}
