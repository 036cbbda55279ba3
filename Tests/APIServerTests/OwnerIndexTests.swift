// The byte scan that decides which stored writes the owner index parses: it must find the key
// wherever it stands and nowhere else.
import XCTest

@testable import APIServer

final class OwnerIndexTests: XCTestCase {
  func testTheScanFindsTheKeyAnywhereAndOnlyTheKey() {
    func scan(_ text: String) -> Bool { OwnerIndex.mentionsOwners(Array(text.utf8)) }
    XCTAssertTrue(scan(#""ownerReferences""#), "the whole text")
    XCTAssertTrue(scan(#"{"metadata":{"ownerReferences":[]}}"#))
    XCTAssertTrue(scan(#"{"Ready":"R","x":"ownerR","ownerReferences""#), "after near misses, at the very end")
    XCTAssertFalse(scan(#"{"ownerReference":"R","OwnerReferences":1,"ownerReferencesX":2}"#), "only near misses")
    XCTAssertFalse(scan(#"{"kind":"ReplicaSet","status":{"phase":"Running"}}"#))
    XCTAssertFalse(scan("R"))
    XCTAssertFalse(scan(""))
    XCTAssertFalse(scan(#"ownerReferences""#), "no opening quote")
  }
}
