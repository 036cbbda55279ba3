// TaintToleration: a pod fits a node only if it tolerates every NoSchedule and NoExecute taint;
// among feasible nodes it prefers fewer untolerated PreferNoSchedule taints.
import PluginKit
import SkiffABI

enum TaintToleration {
  /// Built once, at start; the kernel keeps its own copy.
  static var vtable: skiff_scheduler_plugin {
    PluginHost.vtable(skiff_scheduler_plugin.self, name: "TaintToleration") { vtable in
      vtable.filter = { _, cycle, pod, node in
        let node = node!.pointee
        for i in 0..<Int(node.n_taints) {
          let taint = node.taints[i]
          guard taint.effect == SKIFF_EFFECT_NO_SCHEDULE || taint.effect == SKIFF_EFFECT_NO_EXECUTE,
                !TaintToleration.tolerates(pod!.pointee, taint) else { continue }
          let key = PluginHost.string(taint.key) ?? ""
          let value = PluginHost.string(taint.value) ?? ""
          PluginHost.setReason(cycle, "node(s) had untolerated taint {\(key): \(value)}")
          return SKIFF_UNSCHEDULABLE_AND_UNRESOLVABLE
        }
        return SKIFF_OK
      }
      // Counts untolerated PreferNoSchedule taints; normalize turns fewer into a higher score.
      vtable.score = { _, _, pod, node, score in
        let node = node!.pointee
        var count: Int64 = 0
        for i in 0..<Int(node.n_taints) where node.taints[i].effect == SKIFF_EFFECT_PREFER_NO_SCHEDULE {
          if !TaintToleration.tolerates(pod!.pointee, node.taints[i]) { count += 1 }
        }
        score!.pointee = count
        return SKIFF_OK
      }
      vtable.normalize_score = { _, _, _, scores, count in
        let scores = UnsafeMutableBufferPointer(start: scores, count: Int(count))
        let highest = scores.map(\.score).max() ?? 0
        for i in scores.indices {
          scores[i].score = highest == 0
            ? Int64(SKIFF_MAX_NODE_SCORE)
            : Int64(SKIFF_MAX_NODE_SCORE) - scores[i].score * Int64(SKIFF_MAX_NODE_SCORE) / highest
        }
        return SKIFF_OK
      }
    }
  }

  /// Kubernetes' ToleratesTaint: an empty key with Exists matches every taint, an empty effect
  /// matches every effect, Exists ignores the value.
  static func tolerates(_ pod: skiff_pod, _ taint: skiff_taint) -> Bool {
    for i in 0..<Int(pod.n_tolerations) {
      let toleration = pod.tolerations[i]
      if toleration.effect != SKIFF_EFFECT_ANY && toleration.effect != taint.effect { continue }
      if toleration.key == 0 && toleration.op == SKIFF_TOLERATION_EXISTS { return true }
      if toleration.key != taint.key { continue }
      if toleration.op == SKIFF_TOLERATION_EXISTS || toleration.value == taint.value { return true }
    }
    return false
  }
}
