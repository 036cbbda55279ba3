// NodeUnschedulable: cordoned nodes (spec.unschedulable) take only pods that tolerate the
// node.kubernetes.io/unschedulable:NoSchedule taint.
import PluginKit
import SkiffABI

enum NodeUnschedulable {
  /// Built once, at start; the kernel keeps its own copy.
  static var vtable: skiff_scheduler_plugin {
    PluginHost.vtable(skiff_scheduler_plugin.self, name: "NodeUnschedulable") { vtable in
      vtable.filter = { _, cycle, pod, node in
        guard node!.pointee.flags & SKIFF_NODE_UNSCHEDULABLE != 0 else { return SKIFF_OK }
        let taint = skiff_taint(key: Names.unschedulableTaint, value: 0,
                                effect: SKIFF_EFFECT_NO_SCHEDULE, reserved0: 0)
        if TaintToleration.tolerates(pod!.pointee, taint) { return SKIFF_OK }
        PluginHost.setReason(cycle, "node(s) were unschedulable")
        return SKIFF_UNSCHEDULABLE_AND_UNRESOLVABLE
      }
    }
  }
}
