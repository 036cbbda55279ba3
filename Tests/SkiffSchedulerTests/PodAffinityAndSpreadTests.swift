// InterPodAffinity and PodTopologySpread from the real scheduler library, run over hand-built
// clusters as the framework runs them: pre_filter then filter on every node in one cycle whose
// cycle_nodes is the cluster, and pre_score, score and normalize likewise.
import Foundation
import Kernel
import SkiffABI
import SkiffTestSupport
import XCTest

final class PodAffinityAndSpreadTests: KernelTestCase {
  var objects: ClusterObjects!

  private let affinityMismatch = "unschedulable: node(s) didn't match pod affinity rules"
  private let antiAffinityMismatch = "unschedulable: node(s) didn't match pod anti-affinity rules"
  private let existingAntiAffinityMismatch = "unschedulable: node(s) didn't satisfy existing pods anti-affinity rules"
  private let skewTooLarge = "unschedulable: node(s) didn't match pod topology spread constraints"
  private let missingLabel = "unresolvable: node(s) didn't match pod topology spread constraints (missing required label)"

  override func setUpWithError() throws {
    try super.setUpWithError()
    try running.boot("""
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: scheduler
      plugins:
        - name: scheduler
      """, in: dir)
    objects = ClusterObjects(running.kernel.strings)
  }

  private func plugin(_ name: String) throws -> skiff_scheduler_plugin {
    try XCTUnwrap(running.kernel.extensions.scheduler(named: name), "\(name) is not registered").vtable.pointee
  }

  /// A fresh cycle whose cycle_nodes answers `nodes`, as the framework sets it up.
  private func cycle(over nodes: [UnsafePointer<skiff_node>?], changes: NodeChangeLog? = nil) -> SchedulingCycle {
    let cycle = SchedulingCycle()
    cycle.nodes = objects.keep(nodes)
    cycle.nodeCount = UInt32(nodes.count)
    cycle.nodeChanges = changes
    return cycle
  }

  /// pre_filter's status and, per node in order, "fits" or the status and reasons its filter gave.
  /// A skipped plugin's filter is not called, as in the framework.
  private func filter(_ plugin: skiff_scheduler_plugin, _ pod: UnsafePointer<skiff_pod>?,
                      _ nodes: [UnsafePointer<skiff_node>?],
                      changes: NodeChangeLog? = nil) -> (preFilter: skiff_status, nodes: [String]) {
    let cycle = cycle(over: nodes, changes: changes)
    defer { cycle.end() }
    var count: UInt32 = 0
    let preFilter = plugin.pre_filter(plugin.`self`, cycle.handle, pod, nil, &count)
    guard preFilter != SKIFF_SKIP else { return (preFilter, nodes.map { _ in "fits" }) }
    return (preFilter, nodes.map { node in
      let status = plugin.filter(plugin.`self`, cycle.handle, pod, node)
      let reasons = cycle.takeReasons(ofPlugin: 0).joined(separator: "; ")
      switch status {
      case SKIFF_OK: return reasons.isEmpty ? "fits" : "fits, yet said \(reasons)"
      case SKIFF_UNSCHEDULABLE: return "unschedulable: \(reasons)"
      case SKIFF_UNSCHEDULABLE_AND_UNRESOLVABLE: return "unresolvable: \(reasons)"
      default: return "status \(status.rawValue): \(reasons)"
      }
    })
  }

  /// pre_score's status, each node's raw score and the normalized scores, in one cycle.
  private func score(_ plugin: skiff_scheduler_plugin, _ pod: UnsafePointer<skiff_pod>?,
                     _ nodes: [UnsafePointer<skiff_node>?]) -> (preScore: skiff_status, raw: [Int64], normalized: [Int64]) {
    let cycle = cycle(over: nodes)
    defer { cycle.end() }
    let preScore = nodes.withUnsafeBufferPointer {
      plugin.pre_score(plugin.`self`, cycle.handle, pod, $0.baseAddress, UInt32($0.count))
    }
    var scores = nodes.map { node in
      var score: Int64 = -1
      XCTAssertEqual(plugin.score(plugin.`self`, cycle.handle, pod, node, &score), SKIFF_OK)
      return skiff_node_score(node: node, score: score)
    }
    let raw = scores.map(\.score)
    XCTAssertEqual(plugin.normalize_score(plugin.`self`, cycle.handle, pod, &scores, UInt32(scores.count)), SKIFF_OK)
    return (preScore, raw, scores.map(\.score))
  }

  /// Zones a (a1, a2), b (b1) and c (c1), and "bare" with a hostname but no zone. Placed: a web
  /// pod on a1; a db pod and, in namespace prod, a web pod on b1; on c1 a guard whose required
  /// anti-affinity keeps role=batch pods out of its zone and who prefers app=client pods on its node.
  private func affinityCluster() -> [UnsafePointer<skiff_node>?] {
    let o = objects!
    let guardPod = o.pod(labels: ["app": "guard"],
                         antiAffinity: [o.podTerm(o.selector(["role": "batch"]), on: zone)],
                         preferredAffinity: [o.podTerm(o.selector(["app": "client"]), on: hostname, weight: 7)])
    return [
      node("a1", zone: "a", holding: [o.pod(labels: ["app": "web"])]),
      node("a2", zone: "a"),
      node("b1", zone: "b", holding: [o.pod(labels: ["app": "db"]), o.pod(labels: ["app": "web"], namespace: "prod")]),
      node("c1", zone: "c", holding: [guardPod]),
      node("bare", zone: nil),
    ]
  }

  private let zone = "topology.kubernetes.io/zone"
  private let hostname = "kubernetes.io/hostname"

  private func node(_ name: String, zone value: String?, labels: [String: String] = [:],
                    holding pods: [UnsafePointer<skiff_pod>?] = []) -> UnsafePointer<skiff_node>? {
    var all = labels
    all[hostname] = name
    if let value { all[zone] = value }
    return objects.node(name, labels: all, holding: pods)
  }

  // MARK: InterPodAffinity filter

  func testRequiredAffinityNeedsAMatchingPodInTheNodesDomain() throws {
    let affinity = try plugin("InterPodAffinity")
    let o = objects!
    let cluster = affinityCluster()
    let nearWeb = o.pod(labels: ["app": "client"], affinity: [o.podTerm(o.selector(["app": "web"]), on: zone)])
    let verdicts = filter(affinity, nearWeb, cluster)
    XCTAssertEqual(verdicts.preFilter, SKIFF_OK)
    // b1's web pod is in prod, not the pod's namespace; bare has no zone at all.
    XCTAssertEqual(verdicts.nodes, ["fits", "fits", affinityMismatch, affinityMismatch, affinityMismatch])

    let nearProdWeb = o.pod(labels: ["app": "client"],
                            affinity: [o.podTerm(o.selector(["app": "web"]), on: zone, namespaces: ["prod"])])
    XCTAssertEqual(filter(affinity, nearProdWeb, cluster).nodes,
                   [affinityMismatch, affinityMismatch, "fits", affinityMismatch, affinityMismatch])

    let nearWebOnItsNode = o.pod(labels: ["app": "client"], affinity: [o.podTerm(o.selector(["app": "web"]), on: hostname)])
    XCTAssertEqual(filter(affinity, nearWebOnItsNode, cluster).nodes,
                   ["fits", affinityMismatch, affinityMismatch, affinityMismatch, affinityMismatch])

    // Both terms must select the same pod: web is in zone a, db in zone b, none is both.
    let nearWebAndDb = o.pod(labels: ["app": "client"], affinity: [o.podTerm(o.selector(["app": "web"]), on: zone),
                                                                   o.podTerm(o.selector(["app": "db"]), on: zone)])
    XCTAssertEqual(filter(affinity, nearWebAndDb, cluster).nodes, Array(repeating: affinityMismatch, count: 5))
  }

  func testTheFirstPodOfASelfAffineGroupMayGoAnywhereWithTheKey() throws {
    let affinity = try plugin("InterPodAffinity")
    let o = objects!
    let cluster = affinityCluster()
    // No pod is app=cache yet, and the pod itself is: any node with a zone will do.
    let firstCache = o.pod(labels: ["app": "cache"], affinity: [o.podTerm(o.selector(["app": "cache"]), on: zone)])
    XCTAssertEqual(filter(affinity, firstCache, cluster).nodes, ["fits", "fits", "fits", "fits", affinityMismatch])
    // Without matching itself, no matching pod anywhere means no node.
    let lonely = o.pod(labels: ["app": "client"], affinity: [o.podTerm(o.selector(["app": "cache"]), on: zone)])
    XCTAssertEqual(filter(affinity, lonely, cluster).nodes, Array(repeating: affinityMismatch, count: 5))
    // Once a matching pod exists, the pod must join it even though it matches itself.
    let nextWeb = o.pod(labels: ["app": "web"], affinity: [o.podTerm(o.selector(["app": "web"]), on: zone)])
    XCTAssertEqual(filter(affinity, nextWeb, cluster).nodes,
                   ["fits", "fits", affinityMismatch, affinityMismatch, affinityMismatch])
  }

  func testRequiredAntiAffinityKeepsThePodOutOfDomainsWithMatchingPods() throws {
    let affinity = try plugin("InterPodAffinity")
    let o = objects!
    let cluster = affinityCluster()
    let awayFromWeb = o.pod(labels: ["app": "client"], antiAffinity: [o.podTerm(o.selector(["app": "web"]), on: zone)])
    // Zone a holds a web pod; prod's web pod on b1 is in another namespace; bare has no zone
    // domain, so it holds no matching pod either.
    XCTAssertEqual(filter(affinity, awayFromWeb, cluster).nodes,
                   [antiAffinityMismatch, antiAffinityMismatch, "fits", "fits", "fits"])
    let awayFromAnyWeb = o.pod(labels: ["app": "client"],
                               antiAffinity: [o.podTerm(o.selector(["app": "web"]), on: zone, namespaces: ["default", "prod"])])
    XCTAssertEqual(filter(affinity, awayFromAnyWeb, cluster).nodes,
                   [antiAffinityMismatch, antiAffinityMismatch, antiAffinityMismatch, "fits", "fits"])
    let notOnWebsNode = o.pod(labels: ["app": "client"], antiAffinity: [o.podTerm(o.selector(["app": "web"]), on: hostname)])
    XCTAssertEqual(filter(affinity, notOnWebsNode, cluster).nodes, [antiAffinityMismatch, "fits", "fits", "fits", "fits"])
  }

  func testPreFilterHandsTheFrameworkTheNodesHoldingPodsThatRequiredAntiAffinityMatches() throws {
    let affinity = try plugin("InterPodAffinity")
    let o = objects!
    let cluster = affinityCluster()
    func preRejections(_ pod: UnsafePointer<skiff_pod>?) -> [String] {
      let cycle = cycle(over: cluster)
      defer { cycle.end() }
      var count: UInt32 = 0
      _ = affinity.pre_filter(affinity.`self`, cycle.handle, pod, nil, &count)
      return cycle.preRejections.flatMap { rejection in
        rejection.positions.sorted().map { "\(rejection.status == SKIFF_UNSCHEDULABLE ? "unschedulable" : "?"): \(rejection.reason) @\($0)" }
      }
    }
    // a1 holds the web pod; a2 shares its zone but holds none, so the filter decides about it.
    let awayFromWeb = o.pod(labels: ["app": "client"], antiAffinity: [o.podTerm(o.selector(["app": "web"]), on: zone)])
    XCTAssertEqual(preRejections(awayFromWeb), [antiAffinityMismatch + " @0"])
    // No terms of its own: the nodes of placed pods whose terms refuse it (the guard on c1).
    XCTAssertEqual(preRejections(o.pod(labels: ["role": "batch"])), [existingAntiAffinityMismatch + " @3"])
    // Required affinity is checked first and would give another reason: nothing is handed over.
    let nearWebAwayFromDB = o.pod(labels: ["app": "client"], affinity: [o.podTerm(o.selector(["app": "web"]), on: zone)],
                                  antiAffinity: [o.podTerm(o.selector(["app": "web"]), on: zone)])
    XCTAssertEqual(preRejections(nearWebAwayFromDB), [])
  }

  func testAPlacedPodsAntiAffinityForbidsItsDomainToPodsItSelects() throws {
    let affinity = try plugin("InterPodAffinity")
    let o = objects!
    let cluster = affinityCluster()
    let batch = o.pod(labels: ["role": "batch"])
    XCTAssertEqual(filter(affinity, batch, cluster).nodes,
                   ["fits", "fits", "fits", existingAntiAffinityMismatch, "fits"])
    // The guard's term covers its own namespace only.
    let prodBatch = o.pod(labels: ["role": "batch"], namespace: "prod")
    XCTAssertEqual(filter(affinity, prodBatch, cluster).preFilter, SKIFF_SKIP, "nothing constrains it")
    // A pod that is neither constrained nor selected by any anti-affinity skips the filter.
    XCTAssertEqual(filter(affinity, o.pod(labels: ["app": "client"]), cluster).preFilter, SKIFF_SKIP)
  }

  func testTermSelectorsFollowLabelSelectorOperators() throws {
    let affinity = try plugin("InterPodAffinity")
    let o = objects!
    let cluster = [node("n1", zone: "a", holding: [o.pod(labels: ["tier": "cache"])])]
    let cases: [(String, [skiff_requirement], selects: Bool)] = [
      ("In, other value", [o.requirement("tier", SKIFF_SELECTOR_IN, ["db"])], false),
      ("In", [o.requirement("tier", SKIFF_SELECTOR_IN, ["db", "cache"])], true),
      ("NotIn, listed", [o.requirement("tier", SKIFF_SELECTOR_NOT_IN, ["cache"])], false),
      ("NotIn, key absent", [o.requirement("app", SKIFF_SELECTOR_NOT_IN, ["web"])], true),
      ("Exists", [o.requirement("tier", SKIFF_SELECTOR_EXISTS)], true),
      ("Exists, absent", [o.requirement("app", SKIFF_SELECTOR_EXISTS)], false),
      ("DoesNotExist", [o.requirement("app", SKIFF_SELECTOR_DOES_NOT_EXIST)], true),
      ("DoesNotExist, present", [o.requirement("tier", SKIFF_SELECTOR_DOES_NOT_EXIST)], false),
      ("requirements are ANDed", [o.requirement("tier", SKIFF_SELECTOR_EXISTS), o.requirement("app", SKIFF_SELECTOR_EXISTS)], false),
      ("an empty selector selects every pod", [], true),
    ]
    for (name, requirements, selects) in cases {
      let pod = o.pod(labels: ["app": "client"], antiAffinity: [o.podTerm(o.selector(requirements), on: hostname)])
      XCTAssertEqual(filter(affinity, pod, cluster).nodes, [selects ? antiAffinityMismatch : "fits"], name)
    }
  }

  // MARK: InterPodAffinity score

  func testPreferredTermsAddAndSubtractWeightsPerDomainThenMinMax() throws {
    let affinity = try plugin("InterPodAffinity")
    let o = objects!
    let cluster = affinityCluster()
    let client = o.pod(labels: ["app": "client"],
                       preferredAffinity: [o.podTerm(o.selector(["app": "web"]), on: zone, weight: 10)],
                       preferredAntiAffinity: [o.podTerm(o.selector(["app": "db"]), on: hostname, weight: 5)])
    let scores = score(affinity, client, cluster)
    XCTAssertEqual(scores.preScore, SKIFF_OK)
    // a1, a2: +10, zone a holds web; b1: −5, db on the node; c1: +7, the guard prefers clients
    // on its node; bare: nothing.
    XCTAssertEqual(scores.raw, [10, 10, -5, 7, 0])
    // Min-max over −5…10: (s + 5) × 100 / 15.
    XCTAssertEqual(scores.normalized, [100, 100, 0, 80, 33])

    let indifferent = score(affinity, o.pod(labels: ["app": "other"]), cluster)
    XCTAssertEqual(indifferent.preScore, SKIFF_SKIP)
    XCTAssertEqual(indifferent.normalized, [0, 0, 0, 0, 0])
  }

  // MARK: PodTopologySpread filter

  /// Zones a, b and c with one node each and bare without a zone; app=web pods: one on a1, one on
  /// b1; on c1 only pods that must not count: a db pod, a web pod in prod, a terminating web pod.
  private func spreadCluster() -> [UnsafePointer<skiff_node>?] {
    let o = objects!
    return [
      node("a1", zone: "a", holding: [o.pod(labels: ["app": "web"])]),
      node("b1", zone: "b", holding: [o.pod(labels: ["app": "web"])]),
      node("c1", zone: "c", holding: [o.pod(labels: ["app": "db"]), o.pod(labels: ["app": "web"], namespace: "prod"),
                                      o.pod(labels: ["app": "web"], terminating: true)]),
      node("bare", zone: nil),
    ]
  }

  func testMaxSkewOneAcrossThreeZonesLeavesOnlyTheEmptiestZone() throws {
    let spread = try plugin("PodTopologySpread")
    let o = objects!
    let cluster = spreadCluster()
    let web = o.pod(labels: ["app": "web"], spread: [o.spread(zone, maxSkew: 1, selector: o.selector(["app": "web"]))])
    let verdicts = filter(spread, web, cluster)
    XCTAssertEqual(verdicts.preFilter, SKIFF_OK)
    // Counts a 1, b 1, c 0: adding to a or b makes 2 − 0 > 1.
    XCTAssertEqual(verdicts.nodes, [skewTooLarge, skewTooLarge, "fits", missingLabel])

    let looser = o.pod(labels: ["app": "web"], spread: [o.spread(zone, maxSkew: 2, selector: o.selector(["app": "web"]))])
    XCTAssertEqual(filter(spread, looser, cluster).nodes, ["fits", "fits", "fits", missingLabel])
    // A pod its own selector does not match adds nothing to the count: 1 + 0 − 0 ≤ 1.
    let other = o.pod(labels: ["app": "other"], spread: [o.spread(zone, maxSkew: 1, selector: o.selector(["app": "web"]))])
    XCTAssertEqual(filter(spread, other, cluster).nodes, ["fits", "fits", "fits", missingLabel])
  }

  func testMinDomainsTreatsTheMinimumAsZeroUntilThereAreEnoughDomains() throws {
    let spread = try plugin("PodTopologySpread")
    let o = objects!
    let twoZones = [node("a1", zone: "a", holding: [o.pod(labels: ["app": "web"])]),
                    node("b1", zone: "b", holding: [o.pod(labels: ["app": "web"])])]
    func web(minDomains: Int32) -> UnsafePointer<skiff_pod>? {
      o.pod(labels: ["app": "web"], spread: [o.spread(zone, maxSkew: 1, minDomains: minDomains, selector: o.selector(["app": "web"]))])
    }
    XCTAssertEqual(filter(spread, web(minDomains: 0), twoZones).nodes, ["fits", "fits"], "1 + 1 − 1 ≤ 1")
    XCTAssertEqual(filter(spread, web(minDomains: 2), twoZones).nodes, ["fits", "fits"], "two domains are enough")
    XCTAssertEqual(filter(spread, web(minDomains: 3), twoZones).nodes, [skewTooLarge, skewTooLarge], "1 + 1 − 0 > 1")
  }

  func testOnlyNodesThePodMayGoToAreCounted() throws {
    let spread = try plugin("PodTopologySpread")
    let o = objects!
    let cluster = [node("a1", zone: "a", labels: ["disk": "ssd"], holding: [o.pod(labels: ["app": "web"])]),
                   node("b1", zone: "b", labels: ["disk": "hdd"]),
                   node("c1", zone: "c", labels: ["disk": "ssd"], holding: [o.pod(labels: ["app": "web"])])]
    let constraint = o.spread(zone, maxSkew: 1, selector: o.selector(["app": "web"]))
    // Zone b's node is no ssd, so its empty domain does not count: the minimum is 1, not 0.
    let onSSD = o.pod(labels: ["app": "web"], spread: [constraint], nodeSelector: ["disk": "ssd"])
    XCTAssertEqual(filter(spread, onSSD, cluster).nodes, ["fits", "fits", "fits"])
    let anywhere = o.pod(labels: ["app": "web"], spread: [constraint])
    XCTAssertEqual(filter(spread, anywhere, cluster).nodes, [skewTooLarge, "fits", skewTooLarge])
  }

  // MARK: Counts kept across cycles

  /// A copy of a hand-built node numbered as the framework numbers nodes: counts kept across
  /// cycles are recounted only where the id or generation differs from the last cycle's.
  private func numbered(_ node: UnsafePointer<skiff_node>?, id: UInt64, generation: UInt64) -> UnsafePointer<skiff_node>? {
    var copy = node!.pointee
    copy.id = id
    copy.generation = generation
    return objects.keep([copy])
  }

  /// Ids no other test's nodes use, as a real process numbers nodes once.
  private func freshIDs() -> UInt64 { UInt64.random(in: 1 << 40 ..< 1 << 62) }

  func testSpreadCountsFollowNodesThatChangeOrGoBetweenCycles() throws {
    let spread = try plugin("PodTopologySpread")
    let o = objects!
    let web = o.pod(labels: ["app": "web"], spread: [o.spread(zone, maxSkew: 1, selector: o.selector(["app": "web"]))])
    let id = freshIDs()
    let a1 = numbered(node("a1", zone: "a"), id: id, generation: 1)
    let b1 = numbered(node("b1", zone: "b"), id: id + 1, generation: 1)
    XCTAssertEqual(filter(spread, web, [a1, b1]).nodes, ["fits", "fits"])
    // a1 gained a web pod: 1 + 1 − 0 > 1 in zone a.
    let busyA1 = numbered(node("a1", zone: "a", holding: [o.pod(labels: ["app": "web"])]), id: id, generation: 2)
    XCTAssertEqual(filter(spread, web, [busyA1, b1]).nodes, [skewTooLarge, "fits"])
    // Zone b went with its node: zone a alone is the emptiest, 1 + 1 − 1 ≤ 1.
    XCTAssertEqual(filter(spread, web, [busyA1]).nodes, ["fits"])
    // And came back empty.
    XCTAssertEqual(filter(spread, web, [busyA1, b1]).nodes, [skewTooLarge, "fits"])
  }

  func testPreFilterHandsTheFrameworkTheNodesInDomainsTheSpreadWouldCrowd() throws {
    let spread = try plugin("PodTopologySpread")
    let o = objects!
    let web = o.pod(labels: ["app": "web"], spread: [o.spread(zone, maxSkew: 1, selector: o.selector(["app": "web"]))])
    let id = freshIDs()
    let nodes = [numbered(node("a1", zone: "a", holding: [o.pod(labels: ["app": "web"])]), id: id, generation: 1),
                 numbered(node("a2", zone: "a"), id: id + 1, generation: 1),
                 numbered(node("b1", zone: "b"), id: id + 2, generation: 1),
                 numbered(node("bare", zone: nil), id: id + 3, generation: 1)]
    let cycle = cycle(over: nodes)
    defer { cycle.end() }
    var count: UInt32 = 0
    XCTAssertEqual(spread.pre_filter(spread.`self`, cycle.handle, web, nil, &count), SKIFF_OK)
    // Zone a would hold 2 to b's 0: both its nodes are named; "bare" lacks the key, and its
    // different reason is left to the filter.
    XCTAssertEqual(cycle.preRejections.map { "\($0.status == SKIFF_UNSCHEDULABLE) \($0.reason) \($0.positions.sorted())" },
                   ["true \(skewTooLarge.dropFirst("unschedulable: ".count)) [0, 1]"])
    XCTAssertEqual(filter(spread, web, nodes).nodes, [skewTooLarge, skewTooLarge, "fits", missingLabel],
                   "the filter agrees on every node named")
  }

  func testKeptCountsReadOnlyTheNodesTheFrameworkSaysChanged() throws {
    let spread = try plugin("PodTopologySpread")
    let o = objects!
    let web = o.pod(labels: ["app": "web"], spread: [o.spread(zone, maxSkew: 1, selector: o.selector(["app": "web"]))])
    let id = freshIDs()
    let a1 = numbered(node("a1", zone: "a"), id: id, generation: 1)
    let b1 = numbered(node("b1", zone: "b"), id: id + 1, generation: 1)
    let changes = NodeChangeLog()
    changes.record(0)
    changes.record(1)
    XCTAssertEqual(filter(spread, web, [a1, b1], changes: changes).nodes, ["fits", "fits"])
    let busyA1 = numbered(node("a1", zone: "a", holding: [o.pod(labels: ["app": "web"])]), id: id, generation: 2)
    changes.record(0)
    XCTAssertEqual(filter(spread, web, [busyA1, b1], changes: changes).nodes, [skewTooLarge, "fits"])
    // A change the log does not report is not looked for: no node is compared unless it says so.
    let emptiedA1 = numbered(node("a1", zone: "a"), id: id, generation: 3)
    XCTAssertEqual(filter(spread, web, [emptiedA1, b1], changes: changes).nodes, [skewTooLarge, "fits"])
    changes.record(0)
    XCTAssertEqual(filter(spread, web, [emptiedA1, b1], changes: changes).nodes, ["fits", "fits"])
    // After a reset (a node went) the log cannot say what changed: every node is compared again.
    changes.reset()
    XCTAssertEqual(filter(spread, web, [busyA1, b1], changes: changes).nodes, [skewTooLarge, "fits"])
    // And another snapshot's log never answers for this one's nodes.
    let other = NodeChangeLog()
    XCTAssertEqual(filter(spread, web, [emptiedA1, b1], changes: other).nodes, ["fits", "fits"])
  }

  func testAPlacedPodsAntiAffinityCountsFromTheCycleAfterItArrives() throws {
    let affinity = try plugin("InterPodAffinity")
    let o = objects!
    let web = o.pod(labels: ["app": "web"])
    let id = freshIDs()
    let a1 = numbered(node("a1", zone: "a"), id: id, generation: 1)
    let b1 = numbered(node("b1", zone: "b"), id: id + 1, generation: 1)
    XCTAssertEqual(filter(affinity, web, [a1, b1]).preFilter, SKIFF_SKIP, "no placed pod has terms")
    let loner = o.pod(labels: ["app": "batch"], antiAffinity: [o.podTerm(o.selector(["app": "web"]), on: zone)])
    let lonerOnA1 = numbered(node("a1", zone: "a", holding: [loner]), id: id, generation: 2)
    XCTAssertEqual(filter(affinity, web, [lonerOnA1, b1]).nodes, [existingAntiAffinityMismatch, "fits"])
    XCTAssertEqual(filter(affinity, web, [a1, b1]).preFilter, SKIFF_SKIP, "the loner went again")
  }

  // MARK: PodTopologySpread score

  func testScheduleAnywayPrefersDomainsWithFewerMatchingPods() throws {
    let spread = try plugin("PodTopologySpread")
    let o = objects!
    let cluster = [node("a1", zone: "a", holding: [o.pod(labels: ["app": "web"]), o.pod(labels: ["app": "web"])]),
                   node("b1", zone: "b", holding: [o.pod(labels: ["app": "web"])]),
                   node("c1", zone: "c"),
                   node("bare", zone: nil)]
    let web = o.pod(labels: ["app": "web"],
                    spread: [o.spread(zone, maxSkew: 1, SKIFF_SPREAD_SCHEDULE_ANYWAY, selector: o.selector(["app": "web"]))])
    XCTAssertEqual(filter(spread, web, cluster).preFilter, SKIFF_SKIP, "no DoNotSchedule constraint")
    let scores = score(spread, web, cluster)
    XCTAssertEqual(scores.preScore, SKIFF_OK)
    // Pods × log(3 domains + 2) = pods × 1.609: 3.22 → 3, 1.61 → 2, 0; bare has no zone.
    XCTAssertEqual(scores.raw, [3, 2, 0, 0])
    // 100 × (3 + 0 − s) / 3; a node without the key scores 0.
    XCTAssertEqual(scores.normalized, [0, 33, 100, 0])

    let unconstrained = score(spread, o.pod(labels: ["app": "web"]), cluster)
    XCTAssertEqual(unconstrained.preScore, SKIFF_SKIP)
    XCTAssertEqual(unconstrained.normalized, [0, 0, 0, 0])
  }
}

extension ClusterObjects {
  /// matchLabels: one In requirement per pair.
  func selector(_ labels: [String: String]) -> skiff_selector {
    selector(labels.map { requirement($0.key, SKIFF_SELECTOR_IN, [$0.value]) })
  }

  func selector(_ requirements: [skiff_requirement]) -> skiff_selector {
    skiff_selector(requirements: keep(requirements), n_requirements: UInt32(requirements.count), reserved0: 0)
  }

  /// A pod (anti-)affinity term; no namespaces means the owning pod's own.
  func podTerm(_ selector: skiff_selector, on topologyKey: String, namespaces: [String] = [],
               weight: Int32 = 0) -> skiff_pod_term {
    skiff_pod_term(selector: selector, namespaces: keep(namespaces.map(id)), n_namespaces: UInt32(namespaces.count),
                   topology_key: id(topologyKey), weight: weight, reserved0: 0)
  }

  func spread(_ topologyKey: String, maxSkew: Int32, minDomains: Int32 = 0,
              _ action: skiff_unsatisfiable_action = SKIFF_SPREAD_DO_NOT_SCHEDULE,
              selector: skiff_selector) -> skiff_spread_constraint {
    skiff_spread_constraint(max_skew: maxSkew, min_domains: minDomains, topology_key: id(topologyKey),
                            when_unsatisfiable: action, selector: selector)
  }

  func pod(labels pairs: [String: String], namespace: String = "default", affinity: [skiff_pod_term] = [],
           antiAffinity: [skiff_pod_term] = [], preferredAffinity: [skiff_pod_term] = [],
           preferredAntiAffinity: [skiff_pod_term] = [], spread: [skiff_spread_constraint] = [],
           nodeSelector: [String: String] = [:], terminating: Bool = false) -> UnsafePointer<skiff_pod>? {
    var pod = self.pod(nodeSelector: nodeSelector)!.pointee
    pod.namespace_ = id(namespace)
    let podLabels = labels(pairs)
    pod.labels = keep(podLabels)
    pod.n_labels = UInt32(podLabels.count)
    pod.flags = terminating ? SKIFF_POD_TERMINATING : 0
    pod.affinity = keep(affinity)
    pod.n_affinity = UInt32(affinity.count)
    pod.anti_affinity = keep(antiAffinity)
    pod.n_anti_affinity = UInt32(antiAffinity.count)
    pod.preferred_affinity = keep(preferredAffinity)
    pod.n_preferred_affinity = UInt32(preferredAffinity.count)
    pod.preferred_anti_affinity = keep(preferredAntiAffinity)
    pod.n_preferred_anti_affinity = UInt32(preferredAntiAffinity.count)
    pod.spread = keep(spread)
    pod.n_spread = UInt32(spread.count)
    return keep([pod])
  }

  /// A node with `pods` placed on it, flagged as the framework flags nodes holding pods with pod
  /// (anti-)affinity terms.
  func node(_ name: String, labels pairs: [String: String], holding pods: [UnsafePointer<skiff_pod>?])
    -> UnsafePointer<skiff_node>? {
    var node = node(name, labels: pairs)!.pointee
    node.pods = keep(pods)
    node.n_pods = UInt32(pods.count)
    if pods.contains(where: { pod in
      guard let p = pod?.pointee else { return false }
      return p.n_affinity + p.n_anti_affinity + p.n_preferred_affinity + p.n_preferred_anti_affinity > 0
    }) { node.flags |= SKIFF_NODE_HAS_AFFINITY_PODS }
    return keep([node])
  }
}
