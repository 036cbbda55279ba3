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

  private func pod(_ name: String, cpu: String = "100m", gpus: Int = 0, labels: String = "{}", extra: String = "") throws {
    try create("/api/v1/namespaces/default/pods", #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)","labels":\#(labels)},"spec":{\#(extra)"containers":[{"name":"c","image":"busybox","resources":{"requests":{"cpu":"\#(cpu)","nvidia.com/gpu":"\#(gpus)"}}}]}}"#)
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

  /// The FailedScheduling messages recorded so far, once there are at least `count` (polls briefly).
  private func failedSchedulingMessages(atLeast count: Int, within seconds: Double = 5) throws -> [String] {
    let deadline = Date().addingTimeInterval(seconds)
    var messages: [String] = []
    repeat {
      let items = try HTTPClient.send("GET", server.url + "/api/v1/namespaces/default/events").json["items"] as? [[String: Any]] ?? []
      messages = items.filter { $0["reason"] as? String == "FailedScheduling" }.compactMap { $0["message"] as? String }
      if messages.count >= count { break }
      usleep(20_000)
    } while Date() < deadline
    return messages.sorted()
  }

  func testARestartDoesNotReportAVerdictThePodAlreadyCarries() throws {
    try start()
    try node("small-1", cpu: "1")
    try pod("waiting", cpu: "3")
    XCTAssertEqual(try scheduledCondition("waiting")?["message"] as? String, "0/1 nodes are available: 1 Insufficient cpu.")
    XCTAssertEqual(try failedSchedulingMessages(atLeast: 1), ["0/1 nodes are available: 1 Insufficient cpu."])

    server.stop()
    try server.start()
    // The scheduler passes over the pending pod right after the ready line, before this request:
    // only the new verdict the second node brings is reported, not the old one again.
    try node("small-2", cpu: "1")
    XCTAssertEqual(try failedSchedulingMessages(atLeast: 2),
                   ["0/1 nodes are available: 1 Insufficient cpu.", "0/2 nodes are available: 2 Insufficient cpu."])
    XCTAssertEqual(try scheduledCondition("waiting")?["message"] as? String, "0/2 nodes are available: 2 Insufficient cpu.")
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

  func testProfilesChoosePluginsWeightsAndArgsPerSchedulerName() throws {
    let profiles = """
      {profiles: [\
      {schedulerName: default-scheduler, \
       pluginConfig: [{name: NodeResourcesFit, args: {scoringStrategy: {type: MostAllocated}}}]}, \
      {schedulerName: no-fit, plugins: {filter: {disabled: [{name: NodeResourcesFit}]}}}]}
      """
    try start(configs: ["scheduler": profiles])
    try node("busy", cpu: "8")
    try node("idle", cpu: "8")
    try pod("first", cpu: "4", extra: #""nodeName":"busy","#)
    // MostAllocated (bin packing) prefers the node already in use; LeastAllocated would not.
    try pod("packed", cpu: "1")
    XCTAssertEqual(try boundNode("packed"), "busy")
    // The second profile runs no resource filter: a pod too big for any node still lands.
    try pod("unchecked", cpu: "64", extra: #""schedulerName":"no-fit","#)
    XCTAssertNotNil(try boundNode("unchecked"))
    // A scheduler name no profile has is another scheduler's business.
    try pod("foreign", extra: #""schedulerName":"someone-else","#)
    XCTAssertNil(try scheduledCondition("foreign", within: 0.5))
  }

  func testAProfileNamingAPluginThatIsNotLoadedStopsTheServer() throws {
    XCTAssertThrowsError(try start(configs: ["scheduler": "{profiles: [{plugins: {score: {enabled: [{name: Nope}]}}}]}"])) { error in
      let message = (error as? Fixtures.FixtureError)?.message ?? "\(error)"
      XCTAssertTrue(message.contains(#"skiff: cannot start the scheduler: config.profiles[0].plugins.score.enabled[0]: no scheduler plugin named "Nope" is loaded"#),
                    message)
    }
  }

  func testAHigherPriorityPodPreemptsTheLeastImportantPodsThatMakeRoom() throws {
    try start()
    try node("only", cpu: "4")
    // No node agent runs here to finish a graceful deletion, so the victims ask for none: evicted,
    // they go at once, as they would once a kubelet had stopped them.
    try pod("batch-low", cpu: "2", extra: #""priority":10,"terminationGracePeriodSeconds":0,"#)
    try pod("batch-lower", cpu: "1", extra: #""priority":1,"terminationGracePeriodSeconds":0,"#)
    XCTAssertEqual(try boundNode("batch-low"), "only")
    XCTAssertEqual(try boundNode("batch-lower"), "only")
    // Needs 3 cpus with 1 free: evicting batch-lower alone frees 2, not enough; batch-low alone frees
    // 3. Kubernetes reprieves the most important victims first, so batch-low goes and batch-lower stays.
    try pod("urgent", cpu: "3", extra: #""priority":1000,"#)
    XCTAssertEqual(try boundNode("urgent", within: 10), "only", "the preemptor got the room")
    XCTAssertEqual(try HTTPClient.send("GET", server.url + "/api/v1/namespaces/default/pods/batch-low").status, 404,
                   "the victim was evicted")
    XCTAssertEqual(try HTTPClient.send("GET", server.url + "/api/v1/namespaces/default/pods/batch-lower").status, 200,
                   "a pod whose eviction alone would not help is reprieved")
    let events = try server.kubectl(["get", "events", "--field-selector", "reason=Preempted", "-o",
                                     "jsonpath={.items[*].message}"])
    XCTAssertEqual(events.output, "Preempted by pod default/urgent on node only")
    // Nothing of lower priority to evict: no preemption, and the pod says why.
    try pod("also-urgent", cpu: "4", extra: #""priority":5,"#)
    XCTAssertEqual(try scheduledCondition("also-urgent")?["status"] as? String, "False")
    XCTAssertEqual(try HTTPClient.send("GET", server.url + "/api/v1/namespaces/default/pods/urgent").status, 200)
  }

  func testPreemptionPrefersANodeWhoseEvictionsBreakNoDisruptionBudget() throws {
    try start()
    try node("guarded", cpu: "4")
    try node("open", cpu: "4")
    try pod("protected", cpu: "3", labels: #"{"app":"db"}"#, extra: #""priority":1,"nodeName":"guarded","#)
    try pod("spare", cpu: "3", extra: #""priority":5,"nodeName":"open","#)
    // No status yet: disruptionsAllowed is 0, so evicting "protected" would break the budget.
    try create("/apis/policy/v1/namespaces/default/poddisruptionbudgets", #"{"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"db"},"spec":{"minAvailable":1,"selector":{"matchLabels":{"app":"db"}}}}"#)
    // Without the budget Kubernetes would evict the less important "protected" (priority 1 < 5);
    // with it, the node whose eviction breaks no budget wins.
    try pod("urgent", cpu: "3", extra: #""priority":1000,"#)
    XCTAssertEqual(try boundNode("urgent", within: 10), "open")
    XCTAssertEqual(try HTTPClient.send("GET", server.url + "/api/v1/namespaces/default/pods/spare").status, 404)
    XCTAssertEqual(try HTTPClient.send("GET", server.url + "/api/v1/namespaces/default/pods/protected").status, 200)
  }

  func testAPodWithPreemptionPolicyNeverWaitsInsteadOfEvicting() throws {
    try start()
    try node("only", cpu: "4")
    try pod("low", cpu: "3", extra: #""priority":1,"#)
    XCTAssertEqual(try boundNode("low"), "only")
    // From the PriorityClass (the pod names the class only) and from the pod's own spec.
    try create("/apis/scheduling.k8s.io/v1/priorityclasses", #"{"apiVersion":"scheduling.k8s.io/v1","kind":"PriorityClass","metadata":{"name":"polite"},"value":1000,"preemptionPolicy":"Never"}"#)
    try pod("by-class", cpu: "3", extra: #""priorityClassName":"polite","#)
    try pod("by-spec", cpu: "3", extra: #""priority":1000,"preemptionPolicy":"Never","#)
    for name in ["by-class", "by-spec"] {
      XCTAssertEqual(try scheduledCondition(name)?["status"] as? String, "False", name)
    }
    let low = try podJSON("low")
    XCTAssertNil((low["metadata"] as? [String: Any])?["deletionTimestamp"], "nobody evicted the lower-priority pod")
    XCTAssertEqual((low["spec"] as? [String: Any])?["nodeName"] as? String, "only")
  }

  func testACustomBindPluginTakesOverBindingAndASkipPassesToDefaultBinder() throws {
    let plugins = dir.appendingPathComponent("plugins")
    try FileManager.default.createDirectory(at: plugins, withIntermediateDirectories: true)
    try Fixtures.buildCPlugin(source: Fixtures.cFixture("custom_binder"), into: plugins, name: "custombinder")
    let profiles = "{profiles: [{schedulerName: default-scheduler, plugins: {bind: "
      + "{disabled: [{name: '*'}], enabled: [{name: CustomBinder}, {name: DefaultBinder}]}}}]}"
    try start(plugins: ["scheduler", "custombinder"], pluginDirs: [plugins.path], configs: ["scheduler": profiles])
    try node("only", cpu: "4")
    try pod("mine", labels: #"{"binder":"custom"}"#)
    try pod("anyone")
    try pod("held", labels: #"{"binder":"hold"}"#)
    XCTAssertEqual(try boundNode("mine"), "only", "the custom binder bound it through the host")
    XCTAssertEqual(try boundNode("anyone"), "only", "DefaultBinder bound the pod the custom binder skipped")
    let deadline = Date().addingTimeInterval(5)
    var metrics = ""
    repeat {
      metrics = try HTTPClient.send("GET", server.url + "/metrics").text
      if metrics.contains("custombinder_held 1") { break }
      usleep(20_000)
    } while Date() < deadline
    XCTAssertTrue(metrics.contains("custombinder_bound 1"), metrics)
    XCTAssertTrue(metrics.contains("custombinder_held 1"), metrics)
    // The custom binder answered OK for "held" without binding it: no binder after it ran.
    XCTAssertNil((try podJSON("held")["spec"] as? [String: Any])?["nodeName"])
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

  func testRequiredAntiAffinityOnHostnamePutsOnePodPerNodeAndThenNone() throws {
    try start()
    for name in ["n1", "n2", "n3"] { try node(name, labels: #"{"kubernetes.io/hostname":"\#(name)"}"#) }
    let alone = #""affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"labelSelector":{"matchLabels":{"app":"solo"}},"topologyKey":"kubernetes.io/hostname"}]}},"#
    for i in 0..<3 { try pod("solo-\(i)", labels: #"{"app":"solo"}"#, extra: alone) }
    let nodes = try (0..<3).map { try XCTUnwrap(try boundNode("solo-\($0)")) }
    XCTAssertEqual(nodes.sorted(), ["n1", "n2", "n3"], "one per node")
    try pod("solo-3", labels: #"{"app":"solo"}"#, extra: alone)
    XCTAssertEqual(try scheduledCondition("solo-3")?["message"] as? String,
                   "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.")
  }

  func testAZoneSpreadConstraintPlacesPodsEvenlyAcrossZones() throws {
    try start()
    // Zone a has three nodes to b's and c's one: spreading by node alone would crowd zone a.
    for (name, zone) in [("a1", "a"), ("a2", "a"), ("a3", "a"), ("b1", "b"), ("c1", "c")] {
      try node(name, labels: #"{"topology.kubernetes.io/zone":"\#(zone)"}"#)
    }
    let spread = #""topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"topology.kubernetes.io/zone","whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"web"}}}],"#
    for i in 0..<6 { try pod("web-\(i)", labels: #"{"app":"web"}"#, extra: spread) }
    var perZone: [String: Int] = [:]
    for i in 0..<6 { perZone[String(try XCTUnwrap(try boundNode("web-\(i)")).prefix(1)), default: 0] += 1 }
    XCTAssertEqual(perZone, ["a": 2, "b": 2, "c": 2])
  }

  // MARK: Coscheduling

  /// The PodGroup kind (scheduler-plugins' CRD) and one group of `minMember`.
  private func podGroup(_ name: String, minMember: Int) throws {
    try create("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", #"""
      {"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"podgroups.scheduling.x-k8s.io"},
       "spec":{"group":"scheduling.x-k8s.io","scope":"Namespaced","names":{"plural":"podgroups","singular":"podgroup","kind":"PodGroup"},
               "versions":[{"name":"v1alpha1","served":true,"storage":true,
                            "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}
      """#)
    try create("/apis/scheduling.x-k8s.io/v1alpha1/namespaces/default/podgroups",
               #"{"apiVersion":"scheduling.x-k8s.io/v1alpha1","kind":"PodGroup","metadata":{"name":"\#(name)"},"spec":{"minMember":\#(minMember)}}"#)
  }

  private func member(_ name: String, of group: String, cpu: String) throws {
    try create("/api/v1/namespaces/default/pods", #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)","labels":{"scheduling.x-k8s.io/pod-group":"\#(group)"}},"spec":{"containers":[{"name":"c","image":"busybox","resources":{"requests":{"cpu":"\#(cpu)"}}}]}}"#)
  }

  private func nodeName(_ pod: String) throws -> String? {
    (try podJSON(pod)["spec"] as? [String: Any])?["nodeName"] as? String
  }

  /// The PodScheduled message once it contains `text` (polls), or the last one seen.
  private func scheduledMessage(_ name: String, containing text: String, within seconds: Double = 5) throws -> String? {
    let deadline = Date().addingTimeInterval(seconds)
    var message: String?
    repeat {
      message = try scheduledCondition(name, within: 0)?["message"] as? String
      if message?.contains(text) == true { return message }
      usleep(20_000)
    } while Date() < deadline
    return message
  }

  func testAGangBindsOnlyOnceMinMemberArePlaced() throws {
    try start(configs: ["scheduler": "{Coscheduling: {permitWaitingTimeSeconds: 30}}"])
    try node("a")
    try node("b")
    try podGroup("trio", minMember: 3)
    try member("trio-0", of: "trio", cpu: "1")
    try member("trio-1", of: "trio", cpu: "1")
    usleep(500_000)
    for name in ["trio-0", "trio-1"] {
      XCTAssertNil(try nodeName(name), "\(name) waits at permit for the rest of its gang")
      XCTAssertEqual((try podJSON(name)["status"] as? [String: Any])?["phase"] as? String, "Pending")
    }
    try member("trio-2", of: "trio", cpu: "1")
    for name in ["trio-0", "trio-1", "trio-2"] {
      XCTAssertNotNil(try boundNode(name), "\(name) binds with its gang")
    }
  }

  func testAGangThatCannotBeWholeGivesItsRoomBackAndSaysWhy() throws {
    try start(configs: ["scheduler": "{Coscheduling: {permitWaitingTimeSeconds: 1, podGroupBackoffSeconds: 10}}"])
    try node("a")
    try node("b")
    try podGroup("trio", minMember: 3)
    // Each member needs 3 of a node's 4 cpus: two can be placed, never three.
    for i in 0..<3 { try member("trio-\(i)", of: "trio", cpu: "3") }
    let why = "pod group default/trio was rejected: gang of 2/3 members could not be placed together"
    for i in 0..<3 {
      let message = try scheduledMessage("trio-\(i)", containing: why)
      XCTAssertTrue(message?.contains(why) == true, message ?? "trio-\(i) has no PodScheduled condition")
      XCTAssertEqual(try scheduledCondition("trio-\(i)")?["status"] as? String, "False")
    }
    // The two waiting members released their reservations: a pod of the same size now fits.
    try pod("solo", cpu: "3")
    XCTAssertNotNil(try boundNode("solo"), "the gang's reservations were released")
    for i in 0..<3 { XCTAssertNil(try nodeName("trio-\(i)"), "all or none: trio-\(i) stays unbound") }
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
