// The loop: tasks from any thread in order, timers, the thread pool, signals and an orderly stop.
import Foundation
import Kernel
import XCTest

final class EventLoopTests: XCTestCase {
  func testTasksFromManyThreadsRunOnTheLoopInPostingOrderPerThread() throws {
    let loop = EventLoop()
    let thread = loop.runInBackground()
    nonisolated(unsafe) var seen: [Int: [Int]] = [:]
    nonisolated(unsafe) var offLoop = 0
    DispatchQueue.concurrentPerform(iterations: 4) { worker in
      for i in 0..<500 {
        loop.execute {
          if !loop.inEventLoop { offLoop += 1 }
          seen[worker, default: []].append(i)
        }
      }
    }
    try loop.submit {}  // every task posted before this one has run
    XCTAssertEqual(offLoop, 0)
    for worker in 0..<4 { XCTAssertEqual(seen[worker], Array(0..<500)) }
    XCTAssertFalse(loop.inEventLoop)
    loop.stop()
    XCTAssertTrue(waitUntil { thread.isFinished })
  }

  func testTimersFireOnceOrRepeatUntilClosed() throws {
    let loop = EventLoop()
    loop.runInBackground()
    defer { loop.stop() }
    nonisolated(unsafe) var once = 0, repeated = 0
    try loop.submit {
      _ = loop.scheduleTimer(after: 1) { _ in once += 1 }
      _ = loop.scheduleTimer(after: 1, repeating: 1) { timer in
        repeated += 1
        if repeated == 5 { timer.close() }
      }
    }
    XCTAssertTrue(waitUntil { (try? loop.submit { once == 1 && repeated == 5 }) == true })
    usleep(20_000)
    XCTAssertEqual(try loop.submit { [once, repeated] }, [1, 5])
  }

  func testQueueWorkRunsOffTheLoopThenReturns() throws {
    let loop = EventLoop()
    loop.runInBackground()
    defer { loop.stop() }
    nonisolated(unsafe) var workOnLoop: Bool?
    nonisolated(unsafe) var afterOnLoop: Bool?
    loop.queueWork({ workOnLoop = loop.inEventLoop }, then: { afterOnLoop = loop.inEventLoop })
    XCTAssertTrue(waitUntil { (try? loop.submit { afterOnLoop != nil }) == true })
    XCTAssertEqual(workOnLoop, false)
    XCTAssertEqual(afterOnLoop, true)
  }

  func testSignalHandlerRunsOnTheLoop() throws {
    let loop = EventLoop()
    loop.runInBackground()
    defer { loop.stop() }
    nonisolated(unsafe) var received = false
    try loop.submit { _ = loop.onSignal(SIGUSR1) { received = loop.inEventLoop } }
    kill(getpid(), SIGUSR1)
    XCTAssertTrue(waitUntil { (try? loop.submit { received }) == true })
  }

  func testStopClosesHandlesAndRunReturns() throws {
    let loop = EventLoop()
    let thread = loop.runInBackground()
    try loop.submit {
      _ = loop.scheduleTimer(after: 60_000, repeating: 60_000) { _ in }
      _ = loop.onSignal(SIGUSR2) {}
    }
    loop.stop()
    XCTAssertTrue(waitUntil { thread.isFinished }, "a live timer or signal kept the loop running")
  }

  private func waitUntil(seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if condition() { return true }
      usleep(2_000)
    }
    return false
  }
}
