// NodeResourcesBalancedAllocation: prefers nodes whose cpu and memory would be used in equal
// shares after placing the pod, so that neither runs out while the other sits idle.
import PluginKit
import SkiffABI

enum NodeResourcesBalancedAllocation {
  /// Built once, at start; the kernel keeps its own copy.
  static var vtable: skiff_scheduler_plugin {
    PluginHost.vtable(skiff_scheduler_plugin.self, name: "NodeResourcesBalancedAllocation") { vtable in
      vtable.score = { _, _, pod, node, score in
        score!.pointee = NodeResourcesBalancedAllocation.balance(pod!, node!)
        return SKIFF_OK
      }
    }
  }

  /// Kubernetes' balancedResourceScorer for two resources: the standard deviation of two
  /// fractions is half their difference; resources the node lacks are left out.
  static func balance(_ pod: UnsafePointer<skiff_pod>, _ node: UnsafePointer<skiff_node>) -> Int64 {
    let pod = pod.pointee, node = node.pointee
    let cpu = fraction(node.requested.milli_cpu + NodeResourcesFit.nonZeroMilliCPU(pod),
                       of: node.allocatable.milli_cpu)
    let memory = fraction(node.requested.memory + NodeResourcesFit.nonZeroMemory(pod),
                          of: node.allocatable.memory)
    let deviation = if let cpu, let memory { abs(cpu - memory) / 2 } else { 0.0 }
    return Int64((1 - deviation) * Double(SKIFF_MAX_NODE_SCORE))
  }

  private static func fraction(_ requested: Int64, of allocatable: Int64) -> Double? {
    allocatable == 0 ? nil : min(Double(requested) / Double(allocatable), 1)
  }
}
