// Swift conveniences over skiff.h for plugin authors. Linked statically into each plugin, so
// every plugin library has its own copy of this state; nothing here crosses the ABI but C types.
import FoundationEssentials
import Glibc
import SkiffABI

/// The host table and this plugin's context, as the kernel handed them over.
public enum PluginHost {
  nonisolated(unsafe) public private(set) static var table: UnsafePointer<skiff_host>!
  nonisolated(unsafe) public private(set) static var context: OpaquePointer?

  /// Fills the descriptor for `skiff_plugin_init`. Strings are copied once and kept for the
  /// process's lifetime, as the ABI requires. Returns the value `skiff_plugin_init` returns.
  public static func describe(
    _ plugin: UnsafeMutablePointer<skiff_plugin>?, host: UnsafePointer<skiff_host>?,
    name: String, version: String, kind: skiff_plugin_kind, summary: String? = nil,
    requires: [String] = [],
    start: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int) -> skiff_status,
    stop: (@convention(c) (OpaquePointer?) -> Void)? = nil
  ) -> Int32 {
    guard let plugin, let host else { return 1 }
    table = host
    plugin.pointee.abi_version = SKIFF_ABI_VERSION
    plugin.pointee.struct_size = UInt32(MemoryLayout<skiff_plugin>.size)
    plugin.pointee.name = UnsafePointer(strdup(name))
    plugin.pointee.version = UnsafePointer(strdup(version))
    plugin.pointee.kind = kind
    plugin.pointee.description = summary.map { UnsafePointer(strdup($0)) }
    if !requires.isEmpty {
      let list = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: requires.count + 1)
      for (i, name) in requires.enumerated() { list[i] = UnsafePointer(strdup(name)) }
      list[requires.count] = nil
      plugin.pointee.requires = UnsafePointer(list)
    }
    plugin.pointee.start = start
    plugin.pointee.stop = stop
    return 0
  }

  /// Call first thing in `start`: later host calls use this context.
  public static func attach(_ ctx: OpaquePointer?) { context = ctx }

  // MARK: Host calls

  public static func log(_ level: skiff_log_level, _ message: String) {
    table.pointee.log!(context, level, message)
  }
  public static func info(_ message: String) { log(SKIFF_LOG_INFO, message) }
  public static func warn(_ message: String) { log(SKIFF_LOG_WARN, message) }
  public static func error(_ message: String) { log(SKIFF_LOG_ERROR, message) }

  public static func intern(_ string: String) -> skiff_str {
    table.pointee.intern!(context, string)
  }

  public static func string(_ id: skiff_str) -> String? {
    table.pointee.string!(context, id).map { String(cString: $0) }
  }

  public static func setReason(_ cycle: OpaquePointer?, _ reason: String) {
    table.pointee.set_reason!(cycle, reason)
  }

  /// Decodes the plugin's `config:` block; a missing block decodes from `{}`.
  public static func config<T: Decodable>(_ type: T.Type, from json: UnsafePointer<CChar>?,
                                          length: Int) throws -> T {
    let data = json.map { Data(bytes: $0, count: length) } ?? Data("{}".utf8)
    return try JSONDecoder().decode(type, from: data)
  }

  public static func registerService(_ name: String, signature: String,
                                     _ function: @convention(c) () -> Void) -> skiff_status {
    table.pointee.service_register!(context, name, signature, function)
  }

  /// Registers an extension of any kind; the kernel copies the vtable.
  public static func register(_ vtable: skiff_scheduler_plugin) -> skiff_status {
    withUnsafePointer(to: vtable) { table.pointee.register_scheduler!(context, $0) }
  }
  public static func register(_ vtable: skiff_runtime_plugin) -> skiff_status {
    withUnsafePointer(to: vtable) { table.pointee.register_runtime!(context, $0) }
  }
  public static func register(_ vtable: skiff_network_plugin) -> skiff_status {
    withUnsafePointer(to: vtable) { table.pointee.register_network!(context, $0) }
  }
  public static func register(_ vtable: skiff_storage_plugin) -> skiff_status {
    withUnsafePointer(to: vtable) { table.pointee.register_storage!(context, $0) }
  }
  public static func register(_ vtable: skiff_device_plugin) -> skiff_status {
    withUnsafePointer(to: vtable) { table.pointee.register_device!(context, $0) }
  }
  public static func register(_ vtable: skiff_autoscaler_plugin) -> skiff_status {
    withUnsafePointer(to: vtable) { table.pointee.register_autoscaler!(context, $0) }
  }

  /// Runs `work` on the kernel's thread pool and `after` back on the loop.
  public static func queueWork(_ work: @escaping @Sendable () -> Void,
                               then after: @escaping @Sendable () -> Void = {}) -> skiff_status {
    let box = Unmanaged.passRetained(WorkBox(work: work, after: after)).toOpaque()
    return table.pointee.queue_work!(context, { box in
      Unmanaged<WorkBox>.fromOpaque(box!).takeUnretainedValue().work()
    }, { box in
      Unmanaged<WorkBox>.fromOpaque(box!).takeRetainedValue().after()
    }, box)
  }

  /// A new vtable of any kind with its header and name filled in; the name is kept for the
  /// process's lifetime.
  public static func vtable<VTable>(_ type: VTable.Type, name: String,
                                    self instance: UnsafeMutableRawPointer? = nil,
                                    _ fill: (inout VTable) -> Void) -> VTable {
    let memory = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<VTable>.size, alignment: 8)
    memset(memory, 0, MemoryLayout<VTable>.size)
    memory.storeBytes(of: SKIFF_ABI_VERSION, as: UInt32.self)
    memory.storeBytes(of: UInt32(MemoryLayout<VTable>.size), toByteOffset: 4, as: UInt32.self)
    memory.storeBytes(of: UnsafePointer(strdup(name)), toByteOffset: 8, as: UnsafePointer<CChar>?.self)
    memory.storeBytes(of: instance, toByteOffset: 16, as: UnsafeMutableRawPointer?.self)
    var value = memory.load(as: VTable.self)
    memory.deallocate()
    fill(&value)
    return value
  }
}

private final class WorkBox: Sendable {
  let work: @Sendable () -> Void
  let after: @Sendable () -> Void
  init(work: @escaping @Sendable () -> Void, after: @escaping @Sendable () -> Void) {
    self.work = work
    self.after = after
  }
}

extension skiff_done {
  /// Reports an asynchronous result: exactly once, from any thread.
  public func complete(_ status: skiff_status, json: String) {
    var json = json
    json.withUTF8 { bytes in
      bytes.withMemoryRebound(to: CChar.self) { fn(token, status, $0.baseAddress, $0.count) }
    }
  }

  /// Reports a failure as {"reason", "message"}.
  public func fail(_ status: skiff_status = SKIFF_ERROR, reason: String, message: String) {
    complete(status, json: PluginJSON.encode(["reason": reason, "message": message]))
  }
}

/// JSON for the ABI's cold paths.
public enum PluginJSON {
  /// Parses a borrowed JSON buffer into Swift values ([String: Any], [Any], String, Int for
  /// integers, Double for other numbers, Bool; null as a nil Any?); nil when it is not JSON.
  public static func decode(_ bytes: UnsafePointer<CChar>?, _ length: Int) -> Any? {
    guard let bytes else { return nil }
    return (try? JSONDecoder().decode(JSONValue.self, from: Data(bytes: bytes, count: length)))?.value
  }

  /// Renders Swift values (dictionaries, arrays, strings, numbers, booleans, nil) compactly, with
  /// sorted keys so that output is stable.
  public static func encode(_ value: Any) -> String {
    var output = ""
    JSONValue.write(value, to: &output)
    return output
  }
}

/// Hands a borrowed string to a skiff_bytes_cb.
public func send(_ text: String, to out: skiff_bytes_cb?, _ arg: UnsafeMutableRawPointer?) {
  var text = text
  text.withUTF8 { bytes in
    bytes.withMemoryRebound(to: CChar.self) { out?(arg, $0.baseAddress, $0.count) }
  }
}

extension skiff_resources {
  /// The quantity of an extended resource, 0 when absent. Inlinable: plugins call it per node.
  @inlinable
  public func scalar(_ name: skiff_str) -> Int64 {
    guard let scalars else { return 0 }
    for i in 0..<Int(n_scalars) where scalars[i].name == name { return scalars[i].value }
    return 0
  }
}

extension skiff_node {
  @inlinable
  public func label(_ key: skiff_str) -> skiff_str? {
    guard let labels else { return nil }
    for i in 0..<Int(n_labels) where labels[i].key == key { return labels[i].value }
    return nil
  }
}

// MARK: Scheduling cycle

extension PluginHost {
  /// Every node of the cycle's snapshot with its pods (host->cycle_nodes); none on a kernel older
  /// than ABI version 2, whose table ends before the slot.
  public static func cycleNodes(_ cycle: OpaquePointer?) -> UnsafeBufferPointer<UnsafePointer<skiff_node>?> {
    let slotEnd = MemoryLayout<skiff_host>.offset(of: \skiff_host.cycle_nodes)! + MemoryLayout<UnsafeRawPointer>.size
    guard Int(table.pointee.struct_size) >= slotEnd, let cycleNodes = table.pointee.cycle_nodes else { return .init(start: nil, count: 0) }
    var nodes: UnsafePointer<UnsafePointer<skiff_node>?>?
    var count: UInt32 = 0
    guard cycleNodes(cycle, &nodes, &count) == SKIFF_OK else { return .init(start: nil, count: 0) }
    return UnsafeBufferPointer(start: nodes, count: Int(count))
  }

  /// The positions of cycleNodes' array whose node changed since `mark` (host->cycle_changed_nodes,
  /// ABI 4), moving `mark` on; nil when every node must be taken as changed, as on an older host.
  public static func changedNodes(_ cycle: OpaquePointer?, since mark: inout UInt64) -> UnsafeBufferPointer<UInt32>? {
    let slotEnd = MemoryLayout<skiff_host>.offset(of: \skiff_host.cycle_changed_nodes)! + MemoryLayout<UnsafeRawPointer>.size
    guard Int(table.pointee.struct_size) >= slotEnd, let changed = table.pointee.cycle_changed_nodes else { return nil }
    var positions: UnsafePointer<UInt32>?
    var count: UInt32 = 0
    guard changed(cycle, &mark, &positions, &count) == SKIFF_OK else { return nil }
    return UnsafeBufferPointer(start: positions, count: Int(count))
  }

  /// Tells the framework, from pre_filter, that the nodes at these positions of cycleNodes fail
  /// this plugin's filter with `status` and `reason` (host->cycle_reject_nodes, ABI 4); false on
  /// an older host, whose filter loop then asks filter about them as before.
  @discardableResult
  public static func rejectNodes(_ cycle: OpaquePointer?, _ positions: UnsafeBufferPointer<UInt32>,
                                 status: skiff_status, reason: String) -> Bool {
    let slotEnd = MemoryLayout<skiff_host>.offset(of: \skiff_host.cycle_reject_nodes)! + MemoryLayout<UnsafeRawPointer>.size
    guard Int(table.pointee.struct_size) >= slotEnd, let reject = table.pointee.cycle_reject_nodes else { return false }
    return reject(cycle, positions.baseAddress, UInt32(positions.count), status, reason) == SKIFF_OK
  }

  /// Preemption helpers (ABI 2, post_filter only): would the pod pass the filters on `node`
  /// without the pods `without`? nil when the host is too old to answer.
  public static func filterWithout(_ cycle: OpaquePointer?, _ pod: UnsafePointer<skiff_pod>,
                                   _ node: UnsafePointer<skiff_node>, _ without: [UInt64]) -> skiff_status? {
    let slotEnd = MemoryLayout<skiff_host>.offset(of: \skiff_host.cycle_filter_without)! + MemoryLayout<UnsafeRawPointer>.size
    guard Int(table.pointee.struct_size) >= slotEnd, let check = table.pointee.cycle_filter_without else { return nil }
    return without.withUnsafeBufferPointer { check(cycle, pod, node, $0.baseAddress, UInt32($0.count)) }
  }

  /// Evicts the pods with these ids to make room (post_filter only).
  public static func preempt(_ cycle: OpaquePointer?, _ victims: [UInt64]) -> skiff_status {
    let slotEnd = MemoryLayout<skiff_host>.offset(of: \skiff_host.cycle_preempt)! + MemoryLayout<UnsafeRawPointer>.size
    guard Int(table.pointee.struct_size) >= slotEnd, let preempt = table.pointee.cycle_preempt else { return SKIFF_UNSUPPORTED }
    return victims.withUnsafeBufferPointer { preempt(cycle, $0.baseAddress, UInt32($0.count)) }
  }

  /// The cluster's PodDisruptionBudgets (ABI 3, post_filter only); none on an older host.
  public static func disruptionBudgets(_ cycle: OpaquePointer?) -> UnsafeBufferPointer<skiff_disruption_budget> {
    let slotEnd = MemoryLayout<skiff_host>.offset(of: \skiff_host.cycle_disruption_budgets)! + MemoryLayout<UnsafeRawPointer>.size
    guard Int(table.pointee.struct_size) >= slotEnd, let budgets = table.pointee.cycle_disruption_budgets else {
      return .init(start: nil, count: 0)
    }
    var start: UnsafePointer<skiff_disruption_budget>?
    var count: UInt32 = 0
    guard budgets(cycle, &start, &count) == SKIFF_OK, start != nil else { return .init(start: nil, count: 0) }
    return UnsafeBufferPointer(start: start, count: Int(count))
  }

  /// Binds the pod to the node through the API server, asynchronously (ABI 3, bind only).
  public static func bind(_ cycle: OpaquePointer?, _ pod: UnsafePointer<skiff_pod>,
                          _ node: UnsafePointer<skiff_node>) -> skiff_status {
    let slotEnd = MemoryLayout<skiff_host>.offset(of: \skiff_host.cycle_bind)! + MemoryLayout<UnsafeRawPointer>.size
    guard Int(table.pointee.struct_size) >= slotEnd, let bind = table.pointee.cycle_bind else { return SKIFF_UNSUPPORTED }
    return bind(cycle, pod, node)
  }

  /// This plugin's state for the cycle, made by `make` on first use and released with the cycle,
  /// so whichever slot runs first (pre_filter, filter, score) computes it once for all of them.
  public static func cycleState<State: AnyObject>(_ cycle: OpaquePointer?, _ make: () -> State) -> State {
    if let kept = table.pointee.cycle_get!(cycle) {
      return Unmanaged<State>.fromOpaque(kept).takeUnretainedValue()
    }
    let state = make()
    table.pointee.cycle_set!(cycle, Unmanaged.passRetained(state).toOpaque()) { kept in
      Unmanaged<AnyObject>.fromOpaque(kept!).release()
    }
    return state
  }
}

extension skiff_pod {
  @inlinable
  public func label(_ key: skiff_str) -> skiff_str? {
    guard let labels else { return nil }
    for i in 0..<Int(n_labels) where labels[i].key == key { return labels[i].value }
    return nil
  }
}
