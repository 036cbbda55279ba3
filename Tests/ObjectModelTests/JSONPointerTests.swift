// JSON Pointer (RFC 6901): parsing, escaping, lookup, and the add/replace/remove that JSON Patch
// builds on.
import XCTest

@testable import ObjectModel

final class JSONPointerTests: XCTestCase {
  /// The document from RFC 6901, section 5.
  let document = try! JSON.parse(#"""
    {"foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3, "g|h": 4, "i\\j": 5,
     "k\"l": 6, " ": 7, "m~n": 8}
    """#)

  func testRFC6901Examples() throws {
    let expectations: [(String, JSON)] = [
      ("", document), ("/foo", ["bar", "baz"]), ("/foo/0", "bar"), ("/", 0), ("/a~1b", 1),
      ("/c%d", 2), ("/e^f", 3), ("/g|h", 4), ("/i\\j", 5), ("/k\"l", 6), ("/ ", 7),
      ("/m~0n", 8),
    ]
    for (text, expected) in expectations {
      XCTAssertEqual(document.value(at: try JSONPointer(text)), expected, text)
    }
  }

  func testTokensAndDescription() throws {
    XCTAssertEqual(try JSONPointer("").tokens, [])
    XCTAssertEqual(try JSONPointer("/").tokens, [""])
    XCTAssertEqual(try JSONPointer("/a//b/").tokens, ["a", "", "b", ""])
    // "~01" is "~1" unescaped once, not "/".
    XCTAssertEqual(try JSONPointer("/~01/~10").tokens, ["~1", "/0"])
    for text in ["", "/", "/a~1b/m~0n", "/~01", "/metadata/labels/app.kubernetes.io~1name"] {
      XCTAssertEqual(try JSONPointer(text).description, text)
    }
    XCTAssertEqual(JSONPointer(tokens: ["a/b", "~"]).description, "/a~1b/~0")
  }

  func testRejectsMalformedPointers() {
    for (text, message) in [
      ("a", "a JSON pointer must be empty or start with '/'"),
      ("/~2", "'~' must be followed by '0' or '1'"),
      ("/a~", "'~' must be followed by '0' or '1'"),
    ] {
      XCTAssertThrowsError(try JSONPointer(text)) { error in
        XCTAssertEqual(error as? JSONPointerError, JSONPointerError(pointer: text, message: message))
      }
    }
  }

  func testArrayIndexesMustBeCanonical() throws {
    XCTAssertNil(document.value(at: try JSONPointer("/foo/01")))
    XCTAssertNil(document.value(at: try JSONPointer("/foo/-")))
    XCTAssertNil(document.value(at: try JSONPointer("/foo/2")))
    XCTAssertNil(document.value(at: try JSONPointer("/foo/+1")))
    XCTAssertNil(document.value(at: try JSONPointer("/foo/0/x")))
    XCTAssertNil(document.value(at: try JSONPointer("/missing")))
  }

  func testAddInsertsIntoArraysAndSetsMembers() throws {
    var value: JSON = ["list": [1, 3], "map": ["a": 1]]
    try value.addValue(2, at: JSONPointer("/list/1"))
    try value.addValue(4, at: JSONPointer("/list/-"))
    try value.addValue(0, at: JSONPointer("/list/0"))
    try value.addValue(5, at: JSONPointer("/list/5"))
    try value.addValue(2, at: JSONPointer("/map/b"))
    try value.addValue(10, at: JSONPointer("/map/a"))
    XCTAssertEqual(value.description, #"{"list":[0,1,2,3,4,5],"map":{"a":10,"b":2}}"#)
    try value.addValue("whole", at: JSONPointer(""))
    XCTAssertEqual(value, "whole")
  }

  func testReplaceAndRemoveNeedAnExistingTarget() throws {
    var value: JSON = ["list": [1, 2, 3], "map": ["a": 1, "b": 2]]
    try value.replaceValue(at: JSONPointer("/list/2"), with: 30)
    try value.replaceValue(at: JSONPointer("/map/a"), with: 10)
    XCTAssertEqual(try value.removeValue(at: JSONPointer("/list/0")), 1)
    XCTAssertEqual(try value.removeValue(at: JSONPointer("/map/b")), 2)
    XCTAssertEqual(value.description, #"{"list":[2,30],"map":{"a":10}}"#)

    let failures: [(() throws -> Void, String, String)] = [
      ({ try value.replaceValue(at: JSONPointer("/map/zz"), with: 1) }, "/map/zz",
       "member 'zz' not found"),
      ({ try value.removeValue(at: JSONPointer("/list/2")) }, "/list/2",
       "array index 2 is out of range (the array has 2 elements)"),
      ({ try value.removeValue(at: JSONPointer("/list/-")) }, "/list/-",
       "'-' is not a valid array index"),
      ({ try value.addValue(1, at: JSONPointer("/list/3")) }, "/list/3",
       "array index 3 is out of range (the array has 2 elements)"),
      ({ try value.addValue(1, at: JSONPointer("/nothing/here")) }, "/nothing/here",
       "member 'nothing' not found"),
      ({ try value.addValue(1, at: JSONPointer("/map/a/deeper")) }, "/map/a/deeper",
       "cannot descend into a number, only objects and arrays"),
      ({ try value.removeValue(at: JSONPointer("")) }, "",
       "the whole document cannot be removed"),
    ]
    for (operation, pointer, message) in failures {
      XCTAssertThrowsError(try operation()) { error in
        XCTAssertEqual(error as? JSONPointerError, JSONPointerError(pointer: pointer, message: message))
      }
    }
    // Failed operations change nothing.
    XCTAssertEqual(value.description, #"{"list":[2,30],"map":{"a":10}}"#)
  }

  func testDeepChangesHappenInPlace() throws {
    var value: JSON = ["spec": ["containers": [["name": "a", "env": []]]]]
    try value.addValue(["name": "X"], at: JSONPointer("/spec/containers/0/env/-"))
    XCTAssertEqual(value[path: ["spec", "containers"]]?[0]?["env"], [["name": "X"]])
  }
}
