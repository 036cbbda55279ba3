// The scheduling framework in the real server: pods bound to nodes that fit, Kubernetes' words
// for pods that fit nowhere, re-queueing when the cluster changes, nodeName bypassing the
// scheduler, taints, and a plugin in plain C changing placement without rebuilding Skiff.
import Foundation
@testable import Scheduling
import SkiffTestSupport
import XCTest

final class SchedulerTests: XCTestCase {
  var dir: URL!
  var server: SkiffServer!

  override func setUpWithError() throws {
    dir = try Fixtures.temporaryDirectory()
  }

  override func tearDown() {
    server?.stop()
    try? FileManager.default.removeItem(at: dir)
  }

  private func start(plugins: [String] = ["scheduler"], pluginDirs: [String] = [], configs: [String: String] = [:]) throws {
    server = try SkiffServer(dataDir: dir.appendingPathComponent("data"), plugins: plugins, pluginDirs: pluginDirs,
                             configs: configs)
  }

  private func create(_ path: String, _ json: String) throws {
    let reply = try HTTPClient.send("POST", server.url + path, json: json)
    XCTAssertEqual(reply.status, 201, reply.text)
  }

  private func node(_ name: String, cpu: String = "4", gpus: Int = 0, labels: String = "{}", taints: String = "[]") throws {
    try create("/api/v1/nodes", #"{"apiVersion":"v1","kind":"Node","metadata":{"name":"\#(name)","labels":\#(labels)},"spec":{"taints":\#(taints)},"status":{"allocatable":{"cpu":"\#(cpu)","memory":"16Gi","pods":"110","nvidia.com/gpu":"\#(gpus)"},"conditions":[{"type":"Ready","status":"True"}]}}"#)
  }

  private func pod(_ name: String, cpu: String = "100m", gpus: Int = 0, extra: String = "") throws {
    try create("/api/v1/namespaces/default/pods", #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)"},"spec":{\#(extra)"containers":[{"name":"c","image":"busybox","resources":{"requests":{"cpu":"\#(cpu)","nvidia.com/gpu":"\#(gpus)"}}}]}}"#)
  }

  private func podJSON(_ name: String) throws -> [String: Any] {
    try HTTPClient.send("GET", server.url + "/api/v1/namespaces/default/pods/\(name)").json
  }

  /// The node a pod is bound to once the scheduler has placed it (polls briefly).
  private func boundNode(_ name: String, within seconds: Double = 5) throws -> String? {
    let deadline = Date().addingTimeInterval(seconds)
    repeat {
      if let node = (try podJSON(name)["spec"] as? [String: Any])?["nodeName"] as? String { return node }
      usleep(20_000)
    } while Date() < deadline
    return nil
  }

  private func scheduledCondition(_ name: String, within seconds: Double = 5) throws -> [String: Any]? {
    let deadline = Date().addingTimeInterval(seconds)
    repeat {
      let conditions = (try podJSON(name)["status"] as? [String: Any])?["conditions"] as? [[String: Any]] ?? []
      if let condition = conditions.first(where: { $0["type"] as? String == "PodScheduled" }) { return condition }
      usleep(20_000)
    } while Date() < deadline
    return nil
  }

  func testPodsGoWhereTheyFitAndUnfitPodsSayWhyInKubernetesWords() throws {
    try start()
    try node("cpu-1")
    try node("cpu-2")
    try node("gpu-1", gpus: 8, taints: #"[{"key":"nvidia.com/gpu","value":"present","effect":"NoSchedule"}]"#)
    try pod("trainer", gpus: 2, extra: #""tolerations":[{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"}],"#)
    XCTAssertEqual(try boundNode("trainer"), "gpu-1")
    try pod("web")
    XCTAssertNotEqual(try boundNode("web"), "gpu-1", "an untolerated taint keeps ordinary pods off the GPU node")

    try pod("greedy", gpus: 16, extra: #""tolerations":[{"key":"nvidia.com/gpu","operator":"Exists"}],"#)
    let condition = try XCTUnwrap(try scheduledCondition("greedy"))
    XCTAssertEqual(condition["status"] as? String, "False")
    XCTAssertEqual(condition["reason"] as? String, "Unschedulable")
    XCTAssertEqual(condition["message"] as? String, "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.")

    try pod("huge", cpu: "64")
    XCTAssertEqual(try scheduledCondition("huge")?["message"] as? String,
                   "0/3 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: present}, 2 Insufficient cpu.")
    let events = try server.kubectl(["get", "events", "--field-selector", "reason=FailedScheduling", "-o", "name"])
    XCTAssertEqual(events.output.split(separator: "\n").count, 2, events.output)
  }

  func testAParkedPodIsScheduledWhenANodeThatFitsArrives() throws {
    try start()
    try node("small", cpu: "1")
    try pod("waiting", cpu: "3")
    XCTAssertEqual(try scheduledCondition("waiting")?["status"] as? String, "False")
    try node("large", cpu: "8")
    XCTAssertEqual(try boundNode("waiting", within: 15), "large", "a node event re-queues the unschedulable pod")
    XCTAssertEqual(try scheduledCondition("waiting")?["status"] as? String, "True")
  }

  func testNodeNameSetByTheUserBypassesTheScheduler() throws {
    try start()
    try node("only", cpu: "1")
    try pod("pinned", cpu: "32", extra: #""nodeName":"elsewhere","#)
    usleep(300_000)
    XCTAssertEqual((try podJSON("pinned")["spec"] as? [String: Any])?["nodeName"] as? String, "elsewhere")
    XCTAssertNil(try scheduledCondition("pinned", within: 0.5), "the scheduler never looked at it")
  }

  func testResourcesAreAccountedAcrossCycles() throws {
    try start()
    try node("a", cpu: "2")
    try node("b", cpu: "2")
    for i in 0..<4 { try pod("p\(i)", cpu: "1") }
    var placement: [String: Int] = [:]
    for i in 0..<4 { placement[try XCTUnwrap(try boundNode("p\(i)")), default: 0] += 1 }
    XCTAssertEqual(placement, ["a": 2, "b": 2], "assumed pods count before their binding is stored")
    try pod("fifth", cpu: "1")
    XCTAssertEqual(try scheduledCondition("fifth")?["message"] as? String, "0/2 nodes are available: 2 Insufficient cpu.")
  }

  func testACPluginChangesPlacementWithoutRebuildingSkiff() throws {
    let plugins = dir.appendingPathComponent("plugins")
    try FileManager.default.createDirectory(at: plugins, withIntermediateDirectories: true)
    try Fixtures.buildCPlugin(source: Fixtures.repository.appendingPathComponent("examples/plugins/label_preference.c").path,
                              into: plugins, name: "labelpref")
    try start(plugins: ["scheduler", "labelpref"], pluginDirs: [plugins.path], configs: ["labelpref": "{preferLabel: disk=ssd}"])
    // Without the plugin, LeastAllocated prefers the emptier node "roomy".
    try node("roomy", cpu: "64")
    try node("fast", cpu: "4", labels: #"{"disk":"ssd"}"#)
    try pod("db", cpu: "1")
    XCTAssertEqual(try boundNode("db"), "fast")
  }

  func testExplainSaysPerPluginWhyAndMetricsCountCycles() throws {
    try start()
    try node("n1", cpu: "2")
    try node("n2", cpu: "2", taints: #"[{"key":"dedicated","value":"infra","effect":"NoSchedule"}]"#)
    try pod("fits")
    XCTAssertEqual(try boundNode("fits"), "n1")
    try pod("too-big", cpu: "3")
    _ = try scheduledCondition("too-big")
    let skiff = Fixtures.buildDirectory + "/skiff"
    let pending = try Fixtures.run([skiff, "explain", "pod", "too-big", "--server", server.url])
    XCTAssertEqual(pending.status, 0, pending.output)
    XCTAssertEqual(pending.output, """
      pod default/too-big: pending; 0/2 nodes are available
        NodeResourcesFit rejected 1 node:
          1 Insufficient cpu
        TaintToleration rejected 1 node:
          1 node(s) had untolerated taint {dedicated: infra}

      """)
    let scheduled = try Fixtures.run([skiff, "explain", "pod", "fits", "--server", server.url])
    XCTAssertTrue(scheduled.output.hasPrefix("pod default/fits: scheduled to n1\n"), scheduled.output)
    XCTAssertTrue(scheduled.output.contains("    n1  "), scheduled.output)
    let missing = try Fixtures.run([skiff, "explain", "pod", "ghost", "--server", server.url])
    XCTAssertEqual(missing.status, 1)
    let metrics = try HTTPClient.send("GET", server.url + "/metrics").text
    XCTAssertTrue(metrics.contains("skiff_scheduler_scheduled_total 1\n"), metrics)
    XCTAssertTrue(metrics.contains("skiff_scheduler_cycle_microseconds{quantile=\"0.99\"}"), metrics)
  }

  func testFitErrorMessageSortsLikeKubernetes() {
    XCTAssertEqual(Scheduler.message(nodes: 5000, histogram: ["Insufficient nvidia.com/gpu": 4990,
                                                              "node(s) had untolerated taint {gpu: true}": 10]),
                   "0/5000 nodes are available: 10 node(s) had untolerated taint {gpu: true}, 4990 Insufficient nvidia.com/gpu.")
    XCTAssertEqual(Quantity.milli("250m"), 250)
    XCTAssertEqual(Quantity.milli("1.5"), 1500)
    XCTAssertEqual(Quantity.units("1Gi"), 1 << 30)
    XCTAssertEqual(Quantity.units("2k"), 2000)
    XCTAssertEqual(Quantity.units("1e3"), 1000)
  }

  func testLargeClustersFilterOnlyKubernetesShareOfNodes() {
    // Kubernetes' numFeasibleNodesToFind: all below 100 nodes, then 50% less a point per 125 nodes, floors of 5% and 100.
    XCTAssertEqual(Scheduler.feasibleNodesToFind(among: 20), 20)
    XCTAssertEqual(Scheduler.feasibleNodesToFind(among: 150), 100)
    XCTAssertEqual(Scheduler.feasibleNodesToFind(among: 1000), 420)
    XCTAssertEqual(Scheduler.feasibleNodesToFind(among: 5000), 500)
    XCTAssertEqual(Scheduler.feasibleNodesToFind(among: 10000), 500)
  }
}
