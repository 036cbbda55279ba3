// NodeName: a pod with spec.nodeName fits only that node.
import PluginKit
import SkiffABI

enum NodeName {
  /// Built once, at start; the kernel keeps its own copy.
  static var vtable: skiff_scheduler_plugin {
    PluginHost.vtable(skiff_scheduler_plugin.self, name: "NodeName") { vtable in
      // A pod naming no node fits every node: its filter need not run.
      vtable.pre_filter = { _, _, pod, _, _ in pod!.pointee.node_name == 0 ? SKIFF_SKIP : SKIFF_OK }
      vtable.filter = { _, cycle, pod, node in
        let wanted = pod!.pointee.node_name
        if wanted == 0 || wanted == node!.pointee.name { return SKIFF_OK }
        PluginHost.setReason(cycle, "node(s) didn't match the requested node name")
        return SKIFF_UNSCHEDULABLE_AND_UNRESOLVABLE
      }
    }
  }
}
