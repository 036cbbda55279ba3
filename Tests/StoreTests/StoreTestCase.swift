// What the store tests share: a store on a real SQLite file in a scratch folder, its event loop
// on a background thread, and waiting wrappers around the asynchronous writes and watches.
import Foundation
import Kernel
import SkiffTestSupport
import Store
import XCTest

class StoreTestCase: XCTestCase {
  var dir: URL!
  var loop: EventLoop!
  var store: SQLiteStore!
  var path: String { dir.appendingPathComponent("store.db").path }

  override func setUpWithError() throws {
    dir = try Fixtures.temporaryDirectory()
    loop = EventLoop()
    loop.runInBackground()
    store = try SQLiteStore(path: path, loop: loop)
  }

  override func tearDown() {
    store?.close()
    loop.stop()
    try? FileManager.default.removeItem(at: dir)
  }

  /// Closes the store and opens the same file again, with nothing in memory but what it loads.
  func reopen(recentEvents: Int = 10_000) throws {
    store.close()
    store = try SQLiteStore(path: path, loop: loop, recentEvents: recentEvents)
  }

  // MARK: Writes, waited for

  /// Starts a write and waits for its completion (which runs on the loop).
  func completion(of write: (@escaping WriteCompletion) -> Void,
                  file: StaticString = #filePath, line: UInt = #line) -> Result<KeyValue, StoreError> {
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var outcome: Result<KeyValue, StoreError> = .failure(.io("no completion"))
    write {
      outcome = $0
      done.signal()
    }
    XCTAssertEqual(done.wait(timeout: .now() + 30), .success, "the write never completed", file: file, line: line)
    return outcome
  }

  @discardableResult
  func create(_ key: String, _ value: String) throws -> KeyValue {
    try completion { store.create(key, value: bytes(value), completion: $0) }.get()
  }

  func update(_ key: String, _ value: String, expecting revision: Int64? = nil) -> Result<KeyValue, StoreError> {
    completion { store.update(key, value: bytes(value), expectedModRevision: revision, completion: $0) }
  }

  func delete(_ key: String, expecting revision: Int64? = nil) -> Result<KeyValue, StoreError> {
    completion { store.delete(key, expectedModRevision: revision, completion: $0) }
  }

  // MARK: Watches

  /// Starts a watch on the loop whose events gather in the returned recorder.
  func record(prefix: String = "", from revision: Int64) throws -> WatchRecorder {
    let recorder = WatchRecorder()
    recorder.handle = try loop.submit { [store] in
      try store!.watch(prefix: prefix, fromRevision: revision) { recorder.events.append($0) }
    }
    return recorder
  }

  /// The recorder's events once it holds `count` of them (or after 30 s, failing).
  func events(of recorder: WatchRecorder, count: Int,
              file: StaticString = #filePath, line: UInt = #line) -> [WatchEvent] {
    XCTAssertTrue(eventually { recorder.events.count >= count },
                  "expected \(count) events", file: file, line: line)
    return (try? loop.submit { recorder.events }) ?? []
  }

  /// Polls `condition` on the loop until it holds or 30 s pass.
  func eventually(_ condition: @escaping () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(30)
    while Date() < deadline {
      if (try? loop.submit(condition)) == true { return true }
      usleep(2_000)
    }
    return false
  }
}

/// A watch's events, appended and read on the loop.
final class WatchRecorder: @unchecked Sendable {
  var handle: WatchHandle?
  var events: [WatchEvent] = []
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
