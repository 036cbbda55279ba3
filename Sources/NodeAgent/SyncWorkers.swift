// A few threads that sync the pods of one pass side by side, so that one slow runtime call (a
// `runc create` takes hundreds of milliseconds) does not hold back every other pod's start.
import SystemKit

final class SyncWorkers: @unchecked Sendable {
  private let condition = Condition()
  /// The pass being worked on: the jobs not yet taken, and how many have not finished.
  private var queue: [() -> Void] = []
  private var unfinished = 0

  /// Starts `count` threads, asleep (no CPU) until a pass comes.
  init(count: Int) {
    for index in 0..<count {
      startThread(name: "agent-sync-\(index)") { [self] in work() }
    }
  }

  /// Runs every job on the workers and returns once all have finished. Each job is one pod's
  /// whole sync, so a pod's own steps (init containers, then containers) keep their order, and no
  /// pod is synced by two threads at once, since the next pass waits for this one.
  func runAll(_ jobs: [() -> Void]) {
    guard jobs.count > 1 else { return jobs.forEach { $0() } }
    condition.withLock {
      queue = jobs.reversed()
      unfinished = jobs.count
      condition.broadcast()
      while unfinished > 0 { condition.wait() }
    }
  }

  private func work() {
    while true {
      let job: () -> Void = condition.withLock {
        while queue.isEmpty { condition.wait() }
        return queue.removeLast()
      }
      job()
      condition.withLock {
        unfinished -= 1
        // Wakes the pass's caller (and idle workers, who find the queue empty and sleep again).
        if unfinished == 0 { condition.broadcast() }
      }
    }
  }
}
