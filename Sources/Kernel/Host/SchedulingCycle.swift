// The kernel side of `skiff_cycle`: what scheduler plugins record during one pod's cycle — a
// plugin's reasons and one state pointer per plugin. The scheduling framework creates one per
// cycle and sets `currentPlugin` before each call into a plugin.

import SkiffABI

public final class SchedulingCycle: @unchecked Sendable {
  /// Index of the plugin being called, in the framework's own numbering.
  public var currentPlugin = 0
  /// The snapshot's nodes, for plugins that look across the cluster (host->cycle_nodes).
  public var nodes: UnsafePointer<UnsafePointer<skiff_node>?>?
  public var nodeCount: UInt32 = 0
  /// Set by the framework while post_filter runs: host->cycle_filter_without and cycle_preempt.
  public var filterWithout: ((UnsafePointer<skiff_pod>, UnsafePointer<skiff_node>, [UInt64]) -> skiff_status)?
  public var preempt: (([UInt64]) -> skiff_status)?
  /// The cluster's disruption budgets while post_filter runs (host->cycle_disruption_budgets).
  public var disruptionBudgets: UnsafeBufferPointer<skiff_disruption_budget> = .init(start: nil, count: 0)
  /// Set by the framework while bind runs: host->cycle_bind, the API server's pods/binding.
  public var bind: ((UnsafePointer<skiff_pod>, UnsafePointer<skiff_node>) -> skiff_status)?
  private var reasons: [Int: [String]] = [:]
  private var state: [Int: (data: UnsafeMutableRawPointer?, release: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?)] = [:]

  public init() {}

  /// The opaque pointer handed to plugins as `skiff_cycle *`; valid while this object lives.
  public var handle: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

  static func from(_ handle: OpaquePointer?) -> SchedulingCycle? {
    handle.map { Unmanaged<SchedulingCycle>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
  }

  public func reasons(ofPlugin index: Int) -> [String] { reasons[index] ?? [] }

  /// The reasons a plugin gave since the last take, clearing them: per node, in a filter loop.
  public func takeReasons(ofPlugin index: Int) -> [String] {
    reasons.removeValue(forKey: index) ?? []
  }

  func addReason(_ reason: String) { reasons[currentPlugin, default: []].append(reason) }

  func setState(_ data: UnsafeMutableRawPointer?,
                release: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?) {
    if let old = state[currentPlugin], old.data != data { old.release?(old.data) }
    state[currentPlugin] = (data, release)
  }

  func getState() -> UnsafeMutableRawPointer? { state[currentPlugin]?.data }

  /// Releases every plugin's cycle state; the framework calls this when the cycle ends.
  public func end() {
    for entry in state.values { entry.release?(entry.data) }
    state.removeAll()
    reasons.removeAll()
  }

  deinit { end() }
}
