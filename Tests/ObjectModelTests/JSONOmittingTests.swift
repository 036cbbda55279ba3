// Parsing that leaves members out unparsed, and splicing a member into stored bytes: both must
// agree with a whole parse on everything they keep.
import XCTest

@testable import ObjectModel

final class JSONOmittingTests: XCTestCase {
  /// Skipped values hold every kind of token a scanner could trip on: nested containers, strings
  /// with escaped quotes and brackets, numbers and literals.
  let pod = #"""
    {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","managedFields":[{"manager":"a\"]}","fieldsV1":{"f:spec":{"f:x":{}}},"n":-1.5e3,"t":true,"z":null}],"labels":{"app":"web"}},
     "spec":{"nodeName":"n1","managedFields":"kept: not under metadata"},"status":{"conditions":[{"type":"Ready"}],"phase":"Running"}}
    """#

  func testOmittedMembersAreLeftOutAndTheRestIsAsAWholeParse() throws {
    let whole = try JSON.parse(pod)
    let partial = try JSON.parse(Array(pod.utf8), omitting: [("metadata", "managedFields"), ("status", "conditions")])
    var expected = whole
    expected[path: ["metadata", "managedFields"]] = nil
    expected[path: ["status", "conditions"]] = nil
    XCTAssertEqual(partial, expected)
    XCTAssertEqual(partial[path: ["spec", "managedFields"]], "kept: not under metadata")
    XCTAssertEqual(partial[path: ["metadata", "labels", "app"]], "web")
    XCTAssertEqual(try JSON.parse(Array(pod.utf8), omitting: []), whole)
  }

  func testAnOmittedMemberLastOrAloneLeavesAValidObject() throws {
    let last = try JSON.parse(Array(#"{"metadata":{"name":"p","managedFields":[{"a":"}"}]}}"#.utf8),
                              omitting: [("metadata", "managedFields")])
    XCTAssertEqual(last, ["metadata": ["name": "p"]])
    let alone = try JSON.parse(Array(#"{"metadata":{ "managedFields" : {} } }"#.utf8), omitting: [("metadata", "managedFields")])
    XCTAssertEqual(alone, ["metadata": [:]])
  }

  func testATruncatedOmittedMemberIsAnError() {
    XCTAssertThrowsError(try JSON.parse(Array(#"{"metadata":{"managedFields":[{"a":"b"}"#.utf8),
                                        omitting: [("metadata", "managedFields")]))
    XCTAssertThrowsError(try JSON.parse(Array(#"{"metadata":{"managedFields":"abc"#.utf8),
                                        omitting: [("metadata", "managedFields")]))
  }

  func testSplicingAddsTheMemberFirstInTheNamedRootObject() throws {
    let spliced = try XCTUnwrap(JSON.splicing("resourceVersion", .string("42"), into: "metadata", of: Array(pod.utf8)))
    var expected = try JSON.parse(pod)
    expected[path: ["metadata", "resourceVersion"]] = "42"
    XCTAssertEqual(try JSON.parse(spliced), expected)
    XCTAssertTrue(String(decoding: spliced, as: UTF8.self).contains(#""metadata":{"resourceVersion":"42","name""#))
  }

  func testSplicingFindsTheRootMemberNotATextThatLooksLikeIt() throws {
    let tricky = Array(#"{"kind":"\"metadata\":{","spec":{"metadata":{}},"metadata":{}}"#.utf8)
    let spliced = try XCTUnwrap(JSON.splicing("resourceVersion", .string("7"), into: "metadata", of: tricky))
    XCTAssertEqual(try JSON.parse(spliced),
                   ["kind": #""metadata":{"#, "spec": ["metadata": [:]], "metadata": ["resourceVersion": "7"]])
    XCTAssertNil(JSON.splicing("resourceVersion", .string("7"), into: "metadata", of: Array(#"{"kind":"X"}"#.utf8)))
    let empty = try XCTUnwrap(JSON.splicing("conditions", [["type": "A\"B"]], into: "status", of: Array(#"{"status":{ }}"#.utf8)))
    XCTAssertEqual(try JSON.parse(empty), ["status": ["conditions": [["type": "A\"B"]]]])
    XCTAssertNil(JSON.splicing("resourceVersion", .string("7"), into: "metadata", of: Array(#"{"metadata":"x"}"#.utf8)))
  }
}
