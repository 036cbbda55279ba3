// The scheduling framework: a priority queue of pods waiting for a node, one scheduling cycle at a
// time over the snapshot (pre-filter, filter, post-filter when nothing fits, pre-score, score,
// normalize, pick, reserve, permit), and asynchronous binding so the next cycle does not wait for
// the store. All policy is in scheduler plugins loaded through skiff.h; this file only calls their
// extension points in Kubernetes' order. Loop only.
import FoundationEssentials
import Glibc
import Kernel
import ObjectModel
import SkiffABI
import Store
import SystemKit

/// Where the framework's decisions go: the API server, so bindings and conditions follow its rules.
public protocol SchedulingOutcomes: AnyObject {
  /// pods/binding: sets spec.nodeName and PodScheduled=True, or fails (already bound, gone).
  func bind(namespace: String, name: String, node: String, completion: @escaping (Bool) -> Void)
  /// PodScheduled=False with reason Unschedulable and `message`, plus a FailedScheduling event.
  func reportUnschedulable(namespace: String, name: String, message: String)
  /// Preemption: deletes a victim (gracefully) to make room for `preemptor` on `node`.
  func preempt(namespace: String, name: String, preemptor: String, node: String)
  /// Preemption: status.nominatedNodeName of the pod that will get the room.
  func nominate(namespace: String, name: String, node: String)
}

public final class Scheduler: PermitDecisions, @unchecked Sendable {
  private let kernel: Kernel
  private let store: KeyValueStore
  /// Held strongly: nothing else need keep the bridge to the API server alive.
  private let outcomes: SchedulingOutcomes?
  private let snapshot: ClusterSnapshot
  private let queue: SchedulingQueue
  /// By schedulerName; pods naming another scheduler are left alone.
  private let profiles: [String: SchedulingProfile]
  private var watches: [WatchHandle] = []
  private var pumping = false
  /// Where the next cycle's filtering starts in the snapshot's nodes.
  private var nextStartNode = 0
  /// Per node position, which pre_filter rejection covers it this cycle (0: none); all zero
  /// between cycles, kept to spare an allocation per cycle.
  private var rejectionMarks: [UInt16] = []
  /// Pods known and not yet placed, by store key, with the last message reported for them.
  private var pending: [String: PodInfo] = [:]
  /// PodDisruptionBudgets by store key, each with the arena behind its selector; preemption reads
  /// them as one array, rebuilt only when a budget changes.
  private var budgets: [String: (arena: Arena, budget: skiff_disruption_budget)] = [:]
  private var budgetArray: [skiff_disruption_budget] = []
  private var lastReport: [String: String] = [:]
  public private(set) var stats = (cycles: 0, scheduled: 0, unschedulable: 0)
  /// The durations of the most recent cycles, for quantiles.
  private var cycleMicroseconds: [Double] = []
  private var cycleCursor = 0
  static let cyclesKept = 100_000
  /// The last decision for each pending pod and for the most recently scheduled ones, for
  /// `skiff explain`; bounded, so a large cluster does not keep one per pod forever.
  public private(set) var explanations: [String: Explanation] = [:]
  private var explainedScheduled: [String] = []
  static let scheduledExplanationsKept = 10_000

  public struct Explanation: Sendable {
    public let nodes: Int
    /// Per plugin: how many nodes it rejected, by reason.
    public let rejections: [String: [String: Int]]
    /// For a scheduled pod: the best nodes with each plugin's normalized score.
    public let top: [(node: String, total: Int64, scores: [String: Int64])]
    public let chosen: String?
  }

  /// `config` is the `scheduler` plugin's configuration, where profiles live (SchedulingProfile).
  public init(kernel: Kernel, store: KeyValueStore, outcomes: SchedulingOutcomes, config: String?) throws {
    self.kernel = kernel
    self.store = store
    self.outcomes = outcomes
    snapshot = ClusterSnapshot(strings: kernel.strings)
    let loaded = try SchedulingProfile.load(config: config, extensions: kernel.extensions.schedulers)
    profiles = Dictionary(uniqueKeysWithValues: loaded.map { ($0.schedulerName, $0) })
    // One queue for all profiles, as Kubernetes requires them to share the queue-sort plugin.
    queue = SchedulingQueue(less: loaded.first?.queueSort)
    kernel.permits = self
  }

  // MARK: Permit decisions (host->permit_allow / permit_reject)

  public func allow(pod id: UInt64, plugin: String) -> skiff_status {
    guard var entry = waiting[id] else { return SKIFF_NOT_FOUND }
    entry.plugins.remove(plugin)
    guard entry.plugins.isEmpty else {
      waiting[id] = entry
      return SKIFF_OK
    }
    waiting[id] = nil
    entry.timer.close()
    bind(entry.pod, to: entry.node, profile: entry.profile)
    return SKIFF_OK
  }

  public func reject(pod id: UInt64, reason: String) -> skiff_status {
    guard let entry = waiting.removeValue(forKey: id) else { return SKIFF_NOT_FOUND }
    entry.timer.close()
    release(entry.pod, profile: entry.profile, node: entry.node, message: reason)
    return SKIFF_OK
  }

  /// Prometheus text: cycle counts and cycle-time quantiles over the recent cycles.
  public func metricsText() -> String {
    let sorted = cycleMicroseconds.sorted()
    func quantile(_ q: Double) -> Double {
      sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * q + 0.5))]
    }
    return """
      # TYPE skiff_scheduler_cycles_total counter
      skiff_scheduler_cycles_total \(stats.cycles)
      # TYPE skiff_scheduler_scheduled_total counter
      skiff_scheduler_scheduled_total \(stats.scheduled)
      # TYPE skiff_scheduler_unschedulable_total counter
      skiff_scheduler_unschedulable_total \(stats.unschedulable)
      # TYPE skiff_scheduler_pending_pods gauge
      skiff_scheduler_pending_pods \(pending.count)
      # TYPE skiff_scheduler_cycle_microseconds summary
      skiff_scheduler_cycle_microseconds{quantile="0.5"} \(quantile(0.5))
      skiff_scheduler_cycle_microseconds{quantile="0.99"} \(quantile(0.99))
      skiff_scheduler_cycle_microseconds_count \(sorted.count)

      """
  }

  /// The last decision about a pod as JSON, for `skiff explain`; nil when none is known.
  public func explanation(namespace: String, name: String) -> String? {
    guard let explanation = explanations["/registry/core/pods/\(namespace)/\(name)"] else { return nil }
    var rejected = JSONObject()
    for (plugin, reasons) in explanation.rejections.sorted(by: { $0.key < $1.key }) {
      rejected[plugin] = .object(JSONObject(reasons.sorted { $0.key < $1.key }.map { ($0.key, JSON.int(Int64($0.value))) }))
    }
    let top: [JSON] = explanation.top.map { entry in
      ["node": .string(entry.node), "total": .int(entry.total),
       "scores": .object(JSONObject(entry.scores.sorted { $0.key < $1.key }.map { ($0.key, JSON.int($0.value)) }))]
    }
    var json: JSON = ["nodes": .int(Int64(explanation.nodes)), "rejected": .object(rejected), "top": .array(top)]
    if let chosen = explanation.chosen { json["chosen"] = .string(chosen) }
    return json.description
  }

  // MARK: Watching the cluster

  /// Loads nodes and pods, then follows the store. Loop only.
  public func start() throws(StoreError) {
    kernel.loop.preconditionInEventLoop()
    // The stored objects are visited in place, not copied into lists; nothing runs on the loop
    // between the visits and the watches, so each watch resumes right after what was visited.
    let nodesRevision = store.forEach(prefix: "/registry/core/nodes/") { nodeChanged($0, deleted: false) }
    let budgetsRevision = store.forEach(prefix: Self.budgetPrefix) { budgetChanged($0, deleted: false) }
    let podsRevision = store.forEach(prefix: "/registry/core/pods/") { podChanged($0, deleted: false) }
    watches.append(try store.watch(prefix: "/registry/core/nodes/", fromRevision: nodesRevision + 1) { [self] event in
      nodeChanged(event.kv, deleted: event.kind == .delete)
    })
    watches.append(try store.watch(prefix: "/registry/core/pods/", fromRevision: podsRevision + 1) { [self] event in
      podChanged(event.kv, deleted: event.kind == .delete)
    })
    watches.append(try store.watch(prefix: Self.budgetPrefix, fromRevision: budgetsRevision + 1) { [self] event in
      budgetChanged(event.kv, deleted: event.kind == .delete)
    })
    schedulePending()
  }

  public func stop() {
    for watch in watches { store.cancel(watch) }
    watches.removeAll()
  }

  private func nodeChanged(_ kv: KeyValue, deleted: Bool) {
    let name = String(kv.key.dropFirst("/registry/core/nodes/".count))
    if deleted {
      snapshot.removeNode(name)
    } else if let object = try? JSON.parse(kv.value, omitting: Self.unreadOfNodes) {
      snapshot.upsertNode(name, object)
    }
    // A node that came or changed may fit what did not fit before.
    queue.moveAllToActive()
    schedulePending()
  }

  static let budgetPrefix = "/registry/policy/poddisruptionbudgets/"

  /// What scheduling never reads of a pod, left unparsed: field ownership (a third of a stored
  /// pod), conditions and container statuses.
  static let unreadOfPods = [("metadata", "managedFields"), ("status", "conditions"), ("status", "containerStatuses")]
  /// What telling a placed pod unchanged never reads (ClusterSnapshot.holdsUnchanged).
  static let unreadOfPlacedPods = unreadOfPods + [("metadata", "annotations"), ("spec", "containers"),
                                                  ("spec", "initContainers"), ("spec", "volumes"), ("spec", "tolerations"),
                                                  ("spec", "affinity"), ("spec", "topologySpreadConstraints")]
  /// And of a node: field ownership and the image list.
  static let unreadOfNodes = [("metadata", "managedFields"), ("status", "images")]

  private func budgetChanged(_ kv: KeyValue, deleted: Bool) {
    if deleted {
      budgets[kv.key] = nil
    } else if let object = try? JSON.parse(kv.value) {
      let arena = Arena()
      budgets[kv.key] = (arena, PodStruct.disruptionBudget(object, intern: snapshot.intern, arena: arena))
    }
    budgetArray = budgets.values.map(\.budget)
  }

  private func podChanged(_ kv: KeyValue, deleted: Bool) {
    if deleted {
      if let held = waiting.first(where: { $0.value.pod.key == kv.key }) {
        held.value.timer.close()
        waiting[held.key] = nil
      }
      snapshot.unplace(kv.key)
      pending[kv.key] = nil
      lastReport[kv.key] = nil
      explanations[kv.key] = nil
      queue.remove(kv.key)
      queue.moveAllToActive()  // freed resources
      return schedulePending()
    }
    // A placed pod's update (its binding coming back, a kubelet's status) rarely changes what
    // scheduling reads: a parse of what `holdsUnchanged` compares says so before a whole one.
    if snapshot.isPlaced(kv.key), let probe = try? JSON.parse(kv.value, omitting: Self.unreadOfPlacedPods),
       snapshot.holdsUnchanged(kv.key, probe) {
      return
    }
    guard let object = try? JSON.parse(kv.value, omitting: Self.unreadOfPods), !snapshot.holdsUnchanged(kv.key, object) else {
      return
    }
    let info = PodInfo(key: kv.key, object: object, id: snapshot.newID(), intern: snapshot.intern,
                       minMember: minMember(of: object))
    resolvePriorityClass(of: object, into: info.pod)
    if info.nodeName != nil {
      pending[kv.key] = nil
      queue.remove(kv.key)
      snapshot.place(info)
      return
    }
    let schedulerName = object[path: ["spec", "schedulerName"]]?.stringValue ?? "default-scheduler"
    guard profiles[schedulerName] != nil, object[path: ["metadata", "deletionTimestamp"]] == nil else { return }
    // An assumed pod whose binding has not been seen yet keeps its place.
    guard !snapshot.isPlaced(kv.key) else { return }
    pending[kv.key] = info
    queue.add(info)
    schedulePending()
  }

  /// A gang's size: its PodGroup's spec.minMember (scheduler-plugins' scheduling.x-k8s.io
  /// PodGroup, served once its CRD exists), read when the pod is seen.
  private func minMember(of pod: JSON) -> Int32 {
    guard let group = pod[path: ["metadata", "labels", PodStruct.groupLabel]]?.stringValue,
          let namespace = pod[path: ["metadata", "namespace"]]?.stringValue,
          let kv = store.get("/registry/scheduling.x-k8s.io/podgroups/\(namespace)/\(group)"),
          let podGroup = try? JSON.parse(kv.value) else { return 0 }
    return Int32(truncatingIfNeeded: podGroup[path: ["spec", "minMember"]]?.intValue ?? 0)
  }

  /// Kubernetes' Priority admission copies a PriorityClass's value and preemptionPolicy into the
  /// pod; for a pod stored without them the scheduler reads the class, when the pod is seen.
  private func resolvePriorityClass(of pod: JSON, into info: UnsafeMutablePointer<skiff_pod>) {
    let spec = pod["spec"]
    guard let className = spec?["priorityClassName"]?.stringValue, !className.isEmpty,
          spec?["priority"] == nil || spec?["preemptionPolicy"] == nil,
          let kv = store.get("/registry/scheduling.k8s.io/priorityclasses/\(className)"),
          let priorityClass = try? JSON.parse(kv.value) else { return }
    if spec?["priority"] == nil {
      info.pointee.priority = Int32(truncatingIfNeeded: priorityClass["value"]?.intValue ?? 0)
    }
    if spec?["preemptionPolicy"] == nil, priorityClass["preemptionPolicy"]?.stringValue == "Never" {
      info.pointee.flags |= SKIFF_POD_PREEMPT_NEVER
    }
  }

  // MARK: Cycles

  /// Runs cycles in slices of at most `sliceNanoseconds` on the loop, giving it back between
  /// slices so that requests are served while a backlog (thousands of pods pending at start-up)
  /// is scheduled: a slice is bounded by time, not by a count of pods, because a cycle's cost
  /// ranges from microseconds to milliseconds with the cluster's size and the pod's constraints.
  private func schedulePending() {
    guard !pumping else { return }
    guard queue.hasActive else { return queue.armBackoff(loop: kernel.loop) { [weak self] in self?.schedulePending() } }
    pumping = true
    kernel.loop.execute { [self] in
      pumping = false
      let sliceEnds = monotonicNanoseconds() + Self.sliceNanoseconds
      while let pod = queue.popActive() {
        guard pending[pod.key] === pod else { continue }
        scheduleOne(pod)
        if monotonicNanoseconds() >= sliceEnds { break }
      }
      schedulePending()
    }
  }

  /// The longest the scheduler holds the loop in one turn (but at least one cycle).
  static let sliceNanoseconds: UInt64 = 2_000_000

  private func scheduleOne(_ info: PodInfo) {
    let started = monotonicNanoseconds()
    defer {
      stats.cycles += 1
      let elapsed = Double(monotonicNanoseconds() - started) / 1000
      if cycleMicroseconds.count < Self.cyclesKept {
        cycleMicroseconds.append(elapsed)
      } else {
        cycleMicroseconds[cycleCursor] = elapsed
        cycleCursor = (cycleCursor + 1) % Self.cyclesKept
      }
    }
    let cycle = SchedulingCycle()
    defer { cycle.end() }
    let pod = UnsafePointer(info.pod)
    let schedulerName = kernel.strings.string(info.pod.pointee.scheduler_name) ?? "default-scheduler"
    guard let profile = profiles[schedulerName] else { return }
    let nodes = snapshot.nodes
    cycle.nodes = snapshot.nodeArrayBase
    cycle.nodeCount = UInt32(nodes.count)
    cycle.nodeChanges = snapshot.changes
    var rejections: [String: [String: Int]] = [:]
    // Rejected nodes by position in `nodes`, with the filter (its position below) and first reason.
    var rejected: [(position: Int, status: skiff_status, filter: Int, reason: String)] = []
    var feasible: [Int] = []  // positions in `nodes`
    feasible.reserveCapacity(min(nodes.count, Self.feasibleNodesToFind(among: nodes.count)))
    var skipped = Set<String>()
    for plugin in profile.preFilter {
      cycle.currentPlugin = plugin.id
      var count: UInt32 = 0
      if plugin.vtable.pre_filter!(plugin.vtable.`self`, cycle.handle, pod, nil, &count) == SKIFF_SKIP {
        skipped.insert(plugin.name)
      }
    }
    // The filters that run, gathered once into flat arrays: the node loop below is the hottest in
    // the scheduler, and walks the snapshot's C node array rather than its Swift objects.
    let filters = profile.filter.filter { !skipped.contains($0.name) }
    let filterIDs = filters.map(\.id), filterContexts = filters.map(\.vtable.`self`)
    let filterCalls = filters.map { $0.vtable.filter! }
    // Per filter, in the order above: how many nodes it rejected, by reason. A filter gives the
    // same reason node after node, so a run of one reason is counted before it is hashed.
    var tallies = [[String: Int]](repeating: [:], count: filters.count)
    var runs = [(reason: String, count: Int)](repeating: ("", 0), count: filters.count)
    // Nodes a running filter's plugin already rejected in pre_filter (host->cycle_reject_nodes):
    // marked by position with 1 + the rejection's index, counted below without a filter call. In
    // filter order, so a node two plugins name is charged to the filter that would have run first.
    let preRejections = cycle.preRejections.compactMap { rejection in
      filterIDs.firstIndex(of: rejection.plugin).map {
        (filter: $0, status: rejection.status, reason: rejection.reason, positions: rejection.positions)
      }
    }.sorted { $0.filter < $1.filter }
    var preRejectedCounts = [Int](repeating: 0, count: preRejections.count)
    var preRejected: [(position: Int, rejection: Int)] = []
    // A local while the loop runs: a class property would cost an exclusivity check per node.
    var marks: [UInt16] = []
    swap(&marks, &rejectionMarks)
    if marks.count < nodes.count { marks += repeatElement(0, count: nodes.count - marks.count) }
    for (index, rejection) in preRejections.enumerated() {
      for position in rejection.positions where Int(position) < nodes.count && marks[Int(position)] == 0 {
        marks[Int(position)] = UInt16(truncatingIfNeeded: index + 1)
      }
    }
    // As Kubernetes does, a large cluster stops looking once it has enough feasible nodes, and the
    // next cycle starts where this one stopped so that every node gets its turn.
    let nodeArray = UnsafeBufferPointer(start: snapshot.nodeArrayBase, count: nodes.count)
    let wanted = Self.feasibleNodesToFind(among: nodes.count)
    let start = nodes.isEmpty ? 0 : nextStartNode % nodes.count
    var examined = 0
    nodeLoop: while examined < nodes.count, feasible.count < wanted {
      var position = start + examined
      if position >= nodes.count { position -= nodes.count }
      examined += 1
      let mark = Int(marks[position])
      if mark != 0 {
        preRejectedCounts[mark - 1] += 1
        preRejected.append((position, mark - 1))
        continue
      }
      let node = nodeArray[position]
      for f in filterCalls.indices {
        cycle.currentPlugin = filterIDs[f]
        let status = filterCalls[f](filterContexts[f], cycle.handle, pod, node)
        if status != SKIFF_OK {
          var first: String?
          let given = cycle.takeReasons(ofPlugin: filterIDs[f]) { reason in
            if first == nil { first = reason }
            if runs[f].reason == reason {
              runs[f].count += 1
            } else {
              if runs[f].count > 0 { tallies[f][runs[f].reason, default: 0] += runs[f].count }
              runs[f] = (reason, 1)
            }
          }
          if given == 0 { tallies[f]["rejected by \(filters[f].name)", default: 0] += 1 }
          rejected.append((position, status, f, first ?? ""))
          continue nodeLoop
        }
      }
      feasible.append(position)
    }
    for (f, run) in runs.enumerated() where run.count > 0 { tallies[f][run.reason, default: 0] += run.count }
    for (index, count) in preRejectedCounts.enumerated() where count > 0 {
      tallies[preRejections[index].filter][preRejections[index].reason, default: 0] += count
    }
    for rejection in preRejections {
      for position in rejection.positions where Int(position) < marks.count { marks[Int(position)] = 0 }
    }
    swap(&marks, &rejectionMarks)
    for (f, tally) in tallies.enumerated() where !tally.isEmpty { rejections[filters[f].name] = tally }
    nextStartNode = nodes.isEmpty ? 0 : (start + examined) % nodes.count
    guard !feasible.isEmpty else {
      if !profile.postFilter.isEmpty {
        // In the order the nodes were examined, as if every filter had been called.
        let examinedOrder = { (position: Int) in (position - start + nodes.count) % nodes.count }
        let verdicts = (rejected.map { (examinedOrder($0.position), nodes[$0.position], $0.status, filters[$0.filter].name, $0.reason) }
          + preRejected.map { entry in
            let rejection = preRejections[entry.rejection]
            return (examinedOrder(entry.position), nodes[entry.position], rejection.status, filters[rejection.filter].name,
                    rejection.reason)
          }).sorted { $0.0 < $1.0 }.map { ($0.1, $0.2, $0.3, $0.4) }
        postFilter(info, profile: profile, cycle: cycle, rejected: verdicts)
      }
      return unschedulable(info, nodes: nodes.count, rejections: rejections)
    }

    // Pre-score with the feasible nodes (SKIP: the plugin has nothing to score for this pod), then
    // score every feasible node with each scoring plugin, normalize, weigh, sum.
    var skipScore = Set<String>()
    // skiff.h promises the node list for the whole cycle, so it lives in an arena the cycle holds.
    let cycleArena = Arena()
    let feasibleNodes = cycleArena.array(feasible.map { nodeArray[$0] }).map { UnsafePointer($0) }
    for plugin in profile.preScore {
      cycle.currentPlugin = plugin.id
      let status = plugin.vtable.pre_score!(plugin.vtable.`self`, cycle.handle, pod,
                                            feasibleNodes, UInt32(feasible.count))
      if status == SKIFF_SKIP { skipScore.insert(plugin.name) }
    }
    var totals = [Int64](repeating: 0, count: feasible.count)
    var perPlugin: [(name: String, scores: [Int64])] = []  // for the explanation
    var scores = feasible.map { skiff_node_score(node: nodeArray[$0], score: 0) }
    for plugin in profile.score where !skipScore.contains(plugin.name) {
      let score = plugin.vtable.score!, context = plugin.vtable.`self`
      cycle.currentPlugin = plugin.id
      scores.withUnsafeMutableBufferPointer { scores in
        for i in scores.indices {
          var value: Int64 = 0
          scores[i].score = score(context, cycle.handle, pod, scores[i].node, &value) == SKIFF_OK ? value : 0
        }
        if let normalize = plugin.vtable.normalize_score {
          _ = normalize(context, cycle.handle, pod, scores.baseAddress, UInt32(scores.count))
        }
        for i in scores.indices { totals[i] += scores[i].score * plugin.weight }
      }
      perPlugin.append((plugin.name, scores.map(\.score)))
    }
    withExtendedLifetime(cycleArena) {}
    // The best three, earlier nodes first among equals: the first is the choice, all three
    // explain it.
    var ranked: [Int] = []
    for i in totals.indices {
      guard ranked.count < 3 || totals[i] > totals[ranked[2]] else { continue }
      if ranked.count == 3 { ranked.removeLast() }
      let at = ranked.firstIndex { totals[i] > totals[$0] } ?? ranked.count
      ranked.insert(i, at: at)
    }
    let chosen = nodes[feasible[ranked[0]]]
    explanations[info.key] = Explanation(
      nodes: nodes.count, rejections: rejections,
      top: ranked.map { i in (nodes[feasible[i]].name, totals[i], Dictionary(uniqueKeysWithValues: perPlugin.map { ($0.name, $0.scores[i]) })) }, chosen: chosen.name)
    explainedScheduled.append(info.key)
    if explainedScheduled.count > Self.scheduledExplanationsKept {
      let forgotten = explainedScheduled.prefix(explainedScheduled.count / 2)
      explainedScheduled.removeFirst(forgotten.count)
      for key in forgotten where explanations[key]?.chosen != nil { explanations[key] = nil }
    }

    // Reserve: assume the pod on the node so the next cycle sees it there.
    for plugin in profile.reserve {
      guard let reserve = plugin.vtable.reserve else { continue }
      cycle.currentPlugin = plugin.id
      _ = reserve(plugin.vtable.`self`, cycle.handle, pod, chosen.node)
    }
    info.nodeName = chosen.name
    pending[info.key] = nil
    lastReport[info.key] = nil
    snapshot.place(info)

    // Permit: any plugin may hold the pod (a gang waiting for its members) or turn it away.
    var waitingFor: Set<String> = []
    var timeout: UInt64 = 0
    for plugin in profile.permit {
      cycle.currentPlugin = plugin.id
      var wait: UInt64 = 0
      let status = plugin.vtable.permit!(plugin.vtable.`self`, cycle.handle, pod, chosen.node, &wait)
      if status == SKIFF_WAIT {
        waitingFor.insert(plugin.name)
        timeout = max(timeout, wait)
      } else if status != SKIFF_OK {
        let reason = cycle.takeReasons(ofPlugin: plugin.id).first ?? "rejected by \(plugin.name) at permit"
        return release(info, profile: profile, node: chosen, message: reason)
      }
    }
    guard waitingFor.isEmpty else {
      let id = info.pod.pointee.id
      let timer = kernel.loop.scheduleTimer(after: max(timeout, 1)) { [weak self] _ in
        _ = self?.reject(pod: id, reason: "rejected due to timeout after waiting \(timeout)ms at permit")
      }
      waiting[id] = Waiting(pod: info, profile: profile, node: chosen, plugins: waitingFor, timer: timer)
      return
    }
    bind(info, to: chosen, profile: profile)
  }

  /// PostFilter (preemption): plugins see each node's verdict, may ask whether the pod would fit
  /// without some pods, evict them, and nominate the node. The pod itself waits in the queue for
  /// the victims to go.
  private func postFilter(_ info: PodInfo, profile: SchedulingProfile, cycle: SchedulingCycle,
                          rejected: [(node: NodeInfo, status: skiff_status, plugin: String, reason: String)]) {
    let arena = Arena()
    let verdicts = rejected.map { entry in
      skiff_node_verdict(node: UnsafePointer(entry.node.node), status: entry.status, reserved0: 0,
                         plugin: arena.array(Array(entry.plugin.utf8CString)).map { UnsafePointer($0) },
                         reason: arena.array(Array(entry.reason.utf8CString)).map { UnsafePointer($0) })
    }
    cycle.filterWithout = { [unowned self] pod, node, without in
      filterWithout(pod, node: node, without: Set(without), profile: profile)
    }
    cycle.preempt = { [unowned self] victims in
      let ids = Set(victims)
      for node in snapshot.nodes {
        for placed in node.pods where ids.contains(placed.pod.pointee.id) {
          outcomes?.preempt(namespace: placed.namespace, name: placed.name, preemptor: info.name, node: node.name)
        }
      }
      return SKIFF_OK
    }
    defer {
      cycle.filterWithout = nil
      cycle.preempt = nil
    }
    budgetArray.withUnsafeBufferPointer { budgets in
      cycle.disruptionBudgets = budgets
      defer { cycle.disruptionBudgets = .init(start: nil, count: 0) }
      for plugin in profile.postFilter {
        cycle.currentPlugin = plugin.id
        var nominated: skiff_str = 0
        let status = verdicts.withUnsafeBufferPointer {
          plugin.vtable.post_filter!(plugin.vtable.`self`, cycle.handle, info.pod, $0.baseAddress, UInt32($0.count), &nominated)
        }
        if status == SKIFF_OK, nominated != 0, let node = kernel.strings.string(nominated) {
          outcomes?.nominate(namespace: info.namespace, name: info.name, node: node)
          return
        }
      }
    }
  }

  /// The profile's filters on a copy of `node` without the pods in `without`.
  private func filterWithout(_ pod: UnsafePointer<skiff_pod>, node: UnsafePointer<skiff_node>, without: Set<UInt64>,
                             profile: SchedulingProfile) -> skiff_status {
    guard let info = snapshot.nodes.first(where: { UnsafePointer($0.node) == node }) else { return SKIFF_INVALID }
    let arena = Arena()
    let remaining = info.pods.filter { !without.contains($0.pod.pointee.id) }
    var requested = ResourceVector()
    for pod in remaining { requested.add(pod.requests) }
    var copy = node.pointee
    copy.requested = requested.cStruct(in: arena)
    let pointers: [UnsafePointer<skiff_pod>?] = remaining.map { UnsafePointer($0.pod) }
    copy.pods = arena.array(pointers).map { UnsafePointer($0) }
    copy.n_pods = UInt32(remaining.count)
    var ports: [skiff_port] = []
    for pod in remaining where pod.pod.pointee.n_host_ports > 0 {
      ports += UnsafeBufferPointer(start: pod.pod.pointee.host_ports, count: Int(pod.pod.pointee.n_host_ports))
    }
    copy.used_ports = arena.array(ports).map { UnsafePointer($0) }
    copy.n_used_ports = UInt32(ports.count)
    let check = SchedulingCycle()
    defer { check.end() }
    check.nodes = snapshot.nodeArrayBase
    check.nodeCount = UInt32(snapshot.nodes.count)
    check.nodeChanges = snapshot.changes
    for plugin in profile.filter {
      check.currentPlugin = plugin.id
      let status = plugin.vtable.filter!(plugin.vtable.`self`, check.handle, pod, &copy)
      if status != SKIFF_OK { return status }
    }
    return SKIFF_OK
  }

  /// A pod held at Permit: the plugins that still have to allow it, and its timeout.
  private struct Waiting {
    let pod: PodInfo
    let profile: SchedulingProfile
    let node: NodeInfo
    var plugins: Set<String>
    let timer: LoopTimer
  }
  private var waiting: [UInt64: Waiting] = [:]

  /// The binding cycle, Kubernetes' way: pre-bind plugins, then bind plugins in order until one
  /// does not SKIP, then post-bind. A binder that binds through the API server (DefaultBinder,
  /// host->cycle_bind) only sends the binding, so the next scheduling cycle never waits for the
  /// store. A profile without bind plugins (one loading no binder) binds through the API server.
  private func bind(_ info: PodInfo, to node: NodeInfo, profile: SchedulingProfile) {
    guard !profile.bind.isEmpty else {
      stats.scheduled += 1
      return bindThroughAPI(info, to: node)
    }
    let cycle = SchedulingCycle()
    defer { cycle.end() }
    cycle.nodes = snapshot.nodeArrayBase
    cycle.nodeCount = UInt32(snapshot.nodes.count)
    cycle.nodeChanges = snapshot.changes
    cycle.bind = { [unowned self] pod, target in
      guard pod.pointee.id == info.pod.pointee.id, UnsafePointer(node.node) == target else { return SKIFF_INVALID }
      bindThroughAPI(info, to: node)
      return SKIFF_OK
    }
    let pod = UnsafePointer(info.pod)
    for plugin in profile.preBind {
      cycle.currentPlugin = plugin.id
      let status = plugin.vtable.pre_bind!(plugin.vtable.`self`, cycle.handle, pod, node.node)
      guard status == SKIFF_OK else {
        let reason = cycle.takeReasons(ofPlugin: plugin.id).first ?? "rejected by \(plugin.name) at pre-bind"
        return release(info, profile: profile, node: node, message: reason)
      }
    }
    var binder: String?
    for plugin in profile.bind {
      cycle.currentPlugin = plugin.id
      let status = plugin.vtable.bind!(plugin.vtable.`self`, cycle.handle, pod, node.node)
      if status == SKIFF_SKIP { continue }
      guard status == SKIFF_OK else {
        let reason = cycle.takeReasons(ofPlugin: plugin.id).first ?? "binding rejected by \(plugin.name)"
        return release(info, profile: profile, node: node, message: reason)
      }
      binder = plugin.name
      break
    }
    guard binder != nil else {
      return release(info, profile: profile, node: node, message: "all bind plugins skipped the pod")
    }
    stats.scheduled += 1
    for plugin in profile.postBind {
      cycle.currentPlugin = plugin.id
      plugin.vtable.post_bind!(plugin.vtable.`self`, cycle.handle, pod, node.node)
    }
  }

  private func bindThroughAPI(_ info: PodInfo, to node: NodeInfo) {
    outcomes?.bind(namespace: info.namespace, name: info.name, node: node.name) { [weak self] bound in
      guard let self, !bound else { return }
      // The binding failed (the pod went, or someone else bound it): forget the assumption;
      // the watch tells us what is true.
      self.snapshot.unplace(info.key)
    }
  }

  /// Undoes a reservation: unreserve in reverse order, the assumption dropped, the pod parked
  /// with `message` as its reason.
  private func release(_ info: PodInfo, profile: SchedulingProfile, node: NodeInfo, message: String) {
    let cycle = SchedulingCycle()
    defer { cycle.end() }
    for plugin in profile.reserve.reversed() {
      guard let unreserve = plugin.vtable.unreserve else { continue }
      cycle.currentPlugin = plugin.id
      unreserve(plugin.vtable.`self`, cycle.handle, info.pod, node.node)
    }
    snapshot.unplace(info.key)
    info.nodeName = nil
    pending[info.key] = info
    stats.unschedulable += 1
    queue.parkUnschedulable(info)
    report(info, unschedulable: message)
    queue.moveAllToActive()  // its reservation freed room for others
    schedulePending()
  }

  /// Kubernetes' adaptive percentageOfNodesToScore: every node below 100; above, 50% less one
  /// point per 125 nodes, at least 5% and at least 100 nodes (500 of 5,000; 5% of 10,000 or more).
  static func feasibleNodesToFind(among nodeCount: Int) -> Int {
    guard nodeCount >= 100 else { return nodeCount }
    let percentage = max(5, 50 - nodeCount / 125)
    return max(100, nodeCount * percentage / 100)
  }

  private func unschedulable(_ info: PodInfo, nodes: Int, rejections: [String: [String: Int]]) {
    stats.unschedulable += 1
    explanations[info.key] = Explanation(nodes: nodes, rejections: rejections, top: [], chosen: nil)
    var histogram: [String: Int] = [:]
    for reasons in rejections.values { for (reason, count) in reasons { histogram[reason, default: 0] += count } }
    let message = Self.message(nodes: nodes, histogram: histogram)
    queue.parkUnschedulable(info)
    report(info, unschedulable: message)
  }

  /// Tells the API server a pod's unschedulable verdict once: not again while it stays the same,
  /// nor when the stored pod already carries it (from before a restart), which would rewrite the
  /// pod and add an event for every pending pod at each start.
  private func report(_ info: PodInfo, unschedulable message: String) {
    if lastReport[info.key] == nil { lastReport[info.key] = storedVerdict(of: info.key) }
    guard lastReport[info.key] != message else { return }
    lastReport[info.key] = message
    outcomes?.reportUnschedulable(namespace: info.namespace, name: info.name, message: message)
  }

  /// The message of the stored pod's PodScheduled=False condition with reason Unschedulable,
  /// parsed without the parts of the pod that are not its status.
  private func storedVerdict(of key: String) -> String? {
    guard let kv = store.get(key), let pod = try? JSON.parse(kv.value, omitting: Self.notStatus),
          let condition = pod[path: ["status", "conditions"]]?.arrayValue?
            .first(where: { $0["type"]?.stringValue == "PodScheduled" }),
          condition["status"]?.stringValue == "False", condition["reason"]?.stringValue == "Unschedulable" else { return nil }
    return condition["message"]?.stringValue
  }

  static let notStatus = [("metadata", "managedFields"), ("metadata", "labels"), ("metadata", "annotations"),
                          ("spec", "containers"), ("spec", "initContainers"), ("spec", "volumes"),
                          ("spec", "tolerations"), ("spec", "affinity"), ("spec", "topologySpreadConstraints"),
                          ("status", "containerStatuses"), ("status", "initContainerStatuses")]

  /// Kubernetes' FitError text: "0/5 nodes are available: 3 Insufficient cpu, 2 node(s) had
  /// untolerated taint {gpu: true}." with the "count reason" strings sorted as strings.
  static func message(nodes: Int, histogram: [String: Int]) -> String {
    let reasons = histogram.map { "\($0.value) \($0.key)" }.sorted()
    return "0/\(nodes) nodes are available" + (reasons.isEmpty ? "." : ": " + reasons.joined(separator: ", ") + ".")
  }
}
