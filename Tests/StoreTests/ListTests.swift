// Lists: key order, prefix boundaries, paging with a continue key and limit, and the revision a
// page was read at — over enough keys that the in-memory index splits and merges its chunks.
import Foundation
import Store
import XCTest

final class ListTests: StoreTestCase {
  func testListIsInKeyOrderWithinThePrefix() throws {
    for key in ["/registry/pods/b/x", "/registry/pods/a/y", "/registry/podsecurity/z", "/registry/pods/a/x",
                "/registry/nodes/n1", "/registry/pods/c/x"] {
      try create(key, key)
    }
    let page = store.list(prefix: "/registry/pods/")
    XCTAssertEqual(page.items.map(\.key),
                   ["/registry/pods/a/x", "/registry/pods/a/y", "/registry/pods/b/x", "/registry/pods/c/x"])
    XCTAssertEqual(page.items.map(\.value), page.items.map { bytes($0.key) })
    XCTAssertEqual(page.revision, 6)
    XCTAssertFalse(page.more)
    XCTAssertEqual(store.list(prefix: "").items.count, 6)
    XCTAssertEqual(store.list(prefix: "/registry/jobs/").items, [])
  }

  func testPagesFollowTheContinueKeyUntilNoMoreRemain() throws {
    for index in [4, 0, 6, 2, 5, 1, 3] { try create("/p/\(index)", "\(index)") }
    try create("/q/0", "outside the prefix")
    var pages: [[String]] = []
    var after: String?
    var more = true
    while more {
      let page = store.list(prefix: "/p/", limit: 3, after: after)
      pages.append(page.items.map(\.key))
      after = page.items.last?.key
      more = page.more
    }
    XCTAssertEqual(pages, [["/p/0", "/p/1", "/p/2"], ["/p/3", "/p/4", "/p/5"], ["/p/6"]])
    // A limit that ends exactly at the last key says there is no more.
    XCTAssertFalse(store.list(prefix: "/p/", limit: 7, after: nil).more)
    XCTAssertTrue(store.list(prefix: "/p/", limit: 6, after: nil).more)
    // A continue key that no longer exists still resumes after it.
    XCTAssertEqual(try delete("/p/3").get().key, "/p/3")
    XCTAssertEqual(store.list(prefix: "/p/", limit: 2, after: "/p/3").items.map(\.key), ["/p/4", "/p/5"])
    // A continue key before the prefix starts at the prefix.
    XCTAssertEqual(store.list(prefix: "/p/", limit: 1, after: "/a").items.map(\.key), ["/p/0"])
  }

  func testForEachVisitsThePrefixInKeyOrderAtTheRevisionItReturns() throws {
    for key in ["/r/b", "/r/a", "/rz", "/q/a", "/r/c"] { try create(key, key) }
    _ = try delete("/r/b").get()
    var visited: [KeyValue] = []
    let revision = store.forEach(prefix: "/r/") { visited.append($0) }
    XCTAssertEqual(revision, 6)
    XCTAssertEqual(visited.map(\.key), ["/r/a", "/r/c"])
    XCTAssertEqual(visited, store.list(prefix: "/r/").items)
  }

  func testReopeningOrdersKeysAsSwiftDoesWhereSQLiteOrdersTheirBytesOtherwise() throws {
    // The store file returns keys in UTF-8 byte order; Swift compares Unicode scalars after
    // normalising: "e" + combining acute sorts before "f" as bytes but is "é", after "f", to Swift.
    let decomposed = "/u/e\u{301}z", composed = "/u/\u{E9}a"
    for key in [decomposed, composed, "/u/a", "/u/f"] { try create(key, key) }
    let order = ["/u/a", "/u/f", composed, decomposed]
    XCTAssertEqual(store.list(prefix: "/u/").items.map(\.key), order)
    try reopen()
    XCTAssertEqual(store.list(prefix: "/u/").items.map(\.key), order)
    for key in order { XCTAssertEqual(store.get(key)?.value, bytes(key)) }
  }

  func testManyKeysInsertedAndDeletedInRandomOrderStaySorted() throws {
    var generator = SystemRandomNumberGenerator()
    let keys = (0..<2_000).map { String(format: "/many/%05d", $0) }
    let done = DispatchSemaphore(value: 0)
    for key in keys.shuffled(using: &generator) {
      store.create(key, value: bytes(key)) { _ in done.signal() }
    }
    for _ in keys { done.wait() }
    let deleted = Set(keys.shuffled(using: &generator).prefix(1_300))
    for key in deleted { store.delete(key, expectedModRevision: nil) { _ in done.signal() } }
    for _ in deleted { done.wait() }
    let remaining = keys.filter { !deleted.contains($0) }
    XCTAssertEqual(store.list(prefix: "/many/").items.map(\.key), remaining)
    for key in keys.prefix(50) { XCTAssertEqual(store.get(key)?.value, deleted.contains(key) ? nil : bytes(key)) }
    try reopen()
    XCTAssertEqual(store.list(prefix: "/many/").items.map(\.key), remaining)
  }
}
