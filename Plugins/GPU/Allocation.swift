// What a container needs to use the GPUs it was given (allocate), and which GPUs to give it
// (preferred_allocation): pure functions over the device list.
import PluginKit
import SkiffABI

/// Why a request was refused: the status for the ABI and the {"reason", "message"} pair.
struct DeviceRequestError: Error {
  let status: skiff_status
  let reason: String
  let message: String

  var json: String { PluginJSON.encode(["reason": reason, "message": message]) }
}

enum Allocation {
  /// The control devices every CUDA process opens besides its GPUs.
  static let controlDevices = ["/dev/nvidiactl", "/dev/nvidia-uvm"]

  /// The container's environment and device nodes for `ids`, all of which must be known and
  /// healthy.
  static func containerSpec(for ids: [String], in devices: [GPUDevice]) throws(DeviceRequestError)
    -> [String: Any]
  {
    guard !ids.isEmpty else {
      throw DeviceRequestError(status: SKIFF_INVALID, reason: "InvalidRequest",
                               message: "deviceIds must name at least one device")
    }
    guard Set(ids).count == ids.count else {
      throw DeviceRequestError(status: SKIFF_INVALID, reason: "InvalidRequest",
                               message: "deviceIds names a device more than once: \(ids)")
    }
    let chosen = try lookUp(ids, in: devices)
    if let sick = chosen.first(where: { !$0.healthy }) {
      throw DeviceRequestError(status: SKIFF_ERROR, reason: "UnhealthyDevice",
                               message: "device \(sick.id) is unhealthy and cannot be allocated")
    }
    let nodes = chosen.map(\.deviceNode) + controlDevices
    return [
      "env": [
        // Read by the NVIDIA container runtime hook, which wants UUIDs.
        "NVIDIA_VISIBLE_DEVICES": chosen.map(\.uuid).joined(separator: ","),
        // The container sees only the device nodes below, so CUDA numbers them from 0.
        "CUDA_VISIBLE_DEVICES": chosen.indices.map(String.init).joined(separator: ","),
      ],
      "devices": nodes.map { ["hostPath": $0, "containerPath": $0, "permissions": "rw"] },
      "mounts": [Any](),
      "annotations": [String: Any](),
    ]
  }

  /// `size` devices from `available`: every one of `mustInclude`, then as few NUMA nodes as
  /// possible. Nodes that `mustInclude` already touches cost nothing and fill first; after that
  /// the node with the most available devices goes next, which is what keeps the count of nodes
  /// minimal. Ties go to the lower node, and within a node to the earlier device.
  static func preferred(available: [String], mustInclude: [String], size: Int,
                        in devices: [GPUDevice]) throws(DeviceRequestError) -> [String] {
    let poolIds = Set(try lookUp(available, in: devices).map(\.id))
    let required = try lookUp(unique(mustInclude), in: devices)
    // In the node's own order, not the caller's, so that equal requests get equal answers.
    let pool = devices.filter { poolIds.contains($0.id) }
    if let stray = required.first(where: { !poolIds.contains($0.id) }) {
      throw DeviceRequestError(status: SKIFF_INVALID, reason: "InvalidRequest",
                               message: "mustInclude device \(stray.id) is not in available")
    }
    guard size >= 1 else {
      throw DeviceRequestError(status: SKIFF_INVALID, reason: "InvalidRequest",
                               message: "size must be at least 1, not \(size)")
    }
    guard size >= required.count else {
      throw DeviceRequestError(status: SKIFF_INVALID, reason: "InvalidRequest",
                               message: "size \(size) is smaller than mustInclude's "
                                 + "\(required.count) devices")
    }
    guard size <= pool.count else {
      throw DeviceRequestError(status: SKIFF_INVALID, reason: "NotEnoughDevices",
                               message: "size \(size) is more than the \(pool.count) available "
                                 + "devices")
    }

    var chosen = required.map(\.id)
    let touched = Set(required.map(\.numaNode))
    let rest = Dictionary(grouping: pool.filter { !chosen.contains($0.id) }, by: \.numaNode)
    let order = rest.keys.sorted { a, b in
      let (aTouched, bTouched) = (touched.contains(a), touched.contains(b))
      if aTouched != bTouched { return aTouched }
      if rest[a]!.count != rest[b]!.count { return rest[a]!.count > rest[b]!.count }
      return a < b
    }
    for node in order {
      for device in rest[node]! where chosen.count < size { chosen.append(device.id) }
    }
    return chosen
  }

  /// The devices for `ids`, in the order of `ids`; an unknown id is an error.
  private static func lookUp(_ ids: [String], in devices: [GPUDevice]) throws(DeviceRequestError)
    -> [GPUDevice]
  {
    let byId = Dictionary(devices.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    return try ids.map { (id) throws(DeviceRequestError) in
      guard let device = byId[id] else {
        throw DeviceRequestError(status: SKIFF_NOT_FOUND, reason: "UnknownDevice",
                                 message: "no device \(id) on this node")
      }
      return device
    }
  }

  private static func unique(_ ids: [String]) -> [String] {
    var seen = Set<String>()
    return ids.filter { seen.insert($0).inserted }
  }
}
