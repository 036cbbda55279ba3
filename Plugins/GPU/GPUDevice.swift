// One GPU as the device plugin reports it, whichever backend found it, and the JSON shapes built
// from a set of them: the device list that `list` and watchers receive.
import FoundationEssentials
import Glibc
import PluginKit

struct GPUDevice: Sendable, Equatable {
  /// The id the kubelet-shaped API uses: `fake-gpu-N` for fake devices, the UUID for NVML ones
  /// (as NVIDIA's own device plugin does, so ids survive reboots and re-enumeration).
  var id: String
  var uuid: String
  var model: String
  var memoryMiB: Int
  var numaNode: Int
  /// The N of /dev/nvidiaN.
  var minor: Int
  /// Where the GPU sits on PCI, as sysfs and `lspci -D` write it ("0000:19:00.0"); nil for fakes.
  var pciBusId: String?
  /// How this device reaches each other device, by id, in nvidia-smi topo's words ("PIX",
  /// "NODE", "SYS", ...). Empty when the backend cannot tell.
  var links: [String: String] = [:]
  var healthy = true

  var deviceNode: String { "/dev/nvidia\(minor)" }

  var listEntry: [String: Any] {
    var entry: [String: Any] = [
      "id": id, "uuid": uuid, "model": model, "memoryMiB": memoryMiB, "numaNode": numaNode,
      "health": healthy ? "Healthy" : "Unhealthy",
    ]
    if let pciBusId { entry["pciBusId"] = pciBusId }
    if !links.isEmpty { entry["links"] = links }
    return entry
  }
}

extension [GPUDevice] {
  /// `{"devices": [...]}` in the order the backend enumerated them.
  var listJSON: String { PluginJSON.encode(["devices": map(\.listEntry)]) }
}
