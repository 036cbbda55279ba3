// InterPodAffinity: a pod goes only where its required pod affinity finds matching pods, where its
// required anti-affinity finds none, and where no placed pod's anti-affinity forbids it; among
// feasible nodes it prefers domains that preferred terms, its own and placed pods', favour.
import PluginKit
import SkiffABI

enum InterPodAffinity {
  static let affinityMismatch = "node(s) didn't match pod affinity rules"
  static let antiAffinityMismatch = "node(s) didn't match pod anti-affinity rules"
  static let existingAntiAffinityMismatch = "node(s) didn't satisfy existing pods anti-affinity rules"
  /// Kubernetes' hardPodAffinityWeight default: how much a placed pod's required affinity for the
  /// incoming pod counts when scoring.
  static let hardPodAffinityWeight: Int64 = 1

  /// Built once, at start; the kernel keeps its own copy.
  static var vtable: skiff_scheduler_plugin {
    PluginHost.vtable(skiff_scheduler_plugin.self, name: "InterPodAffinity") { vtable in
      vtable.pre_filter = { _, cycle, pod, _, _ in
        let state = InterPodAffinity.state(cycle, pod!)
        if state.hasNothingToCheck { return SKIFF_SKIP }
        state.rejectTakenNodes(cycle)
        return SKIFF_OK
      }
      // Kubernetes answers UnschedulableAndUnresolvable for unmatched affinity; Skiff answers
      // Unschedulable for all three rules, so preemption may still try to make room.
      vtable.filter = { _, cycle, pod, node in
        let state = InterPodAffinity.state(cycle, pod!)
        let node = node!.pointee
        let reason: String
        if !state.satisfiesAffinity(node) {
          reason = InterPodAffinity.affinityMismatch
        } else if !state.satisfiesAntiAffinity(node) {
          reason = InterPodAffinity.antiAffinityMismatch
        } else if !state.satisfiesExistingAntiAffinity(node) {
          reason = InterPodAffinity.existingAntiAffinityMismatch
        } else {
          return SKIFF_OK
        }
        PluginHost.setReason(cycle, reason)
        return SKIFF_UNSCHEDULABLE
      }
      vtable.pre_score = { _, cycle, pod, _, _ in
        InterPodAffinity.state(cycle, pod!).preferences.isEmpty ? SKIFF_SKIP : SKIFF_OK
      }
      vtable.score = { _, cycle, pod, node, score in
        let preferences = InterPodAffinity.state(cycle, pod!).preferences
        let node = node!.pointee
        var total: Int64 = 0
        for i in 0..<Int(node.n_labels) {
          total += Int64(preferences[TopologyPair(key: node.labels[i].key, value: node.labels[i].value)] ?? 0)
        }
        score!.pointee = total
        return SKIFF_OK
      }
      // Min-max: the most favoured node gets 100, the least 0; all equal, all 0.
      vtable.normalize_score = { _, _, _, scores, count in
        let scores = UnsafeMutableBufferPointer(start: scores, count: Int(count))
        guard let lowest = scores.map(\.score).min(), let highest = scores.map(\.score).max(),
              highest > lowest else {
          for i in scores.indices { scores[i].score = 0 }
          return SKIFF_OK
        }
        for i in scores.indices {
          scores[i].score = (scores[i].score - lowest) * Int64(SKIFF_MAX_NODE_SCORE) / (highest - lowest)
        }
        return SKIFF_OK
      }
    }
  }

  static func state(_ cycle: OpaquePointer?, _ pod: UnsafePointer<skiff_pod>) -> State {
    PluginHost.cycleState(cycle) { State(pod: pod.pointee, nodes: PluginHost.cycleNodes(cycle), cycle: cycle) }
  }

  /// What the placed pods say about the incoming pod, read once per cycle from counts kept per
  /// question across cycles (DomainCountCache), which only the nodes changed since are recounted.
  final class State {
    let pod: skiff_pod
    let nodes: UnsafeBufferPointer<UnsafePointer<skiff_node>?>
    // Constants once made: the filter reads them on every node, and a constant needs no
    // exclusivity check per read.
    /// Per domain: placed pods matching all of the pod's required affinity terms.
    let affinity: [TopologyPair: Int]
    /// Per required anti-affinity term, in order: per domain, placed pods the term matches.
    let antiAffinity: [[TopologyPair: Int]]
    /// Per domain: placed pods whose required anti-affinity terms select the incoming pod.
    let existingAntiAffinity: [TopologyPair: Int]
    /// The topology keys of `existingAntiAffinity`'s domains: a node's other labels need no lookup.
    private let existingAntiAffinityKeys: [skiff_str]
    /// The counts behind `antiAffinity` and `existingAntiAffinity`, which also know the nodes
    /// that hold the pods counted.
    private let antiAffinityCounts: [DomainCounts]
    private let existingAntiAffinityCounts: DomainCounts?

    init(pod: skiff_pod, nodes: UnsafeBufferPointer<UnsafePointer<skiff_node>?>, cycle: OpaquePointer?) {
      self.pod = pod
      self.nodes = nodes
      let changes = NodeChanges.shared
      changes.walk(nodes, cycle: cycle)
      let affinityTerms = pod.requiredAffinity
      var affinity: [TopologyPair: Int] = [:]
      if !affinityTerms.isEmpty {
        var key = [DomainCountCache.Kind.affinity.rawValue, pod.namespace_]
        for term in affinityTerms { DomainCountCache.append(term, to: &key) }
        affinity = DomainCountCache.totals(key, nodes) { node in
          var matching = 0
          for case let placed? in node.pointee.placedPods
          where affinityTerms.allSatisfy({ PodSelection.matches($0, ownedIn: pod.namespace_, placed.pointee) }) {
            matching += 1
          }
          guard matching > 0 else { return [] }
          return affinityTerms.compactMap { term in node.pointee.domain(term.topology_key).map { ($0, matching) } }
        }
      }
      self.affinity = affinity
      var antiAffinityCounts: [DomainCounts] = []
      for term in pod.requiredAntiAffinity {
        var key = [DomainCountCache.Kind.antiAffinity.rawValue, pod.namespace_]
        DomainCountCache.append(term, to: &key)
        let counts = DomainCountCache.counts(key, nodes) { node in
          guard let domain = node.pointee.domain(term.topology_key) else { return [] }
          var matching = 0
          for case let placed? in node.pointee.placedPods
          where PodSelection.matches(term, ownedIn: pod.namespace_, placed.pointee) {
            matching += 1
          }
          return matching > 0 ? [(domain, matching)] : []
        }
        antiAffinityCounts.append(counts)
      }
      self.antiAffinityCounts = antiAffinityCounts
      antiAffinity = antiAffinityCounts.map(\.totals)
      // While no placed pod has terms (the framework flags their nodes), none forbids this one.
      existingAntiAffinityCounts = changes.nodesWithAffinityPods == 0 ? nil : Self.existingAntiAffinity(of: pod, nodes)
      existingAntiAffinity = existingAntiAffinityCounts?.totals ?? [:]
      existingAntiAffinityKeys = Array(Set(existingAntiAffinity.keys.map(\.key)))
    }

    /// Per domain, placed pods whose required anti-affinity terms select `pod`.
    private static func existingAntiAffinity(of pod: skiff_pod,
                                             _ nodes: UnsafeBufferPointer<UnsafePointer<skiff_node>?>) -> DomainCounts {
      var key = [DomainCountCache.Kind.existingAntiAffinity.rawValue]
      DomainCountCache.append(identityOf: pod, to: &key)
      return DomainCountCache.counts(key, nodes) { node in
        // The framework flags the nodes holding pods with terms: the rest need no look.
        guard node.pointee.flags & SKIFF_NODE_HAS_AFFINITY_PODS != 0 else { return [] }
        var counts: [(TopologyPair, Int)] = []
        for case let placed? in node.pointee.placedPods {
          let other = placed.pointee
          for term in other.requiredAntiAffinity where PodSelection.matches(term, ownedIn: other.namespace_, pod) {
            if let domain = node.pointee.domain(term.topology_key) { counts.append((domain, 1)) }
          }
        }
        return counts
      }
    }

    /// A node holding a pod that one of the pod's required anti-affinity terms matches (or, for a
    /// pod without such terms, a pod whose own term refuses this one) fails the filter whatever
    /// else is there, so the framework is told in pre_filter and spares the walk over the nodes
    /// already taken. Not for pods with required affinity terms, which the filter checks first
    /// and would name instead; other nodes in a taken domain are left to the filter.
    func rejectTakenNodes(_ cycle: OpaquePointer?) {
      guard pod.n_affinity == 0 else { return }
      if !antiAffinityCounts.isEmpty {
        for counts in antiAffinityCounts {
          counts.countedPositions.withUnsafeBufferPointer {
            PluginHost.rejectNodes(cycle, $0, status: SKIFF_UNSCHEDULABLE, reason: InterPodAffinity.antiAffinityMismatch)
          }
        }
      } else if let existing = existingAntiAffinityCounts {
        existing.countedPositions.withUnsafeBufferPointer {
          PluginHost.rejectNodes(cycle, $0, status: SKIFF_UNSCHEDULABLE, reason: InterPodAffinity.existingAntiAffinityMismatch)
        }
      }
    }

    var hasNothingToCheck: Bool {
      pod.n_affinity == 0 && pod.n_anti_affinity == 0 && existingAntiAffinity.isEmpty
    }

    /// Every required affinity term's domain on this node holds a matching pod. The node must
    /// carry every term's topology key. The first pod of a group that wants to be near itself
    /// would wait forever, so when no pod anywhere matches and the pod matches its own terms,
    /// any node with the keys will do.
    func satisfiesAffinity(_ node: skiff_node) -> Bool {
      var podsExist = true
      for term in pod.requiredAffinity {
        guard let domain = node.domain(term.topology_key) else { return false }
        if affinity[domain, default: 0] <= 0 { podsExist = false }
      }
      return podsExist || (affinity.isEmpty
        && pod.requiredAffinity.allSatisfy { PodSelection.matches($0, ownedIn: pod.namespace_, pod) })
    }

    /// No required anti-affinity term's domain on this node holds a matching pod; a node without
    /// the term's key has no such domain, so it passes, as in Kubernetes.
    func satisfiesAntiAffinity(_ node: skiff_node) -> Bool {
      let terms = pod.requiredAntiAffinity
      for index in terms.indices {
        if let domain = node.domain(terms[index].topology_key), antiAffinity[index][domain] != nil { return false }
      }
      return true
    }

    /// No domain of this node is forbidden by a placed pod's anti-affinity.
    func satisfiesExistingAntiAffinity(_ node: skiff_node) -> Bool {
      guard !existingAntiAffinity.isEmpty else { return true }
      for i in 0..<Int(node.n_labels) where existingAntiAffinityKeys.contains(node.labels[i].key) {
        let domain = TopologyPair(key: node.labels[i].key, value: node.labels[i].value)
        if existingAntiAffinity[domain] != nil { return false }  // counts of zero are left out
      }
      return true
    }

    /// Per domain, the weights of preferred terms linking the pod and each placed pod there:
    /// its own preferred (anti-)affinity for them, their preferred (anti-)affinity for it, and
    /// their required affinity for it at hardPodAffinityWeight. Anti-affinity subtracts.
    lazy var preferences: [TopologyPair: Int] = {
      let pod = self.pod
      let onlyExisting = pod.n_preferred_affinity == 0 && pod.n_preferred_anti_affinity == 0
      if onlyExisting && NodeChanges.shared.nodesWithAffinityPods == 0 { return [:] }
      var key = [DomainCountCache.Kind.preferences.rawValue]
      DomainCountCache.append(identityOf: pod, to: &key)
      for term in pod.preferredAffinity { DomainCountCache.append(term, to: &key) }
      key.append(0)  // affinity terms end, anti-affinity terms follow
      for term in pod.preferredAntiAffinity { DomainCountCache.append(term, to: &key) }
      return DomainCountCache.totals(key, nodes) { node in
        if onlyExisting && node.pointee.flags & SKIFF_NODE_HAS_AFFINITY_PODS == 0 { return [] }
        var weights: [(TopologyPair, Int)] = []
        func add(_ term: skiff_pod_term, _ weight: Int) {
          if let domain = node.pointee.domain(term.topology_key) { weights.append((domain, weight)) }
        }
        for case let placed? in node.pointee.placedPods {
          let other = placed.pointee
          for term in pod.preferredAffinity where PodSelection.matches(term, ownedIn: pod.namespace_, other) {
            add(term, Int(term.weight))
          }
          for term in pod.preferredAntiAffinity where PodSelection.matches(term, ownedIn: pod.namespace_, other) {
            add(term, -Int(term.weight))
          }
          for term in other.requiredAffinity where PodSelection.matches(term, ownedIn: other.namespace_, pod) {
            add(term, Int(InterPodAffinity.hardPodAffinityWeight))
          }
          for term in other.preferredAffinity where PodSelection.matches(term, ownedIn: other.namespace_, pod) {
            add(term, Int(term.weight))
          }
          for term in other.preferredAntiAffinity where PodSelection.matches(term, ownedIn: other.namespace_, pod) {
            add(term, -Int(term.weight))
          }
        }
        return weights
      }
    }()
  }
}
