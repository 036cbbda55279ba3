// The default scheduler library loaded for real and its plugins called through the vtables the
// kernel registered: queue order, filters with Kubernetes' reasons, scores worked out by hand.
import Foundation
import Kernel
import SkiffABI
import SkiffTestSupport
import XCTest

final class DefaultPluginsTests: KernelTestCase {
  var objects: ClusterObjects!

  private let gib: Int64 = 1 << 30
  private let mib: Int64 = 1 << 20

  /// Boots the scheduler library with `config` (a YAML flow mapping).
  private func boot(_ config: String = "{}") throws {
    try running.boot("""
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: scheduler
      plugins:
        - name: scheduler
          config: \(config)
      """, in: dir)
    objects = ClusterObjects(running.kernel.strings)
  }

  private func plugin(_ name: String) throws -> skiff_scheduler_plugin {
    try XCTUnwrap(running.kernel.extensions.scheduler(named: name), "\(name) is not registered").vtable.pointee
  }

  /// One filter call in a fresh cycle: the status and every reason the plugin gave.
  private func filter(_ plugin: skiff_scheduler_plugin, _ pod: UnsafePointer<skiff_pod>?,
                      _ node: UnsafePointer<skiff_node>?) -> (status: skiff_status, reasons: [String]) {
    let cycle = SchedulingCycle()
    let status = plugin.filter(plugin.`self`, cycle.handle, pod, node)
    return (status, cycle.reasons(ofPlugin: 0))
  }

  private func score(_ plugin: skiff_scheduler_plugin, _ pod: UnsafePointer<skiff_pod>?,
                     _ node: UnsafePointer<skiff_node>?) -> Int64 {
    var score: Int64 = -1
    XCTAssertEqual(plugin.score(plugin.`self`, SchedulingCycle().handle, pod, node, &score), SKIFF_OK)
    return score
  }

  private func normalize(_ plugin: skiff_scheduler_plugin, _ raw: [Int64]) -> [Int64] {
    let node = objects.node("any")
    var scores = raw.map { skiff_node_score(node: node, score: $0) }
    let pod = objects.pod()
    XCTAssertEqual(plugin.normalize_score(plugin.`self`, SchedulingCycle().handle, pod, &scores,
                                          UInt32(scores.count)), SKIFF_OK)
    return scores.map(\.score)
  }

  // MARK: PrioritySort

  func testPrioritySortTakesHigherPriorityFirstThenEarlierEnqueued() throws {
    try boot()
    let sort = try plugin("PrioritySort")
    let high = objects.pod(priority: 10), low = objects.pod(priority: 1), alsoLow = objects.pod(priority: 1)
    func less(_ a: UnsafePointer<skiff_pod>?, _ aTime: Int64, _ b: UnsafePointer<skiff_pod>?, _ bTime: Int64) -> Bool {
      sort.queue_sort_less(sort.`self`, a, aTime, b, bTime) != 0
    }
    XCTAssertTrue(less(high, 200, low, 100), "priority outranks waiting longer")
    XCTAssertFalse(less(low, 100, high, 200))
    XCTAssertTrue(less(low, 100, alsoLow, 200), "equal priority: the earlier enqueued first")
    XCTAssertFalse(less(alsoLow, 200, low, 100))
    XCTAssertFalse(less(low, 100, alsoLow, 100), "a strict order: equal pods are not less")
  }

  // MARK: NodeAffinity

  func testNodeAffinityFilterOnSelectorAndRequiredTerms() throws {
    try boot()
    let affinity = try plugin("NodeAffinity")
    let o = objects!
    let node = o.node("n1", labels: ["zone": "a", "disk": "ssd", "gpus": "4"])
    func required(_ terms: skiff_node_term...) -> UnsafePointer<skiff_pod>? { o.pod(required: terms) }
    func labels(_ requirements: skiff_requirement...) -> skiff_node_term { o.term(requirements) }

    let cases: [(String, UnsafePointer<skiff_pod>?, fits: Bool)] = [
      ("no constraints", o.pod(), true),
      ("selector all present", o.pod(nodeSelector: ["zone": "a", "disk": "ssd"]), true),
      ("selector value differs", o.pod(nodeSelector: ["zone": "a", "disk": "hdd"]), false),
      ("selector key missing", o.pod(nodeSelector: ["tier": "gold"]), false),
      ("selector holds, term does not",
       o.pod(nodeSelector: ["zone": "a"], required: [labels(o.requirement("zone", SKIFF_SELECTOR_IN, ["b"]))]), false),
      ("In", required(labels(o.requirement("zone", SKIFF_SELECTOR_IN, ["b", "a"]))), true),
      ("In, not listed", required(labels(o.requirement("zone", SKIFF_SELECTOR_IN, ["b"]))), false),
      ("NotIn", required(labels(o.requirement("zone", SKIFF_SELECTOR_NOT_IN, ["b"]))), true),
      ("NotIn, listed", required(labels(o.requirement("zone", SKIFF_SELECTOR_NOT_IN, ["a"]))), false),
      ("NotIn, key absent", required(labels(o.requirement("tier", SKIFF_SELECTOR_NOT_IN, ["gold"]))), true),
      ("Exists", required(labels(o.requirement("disk", SKIFF_SELECTOR_EXISTS))), true),
      ("Exists, absent", required(labels(o.requirement("tier", SKIFF_SELECTOR_EXISTS))), false),
      ("DoesNotExist", required(labels(o.requirement("tier", SKIFF_SELECTOR_DOES_NOT_EXIST))), true),
      ("DoesNotExist, present", required(labels(o.requirement("disk", SKIFF_SELECTOR_DOES_NOT_EXIST))), false),
      ("Gt 3 < 4", required(labels(o.requirement("gpus", SKIFF_SELECTOR_GT, ["3"]))), true),
      ("Gt 4, not greater", required(labels(o.requirement("gpus", SKIFF_SELECTOR_GT, ["4"]))), false),
      ("Lt 5 > 4", required(labels(o.requirement("gpus", SKIFF_SELECTOR_LT, ["5"]))), true),
      ("Lt 4, not less", required(labels(o.requirement("gpus", SKIFF_SELECTOR_LT, ["4"]))), false),
      ("Lt on a label that is no integer", required(labels(o.requirement("zone", SKIFF_SELECTOR_LT, ["9"]))), false),
      ("Gt with a value that is no integer", required(labels(o.requirement("gpus", SKIFF_SELECTOR_GT, ["x"]))), false),
      ("Gt on an absent label", required(labels(o.requirement("tier", SKIFF_SELECTOR_GT, ["0"]))), false),
      ("requirements in a term are ANDed",
       required(labels(o.requirement("zone", SKIFF_SELECTOR_IN, ["a"]), o.requirement("disk", SKIFF_SELECTOR_IN, ["hdd"]))),
       false),
      ("terms are ORed",
       required(labels(o.requirement("zone", SKIFF_SELECTOR_IN, ["b"])), labels(o.requirement("disk", SKIFF_SELECTOR_IN, ["ssd"]))),
       true),
      ("matchFields metadata.name In", required(o.term(fields: [o.requirement("metadata.name", SKIFF_SELECTOR_IN, ["n1"])])), true),
      ("matchFields metadata.name In, other node",
       required(o.term(fields: [o.requirement("metadata.name", SKIFF_SELECTOR_IN, ["n2"])])), false),
      ("matchFields metadata.name NotIn",
       required(o.term(fields: [o.requirement("metadata.name", SKIFF_SELECTOR_NOT_IN, ["n1"])])), false),
      ("an empty term matches nothing", required(o.term([])), false),
    ]
    for (name, pod, fits) in cases {
      let (status, reasons) = filter(affinity, pod, node)
      if fits {
        XCTAssertEqual(status, SKIFF_OK, name)
        XCTAssertEqual(reasons, [], name)
      } else {
        XCTAssertEqual(status, SKIFF_UNSCHEDULABLE_AND_UNRESOLVABLE, name)
        XCTAssertEqual(reasons, ["node(s) didn't match Pod's node affinity/selector"], name)
      }
    }
  }

  func testNodeAffinityScoresMatchingPreferredWeightsAndNormalizes() throws {
    try boot()
    let affinity = try plugin("NodeAffinity")
    let o = objects!
    let pod = o.pod(preferred: [
      (20, o.term([o.requirement("zone", SKIFF_SELECTOR_IN, ["a"])])),
      (30, o.term([o.requirement("disk", SKIFF_SELECTOR_IN, ["ssd"])])),
      (50, o.term([o.requirement("gpus", SKIFF_SELECTOR_GT, ["8"])])),
    ])
    // 20 (zone) + 30 (disk); 4 GPUs is not > 8.
    XCTAssertEqual(score(affinity, pod, o.node("n1", labels: ["zone": "a", "disk": "ssd", "gpus": "4"])), 50)
    // 30 (disk) + 50 (16 > 8).
    XCTAssertEqual(score(affinity, pod, o.node("n2", labels: ["zone": "b", "disk": "ssd", "gpus": "16"])), 80)
    XCTAssertEqual(score(affinity, pod, o.node("n3", labels: ["zone": "c"])), 0)
    // Scaled so that the highest is 100: 50 × 100 / 80 = 62.5 → 62; 80 → 100; 0 → 0.
    XCTAssertEqual(normalize(affinity, [50, 80, 0]), [62, 100, 0])
    XCTAssertEqual(normalize(affinity, [0, 0]), [0, 0], "no node matched: nothing to scale")
  }

  // MARK: NodePorts

  func testNodePortsRejectsTakenPortsOnOverlappingAddresses() throws {
    try boot()
    let ports = try plugin("NodePorts")
    let o = objects!
    let node = o.node("n1", usedPorts: [o.port(8080), o.port(9090, ip: "10.0.0.1"), o.port(5353, "UDP", ip: "0.0.0.0")])
    let cases: [(String, [skiff_port], free: Bool)] = [
      ("no host ports", [], true),
      ("another port", [o.port(7070)], true),
      ("same port, other protocol", [o.port(8080, "UDP")], true),
      ("used on all addresses, wanted on one", [o.port(8080, ip: "10.0.0.2")], false),
      ("both on different addresses", [o.port(9090, ip: "10.0.0.2")], true),
      ("both on the same address", [o.port(9090, ip: "10.0.0.1")], false),
      ("wanted on all addresses, used on one", [o.port(9090)], false),
      ("used on 0.0.0.0, wanted on one", [o.port(5353, "UDP", ip: "10.0.0.3")], false),
      ("an unset protocol is TCP", [o.port(9090, nil, ip: "10.0.0.1")], false),
      ("the second port conflicts", [o.port(7070), o.port(8080)], false),
    ]
    for (name, wanted, free) in cases {
      let (status, reasons) = filter(ports, o.pod(ports: wanted), node)
      if free {
        XCTAssertEqual(status, SKIFF_OK, name)
        XCTAssertEqual(reasons, [], name)
      } else {
        XCTAssertEqual(status, SKIFF_UNSCHEDULABLE, name)
        XCTAssertEqual(reasons, ["node(s) didn't have free ports for the requested pod ports"], name)
      }
    }
  }

  // MARK: NodeResourcesBalancedAllocation

  func testBalancedAllocationScoresOneMinusTheDeviationOfCPUAndMemoryShares() throws {
    try boot()
    let balanced = try plugin("NodeResourcesBalancedAllocation")
    let o = objects!
    let allocatable = o.resources(cpu: 4000, memory: 8 * gib)
    func score(pod: skiff_resources, used: skiff_resources) -> Int64 {
      self.score(balanced, o.pod(requests: pod), o.node("n", allocatable: allocatable, requested: used))
    }
    // cpu (1000 + 1000) / 4000 = 0.5, memory (1 + 1) / 8 = 0.25; deviation |0.5 − 0.25| / 2 = 0.125;
    // (1 − 0.125) × 100 = 87.5 → 87.
    XCTAssertEqual(score(pod: o.resources(cpu: 1000, memory: gib), used: o.resources(cpu: 1000, memory: gib)), 87)
    // No requests count as 100m and 200 MiB: cpu (1900 + 100) / 4000 = 0.5, memory 200 / 8192 =
    // 0.0244140625; deviation 0.23779296875; 100 × 0.76220703125 = 76.2 → 76.
    XCTAssertEqual(score(pod: o.resources(), used: o.resources(cpu: 1900)), 76)
    // cpu 2000 / 4000 = memory 4 / 8 = 0.5: perfectly balanced.
    XCTAssertEqual(score(pod: o.resources(cpu: 2000, memory: 4 * gib), used: o.resources()), 100)
    // cpu (5000 + 1000) / 4000 is capped at 1, memory 1 / 8 = 0.125; deviation 0.4375 → 56.25 → 56.
    XCTAssertEqual(score(pod: o.resources(cpu: 1000, memory: gib), used: o.resources(cpu: 5000)), 56)
  }

  // MARK: NodeResourcesFit scoring strategies

  /// The node and pods every strategy is scored on: 4 cpu, 8 GiB and 8 GPUs, of which 1 cpu,
  /// 2 GiB and 2 GPUs are taken; the pod asks for 1 cpu, 1 GiB and (gpuPod) 2 GPUs.
  private func strategyScores(_ config: String) throws -> (gpuPod: Int64, cpuPod: Int64) {
    try boot(config)
    let fit = try plugin("NodeResourcesFit")
    let o = objects!
    let node = o.node("n", allocatable: o.resources(cpu: 4000, memory: 8 * gib, scalars: ["nvidia.com/gpu": 8]),
                      requested: o.resources(cpu: 1000, memory: 2 * gib, scalars: ["nvidia.com/gpu": 2]))
    let gpuPod = o.pod(requests: o.resources(cpu: 1000, memory: gib, scalars: ["nvidia.com/gpu": 2]))
    let cpuPod = o.pod(requests: o.resources(cpu: 1000, memory: gib))
    return (score(fit, gpuPod, node), score(fit, cpuPod, node))
  }

  private let gpuWeighted = #"[{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 1}, {"name": "nvidia.com/gpu", "weight": 3}]"#

  func testLeastAllocatedIsTheDefault() throws {
    try boot()
    let fit = try plugin("NodeResourcesFit")
    let o = objects!
    let node = o.node("n", allocatable: o.resources(cpu: 4000, memory: 8 * gib),
                      requested: o.resources(cpu: 1000, memory: 2 * gib))
    // cpu (4000 − 2000) × 100 / 4000 = 50; memory (8 − 3) × 100 / 8 = 62.5 → 62; (50 + 62) / 2 = 56.
    XCTAssertEqual(score(fit, o.pod(requests: o.resources(cpu: 1000, memory: gib)), node), 56)
    // Defaults 100m and 200 MiB: cpu 2900 × 100 / 4000 = 72.5 → 72; memory (8192 − 2048 − 200) ×
    // 100 / 8192 = 72.56 → 72; (72 + 72) / 2 = 72.
    XCTAssertEqual(score(fit, o.pod(), node), 72)
  }

  func testLeastAllocatedWeighsAnExtendedResource() throws {
    let scores = try strategyScores(#"{"NodeResourcesFit": {"scoringStrategy": {"type": "LeastAllocated", "resources": \#(gpuWeighted)}}}"#)
    // cpu 2000 free of 4000 → 50; memory 5 of 8 GiB free → 62; GPUs 4 of 8 free → 50;
    // (50 × 1 + 62 × 1 + 50 × 3) / 5 = 262 / 5 = 52.4 → 52.
    XCTAssertEqual(scores.gpuPod, 52)
    // A pod asking no GPUs is not scored on them: (50 + 62) / 2 = 56.
    XCTAssertEqual(scores.cpuPod, 56)
  }

  func testMostAllocatedWeighsAnExtendedResource() throws {
    let scores = try strategyScores(#"{"NodeResourcesFit": {"scoringStrategy": {"type": "MostAllocated", "resources": \#(gpuWeighted)}}}"#)
    // cpu 2000 × 100 / 4000 = 50; memory 3 × 100 / 8 = 37.5 → 37; GPUs 4 × 100 / 8 = 50;
    // (50 × 1 + 37 × 1 + 50 × 3) / 5 = 237 / 5 = 47.4 → 47.
    XCTAssertEqual(scores.gpuPod, 47)
    // Without GPUs: (50 + 37) / 2 = 43.5 → 43.
    XCTAssertEqual(scores.cpuPod, 43)
  }

  func testRequestedToCapacityRatioFollowsTheShape() throws {
    let scores = try strategyScores(#"""
      {"NodeResourcesFit": {"scoringStrategy": {"type": "RequestedToCapacityRatio", "resources": \#(gpuWeighted),
       "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 0}, {"utilization": 50, "score": 8},
                                              {"utilization": 100, "score": 10}]}}}}
      """#)
    // Shape scores × 10: (0, 0), (50, 80), (100, 100). Utilization: cpu 2000 × 100 / 4000 = 50 → 80;
    // memory 3 × 100 / 8 = 37 → 80 × 37 / 50 = 59.2 → 59; GPUs 4 × 100 / 8 = 50 → 80.
    // Rounded, not truncated: (80 × 1 + 59 × 1 + 80 × 3) / 5 = 379 / 5 = 75.8 → 76.
    XCTAssertEqual(scores.gpuPod, 76)
    // Without GPUs: (80 + 59) / 2 = 69.5 → 70.
    XCTAssertEqual(scores.cpuPod, 70)
  }

  func testRequestedToCapacityRatioLeavesOutResourcesScoringZero() throws {
    let scores = try strategyScores(#"""
      {"NodeResourcesFit": {"scoringStrategy": {"type": "RequestedToCapacityRatio", "resources": \#(gpuWeighted),
       "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 0}, {"utilization": 40, "score": 0},
                                              {"utilization": 100, "score": 10}]}}}}
      """#)
    // Shape (0, 0), (40, 0), (100, 100): cpu and GPUs at 50 → 100 × (50 − 40) / 60 = 16.7 → 16;
    // memory at 37 → 0, which Kubernetes leaves out of the mean: (16 × 1 + 16 × 3) / 4 = 16
    // (counting it would give 64 / 5 = 12.8 → 13).
    XCTAssertEqual(scores.gpuPod, 16)
    // Without GPUs, cpu alone: 16 (counting memory would give 8).
    XCTAssertEqual(scores.cpuPod, 16)
  }

  func testBadScoringConfigFailsStartNamingTheField() throws {
    let strategy = "config.NodeResourcesFit.scoringStrategy"
    let cases: [(config: String, problem: String)] = [
      (#"{"NodeResourcesFit": {"scoringStrategy": {"type": "Fastest"}}}"#,
       #"\#(strategy).type must be LeastAllocated, MostAllocated or RequestedToCapacityRatio, not "Fastest""#),
      (#"{"NodeResourcesFit": {"scoringStrategy": {"resources": [{"name": "cpu", "weight": 1}, {"name": "memory", "weight": 0}]}}}"#,
       "\(strategy).resources[1].weight must be 1..100, not 0"),
      (#"{"NodeResourcesFit": {"scoringStrategy": {"resources": [{"name": "cpu", "weight": "heavy"}]}}}"#,
       "\(strategy).resources[0].weight must be an integer"),
      (#"{"NodeResourcesFit": {"scoringStrategy": {"type": "RequestedToCapacityRatio"}}}"#,
       "\(strategy).requestedToCapacityRatio.shape must have at least one point"),
      (#"{"NodeResourcesFit": {"scoringStrategy": {"type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {"shape": [{"utilization": 50, "score": 1}, {"utilization": 50, "score": 2}]}}}}"#,
       "\(strategy).requestedToCapacityRatio.shape[1].utilization must be greater than the point before it"),
      (#"{"NodeResourcesFit": {"scoringStrategy": {"type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {"shape": [{"utilization": 0, "score": 11}]}}}}"#,
       "\(strategy).requestedToCapacityRatio.shape[0].score must be 0..10, not 11"),
    ]
    for (config, problem) in cases {
      let kernel = RunningKernel()
      defer { kernel.stop() }
      XCTAssertThrowsError(try kernel.boot("""
        apiVersion: skiff.dev/v1alpha1
        kind: Profile
        name: bad
        plugins:
          - name: scheduler
            config: \(config)
        """, in: dir)) { error in
        XCTAssertEqual((error as? PluginLoadError)?.cause, .startFailed, problem)
        XCTAssertTrue("\(error)".hasSuffix("start returned INVALID: \(problem)"), "\(error)")
      }
      XCTAssertEqual(kernel.recorder.matching("[scheduler] \(problem)").count, 1, problem)
    }
  }
}

/// Pods and nodes shaped as the kernel hands them to plugins. Every array they point to, and the
/// structs themselves, live until this object goes away with the test.
final class ClusterObjects {
  private let strings: StringTable
  private var allocations: [UnsafeMutableRawPointer] = []

  init(_ strings: StringTable) { self.strings = strings }
  deinit { allocations.forEach { $0.deallocate() } }

  func id(_ text: String) -> skiff_str { strings.intern(text) }

  /// A copy of `values` that stays put; nil for none, as the kernel passes it.
  func keep<T>(_ values: [T]) -> UnsafePointer<T>? {
    guard !values.isEmpty else { return nil }
    let memory = UnsafeMutablePointer<T>.allocate(capacity: values.count)
    memory.initialize(from: values, count: values.count)
    allocations.append(UnsafeMutableRawPointer(memory))
    return UnsafePointer(memory)
  }

  func labels(_ pairs: [String: String]) -> [skiff_label] {
    pairs.map { skiff_label(key: id($0.key), value: id($0.value)) }
  }

  func requirement(_ key: String, _ op: skiff_selector_op, _ values: [String] = []) -> skiff_requirement {
    skiff_requirement(key: id(key), op: op, values: keep(values.map(id)), n_values: UInt32(values.count),
                      reserved0: 0)
  }

  func term(_ labels: [skiff_requirement] = [], fields: [skiff_requirement] = []) -> skiff_node_term {
    skiff_node_term(
      match_labels: skiff_selector(requirements: keep(labels), n_requirements: UInt32(labels.count), reserved0: 0),
      match_fields: skiff_selector(requirements: keep(fields), n_requirements: UInt32(fields.count), reserved0: 0))
  }

  /// A host port; a nil protocol or address is left unset (0).
  func port(_ number: Int32, _ protocolName: String? = "TCP", ip: String? = nil) -> skiff_port {
    skiff_port(port: number, protocol: protocolName.map(id) ?? 0, host_ip: ip.map(id) ?? 0, reserved0: 0)
  }

  /// cpu in millicores, memory in bytes; extended resources sorted by name id, as skiff.h says.
  func resources(cpu: Int64 = 0, memory: Int64 = 0, pods: Int64 = 110, scalars: [String: Int64] = [:]) -> skiff_resources {
    let sorted = scalars.map { skiff_scalar(name: id($0.key), reserved0: 0, value: $0.value) }.sorted { $0.name < $1.name }
    return skiff_resources(milli_cpu: cpu, memory: memory, ephemeral_storage: 0, pods: pods,
                           scalars: keep(sorted), n_scalars: UInt32(sorted.count), reserved0: 0)
  }

  func pod(priority: Int32 = 0, nodeSelector: [String: String] = [:], required: [skiff_node_term] = [],
           preferred: [(weight: Int32, term: skiff_node_term)] = [], ports: [skiff_port] = [],
           requests: skiff_resources? = nil) -> UnsafePointer<skiff_pod>? {
    var pod = skiff_pod()
    pod.abi_version = SKIFF_ABI_VERSION
    pod.struct_size = UInt32(MemoryLayout<skiff_pod>.size)
    pod.priority = priority
    pod.requests = requests ?? resources(pods: 0)
    let selector = labels(nodeSelector)
    pod.node_selector = keep(selector)
    pod.n_node_selector = UInt32(selector.count)
    pod.required_node_terms = keep(required)
    pod.n_required_node_terms = UInt32(required.count)
    let weighted = preferred.map { skiff_preferred_node_term(weight: $0.weight, reserved0: 0, term: $0.term) }
    pod.preferred_node_terms = keep(weighted)
    pod.n_preferred_node_terms = UInt32(weighted.count)
    pod.host_ports = keep(ports)
    pod.n_host_ports = UInt32(ports.count)
    return keep([pod])
  }

  func node(_ name: String, labels pairs: [String: String] = [:], usedPorts: [skiff_port] = [],
            allocatable: skiff_resources? = nil, requested: skiff_resources? = nil) -> UnsafePointer<skiff_node>? {
    var node = skiff_node()
    node.abi_version = SKIFF_ABI_VERSION
    node.struct_size = UInt32(MemoryLayout<skiff_node>.size)
    node.name = id(name)
    node.allocatable = allocatable ?? resources()
    node.requested = requested ?? resources(pods: 0)
    let nodeLabels = labels(pairs)
    node.labels = keep(nodeLabels)
    node.n_labels = UInt32(nodeLabels.count)
    node.used_ports = keep(usedPorts)
    node.n_used_ports = UInt32(usedPorts.count)
    return keep([node])
  }
}
