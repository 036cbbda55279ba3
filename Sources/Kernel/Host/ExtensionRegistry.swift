// The extensions plugins registered during start, one table per kind. Each vtable is copied into
// kernel memory (min of both sizes, the rest zeroed) so a plugin built against an older header
// reads as having NULL slots for what it does not know.
import FoundationEssentials
import Glibc
import SkiffABI

public struct Extension<VTable>: @unchecked Sendable {
  public let name: String
  public let owner: String
  /// Kernel-owned copy; lives as long as the process.
  public let vtable: UnsafeMutablePointer<VTable>
}

public final class ExtensionRegistry: @unchecked Sendable {
  public internal(set) var schedulers: [Extension<skiff_scheduler_plugin>] = []
  public internal(set) var runtimes: [Extension<skiff_runtime_plugin>] = []
  public internal(set) var networks: [Extension<skiff_network_plugin>] = []
  public internal(set) var storages: [Extension<skiff_storage_plugin>] = []
  public internal(set) var devices: [Extension<skiff_device_plugin>] = []
  public internal(set) var autoscalers: [Extension<skiff_autoscaler_plugin>] = []

  public init() {}

  public func scheduler(named name: String) -> Extension<skiff_scheduler_plugin>? {
    schedulers.first { $0.name == name }
  }

  public func runtime(named name: String) -> Extension<skiff_runtime_plugin>? {
    runtimes.first { $0.name == name }
  }

  /// Every registered extension as (kind, name, owner), for listings.
  public var all: [(kind: PluginKind, name: String, owner: String)] {
    schedulers.map { (.scheduler, $0.name, $0.owner) } + runtimes.map { (.runtime, $0.name, $0.owner) }
      + networks.map { (.network, $0.name, $0.owner) } + storages.map { (.storage, $0.name, $0.owner) }
      + devices.map { (.device, $0.name, $0.owner) } + autoscalers.map { (.autoscaler, $0.name, $0.owner) }
  }

  /// Every vtable begins `uint32_t abi_version; uint32_t struct_size; const char *name;`.
  func register<VTable>(_ source: UnsafePointer<VTable>?, owner: String,
                        in table: ReferenceWritableKeyPath<ExtensionRegistry, [Extension<VTable>]>)
    -> skiff_status {
    guard let source else { return SKIFF_INVALID }
    let raw = UnsafeRawPointer(source)
    let version = raw.load(as: UInt32.self)
    let size = Int(raw.load(fromByteOffset: 4, as: UInt32.self))
    let header = 8 + MemoryLayout<UnsafePointer<CChar>>.size
    guard (1...SKIFF_ABI_VERSION).contains(version), size >= header,
          let namePointer = raw.load(fromByteOffset: 8, as: UnsafePointer<CChar>?.self)
    else { return SKIFF_INVALID }
    let name = String(cString: namePointer)
    guard !self[keyPath: table].contains(where: { $0.name == name }) else { return SKIFF_CONFLICT }
    let copy = UnsafeMutablePointer<VTable>.allocate(capacity: 1)
    memset(copy, 0, MemoryLayout<VTable>.size)
    memcpy(copy, raw, min(size, MemoryLayout<VTable>.size))
    self[keyPath: table].append(Extension(name: name, owner: owner, vtable: copy))
    return SKIFF_OK
  }
}
