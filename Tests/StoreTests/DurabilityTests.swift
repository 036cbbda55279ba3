// The file: state and revision survive reopening and kill -9, one store per file, and an idle
// store leaves the database, WAL and shared-memory files untouched.
import Foundation
import SkiffTestSupport
import Store
import Synchronization
import XCTest

final class DurabilityTests: StoreTestCase {
  func testReopeningRestoresKeysRevisionAndCompaction() throws {
    try create("/k/a", "a1")
    try create("/k/b", "b1")
    _ = try update("/k/a", "a2").get()
    _ = try delete("/k/b").get()
    try create("/k/c", "c1")
    let before = store.list(prefix: "/k/")
    store.compact(keepingRevisionsAfter: 2)
    XCTAssertTrue(eventually { [store] in store!.compactedRevision == 2 })

    try reopen()
    XCTAssertEqual(store.currentRevision, 5)
    XCTAssertEqual(store.compactedRevision, 2)
    XCTAssertEqual(store.list(prefix: "/k/"), before)
    XCTAssertEqual(try update("/k/a", "a3").get(),
                   KeyValue(key: "/k/a", value: bytes("a3"), createRevision: 1, modRevision: 6, version: 3))
  }

  func testAFailedCommitFailsWhatDependsOnItAndLeavesNoGapInRevisions() throws {
    store.close()
    store = try SQLiteStore(path: path, loop: loop, maximumSize: 256 * 1024)
    let small = try create("/quota/small", "v")
    let watch = try record(from: 0)
    // Past the quota: the commit fails, and so does a write whose precondition rested on it
    // (whether it was queued behind the failed batch or came after it).
    let tooBig = [UInt8](repeating: 7, count: 1 << 20)
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var outcomes: [Result<KeyValue, StoreError>] = []
    store.create("/quota/big", value: tooBig) {
      outcomes.append($0)
      done.signal()
    }
    store.update("/quota/big", value: bytes("v2"), expectedModRevision: nil) {
      outcomes.append($0)
      done.signal()
    }
    for _ in 0..<2 { XCTAssertEqual(done.wait(timeout: .now() + 30), .success) }
    guard case .failure(.io(let message)) = outcomes.first else { return XCTFail("\(outcomes)") }
    XCTAssertTrue(message.contains("full"), message)
    XCTAssertThrowsError(try outcomes[1].get())
    XCTAssertNil(store.get("/quota/big"))
    XCTAssertEqual(store.currentRevision, small.modRevision)
    // The store carries on where it was.
    let next = try create("/quota/next", "v")
    XCTAssertEqual(next.modRevision, small.modRevision + 1)
    XCTAssertEqual(events(of: watch, count: 1).map(\.kv), [next])
    try reopen()
    XCTAssertEqual(store.currentRevision, next.modRevision)
    XCTAssertEqual(store.list(prefix: "/quota/").items, [next, small])
  }

  func testASecondStoreOnTheSameFileIsRefused() throws {
    XCTAssertThrowsError(try SQLiteStore(path: path, loop: loop)) { error in
      XCTAssertEqual(error as? StoreError, .io("\(path) is already open in another store (one store per database file)"))
    }
    store.close()
    store = try SQLiteStore(path: path, loop: loop)
  }

  func testAnIdleStoreWritesNothing() throws {
    for index in 0..<50 { try create("/idle/\(index)", "v") }
    _ = try delete("/idle/0").get()
    // The compaction timer keeps firing while idle; after its one compaction it must find
    // nothing to do without touching the file.
    store.autoCompact(every: .milliseconds(20), retain: 10)
    XCTAssertTrue(eventually { [store] in store!.compactedRevision == 41 })
    let files = [path, path + "-wal", path + "-shm"]
    let before = try files.map(fileState)
    let watch = try record(from: 0)
    for _ in 0..<20 {
      usleep(100_000)
      _ = store.list(prefix: "/idle/")
      _ = store.get("/idle/7")
    }
    XCTAssertEqual(try files.map(fileState), before)
    XCTAssertEqual(try loop.submit { watch.events.count }, 0)
  }

  func testAcknowledgedWritesSurviveKillNine() throws {
    let torturePath = dir.appendingPathComponent("torture.db").path
    var acknowledged: [Int] = []
    for round in 1...5 {
      let process = Process()
      process.executableURL = URL(fileURLWithPath: Fixtures.buildDirectory + "/store-torture")
      process.arguments = [torturePath]
      let output = OutputCollector()
      process.standardOutput = output.pipe
      let errors = Pipe()
      process.standardError = errors
      try process.run()
      output.start()
      XCTAssertTrue(output.waitForFirstLine(), "round \(round): no write acknowledged")
      usleep(UInt32.random(in: 300_000...800_000))
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
      XCTAssertEqual(process.terminationReason, .uncaughtSignal,
                     String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
      let keys = output.completeLines()
      XCTAssertFalse(keys.isEmpty, "round \(round)")
      acknowledged += keys.map { Int($0.dropFirst("/torture/key-".count))! }
    }
    XCTAssertEqual(Set(acknowledged).count, acknowledged.count, "a number was acknowledged twice")

    store.close()
    store = try SQLiteStore(path: torturePath, loop: loop)
    for number in acknowledged {
      XCTAssertEqual(store.get("/torture/key-\(number)")?.value, bytes("\(number)"), "key-\(number) lost")
    }
    // History: every revision once, in order, each a create of its own key.
    let revision = store.currentRevision
    XCTAssertGreaterThanOrEqual(revision, Int64(acknowledged.count))
    let events = events(of: try record(from: 1), count: Int(revision))
    XCTAssertEqual(events.map(\.revision), Array(1...revision))
    XCTAssertEqual(Set(events.map(\.kv.key)).count, events.count)
    for event in events {
      XCTAssertEqual(event.kind, .put)
      XCTAssertEqual(event.kv.createRevision, event.revision)
      XCTAssertEqual(event.kv.value, bytes(String(event.kv.key.dropFirst("/torture/key-".count))))
    }
    XCTAssertEqual(store.list(prefix: "/torture/").items.count, Int(revision))
  }

  /// Size and modification time, which any write to the file would change.
  private func fileState(_ path: String) throws -> [String] {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return ["\(attributes[.size] ?? "?")", "\((attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"]
  }
}

/// Reads a child's stdout as it comes, so the child never blocks on a full pipe.
private final class OutputCollector: @unchecked Sendable {
  let pipe = Pipe()
  private let received = Mutex(Data())
  private let finished = DispatchSemaphore(value: 0)

  func start() {
    Thread { [self] in
      while true {
        let chunk = pipe.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        received.withLock { $0.append(chunk) }
      }
      finished.signal()
    }.start()
  }

  func waitForFirstLine(seconds: Double = 30) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if received.withLock({ $0.contains(UInt8(ascii: "\n")) }) { return true }
      usleep(5_000)
    }
    return false
  }

  /// Once the child is gone: every line it finished writing (a line cut by the kill is not one).
  func completeLines() -> [String] {
    finished.wait()
    var text = String(decoding: received.withLock { $0 }, as: UTF8.self)
    if let lastNewline = text.lastIndex(of: "\n") { text = String(text[...lastNewline]) } else { text = "" }
    return text.split(separator: "\n").map(String.init)
  }
}
