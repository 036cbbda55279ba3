// Watches: from now, from an old revision (memory, SQLite after reopening, or both), across
// compaction, and under concurrent writers — in revision order, with no gaps and no duplicates.
import Foundation
import Kernel
import Store
import XCTest

final class WatchTests: StoreTestCase {
  func testWatchFromNowDeliversLaterChangesUnderItsPrefixWithPreviousValues() throws {
    let v1 = try create("/w/a", "v1")
    let watch = try record(prefix: "/w/", from: 0)
    let v2 = try update("/w/a", "v2").get()
    try create("/x/outside", "ignored")
    let deleted = try delete("/w/a").get()
    let events = self.events(of: watch, count: 2)
    XCTAssertEqual(events, [WatchEvent(kind: .put, kv: v2, prev: v1),
                            WatchEvent(kind: .delete, kv: deleted, prev: v2)])
    XCTAssertEqual(events.map(\.revision), [2, 4])
  }

  func testWatchFromAnOldRevisionReplaysHistoryFromSQLiteAfterReopening() throws {
    try writeSomeHistory()
    let live = try record(from: 1)
    let original = events(of: live, count: 8)
    XCTAssertEqual(original.map(\.revision), Array(1...8))

    try reopen()
    let replayed = try record(from: 1)
    XCTAssertEqual(events(of: replayed, count: 8), original)
    let fromMiddle = try record(prefix: "/h/b", from: 3)
    let expected = original.filter { $0.revision >= 3 && $0.kv.key == "/h/b" }
    XCTAssertEqual(expected.map(\.revision), [5, 7, 8])
    XCTAssertEqual(events(of: fromMiddle, count: 3), expected)
    // Live changes follow the replay.
    let previous = store.get("/h/a")
    let next = try update("/h/a", "a4").get()
    XCTAssertEqual(events(of: replayed, count: 9).last, WatchEvent(kind: .put, kv: next, prev: previous))
  }

  func testWatchSpanningSQLiteAndTheInMemoryWindowHasNoSeam() throws {
    try reopen(recentEvents: 5)
    for index in 1...20 { try create("/s/\(index)", "\(index)") }
    let watch = try record(from: 3)
    XCTAssertEqual(events(of: watch, count: 18).map(\.revision), Array(3...20))
    try create("/s/21", "21")
    let events = events(of: watch, count: 19)
    XCTAssertEqual(events.map(\.revision), Array(3...21))
    XCTAssertEqual(events.map(\.kv.value), (3...21).map { bytes("\($0)") })
  }

  func testCompactionRefusesOlderWatchesAndKeepsWhatLaterEventsNeed() throws {
    try writeSomeHistory()  // revisions 1...8
    let compacted = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var outcome: Result<Int64, StoreError>?
    store.compact(keepingRevisionsAfter: 5) {
      outcome = $0
      compacted.signal()
    }
    XCTAssertEqual(compacted.wait(timeout: .now() + 30), .success)
    XCTAssertEqual(outcome, .success(5))
    XCTAssertEqual(store.compactedRevision, 5)
    XCTAssertThrowsError(try record(from: 5)) { XCTAssertEqual($0 as? StoreError, .compacted(5)) }
    XCTAssertThrowsError(try record(from: 1)) { XCTAssertEqual($0 as? StoreError, .compacted(5)) }

    // From SQLite only: events after the compacted revision still carry previous values that
    // are themselves at or below it.
    let before = try record(from: 6)
    let expected = events(of: before, count: 3)
    try reopen(recentEvents: 0)
    XCTAssertEqual(store.compactedRevision, 5)
    XCTAssertThrowsError(try record(from: 4)) { XCTAssertEqual($0 as? StoreError, .compacted(5)) }
    let after = try record(from: 6)
    XCTAssertEqual(events(of: after, count: 3), expected)
    XCTAssertEqual(expected.map(\.prev?.modRevision), [3, nil, 7])
    XCTAssertEqual(expected.first?.prev?.value, bytes("a2"))
    // Live keys whose last write is compacted history are still there.
    XCTAssertEqual(store.list(prefix: "").items.map(\.key), ["/h/a", "/h/c"])
    XCTAssertEqual(store.get("/h/c")?.modRevision, 4)
    // Compacting again below the mark is a no-op.
    store.compact(keepingRevisionsAfter: 2) {
      outcome = $0
      compacted.signal()
    }
    XCTAssertEqual(compacted.wait(timeout: .now() + 30), .success)
    XCTAssertEqual(outcome, .success(5))
  }

  func testAutoCompactionKeepsTheLastRevisions() throws {
    for index in 1...10 { try create("/auto/\(index)", "v") }
    store.autoCompact(every: .milliseconds(10), retain: 3)
    XCTAssertTrue(eventually { [store] in store!.compactedRevision == 7 })
    XCTAssertThrowsError(try record(from: 7)) { XCTAssertEqual($0 as? StoreError, .compacted(7)) }
    XCTAssertEqual(events(of: try record(from: 8), count: 3).map(\.revision), [8, 9, 10])
  }

  func testCancelledWatchGetsNothingMore() throws {
    let watch = try record(from: 0)
    try create("/c/1", "v")
    XCTAssertEqual(events(of: watch, count: 1).count, 1)
    try loop.submit { [store] in store!.cancel(watch.handle!) }
    try create("/c/2", "v")
    let witness = try record(from: 2)
    XCTAssertEqual(events(of: witness, count: 1).map(\.kv.key), ["/c/2"])
    XCTAssertEqual(try loop.submit { watch.events.count }, 1)
  }

  func testConcurrentWritersEveryRevisionIsWatchedOnceAndCompletedInOrder() throws {
    try create("/seed", "v")
    let watch = try record(from: 0)
    let store = self.store!
    nonisolated(unsafe) var completed: [Result<KeyValue, StoreError>] = []
    let writers = 4, keysPerWriter = 100
    DispatchQueue.concurrentPerform(iterations: writers) { writer in
      for index in 0..<keysPerWriter {
        let key = "/concurrent/\(writer)/\(index)"
        store.create(key, value: bytes("created")) { completed.append($0) }
        store.update(key, value: bytes("updated"), expectedModRevision: nil) { completed.append($0) }
      }
    }
    let total = writers * keysPerWriter * 2
    XCTAssertTrue(eventually { completed.count == total })
    let events = self.events(of: watch, count: total)
    XCTAssertEqual(events.count, total)
    XCTAssertEqual(events.map(\.revision), Array(2...Int64(total + 1)))
    let acknowledged = try loop.submit { completed }.map { try $0.get() }
    XCTAssertEqual(acknowledged.map(\.modRevision), Array(2...Int64(total + 1)), "completions out of revision order")
    XCTAssertEqual(events.map(\.kv), acknowledged)
    for event in events where event.kv.version == 2 {
      XCTAssertEqual(event.prev?.value, bytes("created"))
    }
  }

  func testWatchStartedWhileWritesArePendingResumesWithoutGapsOrDuplicates() throws {
    try reopen(recentEvents: 4)
    let store = self.store!
    for index in 0..<10 { try create("/r/\(index)", "v") }
    // Keep writing while watches start at different points in the past, some of them from
    // SQLite, some from memory; each must see a contiguous run up to the end.
    let writer = Thread {
      for index in 10..<400 { store.create("/r/\(index)", value: bytes("v")) { _ in } }
    }
    writer.start()
    var watches: [(from: Int64, recorder: WatchRecorder)] = []
    for from in stride(from: Int64(1), through: 300, by: 23) {
      watches.append((from, try record(prefix: "/r/", from: from)))
    }
    XCTAssertTrue(eventually { store.currentRevision == 400 })
    for (from, recorder) in watches {
      XCTAssertEqual(events(of: recorder, count: Int(401 - from)).map(\.revision), Array(from...400))
    }
  }

  /// Revisions 1...8: creates, updates and deletes over three keys.
  private func writeSomeHistory() throws {
    try create("/h/a", "a1")                       // 1
    try create("/h/b", "b1")                       // 2
    _ = try update("/h/a", "a2").get()             // 3
    try create("/h/c", "c1")                       // 4
    _ = try delete("/h/b").get()                   // 5
    _ = try update("/h/a", "a3").get()             // 6
    try create("/h/b", "b2")                       // 7
    _ = try delete("/h/b").get()                   // 8
  }
}
