// DefaultPreemption: when a pod fits nowhere, find the node where evicting the fewest, least
// important lower-priority pods makes it fit (Kubernetes' default preemption), evict them and
// nominate the node; the pod waits in the queue for the room. Disruption budgets are not consulted
// yet (their controller does not exist), and a pod with preemptionPolicy Never is not marked in
// skiff_pod, so every pod may preempt.
import PluginKit
import SkiffABI

enum DefaultPreemption {
  static var vtable: skiff_scheduler_plugin {
    PluginHost.vtable(skiff_scheduler_plugin.self, name: "DefaultPreemption") { vtable in
      vtable.post_filter = { _, cycle, pod, verdicts, count, nominated in
        guard let pod, let verdicts else { return SKIFF_UNSCHEDULABLE }
        var best: (node: UnsafePointer<skiff_node>, victims: [skiff_pod])?
        for verdict in UnsafeBufferPointer(start: verdicts, count: Int(count)) {
          // Unresolvable rejections (a missing label, a taint) would stay after any eviction.
          guard verdict.status == SKIFF_UNSCHEDULABLE, let node = verdict.node,
                let victims = DefaultPreemption.victims(cycle, pod, node) else { continue }
          if best == nil || DefaultPreemption.better(victims, than: best!.victims) { best = (node, victims) }
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

  /// The pods to evict on `node`: every lower-priority pod must go for the pod to fit; then, most
  /// important first, each is reprieved if the pod still fits with it staying (Kubernetes'
  /// SelectVictimsOnNode). nil when evicting them all is not enough.
  static func victims(_ cycle: OpaquePointer?, _ pod: UnsafePointer<skiff_pod>,
                      _ node: UnsafePointer<skiff_node>) -> [skiff_pod]? {
    let placed = UnsafeBufferPointer(start: node.pointee.pods, count: Int(node.pointee.n_pods)).compactMap { $0?.pointee }
    let lower = placed.filter { $0.priority < pod.pointee.priority && $0.flags & SKIFF_POD_TERMINATING == 0 }
    guard !lower.isEmpty,
          PluginHost.filterWithout(cycle, pod, node, lower.map(\.id)) == SKIFF_OK else { return nil }
    var victims = lower.sorted { $0.priority > $1.priority }
    var index = 0
    while index < victims.count {
      var kept = victims
      kept.remove(at: index)
      if PluginHost.filterWithout(cycle, pod, node, kept.map(\.id)) == SKIFF_OK {
        victims = kept  // this one may stay
      } else {
        index += 1
      }
    }
    return victims
  }

  /// Kubernetes' pickOneNodeForPreemption, in short: the lowest highest-victim priority, then the
  /// smallest sum of priorities, then the fewest victims.
  static func better(_ a: [skiff_pod], than b: [skiff_pod]) -> Bool {
    let maxA = a.map(\.priority).max() ?? .min, maxB = b.map(\.priority).max() ?? .min
    if maxA != maxB { return maxA < maxB }
    let sumA = a.reduce(Int64(0)) { $0 + Int64($1.priority) }, sumB = b.reduce(Int64(0)) { $0 + Int64($1.priority) }
    if sumA != sumB { return sumA < sumB }
    return a.count < b.count
  }
}
