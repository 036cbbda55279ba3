// The kernel side of `skiff_ctx`: one per loaded plugin, so every host call knows who is calling,
// and so whatever a plugin opened (timers, watches) is closed when it stops.
import FoundationEssentials
import Glibc
import SystemKit

final class PluginContext: @unchecked Sendable {
  unowned let kernel: Kernel
  let library: PluginLibrary
  /// The profile's `config:` block as JSON; kernel-owned, never freed (plugins may keep it).
  let config: UnsafeMutablePointer<CChar>
  let configLength: Int
  /// True only while the plugin's `start` runs: registration is allowed then and only then.
  var registering = false
  /// The last warning or error the plugin logged, quoted when its start fails.
  var lastProblem: String?
  /// Handles given out to the plugin, by the id that stands for them in C.
  var timers: [UInt: LoopTimer] = [:]
  var watches: [UInt: () -> Void] = [:]

  var name: String { library.name }

  init(kernel: Kernel, library: PluginLibrary) {
    self.kernel = kernel
    self.library = library
    config = strdup(library.config)
    configLength = library.config.utf8.count
  }

  var handle: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

  static func from(_ handle: OpaquePointer?) -> PluginContext? {
    handle.map { Unmanaged<PluginContext>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
  }

  /// Remembers how to cancel a watch or subscription; returns the handle the plugin holds.
  func keep(_ cancel: @escaping () -> Void) -> OpaquePointer? {
    let id = HandleID.next()
    watches[id] = cancel
    return OpaquePointer(bitPattern: id)
  }

  /// Closes everything the plugin left open. Loop only.
  func closeHandles() {
    for timer in timers.values { timer.close() }
    timers.removeAll()
    for cancel in watches.values { cancel() }
    watches.removeAll()
  }
}

/// Ids for handles given to plugins. Never 0, never reused, never dereferenced by C.
enum HandleID {
  private nonisolated(unsafe) static var last: UInt = 0
  private static let lock = Lock()

  static func next() -> UInt {
    lock.lock()
    defer { lock.unlock() }
    last += 1
    return last
  }
}
