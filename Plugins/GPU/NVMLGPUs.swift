// The nvml backend: the machine's NVIDIA GPUs as NVML enumerates them, and their health, checked
// every few seconds off the loop.
import FoundationEssentials
import Glibc
import PluginKit
import SkiffABI
import SystemKit

/// A GPU is unhealthy while NVML cannot read it (e.g. "GPU is lost" after it fell off the bus),
/// and for good once it raised a critical XID error, as NVIDIA's device plugin decides.
final class NVMLGPUs: @unchecked Sendable {
  /// XIDs that an application causes and survives (a bad kernel, a page fault in user code);
  /// NVIDIA's device plugin leaves GPUs that raise them healthy, and so does Skiff.
  static let applicationXIDs: Set<UInt64> = [13, 31, 43, 45, 68, 109]

  private let nvml: NVML
  private let handles: [(id: String, device: NVMLHandle)]
  let devices: [GPUDevice]
  /// The XID event set, when the driver offers events for at least one GPU.
  private let events: NVMLHandle?

  // Guarded by `lock`, which a health check holds while it calls NVML and `close` takes before
  // it shuts NVML down, so that the two never overlap.
  private let lock = Lock()
  private var closed = false
  private var xidFailures: [String: String] = [:]

  // Loop only.
  private var timer: OpaquePointer?
  private var inventory: DeviceInventory?
  private var checking = false

  /// Initialises NVML and enumerates the GPUs. Runs in `start`, on the loop: it blocks for as long
  /// as nvmlInit takes (up to seconds without persistence mode), but the device list must exist
  /// before anyone asks for it, and a failure here must fail start with NVML's reason.
  init() throws(NVMLError) {
    let nvml = try NVML.open()
    try nvml.check(nvml.initialize(), "nvmlInit_v2")
    var count: UInt32 = 0
    do throws(NVMLError) {
      try nvml.check(nvml.deviceCount(&count), "nvmlDeviceGetCount_v2")
    } catch {
      _ = nvml.shutdown()
      throw error
    }
    var found: [(GPUDevice, NVMLHandle)] = []
    for index in 0..<count {
      // A GPU NVML cannot describe is left out (and cannot be allocated) rather than failing
      // the whole node: the others still work.
      do {
        found.append(try Self.describe(index: index, nvml: nvml))
      } catch {
        PluginHost.warn("leaving out GPU \(index): \(error)")
      }
    }
    var devices = found.map(\.0)
    let handles = found.map { (id: $0.0.id, device: $0.1) }
    if let commonAncestor = nvml.commonAncestor {
      for (i, a) in handles.enumerated() {
        for b in handles where b.id != a.id {
          var level: UInt32 = 0
          if commonAncestor(a.device, b.device, &level) == NVMLReturn.success {
            devices[i].links[b.id] = topologyWord(level)
          }
        }
      }
    }
    self.nvml = nvml
    self.handles = handles
    self.devices = devices
    events = Self.registerXIDEvents(nvml, handles.map(\.device))
  }

  private static func describe(index: UInt32, nvml: NVML) throws(NVMLError) -> (GPUDevice, NVMLHandle) {
    var handle: NVMLHandle?
    try nvml.check(nvml.handleByIndex(index, &handle), "nvmlDeviceGetHandleByIndex_v2(\(index))")
    guard let handle else { throw NVMLError("nvmlDeviceGetHandleByIndex_v2(\(index)) gave no handle") }
    let uuid = try nvml.text(nvml.uuid, of: handle, "nvmlDeviceGetUUID")
    let model = try nvml.text(nvml.name, of: handle, "nvmlDeviceGetName")
    // With MIG enabled the whole-GPU figure may need root; the GPU is usable all the same.
    var memory = NVMLMemory()
    let memoryCode = nvml.memoryInfo(handle, &memory)
    if !NVMLReturn.isInconclusive(memoryCode) {
      try nvml.check(memoryCode, "nvmlDeviceGetMemoryInfo")
    }
    var pci = NVMLPciInfo()
    try nvml.check(nvml.pciInfo(handle, &pci), "nvmlDeviceGetPciInfo")
    var minor: UInt32 = 0
    try nvml.check(nvml.minorNumber(handle, &minor), "nvmlDeviceGetMinorNumber")
    let device = GPUDevice(id: uuid, uuid: uuid, model: model,
                           memoryMiB: Int(memory.total / (1 << 20)),
                           numaNode: numaNode(of: pci), minor: Int(minor),
                           pciBusId: pci.sysfsAddress)
    return (device, handle)
  }

  /// The NUMA node the kernel reports for the GPU's PCI function, as the kubelet reads it. A
  /// machine without NUMA reports -1 there: it is one node, 0.
  private static func numaNode(of pci: NVMLPciInfo) -> Int {
    let path = "/sys/bus/pci/devices/\(pci.sysfsAddress)/numa_node"
    guard let text = try? String(contentsOfFile: path, encoding: .utf8),
          let node = Int(text.trimmingWhitespace()) else { return 0 }
    return max(node, 0)
  }

  private static func registerXIDEvents(_ nvml: NVML, _ devices: [NVMLHandle]) -> NVMLHandle? {
    guard let create = nvml.eventSetCreate, let register = nvml.registerEvents,
          nvml.eventSetWait != nil else { return nil }
    var set: NVMLHandle?
    guard create(&set) == NVMLReturn.success, let set else { return nil }
    // NOT_SUPPORTED on some GPUs; those are then watched by the read check alone.
    let registered = devices.filter { register($0, nvmlEventTypeXidCriticalError, set) == NVMLReturn.success }
    if registered.isEmpty {
      _ = nvml.eventSetFree?(set)
      return nil
    }
    return set
  }

  // MARK: Health

  /// Checks health every `interval` seconds until `close`. Loop only.
  func startHealthChecks(every interval: Double, reporting inventory: DeviceInventory) {
    self.inventory = inventory
    let milliseconds = UInt64(interval * 1000)
    // Unretained: the plugin holds this object until `close`, which stops the timer first.
    timer = PluginHost.table.pointee.timer_start!(PluginHost.context, milliseconds, milliseconds, { _, gpus in
      Unmanaged<NVMLGPUs>.fromOpaque(gpus!).takeUnretainedValue().checkHealth()
    }, Unmanaged.passUnretained(self).toOpaque())
  }

  /// One round: NVML calls on the kernel's thread pool, the verdict applied back on the loop.
  /// A round still running when the timer fires again makes that tick a no-op.
  private func checkHealth() {
    guard !checking, inventory != nil else { return }
    checking = true
    let round = HealthRound()
    let status = PluginHost.queueWork({ [self] in
      round.verdicts = readHealth()
    }, then: { [self] in
      checking = false
      // After `close` the plugin's context is gone: report nothing.
      guard let inventory, let verdicts = round.verdicts else { return }
      let changed = inventory.setHealth(Dictionary(verdicts.map { ($0.id, $0.problem == nil) },
                                                   uniquingKeysWith: { first, _ in first }))
      for (id, problem) in verdicts where changed.contains(id) {
        if let problem {
          PluginHost.warn("GPU \(id) is unhealthy: \(problem)")
        } else {
          PluginHost.info("GPU \(id) is healthy again")
        }
      }
    })
    if status != SKIFF_OK { checking = false }
  }

  /// Each GPU's problem, nil when healthy; nil altogether once closed.
  private func readHealth() -> [(id: String, problem: String?)]? {
    lock.withLock {
      guard !closed else { return nil }
      drainXIDEvents()
      return handles.map { gpu in
        if let xid = xidFailures[gpu.id] { return (gpu.id, xid) }
        // Reading memory use makes the driver reach the GPU, so a GPU that fell off the bus or
        // needs a reset fails here ("GPU is lost", "GPU requires reset").
        var memory = NVMLMemory()
        let code = nvml.memoryInfo(gpu.device, &memory)
        let healthy = code == NVMLReturn.success || NVMLReturn.isInconclusive(code)
        return (gpu.id, healthy ? nil : "nvmlDeviceGetMemoryInfo: \(nvml.message(code))")
      }
    }
  }

  /// Reads the XID events that arrived since the last round without waiting (timeout 0). Caller
  /// holds `lock`.
  private func drainXIDEvents() {
    guard let events, let wait = nvml.eventSetWait else { return }
    // Bounded, so that a GPU flooding events cannot hold a pool thread forever.
    for _ in 0..<256 {
      var event = NVMLEventData()
      guard wait(events, &event, 0) == NVMLReturn.success else { return }
      guard event.eventType == nvmlEventTypeXidCriticalError,
            !Self.applicationXIDs.contains(event.eventData) else { continue }
      let problem = "critical XID \(event.eventData)"
      // An event NVML cannot tie to a GPU we know says NVML is confused about the devices
      // themselves; NVIDIA's plugin marks them all, and so does Skiff.
      let affected = handles.filter { $0.device == event.device }.map(\.id)
      for id in affected.isEmpty ? handles.map(\.id) : affected where xidFailures[id] == nil {
        xidFailures[id] = problem
      }
    }
  }

  /// Stops health checks and shuts NVML down. Loop only, from the plugin's `stop`.
  func close() {
    if let timer { PluginHost.table.pointee.timer_stop!(PluginHost.context, timer) }
    timer = nil
    inventory = nil
    lock.withLock {
      closed = true
      if let events { _ = nvml.eventSetFree?(events) }
      _ = nvml.shutdown()
    }
  }
}

/// One health round's result, handed from the thread pool to the loop; queue_work orders the
/// write before the read.
private final class HealthRound: @unchecked Sendable {
  var verdicts: [(id: String, problem: String?)]?
}
