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

  func testSpreadWorkloadBindsEveryPodAcrossZones() throws {
    let result = try Fixtures.run([Fixtures.buildDirectory + "/skiff", "bench", "scheduler", "--nodes", "12", "--pods", "40",
                                   "--workload", "spread", "--zones", "3"])
    XCTAssertEqual(result.status, 0, result.output)
    let last = try XCTUnwrap(result.output.split(separator: "\n").last)
    let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], result.output)
    XCTAssertEqual(json["workload"] as? String, "spread")
    XCTAssertEqual(json["pods"] as? Int, 40, "every pod bound within maxSkew 1 across the zones")
    XCTAssertGreaterThan(json["pods_per_second"] as? Double ?? 0, 0)
  }

  func testGangWorkloadBindsWholePodGroups() throws {
    let result = try Fixtures.run([Fixtures.buildDirectory + "/skiff", "bench", "scheduler", "--nodes", "10", "--pods", "30",
                                   "--workload", "gang", "--gang-size", "5"])
    XCTAssertEqual(result.status, 0, result.output)
    let last = try XCTUnwrap(result.output.split(separator: "\n").last)
    let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any], result.output)
    XCTAssertEqual(json["workload"] as? String, "gang")
    XCTAssertEqual(json["pods"] as? Int, 30, "every member of the six gangs bound")
    XCTAssertGreaterThan(json["cycle_p99_us"] as? Double ?? 0, 0)
  }

  func testWorkloadsTheBenchCannotBuildAreRefused() throws {
    let affinity = try Fixtures.run([Fixtures.buildDirectory + "/skiff", "bench", "scheduler", "--nodes", "2", "--pods", "2",
                                     "--workload", "affinity"])
    XCTAssertNotEqual(affinity.status, 0)
    XCTAssertTrue(affinity.output.contains("workload affinity is not supported yet: the bench has no pod-affinity workload yet"),
                  affinity.output)
    let partialGang = try Fixtures.run([Fixtures.buildDirectory + "/skiff", "bench", "scheduler", "--nodes", "2", "--pods", "7",
                                        "--workload", "gang", "--gang-size", "5"])
    XCTAssertNotEqual(partialGang.status, 0)
    XCTAssertTrue(partialGang.output.contains("must be a multiple of --gang-size (5)"), partialGang.output)
    let crowded = try Fixtures.run([Fixtures.buildDirectory + "/skiff", "bench", "scheduler", "--nodes", "2", "--pods", "3",
                                    "--workload", "anti-affinity"])
    XCTAssertNotEqual(crowded.status, 0)
    XCTAssertTrue(crowded.output.contains("--pods must be at most --nodes (2)"), crowded.output)
  }
}
