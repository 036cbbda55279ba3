// JSON Merge Patch: RFC 7386's worked example and every case of its Appendix A.
import XCTest

@testable import ObjectModel

final class MergePatchTests: XCTestCase {
  func testAppendixA() throws {
    let cases: [(target: String, patch: String, result: String)] = [
      (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
      (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
      (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
      (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
      (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
      (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
      (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
      (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
      (#"["a","b"]"#, #"["c","d"]"#, #"["c","d"]"#),
      (#"{"a":"b"}"#, #"["c"]"#, #"["c"]"#),
      (#"{"a":"foo"}"#, #"null"#, #"null"#),
      (#"{"a":"foo"}"#, #""bar""#, #""bar""#),
      (#"{"e":null}"#, #"{"a":1}"#, #"{"e":null,"a":1}"#),
      (#"[1,2]"#, #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
      (#"{}"#, #"{"a":{"bb":{"ccc":null}}}"#, #"{"a":{"bb":{}}}"#),
    ]
    for (target, patch, result) in cases {
      let merged = MergePatch.apply(try JSON.parse(patch), to: try JSON.parse(target))
      XCTAssertEqual(merged.description, result, "\(target) + \(patch)")
    }
  }

  func testSection3Example() throws {
    let target = try JSON.parse(#"""
      {"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},
       "tags":["example","sample"],"content":"This will be unchanged"}
      """#)
    let patch = try JSON.parse(#"""
      {"title":"Hello!","phoneNumber":"+01-123-456-7890","author":{"familyName":null},
       "tags":["example"]}
      """#)
    XCTAssertEqual(
      MergePatch.apply(patch, to: target).description,
      #"{"title":"Hello!","author":{"givenName":"John"},"tags":["example"],"#
        + #""content":"This will be unchanged","phoneNumber":"+01-123-456-7890"}"#)
  }

  func testKubectlLabelAndScale() throws {
    let pod = try JSON.parse(Fixtures.pod)
    let unlabeled = MergePatch.apply(
      try JSON.parse(#"{"metadata":{"labels":{"app":null}}}"#), to: pod)
    XCTAssertEqual(unlabeled[path: ["metadata", "labels"]], ["pod-template-hash": "7d4b9c6f8d"])
    let labeled = MergePatch.apply(
      try JSON.parse(#"{"metadata":{"labels":{"tier":"frontend"}}}"#), to: pod)
    XCTAssertEqual(labeled[path: ["metadata", "labels", "tier"]], "frontend")
    XCTAssertEqual(labeled[path: ["metadata", "labels", "app"]], "ml-model")

    // Everything the patch does not name is untouched, down to the bytes.
    var expected = pod
    expected[path: ["metadata", "labels", "tier"]] = "frontend"
    XCTAssertEqual(labeled.serialized(), expected.serialized())
  }

  func testApplyingInPlace() throws {
    var deployment = try JSON.parse(Fixtures.deployment)
    MergePatch.apply(try JSON.parse(#"{"spec":{"replicas":5}}"#), into: &deployment)
    XCTAssertEqual(deployment[path: ["spec", "replicas"]], 5)
  }
}
