// NodeResourcesFit: the pod's requests must fit in what the node has left (cpu, memory,
// ephemeral storage, pod count and every extended resource such as nvidia.com/gpu); among
// feasible nodes, the configured ScoringStrategy ranks them (LeastAllocated by default).
import PluginKit
import SkiffABI

enum NodeResourcesFit {
  /// Built once, at start; the kernel keeps its own copy. `scoring` lives as long as the process:
  /// the vtable's `self` points at it.
  static func vtable(scoring: ScoringStrategy) -> skiff_scheduler_plugin {
    let strategy = Unmanaged.passRetained(scoring).toOpaque()
    return PluginHost.vtable(skiff_scheduler_plugin.self, name: "NodeResourcesFit", self: strategy) { vtable in
      vtable.filter = { _, cycle, pod, node in
      let fits = NodeResourcesFit.fits(pod!, node!)
      if !fits { NodeResourcesFit.explain(cycle, pod!, node!) }
      return fits ? SKIFF_OK : SKIFF_UNSCHEDULABLE
    }
    vtable.score = { strategy, _, pod, node, score in
        score!.pointee = Unmanaged<ScoringStrategy>.fromOpaque(strategy!).takeUnretainedValue()
          .score(pod!, node!)
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

  static func nonZeroMilliCPU(_ pod: skiff_pod) -> Int64 {
    pod.requests.milli_cpu > 0 ? pod.requests.milli_cpu : defaultMilliCPU
  }
  static func nonZeroMemory(_ pod: skiff_pod) -> Int64 {
    pod.requests.memory > 0 ? pod.requests.memory : defaultMemory
  }
}
