// Per-domain counts of placed pods that one question selects ("pods matching this anti-affinity
// term", "pods whose terms select a pod labelled so"), kept across cycles and brought up to date
// only on the nodes whose generation changed, so that InterPodAffinity costs a compare per node and
// a match per pod on changed nodes instead of a match per placed pod in every cycle.
import PluginKit
import SkiffABI

final class DomainCounts {
  /// One slot per position in the snapshot's node array: which node it last saw, at which
  /// generation, and what that node added to `totals`.
  private var slots: [(id: UInt64, generation: UInt64, counts: [(TopologyPair, Int)])] = []
  /// The sum of every slot's counts; domains counting zero are left out.
  private(set) var totals: [TopologyPair: Int] = [:]

  /// Brings the totals up to date with `nodes`; `contribution` says what one node adds. Pods and
  /// terms that `contribution` reads must be equal in content between calls with the same key.
  func refresh(_ nodes: UnsafeBufferPointer<UnsafePointer<skiff_node>?>,
               _ contribution: (UnsafePointer<skiff_node>) -> [(TopologyPair, Int)]) {
    for index in nodes.indices {
      guard let node = nodes[index] else { continue }
      if index < slots.count, slots[index].id == node.pointee.id, slots[index].generation == node.pointee.generation {
        continue
      }
      let counts = contribution(node)
      if index < slots.count {
        add(slots[index].counts, sign: -1)
        slots[index] = (node.pointee.id, node.pointee.generation, counts)
      } else {
        slots.append((node.pointee.id, node.pointee.generation, counts))
      }
      add(counts, sign: 1)
    }
    while slots.count > nodes.count { add(slots.removeLast().counts, sign: -1) }  // nodes went away
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

  static func totals(_ key: [UInt32], _ nodes: UnsafeBufferPointer<UnsafePointer<skiff_node>?>,
                     _ contribution: (UnsafePointer<skiff_node>) -> [(TopologyPair, Int)]) -> [TopologyPair: Int] {
    let counts: DomainCounts
    if let found = kept[key] {
      counts = found
    } else {
      if kept.count >= limit { kept.removeAll() }
      counts = DomainCounts()
      kept[key] = counts
    }
    counts.refresh(nodes, contribution)
    return counts.totals
  }

  /// Question kinds, the first element of a key.
  enum Kind: UInt32 { case affinity = 1, antiAffinity, existingAntiAffinity, preferences }

  /// A term's content: topology key, namespaces, then each requirement's key, operator and values.
  static func append(_ term: skiff_pod_term, to key: inout [UInt32]) {
    key.append(term.topology_key)
    key.append(term.n_namespaces)
    for i in 0..<Int(term.n_namespaces) { key.append(term.namespaces[i]) }
    key.append(UInt32(bitPattern: term.weight))
    key.append(term.selector.n_requirements)
    for i in 0..<Int(term.selector.n_requirements) {
      let requirement = term.selector.requirements[i]
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
