// A flag one thread raises and another sleeps on, with a timeout, so an idle waiting thread costs no
// CPU; and the monotonic clock in seconds for intervals (back-off, grace periods).
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A flag one thread raises and another sleeps on, with a timeout: the wait ends early when
/// `raise()` was called since the last wait.
public final class WakeSignal: @unchecked Sendable {
  private var mutex = pthread_mutex_t()
  private var condition = pthread_cond_t()
  private var raised = false

  public init() {
    pthread_mutex_init(&mutex, nil)
    var attributes = pthread_condattr_t()
    pthread_condattr_init(&attributes)
    pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
    pthread_cond_init(&condition, &attributes)
    pthread_condattr_destroy(&attributes)
  }

  deinit {
    pthread_cond_destroy(&condition)
    pthread_mutex_destroy(&mutex)
  }

  public func raise() {
    pthread_mutex_lock(&mutex)
    raised = true
    pthread_cond_signal(&condition)
    pthread_mutex_unlock(&mutex)
  }

  /// Waits until raised or `seconds` pass (nil: no limit); true when it was raised.
  @discardableResult
  public func wait(seconds: Double?) -> Bool {
    pthread_mutex_lock(&mutex)
    defer { pthread_mutex_unlock(&mutex) }
    if let seconds {
      var deadline = timespec()
      clock_gettime(CLOCK_MONOTONIC, &deadline)
      let nanoseconds = Int(deadline.tv_nsec) + Int(seconds.truncatingRemainder(dividingBy: 1) * 1e9)
      deadline.tv_sec += Int(seconds) + nanoseconds / 1_000_000_000
      deadline.tv_nsec = nanoseconds % 1_000_000_000
      while !raised {
        if pthread_cond_timedwait(&condition, &mutex, &deadline) == ETIMEDOUT { break }
      }
    } else {
      while !raised { pthread_cond_wait(&condition, &mutex) }
    }
    defer { raised = false }
    return raised
  }
}

/// Seconds on the monotonic clock, for intervals (back-off, grace periods) that must not jump.
public func monotonicSeconds() -> Double {
  var now = timespec()
  clock_gettime(CLOCK_MONOTONIC, &now)
  return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
