// What the `process`, `oci` and `sim` runtimes have in common: the slot methods a runtime answers,
// the one C vtable that turns `skiff_runtime_plugin` slot calls into them, and the helpers their
// slot methods share (the state lock and completing `done`).
import FoundationEssentials
import PluginKit
import SkiffABI
import SystemKit

/// Where a slot's work runs: on the kernel's loop (it answers from memory or only signals) or on
/// the kernel's thread pool (it touches files, forks or downloads).
enum SlotThread {
  case loop
  case pool
}

/// A runtime's slots. Each completes `done` exactly once, on whatever thread it finishes.
/// sandbox_create, container_create, container_start and container_remove always run on the pool;
/// container_status, container_logs and exec always on the loop; the rest as the runtime says.
///
/// Results (failures are {"reason", "message"}; an unknown id is SKIFF_NOT_FOUND):
///   sandbox_create          {"id"}
///   container_create        {"id"}
///   container_start         {"pid"}
///   container_status        {"id", "podSandboxId", "metadata": {"name", "attempt"}, "state",
///                            "createdAt", "startedAt", "finishedAt", "exitCode", "reason",
///                            "message", "pid", "logPath", "labels", "annotations"};
///                           with a NULL id {"containers": [...]}
///   container_logs          {"path"}
///   exec                    {"exitCode", "stdout", "stderr"}
///   stops and removes       {}
protocol RuntimeSlots: AnyObject, Sendable {
  /// Guards the runtime's records; `locked` takes it.
  var lock: Lock { get }
  /// Where sandbox_stop and sandbox_remove run.
  static var sandboxStopThread: SlotThread { get }
  /// Where container_stop runs.
  static var containerStopThread: SlotThread { get }

  func createSandbox(_ json: Data, done: skiff_done)
  func stopSandbox(_ id: String, done: skiff_done)
  func removeSandbox(_ id: String, done: skiff_done)
  func createContainer(inSandbox sandboxId: String, _ json: Data, done: skiff_done)
  func startContainer(_ id: String, done: skiff_done)
  func stopContainer(_ id: String, grace: Int64, done: skiff_done)
  func removeContainer(_ id: String, done: skiff_done)
  /// With a nil id, every container.
  func status(of id: String?, done: skiff_done)
  func logPath(of id: String, done: skiff_done)
  func exec(in id: String, _ json: Data, done: skiff_done)
}

/// A runtime that has images. One that does not answer image_pull and image_list with
/// SKIFF_UNSUPPORTED.
protocol RuntimeImageSlots: RuntimeSlots {
  /// Where image_pull and image_list run.
  static var imageThread: SlotThread { get }

  func pullImage(_ json: Data, done: skiff_done)
  func listImages(done: skiff_done)
}

/// The vtable registering `runtime` under `name`. It borrows `runtime`: the caller keeps it alive
/// for as long as the kernel may call the slots. Borrowed arguments are copied before a slot
/// returns.
func runtimeVTable<Runtime: RuntimeSlots>(_ runtime: Runtime, name: String) -> skiff_runtime_plugin {
  PluginHost.vtable(skiff_runtime_plugin.self, name: name, self: Unmanaged.passUnretained(runtime).toOpaque()) { vtable in
    vtable.sandbox_create = { me, config, length, done in
      guard let config else { return SKIFF_INVALID }
      let runtime = slots(me), json = Data(bytes: config, count: length)
      return PluginHost.queueWork { runtime.createSandbox(json, done: done) }
    }
    vtable.sandbox_stop = { me, id, done in
      guard let id else { return SKIFF_INVALID }
      let runtime = slots(me), sandboxId = String(cString: id)
      return run(type(of: runtime).sandboxStopThread) { runtime.stopSandbox(sandboxId, done: done) }
    }
    vtable.sandbox_remove = { me, id, done in
      guard let id else { return SKIFF_INVALID }
      let runtime = slots(me), sandboxId = String(cString: id)
      return run(type(of: runtime).sandboxStopThread) { runtime.removeSandbox(sandboxId, done: done) }
    }
    vtable.container_create = { me, sandbox, config, length, done in
      guard let sandbox, let config else { return SKIFF_INVALID }
      let runtime = slots(me), sandboxId = String(cString: sandbox), json = Data(bytes: config, count: length)
      return PluginHost.queueWork { runtime.createContainer(inSandbox: sandboxId, json, done: done) }
    }
    vtable.container_start = { me, id, done in
      guard let id else { return SKIFF_INVALID }
      let runtime = slots(me), containerId = String(cString: id)
      return PluginHost.queueWork { runtime.startContainer(containerId, done: done) }
    }
    vtable.container_stop = { me, id, grace, done in
      guard let id else { return SKIFF_INVALID }
      let runtime = slots(me), containerId = String(cString: id)
      return run(type(of: runtime).containerStopThread) { runtime.stopContainer(containerId, grace: grace, done: done) }
    }
    vtable.container_remove = { me, id, done in
      guard let id else { return SKIFF_INVALID }
      let runtime = slots(me), containerId = String(cString: id)
      return PluginHost.queueWork { runtime.removeContainer(containerId, done: done) }
    }
    vtable.container_status = { me, id, done in
      slots(me).status(of: id.map { String(cString: $0) }, done: done)
      return SKIFF_OK
    }
    vtable.container_logs = { me, id, done in
      guard let id else { return SKIFF_INVALID }
      slots(me).logPath(of: String(cString: id), done: done)
      return SKIFF_OK
    }
    vtable.exec = { me, id, request, length, done in
      guard let id, let request else { return SKIFF_INVALID }
      slots(me).exec(in: String(cString: id), Data(bytes: request, count: length), done: done)
      return SKIFF_OK
    }
    guard Runtime.self is any RuntimeImageSlots.Type else {
      vtable.image_pull = { _, _, _, _ in SKIFF_UNSUPPORTED }
      vtable.image_list = { _, _ in SKIFF_UNSUPPORTED }
      return
    }
    vtable.image_pull = { me, request, length, done in
      guard let request else { return SKIFF_INVALID }
      let runtime = imageSlots(me), json = Data(bytes: request, count: length)
      return run(type(of: runtime).imageThread) { runtime.pullImage(json, done: done) }
    }
    vtable.image_list = { me, done in
      let runtime = imageSlots(me)
      return run(type(of: runtime).imageThread) { runtime.listImages(done: done) }
    }
  }
}

/// The C slots cannot capture the runtime's type, so they recover it from the vtable's `self`.
private func slots(_ me: UnsafeMutableRawPointer?) -> any RuntimeSlots {
  Unmanaged<AnyObject>.fromOpaque(me!).takeUnretainedValue() as! any RuntimeSlots
}

private func imageSlots(_ me: UnsafeMutableRawPointer?) -> any RuntimeImageSlots {
  Unmanaged<AnyObject>.fromOpaque(me!).takeUnretainedValue() as! any RuntimeImageSlots
}

private func run(_ thread: SlotThread, _ work: @escaping @Sendable () -> Void) -> skiff_status {
  switch thread {
  case .loop:
    work()
    return SKIFF_OK
  case .pool:
    return PluginHost.queueWork(work)
  }
}

extension RuntimeSlots {
  func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
    lock.lock()
    defer { lock.unlock() }
    return try body()
  }

  /// Runs `body`, turning any error into a failure with `reason` (SKIFF_ERROR).
  func attempt(_ reason: String, _ body: () throws -> Void) throws(RuntimeFailure) {
    do { try body() } catch { throw RuntimeFailure(SKIFF_ERROR, reason, "\(error)") }
  }

  /// Completes `done` with the body's result or its failure.
  func report(_ done: skiff_done, _ body: () throws(RuntimeFailure) -> [String: Any]) {
    do {
      done.complete(SKIFF_OK, json: PluginJSON.encode(try body()))
    } catch {
      fail(done, error)
    }
  }

  func fail(_ done: skiff_done, _ failure: RuntimeFailure) {
    done.fail(failure.status, reason: failure.reason, message: failure.message)
  }
}
