// Per-domain counts of placed pods that one question selects ("pods matching this anti-affinity
// term", "pods whose terms select a pod labelled so"), kept across cycles and brought up to date
// only on the nodes whose generation changed, so that InterPodAffinity and PodTopologySpread cost
// one compare per node per cycle (NodeChanges) and a match per pod on changed nodes instead of a
// match per placed pod in every cycle.
import PluginKit
import SkiffABI

/// Which positions of the snapshot's node array changed, for every question at once: each walk
/// (one per plugin state, so once or twice a cycle) asks the framework which nodes changed since
/// the last (host->cycle_changed_nodes), compares those nodes' id and generation with what it
/// saw, and appends the changed positions to a log that each question replays from where it last
/// read. Only when the framework cannot say does a walk compare every node.
final class NodeChanges {
  nonisolated(unsafe) static let shared = NodeChanges()

  /// What the last walk saw at each position, kept apart so that a full walk reads flat arrays.
  private var ids: [UInt64] = []
  private var generations: [UInt64] = []
  private var flagged: [Bool] = []
  /// The framework's mark after the changes the last walk read.
  private var hostMark: UInt64 = 0
  /// Changed positions in walk order; `logStart` is the sequence number of its first entry.
  private(set) var log: [Int32] = []
  private(set) var logStart = 0
  var logEnd: Int { logStart + log.count }
  /// Nodes holding a pod with pod (anti-)affinity terms (SKIFF_NODE_HAS_AFFINITY_PODS): while
  /// none does, questions about placed pods' terms have no answer to count.
  private(set) var nodesWithAffinityPods = 0
  /// Brings the log up to date with `nodes`, the nodes of `cycle`; questions asked about `nodes`
  /// must follow a walk.
  func walk(_ nodes: UnsafeBufferPointer<UnsafePointer<skiff_node>?>, cycle: OpaquePointer?) {
    // A log much longer than the cluster is cheaper to replace by one full recount per question.
    if log.count > max(4_096, 2 * nodes.count) {
      logStart = logEnd
      log.removeAll(keepingCapacity: true)
    }
    if ids.count > nodes.count {
      for position in nodes.count..<ids.count where flagged[position] { nodesWithAffinityPods -= 1 }
      ids.removeLast(ids.count - nodes.count)
      generations.removeLast(generations.count - nodes.count)
      flagged.removeLast(flagged.count - nodes.count)
    }
    guard let changed = PluginHost.changedNodes(cycle, since: &hostMark) else {
      for position in nodes.indices { look(at: position, nodes) }
      return
    }
    for position in ids.count..<nodes.count { look(at: position, nodes) }  // nodes that came
    for position in changed where Int(position) < nodes.count { look(at: Int(position), nodes) }
  }

  /// Logs `position` if its node is not the one, at the generation, the last look saw there.
  /// Positions past those seen must come in order.
  @inline(__always)
  private func look(at position: Int, _ nodes: UnsafeBufferPointer<UnsafePointer<skiff_node>?>) {
    guard let node = nodes[position] else { return }
    let id = node.pointee.id, generation = node.pointee.generation
    if position < ids.count {
      // Id 0 is a node its host did not number: it may hold anything, so it always counts as changed.
      if id != 0 && ids[position] == id && generations[position] == generation { return }
      ids[position] = id
      generations[position] = generation
      if flagged[position] { nodesWithAffinityPods -= 1 }
    } else {
      ids.append(id)
      generations.append(generation)
      flagged.append(false)
    }
    let hasAffinityPods = node.pointee.flags & SKIFF_NODE_HAS_AFFINITY_PODS != 0
    flagged[position] = hasAffinityPods
    if hasAffinityPods { nodesWithAffinityPods += 1 }
    log.append(Int32(position))
  }
}

final class DomainCounts {
  /// One slot per position in the snapshot's node array: which node it last saw, at which
  /// generation, and what that node added to `totals`.
  private var slots: [(id: UInt64, generation: UInt64, counts: [(TopologyPair, Int)])] = []
  /// Where in NodeChanges' log this question has read up to; nil before its first full count.
  private var readUpTo: Int?
  /// The sum of every slot's counts; domains counting zero are left out.
  private(set) var totals: [TopologyPair: Int] = [:]
  /// The positions whose node counts in some domain, in no order, with each position's index in
  /// it (-1: none), so that a plugin can hand the framework the nodes it knows are taken.
  private(set) var countedPositions: [UInt32] = []
  private var indexInCounted: [Int32] = []

  /// Brings the totals up to date with `nodes`, which `changes` has walked since they last changed;
  /// `contribution` says what one node adds. Pods and terms that `contribution` reads must be
  /// equal in content between calls with the same key.
  func refresh(_ nodes: UnsafeBufferPointer<UnsafePointer<skiff_node>?>, changes: NodeChanges,
               _ contribution: (UnsafePointer<skiff_node>) -> [(TopologyPair, Int)]) {
    while slots.count > nodes.count {  // nodes went away
      setCounted(slots.count - 1, false)
      add(slots.removeLast().counts, sign: -1)
    }
    indexInCounted.removeLast(indexInCounted.count - slots.count)
    if slots.count < nodes.count {
      let unseen: (id: UInt64, generation: UInt64, counts: [(TopologyPair, Int)]) = (0, .max, [])
      slots += repeatElement(unseen, count: nodes.count - slots.count)
      indexInCounted += repeatElement(-1, count: nodes.count - indexInCounted.count)
    }
    if let readUpTo, readUpTo >= changes.logStart {
      for entry in (readUpTo - changes.logStart)..<changes.log.count {
        let position = Int(changes.log[entry])
        if position < nodes.count { recount(position, nodes, contribution) }
      }
    } else {
      for position in nodes.indices { recount(position, nodes, contribution) }
    }
    readUpTo = changes.logEnd
  }

  private func recount(_ position: Int, _ nodes: UnsafeBufferPointer<UnsafePointer<skiff_node>?>,
                       _ contribution: (UnsafePointer<skiff_node>) -> [(TopologyPair, Int)]) {
    let node = nodes[position]
    let (id, generation) = node.map { ($0.pointee.id, $0.pointee.generation) } ?? (0, UInt64.max)
    if id != 0 && slots[position].id == id && slots[position].generation == generation { return }
    let counts = node.map(contribution) ?? []
    add(slots[position].counts, sign: -1)
    slots[position] = (id, generation, counts)
    add(counts, sign: 1)
    setCounted(position, !counts.isEmpty)
  }

  /// The counted positions whose node counts in one of `domains`, a few (zones): compared one by
  /// one, as hashing each node's domains cost more than the filter calls it spares.
  func positions(countingIn domains: [TopologyPair]) -> [UInt32] {
    countedPositions.filter { position in
      slots[Int(position)].counts.contains { counted in domains.contains { $0.key == counted.0.key && $0.value == counted.0.value } }
    }
  }

  private func setCounted(_ position: Int, _ counted: Bool) {
    let index = Int(indexInCounted[position])
    if counted && index < 0 {
      indexInCounted[position] = Int32(countedPositions.count)
      countedPositions.append(UInt32(position))
    } else if !counted && index >= 0 {
      let last = countedPositions.removeLast()
      if index < countedPositions.count {
        countedPositions[index] = last
        indexInCounted[Int(last)] = Int32(index)
      }
      indexInCounted[position] = -1
    }
  }

  private func add(_ counts: [(TopologyPair, Int)], sign: Int) {
    for (domain, count) in counts {
      let total = totals[domain, default: 0] + sign * count
      totals[domain] = total == 0 ? nil : total
    }
  }
}

/// The counts kept for each question asked, by a key spelling the question out in interned ids.
enum DomainCountCache {
  nonisolated(unsafe) private static var kept: [[UInt32]: DomainCounts] = [:]
  /// Questions differ by the pods' labels and terms; a cluster asking more than this many is
  /// churning through one-off shapes, and starting over costs one full count each.
  static let limit = 512

  /// `nodes` must have been walked by NodeChanges.shared since they last changed.
  static func totals(_ key: [UInt32], _ nodes: UnsafeBufferPointer<UnsafePointer<skiff_node>?>,
                     _ contribution: (UnsafePointer<skiff_node>) -> [(TopologyPair, Int)]) -> [TopologyPair: Int] {
    counts(key, nodes, contribution).totals
  }

  /// The question's counts themselves, up to date: totals and the positions counted.
  static func counts(_ key: [UInt32], _ nodes: UnsafeBufferPointer<UnsafePointer<skiff_node>?>,
                     _ contribution: (UnsafePointer<skiff_node>) -> [(TopologyPair, Int)]) -> DomainCounts {
    let counts: DomainCounts
    if let found = kept[key] {
      counts = found
    } else {
      if kept.count >= limit { kept.removeAll() }
      counts = DomainCounts()
      kept[key] = counts
    }
    counts.refresh(nodes, changes: NodeChanges.shared, contribution)
    return counts
  }

  /// Question kinds, the first element of a key.
  enum Kind: UInt32 { case affinity = 1, antiAffinity, existingAntiAffinity, preferences, spreadDomains, spreadMatches }

  /// A term's content: topology key, namespaces, then each requirement's key, operator and values.
  static func append(_ term: skiff_pod_term, to key: inout [UInt32]) {
    key.append(term.topology_key)
    key.append(term.n_namespaces)
    for i in 0..<Int(term.n_namespaces) { key.append(term.namespaces[i]) }
    key.append(UInt32(bitPattern: term.weight))
    append(term.selector, to: &key)
  }

  /// A label selector's content: each requirement's key, operator and values.
  static func append(_ selector: skiff_selector, to key: inout [UInt32]) {
    key.append(selector.n_requirements)
    for i in 0..<Int(selector.n_requirements) {
      let requirement = selector.requirements[i]
      key.append(requirement.key)
      key.append(requirement.op.rawValue)
      key.append(requirement.n_values)
      for v in 0..<Int(requirement.n_values) { key.append(requirement.values[v]) }
    }
  }

  /// What placed pods' terms can select of a pod: its namespace and labels (sorted).
  static func append(identityOf pod: skiff_pod, to key: inout [UInt32]) {
    key.append(pod.namespace_)
    key.append(pod.n_labels)
    var labels: [(UInt32, UInt32)] = []
    for i in 0..<Int(pod.n_labels) { labels.append((pod.labels[i].key, pod.labels[i].value)) }
    for (labelKey, value) in labels.sorted(by: { $0 < $1 }) {
      key.append(labelKey)
      key.append(value)
    }
  }
}
