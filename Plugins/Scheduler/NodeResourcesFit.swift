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
      let fits = NodeResourcesFit.fits(pod!, node!)
      if !fits { NodeResourcesFit.explain(cycle, pod!, node!) }
      return fits ? SKIFF_OK : SKIFF_UNSCHEDULABLE
    }
    vtable.score = { _, _, pod, node, score in
        score!.pointee = NodeResourcesFit.leastAllocated(pod!.pointee, node!.pointee)
        return SKIFF_OK
      }
    }
  }

  /// The hot path: straight-line comparisons through the pointers, no copies, no allocation.
  @inline(__always)
  static func fits(_ pod: UnsafePointer<skiff_pod>, _ node: UnsafePointer<skiff_node>) -> Bool {
    let want = UnsafeRawPointer(pod).advanced(by: MemoryLayout<skiff_pod>.offset(of: \.requests)!)
      .assumingMemoryBound(to: skiff_resources.self)
    let have = UnsafeRawPointer(node).advanced(by: MemoryLayout<skiff_node>.offset(of: \.allocatable)!)
      .assumingMemoryBound(to: skiff_resources.self)
    let used = UnsafeRawPointer(node).advanced(by: MemoryLayout<skiff_node>.offset(of: \.requested)!)
      .assumingMemoryBound(to: skiff_resources.self)
    if Int64(node.pointee.n_pods) + 1 > have.pointee.pods { return false }
    let cpu = want.pointee.milli_cpu, memory = want.pointee.memory, disk = want.pointee.ephemeral_storage
    if cpu > 0 && cpu > have.pointee.milli_cpu - used.pointee.milli_cpu { return false }
    if memory > 0 && memory > have.pointee.memory - used.pointee.memory { return false }
    if disk > 0 && disk > have.pointee.ephemeral_storage - used.pointee.ephemeral_storage {
      return false
    }
    let count = Int(want.pointee.n_scalars)
    if count == 0 { return true }
    let scalars = want.pointee.scalars!
    for i in 0..<count where scalars[i].value > 0 {
      let name = scalars[i].name
      if scalars[i].value > have.pointee.scalar(name) - used.pointee.scalar(name) { return false }
    }
    return true
  }

  /// The cold path: every reason the pod does not fit, in Kubernetes' words.
  static func explain(_ cycle: OpaquePointer?, _ pod: UnsafePointer<skiff_pod>, _ node: UnsafePointer<skiff_node>) {
    let want = pod.pointee.requests, have = node.pointee.allocatable, used = node.pointee.requested
    if Int64(node.pointee.n_pods) + 1 > have.pods { PluginHost.setReason(cycle, "Too many pods") }
    if want.milli_cpu > 0 && want.milli_cpu > have.milli_cpu - used.milli_cpu { PluginHost.setReason(cycle, "Insufficient cpu") }
    if want.memory > 0 && want.memory > have.memory - used.memory { PluginHost.setReason(cycle, "Insufficient memory") }
    if want.ephemeral_storage > 0 && want.ephemeral_storage > have.ephemeral_storage - used.ephemeral_storage {
      PluginHost.setReason(cycle, "Insufficient ephemeral-storage")
    }
    for i in 0..<Int(want.n_scalars) {
      let scalar = want.scalars[i]
      if scalar.value > 0 && scalar.value > have.scalar(scalar.name) - used.scalar(scalar.name) {
        PluginHost.setReason(cycle, "Insufficient \(PluginHost.string(scalar.name) ?? "?")")
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
