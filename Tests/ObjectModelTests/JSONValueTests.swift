// Reading and changing values in code: subscripts, paths, typed getters, equality.
import XCTest

@testable import ObjectModel

final class JSONValueTests: XCTestCase {
  func testTypedGetters() {
    let value: JSON = ["s": "x", "i": 3, "d": 2.5, "b": true, "n": nil, "a": [1], "o": ["k": 1]]
    XCTAssertEqual(value["s"]?.stringValue, "x")
    XCTAssertEqual(value["i"]?.intValue, 3)
    XCTAssertEqual(value["i"]?.doubleValue, 3)
    XCTAssertEqual(value["d"]?.doubleValue, 2.5)
    XCTAssertNil(value["d"]?.intValue)
    XCTAssertEqual(value["b"]?.boolValue, true)
    XCTAssertEqual(value["n"]?.isNull, true)
    XCTAssertEqual(value["a"]?.arrayValue, [1])
    XCTAssertEqual(value["o"]?.objectValue, ["k": 1])
    XCTAssertNil(value["s"]?.intValue)
    XCTAssertNil(value["missing"])
    XCTAssertNil(JSON.string("x")["key"])
  }

  func testIndexSubscript() {
    var value: JSON = ["a", "b", "c"]
    XCTAssertEqual(value[1], "b")
    XCTAssertNil(value[3])
    XCTAssertNil(value[-1])
    XCTAssertNil(JSON.object([:])[0])
    value[1] = "B"
    value[0] = nil
    XCTAssertEqual(value, ["B", "c"])
  }

  func testMemberSetterKeepsPositionsAndAppendsNewKeys() {
    var value: JSON = ["a": 1, "b": 2]
    value["a"] = 10
    value["c"] = 3
    value["b"] = nil
    XCTAssertEqual(value.description, #"{"a":10,"c":3}"#)
    // A member set on a non-object makes it an object; a removal leaves a non-object alone.
    var scalar: JSON = "text"
    scalar["x"] = nil
    XCTAssertEqual(scalar, "text")
    scalar["x"] = 1
    XCTAssertEqual(scalar, ["x": 1])
  }

  func testPathSubscript() {
    var pod: JSON = ["kind": "Pod", "metadata": ["name": "web"]]
    XCTAssertEqual(pod[path: ["metadata", "name"]], "web")
    XCTAssertNil(pod[path: ["metadata", "labels", "app"]])
    XCTAssertEqual(pod[path: []], pod)

    pod[path: ["metadata", "labels", "app"]] = "web"
    pod[path: ["metadata", "name"]] = "web-1"
    XCTAssertEqual(
      pod.description, #"{"kind":"Pod","metadata":{"name":"web-1","labels":{"app":"web"}}}"#)

    // Removing the leaf leaves its parents; removing a missing path creates nothing.
    pod[path: ["metadata", "labels", "app"]] = nil
    pod[path: ["spec", "nodeName"]] = nil
    pod[path: ["kind", "nested"]] = nil
    XCTAssertEqual(pod.description, #"{"kind":"Pod","metadata":{"name":"web-1","labels":{}}}"#)

    // A non-object in the way is replaced, as the member setter does.
    pod[path: ["kind", "nested"]] = 1
    XCTAssertEqual(pod["kind"], ["nested": 1])
  }

  func testEqualityIsJSONEquality() {
    // Objects are unordered; numbers compare by value.
    XCTAssertEqual(try JSON.parse(#"{"a":1,"b":[2,{"c":3}]}"#),
                   try JSON.parse(#"{"b":[2,{"c":3.0}],"a":1.0}"#))
    XCTAssertNotEqual(JSON.array([1, 2]), JSON.array([2, 1]))
    XCTAssertNotEqual(JSON.int(1), JSON.string("1"))
    XCTAssertNotEqual(JSON.int(1), JSON.double(1.5))
    // 2^63 rounds to no Int64: Int64.max is not it.
    XCTAssertNotEqual(JSON.int(.max), JSON.double(0x1p63))
    XCTAssertEqual(JSON.int(.min), JSON.double(-0x1p63))
    XCTAssertEqual(JSON.int(0), JSON.double(-0.0))
    XCTAssertNotEqual(JSON.object(["a": 1]), JSON.object(["a": 1, "b": 2]))
    XCTAssertNotEqual(JSON.object(["a": nil]), JSON.object([:]))
    XCTAssertNotEqual(JSON.bool(false), JSON.null)
  }

  func testEqualValuesHashEqually() throws {
    let a = try JSON.parse(#"{"x":1,"y":{"z":[true,2.0]}}"#)
    let b = try JSON.parse(#"{"y":{"z":[true,2]},"x":1.0}"#)
    XCTAssertEqual(a.hashValue, b.hashValue)
    XCTAssertEqual(Set([a, b, JSON.int(1), JSON.double(1)]).count, 2)
  }

  func testObjectBuildingAndOrder() {
    var object = JSONObject([("b", 1), ("a", 2), ("b", 3)])
    XCTAssertEqual(object.keys, ["b", "a"])
    XCTAssertEqual(object["b"], 3)
    XCTAssertEqual(object.index(forKey: "a"), 1)
    XCTAssertTrue(object.contains(key: "a"))
    XCTAssertEqual(object.removeValue(forKey: "b"), 3)
    XCTAssertNil(object.removeValue(forKey: "b"))
    object.modifyValue(forKey: "list", default: []) { list in list = [1] }
    object.modifyValue(forKey: "a") { value in value = "changed" }
    XCTAssertEqual(JSON.object(object).description, #"{"a":"changed","list":[1]}"#)
    object.removeAll { $0.key == "a" }
    XCTAssertEqual(object.map(\.key), ["list"])
  }

  func testKindDescriptions() {
    XCTAssertEqual(JSON.null.kindDescription, "null")
    XCTAssertEqual(JSON.int(1).kindDescription, "a number")
    XCTAssertEqual(JSON.array([]).kindDescription, "an array")
    XCTAssertEqual(JSON.object([:]).kindDescription, "an object")
  }
}
