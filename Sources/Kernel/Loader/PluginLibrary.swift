// One plugin library: found on disk, dlopen()ed, its entry called and its descriptor checked.
import FoundationEssentials
import Glibc
import SkiffABI

public enum PluginKind: UInt32, Sendable, CaseIterable, CustomStringConvertible {
  case scheduler = 1, runtime, network, storage, device, autoscaler

  public var description: String {
    switch self {
    case .scheduler: "scheduler"
    case .runtime: "runtime"
    case .network: "network"
    case .storage: "storage"
    case .device: "device"
    case .autoscaler: "autoscaler"
    }
  }
}

/// A library that passed every load-time check. Its descriptor is kernel memory the plugin
/// filled in; its strings belong to the library, which is never unloaded.
public final class PluginLibrary: @unchecked Sendable {
  public let entry: PluginEntry
  public let file: String
  public let name: String
  public let version: String
  public let kind: PluginKind
  public let summary: String?
  public let requires: [String]
  public let abiVersion: UInt32
  /// The configuration handed to `start`: the profile's `config:` as JSON, variables filled in.
  public let config: String
  let descriptor: UnsafeMutablePointer<skiff_plugin>

  private init(entry: PluginEntry, file: String, config: String,
               descriptor: UnsafeMutablePointer<skiff_plugin>, kind: PluginKind, name: String) {
    self.entry = entry
    self.config = config
    self.file = file
    self.descriptor = descriptor
    self.kind = kind
    self.name = name
    let d = descriptor.pointee
    version = d.version.map { String(cString: $0) } ?? "unknown"
    summary = d.description.map { String(cString: $0) }
    abiVersion = d.abi_version
    var names: [String] = []
    if var cursor = d.requires {
      while let name = cursor.pointee {
        names.append(String(cString: name))
        cursor += 1
      }
    }
    requires = names
  }

  typealias EntryPoint = @convention(c) (UnsafePointer<skiff_host>?,
                                         UnsafeMutablePointer<skiff_plugin>?) -> Int32

  /// Opens `file`, calls its entry point with the host table and checks what it described.
  static func open(_ entry: PluginEntry, file: String, config: String,
                   host: UnsafePointer<skiff_host>) throws(PluginLoadError) -> PluginLibrary {
    func failure(_ cause: PluginLoadError.Cause, _ message: String) -> PluginLoadError {
      PluginLoadError(plugin: entry.name, file: file, cause: cause, message)
    }
    guard FileManager.default.fileExists(atPath: file) else {
      throw failure(.fileMissing, "file not found")
    }
    guard let handle = dlopen(file, RTLD_NOW | RTLD_LOCAL) else {
      let reason = dlerror().map { String(cString: $0) } ?? "unknown dlopen error"
      throw failure(.notSharedLibrary, "not a loadable shared library: \(reason)")
    }
    guard let symbol = dlsym(handle, SKIFF_ENTRY_SYMBOL) else {
      throw failure(.noEntrySymbol, "exports no '\(SKIFF_ENTRY_SYMBOL)' symbol; is it a Skiff plugin?")
    }
    let initialize = unsafeBitCast(symbol, to: EntryPoint.self)

    let descriptor = UnsafeMutablePointer<skiff_plugin>.allocate(capacity: 1)
    memset(descriptor, 0, MemoryLayout<skiff_plugin>.size)
    descriptor.pointee.abi_version = SKIFF_ABI_VERSION
    descriptor.pointee.struct_size = UInt32(MemoryLayout<skiff_plugin>.size)
    let result = initialize(host, descriptor)
    guard result == 0 else {
      throw failure(.initFailed, "\(SKIFF_ENTRY_SYMBOL) returned \(result)")
    }

    let d = descriptor.pointee
    guard (1...SKIFF_ABI_VERSION).contains(d.abi_version) else {
      throw failure(.abiVersionMismatch, "built for Skiff ABI version \(d.abi_version); this kernel "
        + "speaks versions 1 to \(SKIFF_ABI_VERSION): rebuild it against this skiff.h")
    }
    // Version 1 is the first layout: every field up to `stop` must be there.
    let minimum = UInt32(MemoryLayout<skiff_plugin>.size)
    guard d.struct_size >= minimum else {
      throw failure(.descriptorTooSmall, "its skiff_plugin is \(d.struct_size) bytes; ABI version "
        + "\(d.abi_version) requires at least \(minimum)")
    }
    guard let reportedName = d.name.map({ String(cString: $0) }) else {
      throw failure(.invalidDescriptor, "its descriptor has no name")
    }
    guard reportedName == entry.name else {
      throw failure(.nameMismatch, "the profile loads it as '\(entry.name)' but it calls itself "
        + "'\(reportedName)'")
    }
    guard let kind = PluginKind(rawValue: d.kind.rawValue) else {
      throw failure(.invalidDescriptor, "unknown plugin kind \(d.kind.rawValue)")
    }
    guard d.start != nil else {
      throw failure(.invalidDescriptor, "its descriptor has no start function")
    }
    return PluginLibrary(entry: entry, file: file, config: config, descriptor: descriptor,
                         kind: kind, name: reportedName)
  }
}
