// The runtime plugin's slots, called on the kernel's loop (as skiff.h requires) from the agent's
// own threads, each call waiting for the plugin's one completion.
import Kernel
import ObjectModel
import SkiffABI
import SystemKit

/// A runtime slot that failed: the plugin's status and its `{"reason", "message"}`.
struct RuntimeError: Error, CustomStringConvertible {
  let status: skiff_status
  let reason: String
  let message: String
  var description: String { "\(reason): \(message)" }
}

final class RuntimeCalls: @unchecked Sendable {
  private let loop: EventLoop
  private let vtable: skiff_runtime_plugin
  let name: String
  /// Set on the loop when the agent stops, before the kernel stops the plugins: a call still in
  /// the loop's queue then must not reach a plugin that is gone. Loop only.
  private var closed = false

  init(loop: EventLoop, runtime: Extension<skiff_runtime_plugin>) {
    self.loop = loop
    vtable = runtime.vtable.pointee
    name = runtime.name
  }

  /// One completion: filled by the plugin from any thread, awaited by the caller.
  private final class Completion: @unchecked Sendable {
    let arrived = WakeSignal()
    var status = SKIFF_ERROR
    var json: [UInt8] = []
  }

  /// Refuses every later call. Loop only.
  func close() {
    loop.preconditionInEventLoop()
    closed = true
  }

  /// Runs `slot` on the loop and waits for its result. Never call from the loop itself.
  private func call(_ slot: @escaping (skiff_runtime_plugin, skiff_done) -> skiff_status) throws(RuntimeError) -> JSON {
    precondition(!loop.inEventLoop, "runtime calls block: make them from the agent's threads")
    let completion = Completion()
    let token = Unmanaged.passRetained(completion).toOpaque()
    let done = skiff_done(fn: { token, status, json, length in
      let completion = Unmanaged<Completion>.fromOpaque(token!).takeRetainedValue()
      completion.status = status
      if let json { completion.json = Array(UnsafeRawBufferPointer(start: json, count: length)) }
      completion.arrived.raise()
    }, token: token)
    let vtable = vtable
    let taken = WakeSignal()
    nonisolated(unsafe) var returned = SKIFF_ERROR
    nonisolated(unsafe) var stopping = false
    loop.execute { [self] in
      stopping = closed
      if !stopping { returned = slot(vtable, done) }
      taken.raise()
    }
    taken.wait(seconds: nil)
    guard returned == SKIFF_OK else {
      Unmanaged<Completion>.fromOpaque(token).release()
      throw RuntimeError(status: returned, reason: StatusName.of(returned),
                         message: stopping ? "the agent is stopping" : "the \(name) runtime refused the call")
    }
    completion.arrived.wait(seconds: nil)
    let result = (try? JSON.parse(completion.json)) ?? [:]
    guard completion.status == SKIFF_OK else {
      throw RuntimeError(status: completion.status, reason: result["reason"]?.stringValue ?? StatusName.of(completion.status),
                         message: result["message"]?.stringValue ?? "")
    }
    return result
  }

  func createSandbox(_ config: JSON) throws(RuntimeError) -> String {
    let bytes = config.serialized()
    return try call { vtable, done in
      bytes.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { vtable.sandbox_create(vtable.`self`, $0.baseAddress, $0.count, done) } }
    }["id"]?.stringValue ?? ""
  }

  func removeSandbox(_ id: String) throws(RuntimeError) {
    _ = try call { vtable, done in vtable.sandbox_remove(vtable.`self`, id, done) }
  }

  func createContainer(in sandbox: String, _ config: JSON) throws(RuntimeError) -> String {
    let bytes = config.serialized()
    return try call { vtable, done in
      bytes.withUnsafeBufferPointer {
        $0.withMemoryRebound(to: CChar.self) { vtable.container_create(vtable.`self`, sandbox, $0.baseAddress, $0.count, done) }
      }
    }["id"]?.stringValue ?? ""
  }

  func start(_ id: String) throws(RuntimeError) {
    _ = try call { vtable, done in vtable.container_start(vtable.`self`, id, done) }
  }

  /// SIGTERM, then SIGKILL after `grace` seconds; returns once the container has exited.
  func stop(_ id: String, grace: Int64) throws(RuntimeError) {
    _ = try call { vtable, done in vtable.container_stop(vtable.`self`, id, grace, done) }
  }

  func remove(_ id: String) throws(RuntimeError) {
    _ = try call { vtable, done in vtable.container_remove(vtable.`self`, id, done) }
  }

  func status(_ id: String) throws(RuntimeError) -> JSON {
    try call { vtable, done in vtable.container_status(vtable.`self`, id, done) }
  }

  /// Every container the runtime knows, running or not: what the agent re-adopts.
  func allContainers() throws(RuntimeError) -> [JSON] {
    try call { vtable, done in vtable.container_status(vtable.`self`, nil, done) }["containers"]?.arrayValue ?? []
  }

  /// Runs `command` to completion; a runtime that honours `timeout` kills it after so many seconds.
  func exec(_ id: String, command: [String], timeout: Double? = nil) throws(RuntimeError) -> JSON {
    var request: JSON = ["cmd": .array(command.map { .string($0) })]
    if let timeout { request["timeout"] = .double(timeout) }
    let bytes = request.serialized()
    return try call { vtable, done in
      bytes.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { vtable.exec(vtable.`self`, id, $0.baseAddress, $0.count, done) } }
    }
  }

  /// A streaming exec, from the loop: `completion` runs on the loop with the runtime's answer,
  /// `{"fd": n}` of the stream socket, which the caller then owns.
  func startExec(_ id: String, _ request: JSON, completion: @escaping (Result<JSON, RuntimeError>) -> Void) {
    loop.preconditionInEventLoop()
    let loop = loop, name = name
    final class Answer: @unchecked Sendable {
      let body: (Result<JSON, RuntimeError>) -> Void
      init(_ body: @escaping (Result<JSON, RuntimeError>) -> Void) { self.body = body }
    }
    let token = Unmanaged.passRetained(Answer { result in loop.execute { completion(result) } }).toOpaque()
    let done = skiff_done(fn: { token, status, json, length in
      let answer = Unmanaged<Answer>.fromOpaque(token!).takeRetainedValue()
      let bytes = json.map { Array(UnsafeRawBufferPointer(start: $0, count: length)) } ?? []
      let result = (try? JSON.parse(bytes)) ?? [:]
      answer.body(status == SKIFF_OK ? .success(result) : .failure(RuntimeError(
        status: status, reason: result["reason"]?.stringValue ?? StatusName.of(status),
        message: result["message"]?.stringValue ?? "")))
    }, token: token)
    let bytes = request.serialized()
    let returned = bytes.withUnsafeBufferPointer {
      $0.withMemoryRebound(to: CChar.self) { vtable.exec(vtable.`self`, id, $0.baseAddress, $0.count, done) }
    }
    if returned != SKIFF_OK {
      Unmanaged<Answer>.fromOpaque(token).release()
      completion(.failure(RuntimeError(status: returned, reason: StatusName.of(returned),
                                       message: "the \(name) runtime refused the exec call")))
    }
  }
}
