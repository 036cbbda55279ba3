// DefaultPreemption: when a pod fits nowhere, find the node where evicting the fewest, least
// important lower-priority pods makes it fit (Kubernetes' default preemption), preferring evictions
// that break no PodDisruptionBudget, evict them and nominate the node; the pod waits in the queue
// for the room. A pod with preemptionPolicy Never waits without evicting anyone.
import PluginKit
import SkiffABI

enum DefaultPreemption {
  static var vtable: skiff_scheduler_plugin {
    PluginHost.vtable(skiff_scheduler_plugin.self, name: "DefaultPreemption") { vtable in
      vtable.post_filter = { _, cycle, pod, verdicts, count, nominated in
        guard let pod, let verdicts else { return SKIFF_UNSCHEDULABLE }
        guard pod.pointee.flags & SKIFF_POD_PREEMPT_NEVER == 0 else {
          PluginHost.setReason(cycle, "not eligible due to preemptionPolicy=Never.")
          return SKIFF_UNSCHEDULABLE
        }
        let budgets = PluginHost.disruptionBudgets(cycle)
        var best: Candidate?
        for verdict in UnsafeBufferPointer(start: verdicts, count: Int(count)) {
          // Unresolvable rejections (a missing label, a taint) would stay after any eviction.
          guard verdict.status == SKIFF_UNSCHEDULABLE, let node = verdict.node,
                let candidate = DefaultPreemption.candidate(cycle, pod, node, budgets) else { continue }
          if best == nil || candidate.isBetter(than: best!) { best = candidate }
        }
        guard let best else {
          PluginHost.setReason(cycle, "No preemption victims found for incoming pod")
          return SKIFF_UNSCHEDULABLE
        }
        guard PluginHost.preempt(cycle, best.victims.map(\.id)) == SKIFF_OK else { return SKIFF_ERROR }
        nominated!.pointee = best.node.pointee.name
        return SKIFF_OK
      }
    }
  }

  /// A node where preemption would make room: the pods to evict and how many of those evictions
  /// break a disruption budget.
  struct Candidate {
    let node: UnsafePointer<skiff_node>
    let victims: [skiff_pod]
    let budgetViolations: Int

    /// Kubernetes' pickOneNodeForPreemption: the fewest budget violations, then the lowest
    /// highest-victim priority, then the smallest sum of priorities (each offset to be positive,
    /// as Kubernetes does), then the fewest victims, then the latest start among the
    /// highest-priority victims; otherwise the first found.
    func isBetter(than other: Candidate) -> Bool {
      if budgetViolations != other.budgetViolations { return budgetViolations < other.budgetViolations }
      let highest = victims.map(\.priority).max() ?? .min, otherHighest = other.victims.map(\.priority).max() ?? .min
      if highest != otherHighest { return highest < otherHighest }
      if prioritySum != other.prioritySum { return prioritySum < other.prioritySum }
      if victims.count != other.victims.count { return victims.count < other.victims.count }
      return earliestStartOfMostImportant > other.earliestStartOfMostImportant
    }

    private var prioritySum: Int64 { victims.reduce(0) { $0 + Int64($1.priority) + Int64(Int32.max) + 1 } }

    private var earliestStartOfMostImportant: Int64 {
      let highest = victims.map(\.priority).max()
      return victims.filter { $0.priority == highest }.map(\.creation_unix_ns).min() ?? .max
    }
  }

  /// The pods to evict on `node` (Kubernetes' SelectVictimsOnNode): every lower-priority pod must
  /// go for the pod to fit; then, most important first, each is reprieved if the pod still fits
  /// with it staying — those whose eviction would break a budget get the first chance to stay.
  /// nil when evicting them all is not enough.
  static func candidate(_ cycle: OpaquePointer?, _ pod: UnsafePointer<skiff_pod>, _ node: UnsafePointer<skiff_node>,
                        _ budgets: UnsafeBufferPointer<skiff_disruption_budget>) -> Candidate? {
    let placed = UnsafeBufferPointer(start: node.pointee.pods, count: Int(node.pointee.n_pods)).compactMap { $0?.pointee }
    let lower = placed.filter { $0.priority < pod.pointee.priority && $0.flags & SKIFF_POD_TERMINATING == 0 }
    guard !lower.isEmpty,
          PluginHost.filterWithout(cycle, pod, node, lower.map(\.id)) == SKIFF_OK else { return nil }
    let byImportance = lower.sorted { ($0.priority, -$0.creation_unix_ns) > ($1.priority, -$1.creation_unix_ns) }
    let (violating, nonViolating) = partitionByBudget(byImportance, budgets)
    var evicted = Set(lower.map(\.id))
    var victims: [skiff_pod] = [], budgetViolations = 0
    func reprieve(_ candidate: skiff_pod) -> Bool {
      evicted.remove(candidate.id)
      if PluginHost.filterWithout(cycle, pod, node, Array(evicted)) == SKIFF_OK { return true }
      evicted.insert(candidate.id)
      victims.append(candidate)
      return false
    }
    for victim in violating where !reprieve(victim) { budgetViolations += 1 }
    for victim in nonViolating { _ = reprieve(victim) }
    return Candidate(node: node, victims: victims, budgetViolations: budgetViolations)
  }

  /// Kubernetes' filterPodsWithPDBViolation: walking the pods in order, each takes one disruption
  /// from every budget that covers it; a pod that takes a budget below zero would violate it.
  static func partitionByBudget(_ pods: [skiff_pod], _ budgets: UnsafeBufferPointer<skiff_disruption_budget>)
    -> (violating: [skiff_pod], nonViolating: [skiff_pod]) {
    var allowed = budgets.map(\.disruptions_allowed)
    var violating: [skiff_pod] = [], nonViolating: [skiff_pod] = []
    for pod in pods {
      var violates = false
      if pod.n_labels > 0 {
        for (index, budget) in budgets.enumerated()
        where budget.namespace_ == pod.namespace_ && budget.selector.n_requirements > 0
          && PodSelection.matches(budget.selector, pod) {
          allowed[index] -= 1
          if allowed[index] < 0 { violates = true }
        }
      }
      if violates { violating.append(pod) } else { nonViolating.append(pod) }
    }
    return (violating, nonViolating)
  }
}
