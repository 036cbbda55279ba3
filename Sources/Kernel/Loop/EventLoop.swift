// The kernel's one event loop: a libuv loop on one thread that owns all kernel state, with
// cross-thread wake-ups, timers, signals and a thread pool for blocking work.
import CLibUV
import FoundationEssentials
import Glibc
import Synchronization
import SystemKit

public final class EventLoop: @unchecked Sendable {
  /// The libuv loop, for modules that open their own handles on it (TCP for the API server).
  public let uv: UnsafeMutablePointer<uv_loop_t>
  private let wakeup: UnsafeMutablePointer<uv_async_t>
  /// Tasks posted from any thread, run on the loop in posting order.
  private let inbox = Inbox()
  /// The thread running `run()`; loop-affine code compares against it.
  private let owner = Mutex<pthread_t?>(nil)
  /// Handles this loop created and must close on stop (loop-affine).
  private var handles: [ObjectIdentifier: LoopHandle] = [:]
  private var stopping = false

  public init() {
    uv = .allocate(capacity: 1)
    precondition(uv_loop_init(uv) == 0, "uv_loop_init failed")
    wakeup = .allocate(capacity: 1)
    uv_async_init(uv, wakeup) { async in
      EventLoop.from(async!.pointee.loop).drainInbox()
    }
    uv.pointee.data = Unmanaged.passUnretained(self).toOpaque()
  }

  deinit {
    wakeup.deallocate()
    uv.deallocate()
  }

  static func from(_ loop: UnsafeMutablePointer<uv_loop_t>?) -> EventLoop {
    Unmanaged<EventLoop>.fromOpaque(loop!.pointee.data).takeUnretainedValue()
  }

  // MARK: Running

  /// Runs the loop on the calling thread until `stop()` has closed every handle.
  public func run() {
    owner.withLock { $0 = pthread_self() }
    drainInbox()  // tasks posted before the loop started
    uv_run(uv, UV_RUN_DEFAULT)
    owner.withLock { $0 = nil }
    uv_loop_close(uv)
  }

  /// Starts the loop on a new thread; returns once it is running. For tests and tools.
  @discardableResult
  public func runInBackground() -> StartedThread {
    let started = Semaphore()
    let thread = startThread(name: "skiff-loop") { [self] in
      execute { started.signal() }
      run()
    }
    started.wait()
    return thread
  }

  /// Closes every handle the loop owns; `run()` returns when their close callbacks have run.
  /// Callable from any thread. Tasks posted afterwards are dropped.
  public func stop() {
    execute { [self] in
      stopping = true
      for handle in handles.values { handle.close() }
      inbox.close()
      uv_close(UnsafeMutableRawPointer(wakeup).assumingMemoryBound(to: uv_handle_t.self), nil)
      // Anything opened behind our back (should be nothing) must not keep the process alive.
      uv_walk(uv, { handle, _ in
        if uv_is_closing(handle) == 0 { uv_close(handle, nil) }
      }, nil)
    }
  }

  // MARK: Threads

  public var inEventLoop: Bool {
    owner.withLock { thread in thread.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
  }

  /// Loop-affine code calls this first.
  public func preconditionInEventLoop(file: StaticString = #fileID, line: UInt = #line) {
    precondition(inEventLoop, "must run on the event loop thread", file: file, line: line)
  }

  /// Runs `task` on the loop soon. Callable from any thread, including the loop's.
  public func execute(_ task: @escaping () -> Void) {
    if inbox.post(task) { uv_async_send(wakeup) }
  }

  /// Runs `body` on the loop and waits for its result. Inline when already on the loop.
  public func submit<T>(_ body: @escaping () throws -> T) throws -> T {
    if inEventLoop { return try body() }
    let done = Semaphore()
    nonisolated(unsafe) var result: Result<T, any Error>?
    execute {
      result = Result { try body() }
      done.signal()
    }
    done.wait()
    return try result!.get()
  }

  private func drainInbox() {
    for task in inbox.take() { task() }
  }

  // MARK: Handles

  /// A timer firing after `delay` ms and then every `repeating` ms (0: once). Loop only.
  public func scheduleTimer(after delay: UInt64, repeating: UInt64 = 0,
                            _ body: @escaping (LoopTimer) -> Void) -> LoopTimer {
    preconditionInEventLoop()
    let timer = LoopTimer(loop: self, body: body)
    adopt(timer)
    timer.start(delay: delay, repeating: repeating)
    return timer
  }

  /// Runs `body` on the loop each time the process receives `signal`. Loop only.
  @discardableResult
  public func onSignal(_ signal: Int32, _ body: @escaping () -> Void) -> LoopHandle {
    preconditionInEventLoop()
    let handle = SignalHandle(loop: self, signal: signal, body: body)
    adopt(handle)
    return handle
  }

  /// Runs `work` on libuv's thread pool, then `after` on the loop. Callable from any thread.
  public func queueWork(_ work: @escaping @Sendable () -> Void, then after: @escaping () -> Void) {
    execute { [self] in
      let request = UnsafeMutablePointer<uv_work_t>.allocate(capacity: 1)
      request.pointee.data = Unmanaged.passRetained(WorkItem(work: work, after: after)).toOpaque()
      let status = uv_queue_work(uv, request, { request in
        Unmanaged<WorkItem>.fromOpaque(request!.pointee.data).takeUnretainedValue().work()
      }, { request, _ in
        let item = Unmanaged<WorkItem>.fromOpaque(request!.pointee.data).takeRetainedValue()
        request!.deallocate()
        item.after()
      })
      precondition(status == 0, "uv_queue_work failed: \(String(cString: uv_strerror(status)))")
    }
  }

  func adopt(_ handle: LoopHandle) {
    handles[ObjectIdentifier(handle)] = handle
    if stopping { handle.close() }
  }

  func forget(_ handle: LoopHandle) {
    handles[ObjectIdentifier(handle)] = nil
  }
}

private final class WorkItem: @unchecked Sendable {
  let work: @Sendable () -> Void
  let after: () -> Void
  init(work: @escaping @Sendable () -> Void, after: @escaping () -> Void) {
    self.work = work
    self.after = after
  }
}

/// Tasks posted to the loop from any thread. A plain lock rather than a Mutex because the tasks
/// are not Sendable: they are handed to exactly one thread, the loop's.
private final class Inbox: @unchecked Sendable {
  private let lock = Lock()
  private var tasks: [() -> Void] = []
  private var closed = false

  func post(_ task: @escaping () -> Void) -> Bool {
    lock.lock()
    defer { lock.unlock() }
    guard !closed else { return false }
    tasks.append(task)
    return true
  }

  func take() -> [() -> Void] {
    lock.lock()
    defer { lock.unlock() }
    let taken = tasks
    tasks.removeAll(keepingCapacity: true)
    return taken
  }

  func close() {
    lock.lock()
    closed = true
    lock.unlock()
  }
}
