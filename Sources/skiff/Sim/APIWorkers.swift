// A few threads, each holding one keep-alive connection to the API server, that run the
// simulator's requests from one queue: thousands of hollow nodes without a thread or socket each.
import FoundationEssentials
import Glibc
import HTTP
import SystemKit

final class APIWorkers: @unchecked Sendable {
  typealias Job = @Sendable (BlockingHTTPConnection) throws -> Void
  typealias FailureHandler = @Sendable (any Error) -> Void

  private let server: ServerAddress
  private let condition = Condition()
  private var queue: [(job: Job, failed: FailureHandler)] = []
  private var head = 0
  /// Jobs submitted and not yet finished, for `waitUntilIdle`.
  private var unfinished = 0

  init(server: ServerAddress, threads: Int) {
    self.server = server
    for _ in 0..<threads {
      startThread(stackSize: 512 << 10) { [self] in work() }
    }
  }

  /// Runs `job` on the next free connection; `failed` hears what it threw, when a fresh connection
  /// did not help.
  func submit(_ job: @escaping Job, failed: @escaping FailureHandler = { warn("sim: \($0)") }) {
    condition.withLock {
      queue.append((job, failed))
      unfinished += 1
      condition.signal()
    }
  }

  func waitUntilIdle() {
    condition.withLock { while unfinished > 0 { condition.wait() } }
  }

  private func next() -> (job: Job, failed: FailureHandler) {
    condition.withLock {
      while head == queue.count { condition.wait() }
      let job = queue[head]
      head += 1
      // Compact now and then, so a long-running queue does not keep every job it ever ran.
      if head == queue.count || head > 1024 {
        queue.removeFirst(head)
        head = 0
      }
      return job
    }
  }

  private func work() {
    var connection: BlockingHTTPConnection?
    while true {
      let (job, failed) = next()
      // A keep-alive connection the server closed fails the first try; a fresh one gets a second.
      for attempt in 1...2 {
        do {
          if connection == nil { connection = try server.connect() }
          try job(connection!)
          break
        } catch let error as ConnectionError {
          connection = nil
          if attempt == 2 { failed(error) }
        } catch {
          failed(error)
          break
        }
      }
      condition.withLock {
        unfinished -= 1
        if unfinished == 0 { condition.broadcast() }
      }
    }
  }
}

/// An answer the simulator did not expect: the request went through, so sending it again as it
/// is would not help.
struct UnexpectedAnswer: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// One line on standard error, for what goes wrong without stopping the run.
func warn(_ message: String) {
  writeStandardError("skiff: \(message)\n")
}
