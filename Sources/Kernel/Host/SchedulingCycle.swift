// The kernel side of `skiff_cycle`: what scheduler plugins record during one pod's cycle — a
// plugin's reasons and one state pointer per plugin. The scheduling framework creates one per
// cycle and sets `currentPlugin` before each call into a plugin.

#if canImport(Glibc)
import Glibc
#endif
import SkiffABI

public final class SchedulingCycle: @unchecked Sendable {
  /// Index of the plugin being called, in the framework's own numbering.
  public var currentPlugin = 0
  /// The snapshot's nodes, for plugins that look across the cluster (host->cycle_nodes).
  public var nodes: UnsafePointer<UnsafePointer<skiff_node>?>?
  public var nodeCount: UInt32 = 0
  /// What changed in `nodes` and when (host->cycle_changed_nodes); nil answers "everything".
  public var nodeChanges: NodeChangeLog?
  /// Nodes plugins rejected in pre_filter (host->cycle_reject_nodes), by position in `nodes`,
  /// for the framework to count without calling their filters.
  public var preRejections: [(plugin: Int, status: skiff_status, reason: String, positions: [UInt32])] = []
  /// Set by the framework while post_filter runs: host->cycle_filter_without and cycle_preempt.
  public var filterWithout: ((UnsafePointer<skiff_pod>, UnsafePointer<skiff_node>, [UInt64]) -> skiff_status)?
  public var preempt: (([UInt64]) -> skiff_status)?
  /// The cluster's disruption budgets while post_filter runs (host->cycle_disruption_budgets).
  public var disruptionBudgets: UnsafeBufferPointer<skiff_disruption_budget> = .init(start: nil, count: 0)
  /// Set by the framework while bind runs: host->cycle_bind, the API server's pods/binding.
  public var bind: ((UnsafePointer<skiff_pod>, UnsafePointer<skiff_node>) -> skiff_status)?
  /// Reasons given since they were last taken, with the plugin that gave each: a filter loop
  /// takes them node by node, so this stays a few entries long.
  private var reasons: [(plugin: Int, text: String)] = []
  /// The last reason text made, with its bytes: filters repeat the same few reasons for node
  /// after node, and reusing the String spares an allocation per rejected node.
  private var lastReason: (bytes: [CChar], text: String) = ([0], "")
  /// Per plugin id (a handful): read on every filter call, so an array rather than a dictionary.
  private var state: [(data: UnsafeMutableRawPointer?, release: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?)] = []

  public init() {}

  /// The opaque pointer handed to plugins as `skiff_cycle *`; valid while this object lives.
  public var handle: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

  static func from(_ handle: OpaquePointer?) -> SchedulingCycle? {
    handle.map { Unmanaged<SchedulingCycle>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
  }

  public func reasons(ofPlugin index: Int) -> [String] { reasons.filter { $0.plugin == index }.map(\.text) }

  /// The reasons a plugin gave since the last take, clearing them: per node, in a filter loop.
  public func takeReasons(ofPlugin index: Int) -> [String] {
    guard !reasons.isEmpty else { return [] }
    if reasons.count == 1, reasons[0].plugin == index {  // a filter's one reason: the common case
      defer { reasons.removeAll(keepingCapacity: true) }
      return [reasons[0].text]
    }
    let taken = reasons(ofPlugin: index)
    reasons.removeAll { $0.plugin == index }
    return taken
  }

  /// Calls `body` with each reason a plugin gave since the last take and clears them, allocating
  /// nothing in the common case of one reason: the filter loop's per-node bookkeeping. Returns
  /// how many there were.
  @discardableResult
  public func takeReasons(ofPlugin index: Int, _ body: (String) -> Void) -> Int {
    guard !reasons.isEmpty else { return 0 }
    if reasons.count == 1, reasons[0].plugin == index {
      body(reasons[0].text)
      reasons.removeAll(keepingCapacity: true)
      return 1
    }
    let taken = takeReasons(ofPlugin: index)
    taken.forEach(body)
    return taken.count
  }

  func addReason(_ reason: UnsafePointer<CChar>?) {
    guard let reason else { return reasons.append((currentPlugin, "")) }
    let same = lastReason.bytes.withUnsafeBufferPointer { strcmp($0.baseAddress!, reason) == 0 }
    if !same {
      let length = strlen(reason)
      lastReason = (Array(UnsafeBufferPointer(start: reason, count: length + 1)), String(cString: reason))
    }
    reasons.append((currentPlugin, lastReason.text))
  }

  func setState(_ data: UnsafeMutableRawPointer?,
                release: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?) {
    guard currentPlugin >= 0 else { return }
    if currentPlugin >= state.count { state += Array(repeating: (nil, nil), count: currentPlugin + 1 - state.count) }
    let old = state[currentPlugin]
    if old.data != data { old.release?(old.data) }
    state[currentPlugin] = (data, release)
  }

  func getState() -> UnsafeMutableRawPointer? {
    currentPlugin >= 0 && currentPlugin < state.count ? state[currentPlugin].data : nil
  }

  /// Releases every plugin's cycle state; the framework calls this when the cycle ends.
  public func end() {
    for entry in state { entry.release?(entry.data) }
    state.removeAll()
    reasons.removeAll()
    preRejections.removeAll()
  }

  deinit { end() }
}
