// The few NVML entry points the GPU plugin calls, found with dlsym at start so that the plugin
// loads anywhere and says why it cannot run without the driver. Layouts follow nvml.h.
import FoundationEssentials
import Glibc
import SystemKit

/// NVML's opaque handles (nvmlDevice_t, nvmlEventSet_t) are pointers to undeclared structs.
typealias NVMLHandle = OpaquePointer

/// nvmlReturn_t values the plugin tells apart.
enum NVMLReturn {
  static let success: Int32 = 0
  static let notSupported: Int32 = 3
  static let noPermission: Int32 = 4

  /// Answers that say nothing about the GPU itself (a query this GPU or mode does not offer, or
  /// one that needs root), as opposed to failures such as "GPU is lost".
  static func isInconclusive(_ code: Int32) -> Bool { code == notSupported || code == noPermission }
}

struct NVMLError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// nvmlMemory_t: `unsigned long long total, free, used;` (bytes). Three 8-byte fields have the
/// same layout in Swift as in C.
struct NVMLMemory {
  var total: UInt64 = 0
  var free: UInt64 = 0
  var used: UInt64 = 0
}

/// nvmlPciInfo_t as nvmlDeviceGetPciInfo_v3 and _v2 fill it: `char busIdLegacy[16]; unsigned int
/// domain, bus, device, pciDeviceId, pciSubSystemId; char busId[32];` — 68 bytes, 4-byte aligned.
/// The char arrays are declared as 4-byte words so that Swift keeps C's 4-byte alignment. The
/// original nvmlDeviceGetPciInfo fills an older, smaller struct (busId[16], the same five words,
/// then reserved words) with domain/bus/device at the same offsets, so this buffer fits it too.
struct NVMLPciInfo {
  var busIdLegacy: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
  var domain: UInt32 = 0
  var bus: UInt32 = 0
  var device: UInt32 = 0
  var pciDeviceId: UInt32 = 0
  var pciSubSystemId: UInt32 = 0
  var busId: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
    (0, 0, 0, 0, 0, 0, 0, 0)

  /// The device's folder name under /sys/bus/pci/devices ("0000:19:00.0"); NVML's own busId
  /// string uses an 8-digit upper-case domain, which sysfs does not.
  var sysfsAddress: String { String(cFormat: "%04x:%02x:%02x.0", domain, bus, device) }
}

/// nvmlEventData_t (v2): `nvmlDevice_t device; unsigned long long eventType, eventData; unsigned
/// int gpuInstanceId, computeInstanceId;`. The v1 struct is this without the two trailing words.
struct NVMLEventData {
  var device: NVMLHandle?
  var eventType: UInt64 = 0
  var eventData: UInt64 = 0
  var gpuInstanceId: UInt32 = 0
  var computeInstanceId: UInt32 = 0
}

/// nvmlEventTypeXidCriticalError: eventData carries the XID number.
let nvmlEventTypeXidCriticalError: UInt64 = 0x8

/// The loaded library. Immutable after `open`, and NVML itself is thread-safe, so any thread may
/// call through it.
final class NVML: @unchecked Sendable {
  static let library = "libnvidia-ml.so.1"

  typealias Call = @convention(c) () -> Int32
  typealias ErrorString = @convention(c) (Int32) -> UnsafePointer<CChar>?
  typealias DeviceCount = @convention(c) (UnsafeMutablePointer<UInt32>?) -> Int32
  typealias HandleByIndex = @convention(c) (UInt32, UnsafeMutablePointer<NVMLHandle?>?) -> Int32
  typealias StringProperty = @convention(c) (NVMLHandle?, UnsafeMutablePointer<CChar>?, UInt32) -> Int32
  typealias MemoryInfo = @convention(c) (NVMLHandle?, UnsafeMutableRawPointer?) -> Int32  // nvmlMemory_t *
  typealias PciInfo = @convention(c) (NVMLHandle?, UnsafeMutableRawPointer?) -> Int32  // nvmlPciInfo_t *
  typealias UIntProperty = @convention(c) (NVMLHandle?, UnsafeMutablePointer<UInt32>?) -> Int32
  typealias CommonAncestor = @convention(c) (NVMLHandle?, NVMLHandle?, UnsafeMutablePointer<UInt32>?) -> Int32
  typealias EventSetCreate = @convention(c) (UnsafeMutablePointer<NVMLHandle?>?) -> Int32
  typealias RegisterEvents = @convention(c) (NVMLHandle?, UInt64, NVMLHandle?) -> Int32
  typealias EventSetWait = @convention(c) (NVMLHandle?, UnsafeMutableRawPointer?, UInt32) -> Int32  // nvmlEventData_t *
  typealias EventSetFree = @convention(c) (NVMLHandle?) -> Int32

  // Required: discovery cannot work without these.
  let initialize: Call
  let shutdown: Call
  let errorString: ErrorString
  let deviceCount: DeviceCount
  let handleByIndex: HandleByIndex
  let uuid: StringProperty
  let name: StringProperty
  let memoryInfo: MemoryInfo
  let pciInfo: PciInfo
  let minorNumber: UIntProperty
  // Optional: topology and XID events add to what the plugin reports; older drivers may lack them.
  let commonAncestor: CommonAncestor?
  let eventSetCreate: EventSetCreate?
  let registerEvents: RegisterEvents?
  let eventSetWait: EventSetWait?
  let eventSetFree: EventSetFree?

  /// Whether the driver's library can be loaded at all (`backend: auto` asks before `open`).
  static var isInstalled: Bool {
    guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL) else { return false }
    dlclose(handle)
    return true
  }

  /// Loads the library and resolves its symbols; does not initialise NVML.
  static func open() throws(NVMLError) -> NVML {
    guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL) else {
      let reason = dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
      throw NVMLError("cannot load \(library) (\(reason)); install the NVIDIA driver, or "
        + "on a machine without NVIDIA GPUs set `backend: fake` or leave the gpu plugin out of "
        + "the profile")
    }
    return try NVML(handle)
  }

  private init(_ library: UnsafeMutableRawPointer) throws(NVMLError) {
    func required<F>(_ names: String..., as type: F.Type) throws(NVMLError) -> F {
      for name in names {
        if let symbol = dlsym(library, name) { return unsafeBitCast(symbol, to: type) }
      }
      throw NVMLError("\(NVML.library) has no \(names.joined(separator: " or ")); the NVIDIA "
        + "driver is too old for Skiff")
    }
    func optional<F>(_ names: String..., as type: F.Type) -> F? {
      names.lazy.compactMap { dlsym(library, $0) }.first.map { unsafeBitCast($0, to: type) }
    }
    initialize = try required("nvmlInit_v2", as: Call.self)
    shutdown = try required("nvmlShutdown", as: Call.self)
    errorString = try required("nvmlErrorString", as: ErrorString.self)
    deviceCount = try required("nvmlDeviceGetCount_v2", as: DeviceCount.self)
    handleByIndex = try required("nvmlDeviceGetHandleByIndex_v2", as: HandleByIndex.self)
    uuid = try required("nvmlDeviceGetUUID", as: StringProperty.self)
    name = try required("nvmlDeviceGetName", as: StringProperty.self)
    memoryInfo = try required("nvmlDeviceGetMemoryInfo", as: MemoryInfo.self)
    pciInfo = try required("nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2",
                           "nvmlDeviceGetPciInfo", as: PciInfo.self)
    minorNumber = try required("nvmlDeviceGetMinorNumber", as: UIntProperty.self)
    commonAncestor = optional("nvmlDeviceGetTopologyCommonAncestor", as: CommonAncestor.self)
    eventSetCreate = optional("nvmlEventSetCreate", as: EventSetCreate.self)
    registerEvents = optional("nvmlDeviceRegisterEvents", as: RegisterEvents.self)
    eventSetWait = optional("nvmlEventSetWait_v2", "nvmlEventSetWait", as: EventSetWait.self)
    eventSetFree = optional("nvmlEventSetFree", as: EventSetFree.self)
  }

  /// NVML's words for a return code, e.g. "GPU is lost".
  func message(_ code: Int32) -> String {
    errorString(code).map { String(cString: $0) } ?? "NVML error \(code)"
  }

  func check(_ code: Int32, _ call: @autoclosure () -> String) throws(NVMLError) {
    guard code != NVMLReturn.success else { return }
    throw NVMLError("\(call()) failed: \(message(code))")
  }

  /// Reads one of NVML's string properties; 96 bytes is NVML_DEVICE_UUID_V2_BUFFER_SIZE and
  /// NVML_DEVICE_NAME_V2_BUFFER_SIZE, the largest either needs.
  func text(_ read: StringProperty, of device: NVMLHandle, _ call: String) throws(NVMLError)
    -> String
  {
    var buffer = [CChar](repeating: 0, count: 96)
    let code = buffer.withUnsafeMutableBufferPointer { read(device, $0.baseAddress, 96) }
    try check(code, call)
    return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
  }
}

/// nvmlGpuTopologyLevel_t in nvidia-smi topo's words.
func topologyWord(_ level: UInt32) -> String {
  switch level {
  case 0: "INTERNAL"  // NVML_TOPOLOGY_INTERNAL: the same board
  case 10: "PIX"      // NVML_TOPOLOGY_SINGLE: one PCIe switch
  case 20: "PXB"      // NVML_TOPOLOGY_MULTIPLE: several PCIe switches, no host bridge
  case 30: "PHB"      // NVML_TOPOLOGY_HOSTBRIDGE: a PCIe host bridge
  case 40: "NODE"     // NVML_TOPOLOGY_NODE: host bridges within one NUMA node
  case 50: "SYS"      // NVML_TOPOLOGY_SYSTEM: across NUMA nodes (SMP interconnect)
  default: "LEVEL\(level)"
  }
}
