// PrioritySort: the queue order. Higher spec.priority first; among equals, whoever waited longer.
import PluginKit
import SkiffABI

enum PrioritySort {
  /// Built once, at start; the kernel keeps its own copy.
  static var vtable: skiff_scheduler_plugin {
    PluginHost.vtable(skiff_scheduler_plugin.self, name: "PrioritySort") { vtable in
      vtable.queue_sort_less = { _, a, aEnqueued, b, bEnqueued in
        let first = a!.pointee.priority, second = b!.pointee.priority
        return first > second || (first == second && aEnqueued < bEnqueued) ? 1 : 0
      }
    }
  }
}
