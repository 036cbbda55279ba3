// Threads, locks, conditions and wait groups over pthreads: what Skiff took from Foundation's
// Thread, NSLock, NSCondition and Dispatch, without mapping full Foundation or libdispatch.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Runs `body` on a new detached thread. `name` shows in ps and gdb (the kernel keeps 15 bytes);
/// `stackSize` 0 keeps the system default.
@discardableResult
public func startThread(name: String? = nil, stackSize: Int = 0,
                        _ body: @escaping @Sendable () -> Void) -> StartedThread {
  var attributes = pthread_attr_t()
  pthread_attr_init(&attributes)
  defer { pthread_attr_destroy(&attributes) }
  pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
  if stackSize > 0 { pthread_attr_setstacksize(&attributes, max(stackSize, Int(PTHREAD_STACK_MIN))) }
  let started = StartedThread()
  let start = Unmanaged.passRetained(ThreadStart(name: name) {
    body()
    started.finished.store(true, ordering: .releasing)
  }).toOpaque()
  #if canImport(Glibc)
  var thread = pthread_t()
  #else
  var thread: pthread_t?
  #endif
  let result = pthread_create(&thread, &attributes, { context in
    let start = Unmanaged<ThreadStart>.fromOpaque(context!).takeRetainedValue()
    #if canImport(Glibc)
    if let name = start.name, let setName = setThreadName { _ = setName(pthread_self(), String(name.utf8.prefix(15))!) }
    #endif
    start.body()
    return nil
  }, start)
  precondition(result == 0, "pthread_create: \(String(cString: strerror(result)))")
  return started
}

/// A thread startThread started, to ask whether it has finished.
public final class StartedThread: Sendable {
  fileprivate let finished = Atomic(false)
  public var isFinished: Bool { finished.load(ordering: .acquiring) }
}

#if canImport(Glibc)
/// pthread_setname_np needs _GNU_SOURCE, which Swift's Glibc module leaves out: looked up by name.
private typealias SetThreadName = @convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32
private let setThreadName: SetThreadName? = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "pthread_setname_np")
  .map { unsafeBitCast($0, to: SetThreadName.self) }
#endif

private final class ThreadStart {
  let name: String?
  let body: @Sendable () -> Void
  init(name: String?, body: @escaping @Sendable () -> Void) {
    self.name = name
    self.body = body
  }
}

/// A mutual-exclusion lock for state that is not a single value (Synchronization.Mutex is the
/// first choice when it is).
public final class Lock: @unchecked Sendable {
  fileprivate let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

  public init() {
    mutex.initialize(to: pthread_mutex_t())
    pthread_mutex_init(mutex, nil)
  }

  deinit {
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
  }

  public func lock() { pthread_mutex_lock(mutex) }
  public func unlock() { pthread_mutex_unlock(mutex) }

  public func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
    lock()
    defer { unlock() }
    return try body()
  }
}

/// A lock with a condition variable: wait under the lock for a predicate another thread makes true.
/// Timed waits use the monotonic clock, so a change of the wall clock does not stretch them.
public final class Condition: @unchecked Sendable {
  private let mutex = Lock()
  private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

  public init() {
    condition.initialize(to: pthread_cond_t())
    var attributes = pthread_condattr_t()
    pthread_condattr_init(&attributes)
    #if canImport(Glibc)
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
    #endif
    pthread_cond_init(condition, &attributes)
    pthread_condattr_destroy(&attributes)
  }

  deinit {
    pthread_cond_destroy(condition)
    condition.deallocate()
  }

  public func lock() { mutex.lock() }
  public func unlock() { mutex.unlock() }
  public func withLock<T>(_ body: () throws -> T) rethrows -> T { try mutex.withLock(body) }

  /// Under the lock: releases it until signalled (or woken spuriously; loop on the predicate).
  public func wait() { pthread_cond_wait(condition, mutex.mutex) }

  /// Under the lock: like `wait()`, but gives up at `deadline` (monotonicNanoseconds()); false then.
  @discardableResult
  public func wait(untilNanoseconds deadline: UInt64) -> Bool {
    var time = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
    return pthread_cond_timedwait(condition, mutex.mutex, &time) == 0
  }

  public func signal() { pthread_cond_signal(condition) }
  public func broadcast() { pthread_cond_broadcast(condition) }
}

/// A counting semaphore: `wait()` blocks until a `signal()` is available.
public final class Semaphore: @unchecked Sendable {
  private let condition = Condition()
  private var available: Int

  public init(value: Int = 0) { available = value }

  public func signal() {
    condition.withLock {
      available += 1
      condition.signal()
    }
  }

  public func wait() {
    condition.withLock {
      while available == 0 { condition.wait() }
      available -= 1
    }
  }
}

/// Counts work in flight: `enter()` before starting it, `leave()` when it is done; `wait` blocks
/// until nothing is in flight.
public final class WaitGroup: @unchecked Sendable {
  private let condition = Condition()
  private var inFlight = 0

  public init() {}

  public func enter() { condition.withLock { inFlight += 1 } }

  public func leave() {
    condition.withLock {
      precondition(inFlight > 0, "WaitGroup.leave() without enter()")
      inFlight -= 1
      if inFlight == 0 { condition.broadcast() }
    }
  }

  public func wait() {
    condition.withLock { while inFlight > 0 { condition.wait() } }
  }

  /// False when work is still in flight after `seconds`.
  public func wait(seconds: Double) -> Bool {
    let deadline = monotonicNanoseconds() + UInt64(max(seconds, 0) * 1e9)
    return condition.withLock {
      while inFlight > 0 {
        if !condition.wait(untilNanoseconds: deadline) && monotonicNanoseconds() >= deadline { break }
      }
      return inFlight == 0
    }
  }
}

/// Nanoseconds on the monotonic clock: for intervals and deadlines, never for dates.
public func monotonicNanoseconds() -> UInt64 {
  var now = timespec()
  clock_gettime(CLOCK_MONOTONIC, &now)
  return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}
