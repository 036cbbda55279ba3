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
        return state.hasNothingToCheck ? SKIFF_SKIP : SKIFF_OK
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
          total += preferences[TopologyPair(key: node.labels[i].key, value: node.labels[i].value)] ?? 0
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
    PluginHost.cycleState(cycle) { State(pod: pod.pointee, nodes: PluginHost.cycleNodes(cycle)) }
  }

  /// What the placed pods say about the incoming pod, counted once per cycle over every node.
  final class State {
    let pod: skiff_pod
    let nodes: UnsafeBufferPointer<UnsafePointer<skiff_node>?>
    /// Per domain: placed pods matching all of the pod's required affinity terms.
    private(set) var affinity: [TopologyPair: Int] = [:]
    /// Per domain: placed pods matching one of the pod's required anti-affinity terms.
    private(set) var antiAffinity: [TopologyPair: Int] = [:]
    /// Per domain: placed pods whose required anti-affinity terms select the incoming pod.
    private(set) var existingAntiAffinity: [TopologyPair: Int] = [:]

    init(pod: skiff_pod, nodes: UnsafeBufferPointer<UnsafePointer<skiff_node>?>) {
      self.pod = pod
      self.nodes = nodes
      let affinityTerms = pod.requiredAffinity, antiTerms = pod.requiredAntiAffinity
      // A pod without terms of its own can only be turned away by placed pods' anti-affinity, and
      // the framework flags the nodes holding pods with terms: the rest need no look.
      let onlyExisting = affinityTerms.isEmpty && antiTerms.isEmpty
      for case let node? in nodes {
        if onlyExisting && node.pointee.flags & SKIFF_NODE_HAS_AFFINITY_PODS == 0 { continue }
        for case let placed? in node.pointee.placedPods {
          let other = placed.pointee
          if !affinityTerms.isEmpty,
             affinityTerms.allSatisfy({ PodSelection.matches($0, ownedIn: pod.namespace_, other) }) {
            for term in affinityTerms { count(&affinity, node.pointee.domain(term.topology_key)) }
          }
          for term in antiTerms where PodSelection.matches(term, ownedIn: pod.namespace_, other) {
            count(&antiAffinity, node.pointee.domain(term.topology_key))
          }
          for term in other.requiredAntiAffinity where PodSelection.matches(term, ownedIn: other.namespace_, pod) {
            count(&existingAntiAffinity, node.pointee.domain(term.topology_key))
          }
        }
      }
    }

    private func count(_ counts: inout [TopologyPair: Int], _ domain: TopologyPair?) {
      if let domain { counts[domain, default: 0] += 1 }
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
      for term in pod.requiredAntiAffinity {
        if let domain = node.domain(term.topology_key), antiAffinity[domain, default: 0] > 0 { return false }
      }
      return true
    }

    /// No domain of this node is forbidden by a placed pod's anti-affinity.
    func satisfiesExistingAntiAffinity(_ node: skiff_node) -> Bool {
      guard !existingAntiAffinity.isEmpty else { return true }
      for i in 0..<Int(node.n_labels) {
        let domain = TopologyPair(key: node.labels[i].key, value: node.labels[i].value)
        if existingAntiAffinity[domain, default: 0] > 0 { return false }
      }
      return true
    }

    /// Per domain, the weights of preferred terms linking the pod and each placed pod there:
    /// its own preferred (anti-)affinity for them, their preferred (anti-)affinity for it, and
    /// their required affinity for it at hardPodAffinityWeight. Anti-affinity subtracts.
    lazy var preferences: [TopologyPair: Int64] = {
      var weights: [TopologyPair: Int64] = [:]
      func add(_ term: skiff_pod_term, _ weight: Int64, _ node: skiff_node) {
        if let domain = node.domain(term.topology_key) { weights[domain, default: 0] += weight }
      }
      let onlyExisting = pod.n_preferred_affinity == 0 && pod.n_preferred_anti_affinity == 0
      for case let node? in nodes {
        if onlyExisting && node.pointee.flags & SKIFF_NODE_HAS_AFFINITY_PODS == 0 { continue }
        for case let placed? in node.pointee.placedPods {
          let other = placed.pointee
          for term in pod.preferredAffinity where PodSelection.matches(term, ownedIn: pod.namespace_, other) {
            add(term, Int64(term.weight), node.pointee)
          }
          for term in pod.preferredAntiAffinity where PodSelection.matches(term, ownedIn: pod.namespace_, other) {
            add(term, -Int64(term.weight), node.pointee)
          }
          for term in other.requiredAffinity where PodSelection.matches(term, ownedIn: other.namespace_, pod) {
            add(term, InterPodAffinity.hardPodAffinityWeight, node.pointee)
          }
          for term in other.preferredAffinity where PodSelection.matches(term, ownedIn: other.namespace_, pod) {
            add(term, Int64(term.weight), node.pointee)
          }
          for term in other.preferredAntiAffinity where PodSelection.matches(term, ownedIn: other.namespace_, pod) {
            add(term, -Int64(term.weight), node.pointee)
          }
        }
      }
      return weights
    }()
  }
}
