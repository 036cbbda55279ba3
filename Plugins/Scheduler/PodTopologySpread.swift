// PodTopologySpread: a pod with DoNotSchedule constraints goes only where it keeps the matching
// pods' counts across topology domains within maxSkew; ScheduleAnyway constraints prefer the
// domains with the fewest matching pods.
import FoundationEssentials
import Glibc
import PluginKit
import SkiffABI

enum PodTopologySpread {
  static let constraintsMismatch = "node(s) didn't match pod topology spread constraints"
  static let missingLabel = "node(s) didn't match pod topology spread constraints (missing required label)"

  /// Built once, at start; the kernel keeps its own copy.
  static var vtable: skiff_scheduler_plugin {
    PluginHost.vtable(skiff_scheduler_plugin.self, name: "PodTopologySpread") { vtable in
      vtable.pre_filter = { _, cycle, pod, _, _ in
        let state = PodTopologySpread.state(cycle, pod!)
        if state.required.isEmpty { return SKIFF_SKIP }
        state.rejectCrowdedNodes(cycle)
        return SKIFF_OK
      }
      vtable.filter = { _, cycle, pod, node in
        for spread in PodTopologySpread.state(cycle, pod!).required {
          // No label, no domain: preempting pods would not give the node one.
          guard let domain = node!.pointee.label(spread.constraint.topology_key) else {
            PluginHost.setReason(cycle, PodTopologySpread.missingLabel)
            return SKIFF_UNSCHEDULABLE_AND_UNRESOLVABLE
          }
          if spread.skew(placingIn: domain) > Int(spread.constraint.max_skew) {
            PluginHost.setReason(cycle, PodTopologySpread.constraintsMismatch)
            return SKIFF_UNSCHEDULABLE
          }
        }
        return SKIFF_OK
      }
      vtable.pre_score = { _, cycle, pod, _, _ in
        PodTopologySpread.state(cycle, pod!).preferred.isEmpty ? SKIFF_SKIP : SKIFF_OK
      }
      // Kubernetes' score: per constraint, the matching pods in the node's domain weighted by
      // log(domains + 2), so that constraints over more domains count for more, plus maxSkew − 1.
      vtable.score = { _, cycle, pod, node, score in
        var total = 0.0
        for spread in PodTopologySpread.state(cycle, pod!).preferred {
          guard let domain = node!.pointee.label(spread.constraint.topology_key) else { continue }
          total += Double(spread.counts[domain, default: 0]) * spread.weight + Double(spread.constraint.max_skew - 1)
        }
        score!.pointee = Int64(total.rounded())
        return SKIFF_OK
      }
      // Fewer matching pods score higher: 100 × (highest + lowest − score) / highest. A node
      // missing a constraint's key scores 0, as does every node when no constraint is soft.
      vtable.normalize_score = { _, cycle, pod, scores, count in
        let preferred = PodTopologySpread.state(cycle, pod!).preferred
        let scores = UnsafeMutableBufferPointer(start: scores, count: Int(count))
        func counted(_ score: skiff_node_score) -> Bool {
          !preferred.isEmpty && preferred.allSatisfy { score.node.pointee.label($0.constraint.topology_key) != nil }
        }
        let considered = scores.filter(counted).map(\.score)
        let lowest = considered.min() ?? 0, highest = considered.max() ?? 0
        for i in scores.indices {
          if !counted(scores[i]) {
            scores[i].score = 0
          } else if highest == 0 {
            scores[i].score = Int64(SKIFF_MAX_NODE_SCORE)
          } else {
            scores[i].score = Int64(SKIFF_MAX_NODE_SCORE) * (highest + lowest - scores[i].score) / highest
          }
        }
        return SKIFF_OK
      }
    }
  }

  static func state(_ cycle: OpaquePointer?, _ pod: UnsafePointer<skiff_pod>) -> State {
    PluginHost.cycleState(cycle) { State(pod: pod, nodes: PluginHost.cycleNodes(cycle), cycle: cycle) }
  }

  /// One constraint's matching pods per domain, counted once per cycle.
  struct Spread {
    let constraint: skiff_spread_constraint
    /// 1 when the incoming pod matches its own selector: placing it adds to the count.
    let selfMatch: Int
    /// Per domain value of the topology key; every eligible node's domain is present.
    var counts: [skiff_str: Int] = [:]

    /// The emptiest domain's count; 0 while there are fewer domains than minDomains, so that
    /// pods keep spreading until enough domains exist.
    var minimum: Int {
      counts.count < Int(constraint.min_domains) ? 0 : counts.values.min() ?? 0
    }

    /// log(domains + 2), Kubernetes' topology normalizing weight.
    var weight: Double { log(Double(counts.count + 2)) }

    func skew(placingIn domain: skiff_str) -> Int {
      counts[domain, default: 0] + selfMatch - minimum
    }
  }

  final class State {
    /// DoNotSchedule constraints, for filter.
    let required: [Spread]
    /// ScheduleAnyway constraints, for score.
    let preferred: [Spread]
    /// For a pod that may go to any node: the nodes carrying every required constraint's key, by
    /// their domains, so pre_filter can name those in crowded domains.
    private var eligible: DomainCounts?

    init(pod: UnsafePointer<skiff_pod>, nodes: UnsafeBufferPointer<UnsafePointer<skiff_node>?>, cycle: OpaquePointer?) {
      let constraints = pod.pointee.spreadConstraints
      var eligible: DomainCounts?
      required = Self.count(constraints.filter { $0.when_unsatisfiable == SKIFF_SPREAD_DO_NOT_SCHEDULE }, pod, nodes, cycle,
                            eligible: &eligible)
      self.eligible = eligible
      var unused: DomainCounts?
      preferred = Self.count(constraints.filter { $0.when_unsatisfiable == SKIFF_SPREAD_SCHEDULE_ANYWAY }, pod, nodes, cycle,
                             eligible: &unused)
    }

    /// The nodes in a domain whose skew the pod would push past maxSkew fail the filter with the
    /// same reason whatever else they hold (they carry every key, so no earlier constraint finds
    /// a label missing): the framework is told in pre_filter and spares the walk over them.
    func rejectCrowdedNodes(_ cycle: OpaquePointer?) {
      guard let eligible else { return }
      var crowded: [TopologyPair] = []
      for spread in required {
        let key = spread.constraint.topology_key, minimum = spread.minimum
        for (value, count) in spread.counts where count + spread.selfMatch - minimum > Int(spread.constraint.max_skew) {
          crowded.append(TopologyPair(key: key, value: value))
        }
      }
      // Many crowded domains (a spread by hostname) would make the search below cost more than
      // the filter calls it spares.
      guard !crowded.isEmpty, crowded.count <= 64 else { return }
      eligible.positions(countingIn: crowded).withUnsafeBufferPointer {
        PluginHost.rejectNodes(cycle, $0, status: SKIFF_UNSCHEDULABLE, reason: PodTopologySpread.constraintsMismatch)
      }
    }

    /// Counts over the nodes the pod could go to by its nodeSelector and required node affinity,
    /// and that carry every constraint's key: pods in the pod's namespace, not terminating, that
    /// the constraint's selector matches.
    private static func count(_ constraints: [skiff_spread_constraint], _ pod: UnsafePointer<skiff_pod>,
                              _ nodes: UnsafeBufferPointer<UnsafePointer<skiff_node>?>, _ cycle: OpaquePointer?,
                              eligible: inout DomainCounts?) -> [Spread] {
      var spreads = constraints.map {
        Spread(constraint: $0, selfMatch: PodSelection.matches($0.selector, pod.pointee) ? 1 : 0)
      }
      guard !spreads.isEmpty else { return [] }
      if pod.pointee.n_node_selector == 0 && pod.pointee.n_required_node_terms == 0 {
        return kept(spreads, pod.pointee, nodes, cycle, eligible: &eligible)
      }
      for case let node? in nodes where NodeAffinity.required(pod, node) {
        let domains = constraints.map { node.pointee.label($0.topology_key) }
        guard domains.allSatisfy({ $0 != nil }) else { continue }
        for (i, constraint) in constraints.enumerated() {
          var matching = 0
          for case let placed? in node.pointee.placedPods
          where placed.pointee.flags & SKIFF_POD_TERMINATING == 0 && placed.pointee.namespace_ == pod.pointee.namespace_
            && PodSelection.matches(constraint.selector, placed.pointee) {
            matching += 1
          }
          spreads[i].counts[domains[i]!, default: 0] += matching
        }
      }
      return spreads
    }

    /// The same counts for a pod that may go to any node, from per-domain counts kept across
    /// cycles (DomainCountCache): one question for which domains the eligible nodes form, one per
    /// constraint for the matching pods in each, recounted only on nodes that changed.
    private static func kept(_ spreads: [Spread], _ pod: skiff_pod,
                             _ nodes: UnsafeBufferPointer<UnsafePointer<skiff_node>?>, _ cycle: OpaquePointer?,
                             eligible: inout DomainCounts?) -> [Spread] {
      NodeChanges.shared.walk(nodes, cycle: cycle)
      let keys = spreads.map(\.constraint.topology_key)
      func eligibleDomains(_ node: UnsafePointer<skiff_node>) -> [TopologyPair]? {
        var domains: [TopologyPair] = []
        for key in keys {
          guard let domain = node.pointee.domain(key) else { return nil }
          domains.append(domain)
        }
        return domains
      }
      let eligibleCounts = DomainCountCache.counts([DomainCountCache.Kind.spreadDomains.rawValue] + keys, nodes) { node in
        eligibleDomains(node)?.map { ($0, 1) } ?? []
      }
      eligible = eligibleCounts
      let domains = eligibleCounts.totals
      var spreads = spreads
      for i in spreads.indices {
        let constraint = spreads[i].constraint
        var key = [DomainCountCache.Kind.spreadMatches.rawValue, pod.namespace_, UInt32(i)] + keys
        DomainCountCache.append(constraint.selector, to: &key)
        let matches = DomainCountCache.totals(key, nodes) { node in
          guard let domain = eligibleDomains(node)?[i] else { return [] }
          var matching = 0
          for case let placed? in node.pointee.placedPods
          where placed.pointee.flags & SKIFF_POD_TERMINATING == 0 && placed.pointee.namespace_ == pod.namespace_
            && PodSelection.matches(constraint.selector, placed.pointee) {
            matching += 1
          }
          return matching > 0 ? [(domain, matching)] : []
        }
        for domain in domains.keys where domain.key == constraint.topology_key {
          spreads[i].counts[domain.value] = matches[domain] ?? 0
        }
      }
      return spreads
    }
  }
}
