// Many submitters at once: racing conditional updates have exactly one winner, and group commit
// puts concurrent writes into shared transactions.
import Foundation
import Store
import XCTest

final class ConcurrencyTests: StoreTestCase {
  func testRacingConditionalUpdatesHaveExactlyOneWinner() throws {
    let store = self.store!
    for round in 0..<20 {
      let key = "/race/\(round)"
      let base = try create(key, "base")
      let racers = 8
      let done = DispatchSemaphore(value: 0)
      nonisolated(unsafe) var outcomes: [Result<KeyValue, StoreError>] = []
      DispatchQueue.concurrentPerform(iterations: racers) { racer in
        store.update(key, value: bytes("racer \(racer)"), expectedModRevision: base.modRevision) {
          outcomes.append($0)
          done.signal()
        }
      }
      for _ in 0..<racers { XCTAssertEqual(done.wait(timeout: .now() + 30), .success) }
      let winners = outcomes.compactMap { try? $0.get() }
      XCTAssertEqual(winners.count, 1, "round \(round): \(outcomes)")
      guard let winner = winners.first else { continue }
      XCTAssertEqual(winner.version, 2)
      for case .failure(let error) in outcomes { XCTAssertEqual(error, .conflict(current: winner)) }
      XCTAssertEqual(store.get(key), winner)
    }
  }

  func testGroupCommitPutsConcurrentWritesIntoSharedTransactions() {
    let store = self.store!
    let writers = 8, keysPerWriter = 250
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var failures: [StoreError] = []
    DispatchQueue.concurrentPerform(iterations: writers) { writer in
      for index in 0..<keysPerWriter {
        store.create("/group/\(writer)/\(index)", value: bytes("v")) {
          if case .failure(let error) = $0 { failures.append(error) }
          done.signal()
        }
      }
    }
    for _ in 0..<writers * keysPerWriter { XCTAssertEqual(done.wait(timeout: .now() + 60), .success) }
    XCTAssertEqual(failures, [])
    let stats = store.stats
    XCTAssertEqual(stats.writes, writers * keysPerWriter)
    // Each commit is an fsync; 2,000 writes queued faster than commits complete share them.
    XCTAssertLessThan(stats.commits, stats.writes, "\(stats)")
  }

  func testOneWriterAtATimeGetsOneCommitPerWrite() throws {
    for index in 0..<20 { try create("/serial/\(index)", "v") }
    XCTAssertEqual(store.stats.writes, 20)
    XCTAssertEqual(store.stats.commits, 20)
  }
}
