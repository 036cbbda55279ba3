// NodeResourcesFit: the pod's requests must fit in what the node has left (cpu, memory,
// ephemeral storage, pod count and every extended resource such as nvidia.com/gpu); among
// feasible nodes, LeastAllocated scoring spreads load.
import PluginKit
import SkiffABI

enum NodeResourcesFit {
  /// Built once, at start; the kernel keeps its own copy.
  static var vtable: skiff_scheduler_plugin {
    PluginHost.vtable(skiff_scheduler_plugin.self, name: "NodeResourcesFit") { vtable in
      vtable.filter = { _, cycle, pod, node in
        let want = pod!.pointee.requests
        let node = node!.pointee
        let have = node.allocatable
        let used = node.requested
        var fits = true
        func short(_ reason: String) {
          PluginHost.setReason(cycle, reason)
          fits = false
        }
        if Int64(node.n_pods) + 1 > have.pods { short("Too many pods") }
        if want.milli_cpu > 0 && want.milli_cpu > have.milli_cpu - used.milli_cpu {
          short("Insufficient cpu")
        }
        if want.memory > 0 && want.memory > have.memory - used.memory { short("Insufficient memory") }
        if want.ephemeral_storage > 0
          && want.ephemeral_storage > have.ephemeral_storage - used.ephemeral_storage {
          short("Insufficient ephemeral-storage")
        }
        for i in 0..<Int(want.n_scalars) {
          let scalar = want.scalars[i]
          if scalar.value > 0 && scalar.value > have.scalar(scalar.name) - used.scalar(scalar.name) {
            short("Insufficient \(PluginHost.string(scalar.name) ?? "?")")
          }
        }
        return fits ? SKIFF_OK : SKIFF_UNSCHEDULABLE
      }
      vtable.score = { _, _, pod, node, score in
        score!.pointee = NodeResourcesFit.leastAllocated(pod!.pointee, node!.pointee)
        return SKIFF_OK
      }
    }
  }

  /// Requests the scheduler assumes for containers that declare none, as Kubernetes does, so that
  /// empty pods still spread.
  static let defaultMilliCPU: Int64 = 100
  static let defaultMemory: Int64 = 200 * 1024 * 1024

  /// LeastAllocated with cpu and memory weighted equally: the share of each left free after
  /// placing the pod, scaled to 0...100.
  static func leastAllocated(_ pod: skiff_pod, _ node: skiff_node) -> Int64 {
    func free(_ allocatable: Int64, _ requested: Int64) -> Int64 {
      guard allocatable > 0, requested <= allocatable else { return 0 }
      return (allocatable - requested) * Int64(SKIFF_MAX_NODE_SCORE) / allocatable
    }
    let cpu = pod.requests.milli_cpu > 0 ? pod.requests.milli_cpu : defaultMilliCPU
    let memory = pod.requests.memory > 0 ? pod.requests.memory : defaultMemory
    return (free(node.allocatable.milli_cpu, node.requested.milli_cpu + cpu)
      + free(node.allocatable.memory, node.requested.memory + memory)) / 2
  }
}
