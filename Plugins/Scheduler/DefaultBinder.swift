// DefaultBinder: binds the pod to its node through the API server's pods/binding, which the host
// sends asynchronously (host->cycle_bind); a bind plugin listed before it may take the pod instead.
import PluginKit
import SkiffABI

enum DefaultBinder {
  static var vtable: skiff_scheduler_plugin {
    PluginHost.vtable(skiff_scheduler_plugin.self, name: "DefaultBinder") { vtable in
      vtable.bind = { _, cycle, pod, node in
        let status = PluginHost.bind(cycle, pod!, node!)
        if status != SKIFF_OK { PluginHost.setReason(cycle, "binding failed: the host cannot bind (status \(status.rawValue))") }
        return status
      }
    }
  }
}
