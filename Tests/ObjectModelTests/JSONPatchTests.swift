// JSON Patch: every example of RFC 6902's Appendix A, and errors that name the operation.
import XCTest

@testable import ObjectModel

final class JSONPatchTests: XCTestCase {
  private func apply(_ patch: String, to document: String) throws -> String {
    try JSONPatch(JSON.parse(patch)).apply(to: JSON.parse(document)).description
  }

  private func assertFails(
    _ patch: String, on document: String, with expected: JSONPatchError,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertThrowsError(try apply(patch, to: document), file: file, line: line) { error in
      XCTAssertEqual(error as? JSONPatchError, expected, file: file, line: line)
    }
  }

  func testAppendixA() throws {
    // A.1 to A.8, A.10, A.11, A.14 and A.16: the ones that succeed.
    let cases: [(document: String, patch: String, result: String)] = [
      (#"{"foo":"bar"}"#, #"[{"op":"add","path":"/baz","value":"qux"}]"#,
       #"{"foo":"bar","baz":"qux"}"#),
      (#"{"foo":["bar","baz"]}"#, #"[{"op":"add","path":"/foo/1","value":"qux"}]"#,
       #"{"foo":["bar","qux","baz"]}"#),
      (#"{"baz":"qux","foo":"bar"}"#, #"[{"op":"remove","path":"/baz"}]"#, #"{"foo":"bar"}"#),
      (#"{"foo":["bar","qux","baz"]}"#, #"[{"op":"remove","path":"/foo/1"}]"#,
       #"{"foo":["bar","baz"]}"#),
      (#"{"baz":"qux","foo":"bar"}"#, #"[{"op":"replace","path":"/baz","value":"boo"}]"#,
       #"{"baz":"boo","foo":"bar"}"#),
      (#"{"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}"#,
       #"[{"op":"move","from":"/foo/waldo","path":"/qux/thud"}]"#,
       #"{"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}"#),
      (#"{"foo":["all","grass","cows","eat"]}"#, #"[{"op":"move","from":"/foo/1","path":"/foo/3"}]"#,
       #"{"foo":["all","cows","eat","grass"]}"#),
      (#"{"baz":"qux","foo":["a",2,"c"]}"#,
       #"[{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}]"#,
       #"{"baz":"qux","foo":["a",2,"c"]}"#),
      (#"{"foo":"bar"}"#, #"[{"op":"add","path":"/child","value":{"grandchild":{}}}]"#,
       #"{"foo":"bar","child":{"grandchild":{}}}"#),
      (#"{"foo":"bar"}"#, #"[{"op":"add","path":"/baz","value":"qux","xyz":123}]"#,
       #"{"foo":"bar","baz":"qux"}"#),
      (#"{"/":9,"~1":10}"#, #"[{"op":"test","path":"/~01","value":10}]"#, #"{"/":9,"~1":10}"#),
      (#"{"foo":["bar"]}"#, #"[{"op":"add","path":"/foo/-","value":["abc","def"]}]"#,
       #"{"foo":["bar",["abc","def"]]}"#),
    ]
    for (document, patch, result) in cases {
      XCTAssertEqual(try apply(patch, to: document), result, patch)
    }
  }

  func testAppendixAFailures() {
    // A.9: testing a value that differs.
    assertFails(
      #"[{"op":"test","path":"/baz","value":"bar"}]"#, on: #"{"baz":"qux","foo":["a",2,"c"]}"#,
      with: JSONPatchError(
        operationIndex: 0, operation: "test", path: "/baz",
        message: #"test failed: expected "bar", found "qux""#))
    // A.12: adding under a member that does not exist.
    assertFails(
      #"[{"op":"add","path":"/baz/bat","value":"qux"}]"#, on: #"{"foo":"bar"}"#,
      with: JSONPatchError(
        operationIndex: 0, operation: "add", path: "/baz/bat", message: "member 'baz' not found"))
    // A.13: a repeated "op"; the last wins, as in Go, and removing /baz fails.
    assertFails(
      #"[{"op":"add","path":"/baz","value":"qux","op":"remove"}]"#, on: #"{"foo":"bar"}"#,
      with: JSONPatchError(
        operationIndex: 0, operation: "remove", path: "/baz", message: "member 'baz' not found"))
    // A.15: a string is not a number.
    assertFails(
      #"[{"op":"test","path":"/~01","value":"10"}]"#, on: #"{"/":9,"~1":10}"#,
      with: JSONPatchError(
        operationIndex: 0, operation: "test", path: "/~01",
        message: #"test failed: expected "10", found 10"#))
  }

  func testTestComparesJSONValues() throws {
    // Objects in any order and numbers by value are equal, as RFC 6902 section 4.6 says.
    XCTAssertNoThrow(try apply(
      #"[{"op":"test","path":"/a","value":{"y":[1.0,null],"x":true}}]"#,
      to: #"{"a":{"x":true,"y":[1,null]}}"#))
    XCTAssertNoThrow(try apply(#"[{"op":"test","path":"/a","value":null}]"#, to: #"{"a":null}"#))
    assertFails(
      #"[{"op":"test","path":"/b","value":null}]"#, on: #"{"a":null}"#,
      with: JSONPatchError(
        operationIndex: 0, operation: "test", path: "/b", message: "test failed: no value here"))
  }

  func testCopyAndMoveEdgeCases() throws {
    XCTAssertEqual(
      try apply(#"[{"op":"copy","from":"/a","path":"/b"},{"op":"add","path":"/b/x","value":2}]"#,
                to: #"{"a":{"x":1}}"#),
      #"{"a":{"x":1},"b":{"x":2}}"#)
    XCTAssertEqual(
      try apply(#"[{"op":"move","from":"/a","path":"/a"}]"#, to: #"{"a":1}"#), #"{"a":1}"#)
    XCTAssertEqual(
      try apply(#"[{"op":"move","from":"/a/x","path":"/x"}]"#, to: #"{"a":{"x":1}}"#),
      #"{"a":{},"x":1}"#)
    assertFails(
      #"[{"op":"move","from":"/a","path":"/a/b"}]"#, on: #"{"a":{}}"#,
      with: JSONPatchError(
        operationIndex: 0, operation: "move", path: "/a/b",
        message: "cannot move /a into one of its own children"))
    assertFails(
      #"[{"op":"copy","from":"/nope","path":"/b"}]"#, on: #"{"a":1}"#,
      with: JSONPatchError(
        operationIndex: 0, operation: "copy", path: "/b", message: "from /nope: 'from' names no value"))
    assertFails(
      #"[{"op":"move","from":"/nope","path":"/b"}]"#, on: #"{"a":1}"#,
      with: JSONPatchError(
        operationIndex: 0, operation: "move", path: "/b", message: "from /nope: member 'nope' not found"))
  }

  func testWholeDocumentOperations() throws {
    XCTAssertEqual(try apply(#"[{"op":"replace","path":"","value":[1]}]"#, to: #"{"a":1}"#), "[1]")
    XCTAssertEqual(try apply(#"[{"op":"add","path":"","value":{"b":2}}]"#, to: #"{"a":1}"#), #"{"b":2}"#)
  }

  func testFailureNamesTheOperationAndLeavesTheDocumentAlone() throws {
    let document = try JSON.parse(Fixtures.deployment)
    let patch = try JSONPatch(JSON.parse(#"""
      [{"op":"replace","path":"/spec/replicas","value":7},
       {"op":"test","path":"/spec/template/spec/containers/0/name","value":"ml-model"},
       {"op":"remove","path":"/spec/template/spec/containers/1"}]
      """#))
    XCTAssertThrowsError(try patch.apply(to: document)) { error in
      XCTAssertEqual(
        (error as? JSONPatchError)?.description,
        "json patch operation 2 (remove /spec/template/spec/containers/1): "
          + "array index 1 is out of range (the array has 1 elements)")
    }
    XCTAssertEqual(document[path: ["spec", "replicas"]], 3)
  }

  func testKubectlRolloutUndo() throws {
    // What `kubectl rollout undo` sends: replace the template and the annotations.
    let document = try JSON.parse(Fixtures.deployment)
    let patch = try JSONPatch(JSON.parse(#"""
      [{"op":"replace","path":"/spec/template","value":{"metadata":{"labels":{"app":"ml-model"}},
        "spec":{"containers":[{"name":"ml-model","image":"your-registry/ml-model:v0.9.0"}]}}},
       {"op":"replace","path":"/metadata/annotations","value":{"deployment.kubernetes.io/revision":"3"}}]
      """#))
    let undone = try patch.apply(to: document)
    XCTAssertEqual(
      undone[path: ["spec", "template", "spec", "containers"]]?[0]?["image"],
      "your-registry/ml-model:v0.9.0")
    XCTAssertEqual(undone[path: ["metadata", "annotations"]], ["deployment.kubernetes.io/revision": "3"])
    XCTAssertEqual(undone[path: ["spec", "strategy"]], document[path: ["spec", "strategy"]])
  }

  func testMalformedPatchDocuments() {
    let cases: [(String, JSONPatchError)] = [
      (#"{"op":"add"}"#, JSONPatchError(
        operationIndex: nil, operation: nil, path: nil,
        message: "a JSON patch must be an array of operations, not an object")),
      (#"[1]"#, JSONPatchError(
        operationIndex: 0, operation: nil, path: nil,
        message: "an operation must be an object, not a number")),
      (#"[{"path":"/a"}]"#, JSONPatchError(
        operationIndex: 0, operation: nil, path: nil, message: "missing string member 'op'")),
      (#"[{"op":"test","path":"/a","value":1},{"op":"add","path":"/a"}]"#, JSONPatchError(
        operationIndex: 1, operation: "add", path: "/a", message: "missing member 'value'")),
      (#"[{"op":"move","path":"/a"}]"#, JSONPatchError(
        operationIndex: 0, operation: "move", path: "/a", message: "missing string member 'from'")),
      (#"[{"op":"remove","path":"a"}]"#, JSONPatchError(
        operationIndex: 0, operation: "remove", path: "a",
        message: "a JSON pointer must be empty or start with '/'")),
      (#"[{"op":"merge","path":"/a"}]"#, JSONPatchError(
        operationIndex: 0, operation: "merge", path: "/a",
        message: "unknown operation 'merge' (expected add, remove, replace, move, copy or test)")),
    ]
    for (text, expected) in cases {
      XCTAssertThrowsError(try JSONPatch(JSON.parse(text))) { error in
        XCTAssertEqual(error as? JSONPatchError, expected, text)
      }
    }
  }

  func testOperationsCanBeBuiltInCode() throws {
    let patch = JSONPatch(operations: [
      .add(path: try JSONPointer("/metadata/labels"), value: ["a": "b"]),
      .copy(from: try JSONPointer("/metadata/labels"), path: try JSONPointer("/spec")),
    ])
    XCTAssertEqual(patch.operations.map(\.name), ["add", "copy"])
    XCTAssertEqual(
      try patch.apply(to: ["metadata": [:]]).description,
      #"{"metadata":{"labels":{"a":"b"}},"spec":{"a":"b"}}"#)
  }
}
