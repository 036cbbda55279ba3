// The autoscale plugin loaded for real and called through skiff_autoscaler_plugin; each expected
// count is worked out in a comment from Kubernetes' formulas (pkg/controller/podautoscaler).
import Foundation
import Kernel
import SkiffABI
import SkiffTestSupport
import XCTest

final class HPATests: XCTestCase {
  var dir: URL!
  var running: RunningKernel!
  var hpa: skiff_autoscaler_plugin!

  override func setUpWithError() throws {
    dir = try Fixtures.temporaryDirectory()
    running = RunningKernel()
    hpa = try boot(groups: "")
  }

  override func tearDown() {
    running.stop()
    try? FileManager.default.removeItem(at: dir)
  }

  private var stateFile: String { dir.appendingPathComponent("node-groups.json").path }

  /// Boots the autoscale plugin with `groups` as its config's YAML (empty for none).
  private func boot(groups: String) throws -> skiff_autoscaler_plugin {
    try running.boot("""
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: autoscale
      plugins:
        - name: autoscale
      """ + (groups.isEmpty ? "" : "\n    config:\n" + groups), in: dir)
    let autoscaler = try XCTUnwrap(running.kernel.extensions.autoscalers.first { $0.name == "hpa" })
    XCTAssertEqual(autoscaler.owner, "autoscale")
    return autoscaler.vtable.pointee
  }

  private func restart(groups: String) throws {
    running.stop()
    running = RunningKernel()
    hpa = try boot(groups: groups)
  }

  // MARK: Calling the slots

  private func recommend(_ request: [String: Any]) throws -> (status: skiff_status, json: [String: Any]) {
    let text = String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self)
    let sink = BytesSink()
    let hpa = hpa!
    let status = try running.loop.submit {
      text.withCString { hpa.recommend!(hpa.`self`, $0, strlen($0), sink.callback, sink.arg) }
    }
    XCTAssertEqual(sink.all.count, 1, "recommend answers exactly once")
    return (status, jsonObject(sink.last))
  }

  /// The desired replica count and the reason, for a request that must succeed.
  private func desired(_ request: [String: Any], file: StaticString = #filePath, line: UInt = #line)
    throws -> (replicas: Int, reason: String)
  {
    let (status, json) = try recommend(request)
    XCTAssertEqual(status, SKIFF_OK, "\(json)", file: file, line: line)
    return (json["desiredReplicas"] as? Int ?? -1, json["reason"] as? String ?? "")
  }

  private func cpu(_ current: Double, target: Double = 50) -> [String: Any] {
    ["type": "Resource", "name": "cpu", "current": current, "target": target, "targetType": "Utilization"]
  }

  private func request(current: Int, min: Int = 1, max: Int = 100, _ metrics: [String: Any]...)
    -> [String: Any] {
    ["currentReplicas": current, "minReplicas": min, "maxReplicas": max, "metrics": metrics]
  }

  private func resize(_ slot: String, _ body: String) throws -> (status: skiff_status, json: [String: Any]) {
    let recorder = CompletionRecorder()
    let hpa = hpa!
    let status = try running.loop.submit {
      body.withCString {
        slot == "up" ? hpa.scale_up!(hpa.`self`, $0, strlen($0), recorder.done)
          : hpa.scale_down!(hpa.`self`, $0, strlen($0), recorder.done)
      }
    }
    XCTAssertEqual(status, SKIFF_OK, "the slot takes `done` and answers through it")
    let result = try XCTUnwrap(recorder.wait(), "\(slot) never completed")
    XCTAssertEqual(recorder.count, 1)
    return (result.status, jsonObject(result.json))
  }

  private func nodeGroupSizes() throws -> [String: Int] {
    let sink = BytesSink()
    let hpa = hpa!
    XCTAssertEqual(try running.loop.submit { hpa.node_groups!(hpa.`self`, sink.callback, sink.arg) }, SKIFF_OK)
    let groups = jsonObject(sink.last)["nodeGroups"] as? [[String: Any]] ?? []
    return Dictionary(uniqueKeysWithValues: groups.map { ($0["name"] as! String, $0["size"] as! Int) })
  }

  // MARK: Replica calculation

  func testToleranceBand() throws {
    // 54/50 = 1.08: |1 − 1.08| = 0.08 ≤ 0.1 → keep 10.
    XCTAssertEqual(try desired(request(current: 10, cpu(54))).replicas, 10)
    // 46/50 = 0.92: 0.08 ≤ 0.1 → keep 10.
    XCTAssertEqual(try desired(request(current: 10, cpu(46))).replicas, 10)
    // With tolerance 0.05, 0.08 is outside: ceil(1.08 × 10) = ceil(10.8) = 11 (limit max(20, 4)).
    var narrow = request(current: 10, cpu(54))
    narrow["tolerance"] = 0.05
    XCTAssertEqual(try desired(narrow).replicas, 11)
  }

  func testScalesUpAndDownByUtilization() throws {
    // 90/60 = 1.5 → ceil(1.5 × 3) = ceil(4.5) = 5; within max(2 × 3, 4) = 6 and maxReplicas.
    let (status, up) = try recommend(request(current: 3, cpu(90, target: 60)))
    XCTAssertEqual(status, SKIFF_OK)
    XCTAssertEqual(up["desiredReplicas"] as? Int, 5)
    XCTAssertEqual(up["metric"] as? String, "cpu")
    XCTAssertEqual(up["recommendation"] as? Int, 5)
    XCTAssertEqual(up["reason"] as? String, "DesiredWithinRange")
    XCTAssertEqual((up["conditions"] as? [[String: Any]])?.compactMap { $0["reason"] as? String },
                   ["ValidMetricFound", "ReadyForNewScale", "DesiredWithinRange"])
    // 25/50 = 0.5 → ceil(0.5 × 10) = 5; no earlier recommendation holds it up.
    XCTAssertEqual(try desired(request(current: 10, cpu(25))).replicas, 5)
  }

  func testTheLargestMetricDecides() throws {
    let memory: [String: Any] = ["type": "Resource", "name": "memory", "current": 60, "target": 80,
                                 "targetType": "Utilization"]
    let rps: [String: Any] = ["type": "Pods", "name": "requests_per_second", "current": 150,
                              "target": 100, "targetType": "AverageValue"]
    // memory 60/80 = 0.75 → ceil(3) = 3; cpu 100/50 = 2 → ceil(8) = 8; rps 1.5 → ceil(6) = 6.
    // The largest, 8, is exactly max(2 × 4, 4) = 8, so no limit bites.
    let (_, json) = try recommend(request(current: 4, max: 20, memory, cpu(100), rps))
    XCTAssertEqual(json["desiredReplicas"] as? Int, 8)
    XCTAssertEqual(json["metric"] as? String, "cpu")
  }

  func testMinAndMaxClampWithKubernetesReasons() throws {
    // 200/50 = 4 → 20; the rate limit max(2 × 5, 4) = 10 is above maxReplicas 6, so max decides.
    let (_, high) = try recommend(request(current: 5, min: 2, max: 6, cpu(200)))
    XCTAssertEqual(high["desiredReplicas"] as? Int, 6)
    XCTAssertEqual(high["reason"] as? String, "TooManyReplicas")
    XCTAssertEqual(high["message"] as? String, "the desired replica count is more than the maximum replica count")
    // 5/50 = 0.1 → ceil(0.1 × 5) = 1, below minReplicas 4.
    let low = try desired(request(current: 5, min: 4, max: 10, cpu(5)))
    XCTAssertTrue(low == (4, "TooFewReplicas"), "\(low)")
    // 500/50 = 10 → 20; max(2 × 2, 4) = 4 is below maxReplicas 20, so the rate decides.
    let fast = try desired(request(current: 2, max: 20, cpu(500)))
    XCTAssertTrue(fast == (4, "ScaleUpLimit"), "\(fast)")
    // Replicas already outside the range come back into it before any metric is read.
    let (_, above) = try recommend(request(current: 12, max: 10, cpu(50)))
    XCTAssertEqual(above["desiredReplicas"] as? Int, 10)
    XCTAssertEqual(above["reason"] as? String, "TooManyReplicas")
    XCTAssertNil(above["recommendation"])
    XCTAssertTrue(try desired(request(current: 1, min: 3, cpu(50))) == (3, "TooFewReplicas"))
  }

  func testZeroReplicas() throws {
    // currentReplicas 0 with minReplicas ≠ 0: autoscaling is disabled.
    XCTAssertTrue(try desired(request(current: 0, cpu(500))) == (0, "ScalingDisabled"))
    // With minReplicas 0, a Value metric scales from zero by its ratio alone: 30/10 = 3 → 3,
    // within max(2 × 0, 4) = 4.
    let queue: [String: Any] = ["type": "External", "name": "queue_depth", "current": 30, "target": 10,
                                "targetType": "Value"]
    XCTAssertEqual(try desired(request(current: 0, min: 0, queue)).replicas, 3)
  }

  func testAverageValueAndValueMetrics() throws {
    // Pods, AverageValue: 150/100 = 1.5 → ceil(1.5 × 4) = 6 (limit 8).
    let rps: [String: Any] = ["type": "Pods", "name": "rps", "current": 150, "target": 100,
                              "targetType": "AverageValue"]
    XCTAssertEqual(try desired(request(current: 4, rps)).replicas, 6)
    // Object, AverageValue: current is the object's total. 1000 / (100 × 6) = 1.67, outside the
    // tolerance → ceil(1000 / 100) = 10 (limit 12).
    let object: [String: Any] = ["type": "Object", "name": "requests", "current": 1000, "target": 100,
                                 "targetType": "AverageValue"]
    XCTAssertEqual(try desired(request(current: 6, object)).replicas, 10)
    // External, AverageValue: 520 / (100 × 5) = 1.04, inside the tolerance → keep 5.
    let external: [String: Any] = ["type": "External", "name": "messages", "current": 520,
                                   "target": 100, "targetType": "AverageValue"]
    XCTAssertEqual(try desired(request(current: 5, external)).replicas, 5)
    // Object, Value: 300/200 = 1.5 times the ready pods: ceil(1.5 × 3) = ceil(4.5) = 5 …
    var value: [String: Any] = ["type": "Object", "name": "latency", "current": 300, "target": 200,
                                "targetType": "Value", "readyPods": 3]
    XCTAssertEqual(try desired(request(current: 4, value)).replicas, 5)
    // … and every replica counts as ready when readyPods is absent: ceil(1.5 × 4) = 6.
    value["readyPods"] = nil
    XCTAssertEqual(try desired(request(current: 4, value)).replicas, 6)
  }

  func testPodsWithoutMetricsCountAsKubernetesCountsMissingPods() throws {
    var partial = cpu(80)
    partial["readyPods"] = 3
    // Scale-up: the silent pod counts as 0%: (3 × 80 + 0) / 4 = 60 → 60/50 = 1.2 → ceil(4.8) = 5.
    XCTAssertEqual(try desired(request(current: 4, partial)).replicas, 5)
    // Scale-down: 10/50 = 0.2, but the 2 silent pods count as max(100, 50) = 100%:
    // (2 × 10 + 2 × 100) / 4 = 55 → 1.1 > 1 reverses the direction → keep 4.
    var quiet = cpu(10)
    quiet["readyPods"] = 2
    XCTAssertEqual(try desired(request(current: 4, quiet)).replicas, 4)
    // No pod reports cpu: nothing to scale on.
    var none = cpu(10)
    none["readyPods"] = 0
    XCTAssertTrue(try desired(request(current: 4, none)) == (4, "FailedGetResourceMetric"))
    // A metric without data does not stop a scale-up the others ask for: 30/10 = 3 → ceil(3 × 4)
    // = 12, limited to max(8, 4) = 8 …
    let queue: [String: Any] = ["type": "External", "name": "queue", "current": 30, "target": 10,
                                "targetType": "Value"]
    XCTAssertEqual(try desired(request(current: 4, none, queue)).replicas, 8)
    // … but it stops a scale-down (5/10 = 0.5 → 2 < 4): the missing one might have asked for more.
    var calm = queue
    calm["current"] = 5
    XCTAssertTrue(try desired(request(current: 4, none, calm)) == (4, "FailedGetResourceMetric"))
  }

  // MARK: Behavior

  func testWithoutBehaviorAJumpFrom1To100GoesTo4ThenDoubles() throws {
    // 5000/50 = 100 → ceil(100 × 1) = 100; the controller's limit max(2 × 1, 4) = 4.
    let (_, first) = try recommend(request(current: 1, cpu(5000)))
    XCTAssertEqual(first["desiredReplicas"] as? Int, 4)
    XCTAssertEqual(first["reason"] as? String, "ScaleUpLimit")
    XCTAssertEqual(first["recommendation"] as? Int, 100)
    // Next sync at 4 replicas (still 100 wanted: 2500/50 = 50 → 200): max(2 × 4, 4) = 8.
    XCTAssertTrue(try desired(request(current: 4, cpu(2500))) == (8, "ScaleUpLimit"))
    // Then max(2 × 8, 4) = 16.
    XCTAssertEqual(try desired(request(current: 8, cpu(625))).replicas, 16)
  }

  func testDefaultBehaviorAdds4PodsOr100PercentPer15Seconds() throws {
    // behavior {} takes every default. From 1: Pods 1 + 4 = 5, Percent ceil(1 × 2) = 2, Max → 5.
    var first = request(current: 1, cpu(5000))
    first["behavior"] = [String: Any]()
    XCTAssertTrue(try desired(first) == (5, "ScaleUpLimit"))
    // 10 s later at 5: the +4 at t=0 is inside the 15 s period, so the period began at 5 − 4 = 1:
    // max(1 + 4, ceil(1 × 2)) = 5 — no further growth yet.
    var soon = request(current: 5, cpu(1000))
    soon["behavior"] = [String: Any]()
    soon["now"] = 10
    soon["scaleEvents"] = [["timestamp": 0, "replicaChange": 4]]
    soon["recommendations"] = [["timestamp": 0, "replicas": 100]]
    XCTAssertTrue(try desired(soon) == (5, "ScaleUpLimit"))
    // At t=15 the event has left the period (only those after now − 15 count): from 5,
    // max(5 + 4, ceil(5 × 2)) = 10 — doubling.
    soon["now"] = 15
    XCTAssertTrue(try desired(soon) == (10, "ScaleUpLimit"))
  }

  func testScaleDownStabilizationKeepsTheHighestRecentRecommendation() throws {
    let history: [[String: Any]] = [["timestamp": 600, "replicas": 12], ["timestamp": 800, "replicas": 9],
                                    ["timestamp": 940, "replicas": 7]]
    // Without behavior: 25/50 → 5; the 300 s window from 700 holds 9 and 7 (12 at 600 is older):
    // max(5, 9, 7) = 9.
    var legacy = request(current: 10, cpu(25))
    legacy["now"] = 1000
    legacy["recommendations"] = history
    let (_, held) = try recommend(legacy)
    XCTAssertEqual(held["desiredReplicas"] as? Int, 9)
    XCTAssertEqual(held["reason"] as? String, "ScaleDownStabilized")
    XCTAssertEqual(held["recommendation"] as? Int, 5, "the caller records the raw recommendation")
    // A recommendation exactly at the window's start still counts (only older ones are dropped).
    legacy["recommendations"] = [["timestamp": 700, "replicas": 8]]
    XCTAssertEqual(try desired(legacy).replicas, 8)
    // With a 120 s window (from 880) only 7 is recent: min(max(10, 5), max(5, 7)) = 7; the
    // default rate (100% per 15 s) allows int(10 × 0) = 0, so 7 stands.
    var windowed = request(current: 10, cpu(25))
    windowed["now"] = 1000
    windowed["recommendations"] = history
    windowed["behavior"] = ["scaleDown": ["stabilizationWindowSeconds": 120]]
    XCTAssertTrue(try desired(windowed) == (7, "ScaleDownStabilized"))
  }

  func testSelectPolicyMinMaxAndDisabled() throws {
    let policies: [[String: Any]] = [["type": "Pods", "value": 2, "periodSeconds": 60],
                                     ["type": "Percent", "value": 50, "periodSeconds": 60]]
    // 150/50 = 3 → 30. Pods allows 10 + 2 = 12, Percent ceil(10 × 1.5) = 15.
    var up = request(current: 10, max: 50, cpu(150))
    up["behavior"] = ["scaleUp": ["selectPolicy": "Min", "policies": policies]]
    XCTAssertTrue(try desired(up) == (12, "ScaleUpLimit"))
    up["behavior"] = ["scaleUp": ["selectPolicy": "Max", "policies": policies]]
    XCTAssertTrue(try desired(up) == (15, "ScaleUpLimit"))
    up["behavior"] = ["scaleUp": ["selectPolicy": "Disabled"]]
    XCTAssertTrue(try desired(up) == (10, "ScaleUpLimit"))
    // 25/50 → 5, stabilized to 5 (no history); Disabled holds scale-down at the current 10.
    var down = request(current: 10, cpu(25))
    down["behavior"] = ["scaleDown": ["selectPolicy": "Disabled"]]
    XCTAssertTrue(try desired(down) == (10, "ScaleDownLimit"))
  }

  func testScaleDownRateCountsScalingsInsideThePeriod() throws {
    // 10/50 = 0.2 → ceil(1.8) = 2; no stabilization; 50% per 60 s from 9: int(9 × 0.5) = int(4.5) = 4.
    var down = request(current: 9, cpu(10))
    down["behavior"] = ["scaleDown": ["stabilizationWindowSeconds": 0,
                                      "policies": [["type": "Percent", "value": 50, "periodSeconds": 60]]]]
    down["now"] = 1000
    XCTAssertTrue(try desired(down) == (4, "ScaleDownLimit"))
    // 12 → 9 happened 30 s ago, inside the period: it began at 12, so int(12 × 0.5) = 6.
    down["scaleEvents"] = [["timestamp": 970, "replicaChange": -3]]
    XCTAssertTrue(try desired(down) == (6, "ScaleDownLimit"))
    // 90 s ago it is outside the period again: 4.
    down["scaleEvents"] = [["timestamp": 910, "replicaChange": -3]]
    XCTAssertTrue(try desired(down) == (4, "ScaleDownLimit"))
  }

  func testInvalidRequestsAreRefusedWithTheirReason() throws {
    var badTarget = cpu(50)
    badTarget["targetType"] = "Percentage"
    var noHistoryClock = request(current: 2, cpu(50))
    noHistoryClock["recommendations"] = [["timestamp": 1, "replicas": 2]]
    let cases: [([String: Any], String)] = [
      (["currentReplicas": 2, "metrics": [cpu(50)]], "maxReplicas is required"),
      (request(current: 2, ["type": "Pods", "name": "rps", "current": 1, "target": 1,
                            "targetType": "Utilization"]),
       "metrics[0]: a Pods metric cannot have a Utilization target"),
      (request(current: 2, cpu(50, target: 0)), "metrics[0].target must be positive"),
      (request(current: 2, min: 5, max: 3, cpu(50)), "maxReplicas must be at least 1 and at least minReplicas (5)"),
      (noHistoryClock, "now is required when recommendations or scaleEvents are given"),
      (request(current: 2, badTarget), "metrics[0].targetType: "),
    ]
    for (body, message) in cases {
      let (status, json) = try recommend(body)
      XCTAssertEqual(status, SKIFF_INVALID, message)
      XCTAssertEqual(json["reason"] as? String, "InvalidRequest")
      XCTAssertTrue((json["message"] as? String ?? "").hasPrefix(message), "\(json)")
    }
  }

  // MARK: Node groups

  private var twoGroups: String {
    """
          nodeGroups:
            - {name: gpu-h200, min: 1, max: 4, size: 2}
            - {name: cpu, min: 0, max: 10, size: 3}
          stateFile: \(stateFile)
    """
  }

  func testNodeGroupsScaleWithinTheirLimits() throws {
    try restart(groups: twoGroups)
    XCTAssertEqual(try nodeGroupSizes(), ["gpu-h200": 2, "cpu": 3])

    // 2 + 2 = 4 ≤ max 4.
    let up = try resize("up", #"{"group": "gpu-h200", "delta": 2}"#)
    XCTAssertEqual(up.status, SKIFF_OK)
    XCTAssertEqual(up.json as NSDictionary, ["name": "gpu-h200", "min": 1, "max": 4, "size": 4])
    // 4 + 1 > 4.
    let over = try resize("up", #"{"group": "gpu-h200", "delta": 1}"#)
    XCTAssertEqual(over.status, SKIFF_INVALID)
    XCTAssertEqual(over.json["reason"] as? String, "AboveMaxSize")
    XCTAssertEqual(over.json["message"] as? String,
                   "node group gpu-h200 has 4 of at most 4 nodes; cannot add 1")

    // 4 − 3 = 1 ≥ min 1.
    XCTAssertEqual(try resize("down", #"{"group": "gpu-h200", "nodes": ["n1", "n2", "n3"]}"#).json["size"] as? Int, 1)
    // 1 − 1 < 1.
    let under = try resize("down", #"{"group": "gpu-h200", "nodes": ["n4"]}"#)
    XCTAssertEqual(under.status, SKIFF_INVALID)
    XCTAssertEqual(under.json["reason"] as? String, "BelowMinSize")
    XCTAssertEqual(under.json["message"] as? String,
                   "node group gpu-h200 has 1 nodes and needs at least 1; cannot remove 1")

    let unknown = try resize("up", #"{"group": "tpu", "delta": 1}"#)
    XCTAssertEqual(unknown.status, SKIFF_NOT_FOUND)
    XCTAssertEqual(unknown.json["message"] as? String, "no node group 'tpu' (have: gpu-h200, cpu)")
    XCTAssertEqual(try resize("up", #"{"group": "cpu", "delta": 0}"#).status, SKIFF_INVALID)
    XCTAssertEqual(try resize("down", #"{"group": "cpu"}"#).status, SKIFF_INVALID)

    // Refused changes changed nothing.
    XCTAssertEqual(try nodeGroupSizes(), ["gpu-h200": 1, "cpu": 3])
  }

  func testNodeGroupSizesSurviveARestart() throws {
    try restart(groups: twoGroups)
    XCTAssertEqual(try resize("up", #"{"group": "cpu", "delta": 5}"#).json["size"] as? Int, 8)
    let saved = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: stateFile)))
    XCTAssertEqual(((saved as? [String: Any])?["nodeGroups"] as? [[String: Any]])?.map { $0["size"] as? Int },
                   [2, 8])

    try restart(groups: twoGroups)
    XCTAssertEqual(try nodeGroupSizes(), ["gpu-h200": 2, "cpu": 8])
    // A lowered max in the profile wins over a saved size above it.
    try restart(groups: twoGroups.replacingOccurrences(of: "max: 10", with: "max: 6"))
    XCTAssertEqual(try nodeGroupSizes()["cpu"], 6)
  }

  func testInvalidNodeGroupsFailStart() throws {
    running.stop()
    running = RunningKernel()
    XCTAssertThrowsError(try boot(groups: "      nodeGroups: [{name: a, min: 3, max: 5, size: 2}]\n")) { error in
      XCTAssertEqual((error as? PluginLoadError)?.cause, .startFailed)
      XCTAssertTrue("\(error)".hasSuffix(
        "start returned INVALID: config: node group a needs 0 ≤ min ≤ size ≤ max, has min 3, size 2, max 5"),
        "\(error)")
    }
  }
}
