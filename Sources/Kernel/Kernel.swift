// The kernel: one event loop, the plugins a profile names, and what they register. It knows no
// Kubernetes kind; the control plane plugs its store and scheduler in through the protocols here.
import FoundationEssentials
import Glibc
import SkiffABI

/// Where a plugin's decision about a pod waiting at Permit goes: the scheduling framework.
public protocol PermitDecisions: AnyObject {
  func allow(pod: UInt64, plugin: String) -> skiff_status
  func reject(pod: UInt64, reason: String) -> skiff_status
}

public final class Kernel: @unchecked Sendable {
  public let loop: EventLoop
  public let log: KernelLog
  public let services = ServiceRegistry()
  public let strings = StringTable()
  public let metrics = Metrics()
  public let extensions = ExtensionRegistry()
  public let events: EventBus
  /// Object access for plugins; the control plane replaces the in-memory table with its store.
  public var objects: ObjectAccess
  public weak var permits: PermitDecisions?

  /// Plugins in start order, once loaded.
  public private(set) var plugins: [PluginLibrary] = []
  private var contexts: [PluginContext] = []

  public init(loop: EventLoop, log: KernelLog = KernelLog()) {
    self.loop = loop
    self.log = log
    events = EventBus(loop: loop)
    objects = InMemoryObjects(loop: loop)
  }

  // MARK: Loading

  /// Opens every plugin the profile names (the profile has already refused a name listed twice),
  /// checks each and orders them by `requires`. Starts nothing. Any thread.
  /// `variables` fill `${name}` in plugins' configuration (e.g. `dataDir`).
  public func load(_ profile: Profile, locator: PluginLocator? = nil,
                   variables: [String: String] = [:]) throws(PluginLoadError) {
    let locator = locator ?? PluginLocator(profileDirectories: profile.pluginDirs)
    KernelLogRouter.current = log
    var opened: [PluginLibrary] = []
    for entry in profile.plugins {
      let file = entry.path ?? locator.file(for: entry.name).path
      let config: String
      switch ConfigVariables.expand(entry.configJSON, variables) {
      case .success(let expanded): config = expanded
      case .failure(let problem):
        throw PluginLoadError(plugin: entry.name, file: profile.file, cause: .invalidConfig,
                              "\(problem.message) (at \(entry.mark.line):\(entry.mark.column))")
      }
      opened.append(try PluginLibrary.open(entry, file: file, config: config, host: HostTable.shared))
    }
    plugins = try StartOrder.resolve(opened)
  }

  // MARK: Lifecycle

  /// Starts the loaded plugins in order on the loop. When one fails, those already started are
  /// stopped in reverse order and the error names the failing plugin. Loop only.
  public func start() throws(PluginLoadError) {
    loop.preconditionInEventLoop()
    for library in plugins {
      let context = PluginContext(kernel: self, library: library)
      contexts.append(context)
      context.registering = true
      let status = library.descriptor.pointee.start(context.handle, context.config,
                                                    context.configLength)
      context.registering = false
      guard status == SKIFF_OK else {
        let detail = context.lastProblem.map { ": \($0)" } ?? ""
        let error = PluginLoadError(plugin: library.name, file: library.file, cause: .startFailed,
                                    "start returned \(StatusName.of(status))\(detail)")
        contexts.removeLast()
        context.closeHandles()
        shutdown()
        throw error
      }
      log.write(.info, "kernel", "started \(library.kind) plugin \(library.name) \(library.version)")
    }
    services.freeze()
  }

  /// Stops started plugins in reverse start order and closes what they left open. Idempotent.
  /// Loop only.
  public func shutdown() {
    loop.preconditionInEventLoop()
    while let context = contexts.popLast() {
      context.library.descriptor.pointee.stop?(context.handle)
      context.closeHandles()
      log.write(.info, "kernel", "stopped plugin \(context.name)")
    }
  }

  /// On SIGINT or SIGTERM: `before` (the control plane closing), plugins in reverse start order,
  /// then the loop: an orderly exit. Loop only.
  public func stopOnSignals(before: @escaping () -> Void = {}) {
    for signal in [SIGINT, SIGTERM] {
      loop.onSignal(signal) { [self] in
        log.write(.info, "kernel", "signal \(signal): shutting down")
        before()
        shutdown()
        loop.stop()
      }
    }
  }
}

/// Names for skiff_status values in messages.
public enum StatusName {
  public static func of(_ status: skiff_status) -> String {
    switch status {
    case SKIFF_OK: "OK"
    case SKIFF_ERROR: "ERROR"
    case SKIFF_UNSCHEDULABLE: "UNSCHEDULABLE"
    case SKIFF_UNSCHEDULABLE_AND_UNRESOLVABLE: "UNSCHEDULABLE_AND_UNRESOLVABLE"
    case SKIFF_WAIT: "WAIT"
    case SKIFF_SKIP: "SKIP"
    case SKIFF_PENDING: "PENDING"
    case SKIFF_NOT_FOUND: "NOT_FOUND"
    case SKIFF_INVALID: "INVALID"
    case SKIFF_CONFLICT: "CONFLICT"
    case SKIFF_UNSUPPORTED: "UNSUPPORTED"
    default: "status \(status.rawValue)"
    }
  }
}
