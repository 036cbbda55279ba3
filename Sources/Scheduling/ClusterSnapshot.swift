// The scheduler's view of the cluster: every node and every pod placed on one, as C structs kept
// up to date incrementally from the store's watch (and from the framework's own assumptions
// while bindings are in flight), never rebuilt per cycle.
import Kernel
import ObjectModel
import SkiffABI
import Synchronization

/// A pod the snapshot knows: its struct and the arena behind it.
final class PodInfo {
  let key: String
  let namespace: String
  let name: String
  let arena = Arena()
  let pod: UnsafeMutablePointer<skiff_pod>
  let requests: ResourceVector
  var nodeName: String?
  /// What scheduling reads of a pod changes only with its spec (the generation) or its labels;
  /// an update that changes neither (a kubelet's status report) leaves the snapshot alone.
  let generation: Int64
  let labels: JSON?

  init(key: String, object: JSON, id: UInt64, intern: Interner, minMember: Int32 = 0) {
    self.key = key
    namespace = object[path: ["metadata", "namespace"]]?.stringValue ?? ""
    name = object[path: ["metadata", "name"]]?.stringValue ?? ""
    let requests = PodStruct.requests(object["spec"], intern: intern)
    self.requests = requests
    pod = arena.value(PodStruct.build(object, id: id, requests: requests, intern: intern, arena: arena,
                                      minMember: minMember))
    let bound = object[path: ["spec", "nodeName"]]?.stringValue ?? ""
    nodeName = bound.isEmpty ? nil : bound
    generation = object[path: ["metadata", "generation"]]?.intValue ?? 0
    labels = object[path: ["metadata", "labels"]]
  }
}

/// Node structs in chunks of consecutive memory, handed out in the order nodes come, so that a
/// filter loop walking consecutive positions reads consecutive memory, which the hardware
/// prefetches, instead of missing the cache on one separate allocation per node (that miss was
/// most of a basic cycle's filtering). Each slot has room after its struct for a node's labels,
/// which topology filters read on every node. Slots never move while their node lives; freed
/// ones are reused.
final class NodeSlab {
  private var chunks: [UnsafeMutableRawPointer] = []
  private var usedOfLastChunk = 0
  private var freed: [UnsafeMutableRawPointer] = []
  static let chunkSize = 1_024
  static let slotSize = 256
  static let labelsOffset = MemoryLayout<skiff_node>.stride
  /// Labels kept in the slot (10); a node with more has them in its arena.
  static let inlineLabels = (slotSize - labelsOffset) / MemoryLayout<skiff_label>.stride

  struct Slot {
    let node: UnsafeMutablePointer<skiff_node>
    let labels: UnsafeMutablePointer<skiff_label>
  }

  func take() -> Slot {
    let memory: UnsafeMutableRawPointer
    if let slot = freed.popLast() {
      memory = slot
    } else {
      if chunks.isEmpty || usedOfLastChunk == Self.chunkSize {
        chunks.append(.allocate(byteCount: Self.chunkSize * Self.slotSize, alignment: 64))
        usedOfLastChunk = 0
      }
      usedOfLastChunk += 1
      memory = chunks[chunks.count - 1] + (usedOfLastChunk - 1) * Self.slotSize
    }
    let labels = (memory + Self.labelsOffset).bindMemory(to: skiff_label.self, capacity: Self.inlineLabels)
    return Slot(node: memory.bindMemory(to: skiff_node.self, capacity: 1), labels: labels)
  }

  func give(_ slot: Slot) { freed.append(UnsafeMutableRawPointer(slot.node)) }

  deinit { for chunk in chunks { chunk.deallocate() } }
}

final class NodeInfo {
  let name: String
  let node: UnsafeMutablePointer<skiff_node>
  private let slab: NodeSlab
  private let slot: NodeSlab.Slot
  private var staticArena = Arena()
  private var dynamicArena = Arena()
  private(set) var pods: [PodInfo] = []
  private var requested = ResourceVector()

  init(name: String, object: JSON, id: UInt64, intern: Interner, slab: NodeSlab) {
    self.name = name
    self.slab = slab
    slot = slab.take()
    node = slot.node
    node.initialize(to: skiff_node())
    node.pointee.abi_version = SKIFF_ABI_VERSION
    node.pointee.struct_size = UInt32(MemoryLayout<skiff_node>.size)
    node.pointee.id = id
    node.pointee.name = intern(name)
    update(object, intern: intern)
  }

  deinit {
    node.deinitialize(count: 1)
    slab.give(slot)
  }

  /// The parts that come from the Node object: labels, taints, allocatable, flags.
  func update(_ object: JSON, intern: Interner) {
    let arena = Arena()
    let labels = PodStruct.pairs(object[path: ["metadata", "labels"]], intern: intern)
    if labels.count <= NodeSlab.inlineLabels {
      // Between cycles, so no plugin reads the old labels while they are overwritten.
      slot.labels.update(from: labels, count: labels.count)
      node.pointee.labels = labels.isEmpty ? nil : UnsafePointer(slot.labels)
    } else {
      node.pointee.labels = arena.array(labels).map { UnsafePointer($0) }
    }
    node.pointee.n_labels = UInt32(labels.count)
    let taints = (object[path: ["spec", "taints"]]?.arrayValue ?? []).map { taint in
      skiff_taint(key: intern(taint["key"]?.stringValue), value: intern(taint["value"]?.stringValue),
                  effect: PodStruct.effect(taint["effect"]?.stringValue), reserved0: 0)
    }
    node.pointee.taints = arena.array(taints).map { UnsafePointer($0) }
    node.pointee.n_taints = UInt32(taints.count)
    let allocatable = object[path: ["status", "allocatable"]]?.objectValue ?? object[path: ["status", "capacity"]]?.objectValue
    node.pointee.allocatable = ResourceVector(allocatable, intern: intern).cStruct(in: arena)
    var flags = node.pointee.flags & SKIFF_NODE_HAS_AFFINITY_PODS  // that bit comes from its pods
    if object[path: ["spec", "unschedulable"]]?.boolValue == true { flags |= SKIFF_NODE_UNSCHEDULABLE }
    let ready = (object[path: ["status", "conditions"]]?.arrayValue ?? []).first { $0["type"]?.stringValue == "Ready" }
    if ready?["status"]?.stringValue == "False" { flags |= SKIFF_NODE_NOT_READY }
    node.pointee.flags = flags
    node.pointee.generation &+= 1
    staticArena = arena  // the old arrays go only after the struct points at the new ones
  }

  func add(_ pod: PodInfo) {
    pods.append(pod)
    requested.add(pod.requests)
    refresh()
  }

  func remove(_ pod: PodInfo) {
    guard let index = pods.firstIndex(where: { $0 === pod }) else { return }
    pods.remove(at: index)
    requested.subtract(pod.requests)
    refresh()
  }

  /// The parts that come from the pods placed here.
  private func refresh() {
    let arena = Arena()
    node.pointee.requested = requested.cStruct(in: arena)
    let pointers: [UnsafePointer<skiff_pod>?] = pods.map { UnsafePointer($0.pod) }
    node.pointee.pods = arena.array(pointers).map { UnsafePointer($0) }
    node.pointee.n_pods = UInt32(pods.count)
    var ports: [skiff_port] = []
    for pod in pods where pod.pod.pointee.n_host_ports > 0 {
      ports += UnsafeBufferPointer(start: pod.pod.pointee.host_ports, count: Int(pod.pod.pointee.n_host_ports))
    }
    node.pointee.used_ports = arena.array(ports).map { UnsafePointer($0) }
    node.pointee.n_used_ports = UInt32(ports.count)
    if pods.contains(where: { pod in
      let p = pod.pod.pointee
      return p.n_affinity + p.n_anti_affinity + p.n_preferred_affinity + p.n_preferred_anti_affinity > 0
    }) {
      node.pointee.flags |= SKIFF_NODE_HAS_AFFINITY_PODS
    } else {
      node.pointee.flags &= ~SKIFF_NODE_HAS_AFFINITY_PODS
    }
    node.pointee.generation &+= 1
    dynamicArena = arena
  }
}

final class ClusterSnapshot {
  let intern: Interner
  private(set) var nodes: [NodeInfo] = []
  private var nodeIndex: [String: Int] = [:]
  /// Pods placed on a node (bound, or assumed while their binding is in flight), by store key.
  private var placed: [String: PodInfo] = [:]
  /// Every node's struct, in `nodes` order, for host->cycle_nodes; rebuilt when nodes come or go,
  /// which happens only between cycles, so a cycle may hold it.
  private(set) var nodeArray = Arena()
  private(set) var nodeArrayBase: UnsafePointer<UnsafePointer<skiff_node>?>?
  /// Every change to a node struct, by position, for host->cycle_changed_nodes.
  let changes = NodeChangeLog()
  private let slab = NodeSlab()

  private func rebuildNodeArray() {
    let arena = Arena()
    nodeArrayBase = arena.array(nodes.map { UnsafePointer($0.node) }).map { UnsafePointer($0) }
    nodeArray = arena
  }

  init(strings: StringTable) { intern = Interner(strings: strings) }

  /// Unique in the process, not only in this snapshot: plugins keep counts across cycles by node
  /// and pod id, and a process may run more than one scheduler (tests do).
  func newID() -> UInt64 {
    Self.lastID.add(1, ordering: .relaxed).newValue
  }
  private static let lastID = Atomic<UInt64>(0)

  func node(named name: String) -> NodeInfo? { nodeIndex[name].map { nodes[$0] } }

  func upsertNode(_ name: String, _ object: JSON) {
    if let position = nodeIndex[name] {
      nodes[position].update(object, intern: intern)
      return changes.record(position)
    }
    let info = NodeInfo(name: name, object: object, id: newID(), intern: intern, slab: slab)
    nodeIndex[name] = nodes.count
    nodes.append(info)
    rebuildNodeArray()
    // Pods seen before their node (a watch can deliver them first) join it now.
    for pod in placed.values where pod.nodeName == name { info.add(pod) }
    changes.record(nodes.count - 1)
  }

  func removeNode(_ name: String) {
    guard let index = nodeIndex.removeValue(forKey: name) else { return }
    nodes.remove(at: index)
    rebuildNodeArray()
    for i in index..<nodes.count { nodeIndex[nodes[i].name] = i }
    changes.reset()  // the nodes after it moved
  }

  /// Places a pod on its node (replacing what the snapshot knew of it).
  func place(_ pod: PodInfo) {
    unplace(pod.key)
    guard let nodeName = pod.nodeName else { return }
    placed[pod.key] = pod
    guard let position = nodeIndex[nodeName] else { return }
    nodes[position].add(pod)
    changes.record(position)
  }

  func unplace(_ key: String) {
    guard let old = placed.removeValue(forKey: key), let nodeName = old.nodeName,
          let position = nodeIndex[nodeName] else { return }
    nodes[position].remove(old)
    changes.record(position)
  }

  func isPlaced(_ key: String) -> Bool { placed[key] != nil }

  /// True when `object` is a pod the snapshot already holds on the same node with the same spec
  /// generation and labels, so rebuilding its struct would change nothing.
  func holdsUnchanged(_ key: String, _ object: JSON) -> Bool {
    guard let known = placed[key] else { return false }
    let node = object[path: ["spec", "nodeName"]]?.stringValue
    return known.nodeName == node && known.generation == (object[path: ["metadata", "generation"]]?.intValue ?? 0)
      && known.labels == object[path: ["metadata", "labels"]]
      && (known.pod.pointee.flags & SKIFF_POD_TERMINATING != 0) == (object[path: ["metadata", "deletionTimestamp"]] != nil)
  }

}
