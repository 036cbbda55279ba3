// Writes: one global revision, per-key create/mod revisions and versions, and the preconditions
// (exists, absent, expected revision) with the errors Kubernetes maps to 409 and 404.
import Foundation
import Store
import XCTest

final class WriteTests: StoreTestCase {
  func testEveryWriteBumpsOneRevisionAndKeysTrackTheirOwn() throws {
    XCTAssertEqual(store.currentRevision, 0)
    let a = try create("/a", "a1")
    XCTAssertEqual(a, KeyValue(key: "/a", value: bytes("a1"), createRevision: 1, modRevision: 1, version: 1))
    try create("/b", "b1")
    let updated = try update("/a", "a2").get()
    XCTAssertEqual(updated, KeyValue(key: "/a", value: bytes("a2"), createRevision: 1, modRevision: 3, version: 2))
    let deleted = try delete("/b").get()
    XCTAssertEqual(deleted, KeyValue(key: "/b", value: bytes("b1"), createRevision: 2, modRevision: 4, version: 1))
    XCTAssertEqual(store.currentRevision, 4)
    XCTAssertEqual(store.get("/a"), updated)
    XCTAssertNil(store.get("/b"))
    XCTAssertEqual(store.stats.writes, 4)
  }

  func testCompletionRunsOnTheLoopAfterReadsSeeTheWrite() throws {
    let loop = self.loop!, store = self.store!
    nonisolated(unsafe) var seenInCompletion: KeyValue?
    nonisolated(unsafe) var onLoop = false
    let outcome = completion { done in
      store.create("/k", value: bytes("v")) { result in
        onLoop = loop.inEventLoop
        seenInCompletion = store.get("/k")
        done(result)
      }
    }
    XCTAssertTrue(onLoop)
    XCTAssertEqual(seenInCompletion, try outcome.get())
  }

  func testCreatingAnExistingKeyFailsAndWritesNothing() throws {
    try create("/k", "v")
    XCTAssertEqual(completion { store.create("/k", value: bytes("w"), completion: $0) }, .failure(.alreadyExists))
    XCTAssertEqual(store.currentRevision, 1)
    XCTAssertEqual(store.get("/k")?.value, bytes("v"))
  }

  func testUpdateWithAStaleRevisionConflictsWithTheCurrentValue() throws {
    let first = try create("/k", "v1")
    let second = try update("/k", "v2").get()
    XCTAssertEqual(update("/k", "v3", expecting: first.modRevision), .failure(.conflict(current: second)))
    let third = try update("/k", "v3", expecting: second.modRevision).get()
    XCTAssertEqual(third.version, 3)
    XCTAssertEqual(store.get("/k"), third)
  }

  func testUpdateOrDeleteOfAMissingKeyIsNotFound() {
    XCTAssertEqual(update("/missing", "v"), .failure(.notFound))
    XCTAssertEqual(delete("/missing"), .failure(.notFound))
    XCTAssertEqual(delete("/missing", expecting: 1), .failure(.notFound))
    XCTAssertEqual(store.currentRevision, 0)
  }

  func testDeleteWithAndWithoutAPrecondition() throws {
    let kept = try create("/kept", "v")
    try create("/gone", "v")
    XCTAssertEqual(delete("/kept", expecting: kept.modRevision + 5), .failure(.conflict(current: kept)))
    XCTAssertEqual(try delete("/kept", expecting: kept.modRevision).get().modRevision, 3)
    XCTAssertEqual(try delete("/gone").get().modRevision, 4)
    XCTAssertNil(store.get("/kept"))
    XCTAssertNil(store.get("/gone"))
    // A key created again starts over.
    XCTAssertEqual(try create("/kept", "again"),
                   KeyValue(key: "/kept", value: bytes("again"), createRevision: 5, modRevision: 5, version: 1))
  }

  func testPreconditionsSeePendingWritesAndTheirVerdictsFollowThemInOrder() {
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var outcomes: [Result<KeyValue, StoreError>] = []
    let record: WriteCompletion = {
      outcomes.append($0)
      done.signal()
    }
    // Submitted back to back: each decision rests on the writes before it, committed or not.
    store.create("/k", value: bytes("v1"), completion: record)
    store.create("/k", value: bytes("again"), completion: record)
    store.update("/k", value: bytes("v2"), expectedModRevision: 1, completion: record)
    store.update("/k", value: bytes("stale"), expectedModRevision: 1, completion: record)
    store.delete("/k", expectedModRevision: nil, completion: record)
    store.update("/k", value: bytes("v3"), expectedModRevision: nil, completion: record)
    for _ in 0..<6 { XCTAssertEqual(done.wait(timeout: .now() + 30), .success) }
    let v1 = KeyValue(key: "/k", value: bytes("v1"), createRevision: 1, modRevision: 1, version: 1)
    let v2 = KeyValue(key: "/k", value: bytes("v2"), createRevision: 1, modRevision: 2, version: 2)
    var deleted = v2
    deleted.modRevision = 3
    XCTAssertEqual(outcomes, [.success(v1), .failure(.alreadyExists), .success(v2),
                              .failure(.conflict(current: v2)), .success(deleted), .failure(.notFound)])
  }

  func testWritesAfterCloseFail() {
    store.close()
    XCTAssertEqual(completion { store.create("/k", value: [], completion: $0) },
                   .failure(.io("\(path): the store is closed")))
  }

  func testEmptyValuesRoundTrip() throws {
    try create("/empty", "")
    try reopen()
    XCTAssertEqual(store.get("/empty")?.value, [])
  }
}
