// NodePorts: a pod fits a node only if none of its host ports is already taken there by the same
// protocol on an overlapping address.
import PluginKit
import SkiffABI

enum NodePorts {
  /// Built once, at start; the kernel keeps its own copy.
  static var vtable: skiff_scheduler_plugin {
    PluginHost.vtable(skiff_scheduler_plugin.self, name: "NodePorts") { vtable in
      // As Kubernetes' PreFilter: a pod asking no host port fits every node, so filter is skipped.
      vtable.pre_filter = { _, _, pod, _, _ in pod!.pointee.n_host_ports == 0 ? SKIFF_SKIP : SKIFF_OK }
      vtable.filter = { _, cycle, pod, node in
        let pod = pod!.pointee, node = node!.pointee
        for i in 0..<Int(pod.n_host_ports) {
          for j in 0..<Int(node.n_used_ports) where NodePorts.conflict(pod.host_ports[i], node.used_ports[j]) {
            PluginHost.setReason(cycle, "node(s) didn't have free ports for the requested pod ports")
            return SKIFF_UNSCHEDULABLE
          }
        }
        return SKIFF_OK
      }
    }
  }

  /// Kubernetes' HostPortInfo.CheckConflict: an unset protocol is TCP, and an unset or 0.0.0.0
  /// address takes the port on every address.
  static func conflict(_ wanted: skiff_port, _ used: skiff_port) -> Bool {
    guard wanted.port > 0, wanted.port == used.port else { return false }
    func protocolOf(_ port: skiff_port) -> skiff_str { port.protocol == 0 ? Names.tcp : port.protocol }
    guard protocolOf(wanted) == protocolOf(used) else { return false }
    func everywhere(_ port: skiff_port) -> Bool { port.host_ip == 0 || port.host_ip == Names.anyAddress }
    return everywhere(wanted) || everywhere(used) || wanted.host_ip == used.host_ip
  }
}
