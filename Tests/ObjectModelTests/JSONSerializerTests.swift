// Output must match Go's encoding/json byte for byte, so stored objects print as Kubernetes
// prints them; and a compact document must survive parse and print unchanged.
import XCTest

@testable import ObjectModel

final class JSONSerializerTests: XCTestCase {
  func testStoredObjectsRoundTripByteForByte() throws {
    for text in [Fixtures.deployment, Fixtures.pod] {
      let bytes = Array(text.utf8)
      XCTAssertEqual(try JSON.parse(bytes).serialized(), bytes)
      XCTAssertEqual(try JSON.parse(text).description, text)
    }
  }

  func testRoundTripKeepsUnknownFieldsAndTheirOrder() throws {
    let text = #"{"spec":{"zz":1,"futureField":{"nested":[true,null,-1.5]},"aa":"x"},"apiVersion":"v9"}"#
    XCTAssertEqual(try JSON.parse(text).description, text)
  }

  func testSerializeAppendsToABuffer() throws {
    var output = Array("prefix:".utf8)
    JSON.object(["a": [1, "b"]]).serialize(into: &output)
    XCTAssertEqual(String(decoding: output, as: UTF8.self), #"prefix:{"a":[1,"b"]}"#)
  }

  func testScalars() {
    XCTAssertEqual(JSON.null.description, "null")
    XCTAssertEqual(JSON.bool(true).description, "true")
    XCTAssertEqual(JSON.bool(false).description, "false")
    XCTAssertEqual(JSON.int(0).description, "0")
    XCTAssertEqual(JSON.int(-7).description, "-7")
    XCTAssertEqual(JSON.int(Int64.max).description, "9223372036854775807")
    XCTAssertEqual(JSON.int(Int64.min).description, "-9223372036854775808")
    XCTAssertEqual(JSON.array([]).description, "[]")
    XCTAssertEqual(JSON.object([:]).description, "{}")
  }

  func testEscapingMatchesGo() {
    // HTML-sensitive characters, as Go escapes them by default and Kubernetes keeps.
    XCTAssertEqual(JSON.string("<a href=\"x\">&</a>").description,
                   #""\u003ca href=\"x\"\u003e\u0026\u003c/a\u003e""#)
    XCTAssertEqual(JSON.string("back\\slash / slash").description, #""back\\slash / slash""#)
    XCTAssertEqual(JSON.string("\u{08}\u{0C}\n\r\t").description, #""\b\f\n\r\t""#)
    XCTAssertEqual(JSON.string("\u{0}\u{1}\u{1F}").description, #""\u0000\u0001\u001f""#)
    // DEL is not a control character to JSON.
    XCTAssertEqual(JSON.string("\u{7F}").description, "\"\u{7F}\"")
    // JavaScript's line terminators, escaped; other non-ASCII copied as UTF-8.
    XCTAssertEqual(JSON.string("a\u{2028}b\u{2029}c").description, #""a\u2028b\u2029c""#)
    XCTAssertEqual(JSON.string("café ✓ 🚀 \u{2027}\u{202A}").description,
                   "\"café ✓ 🚀 \u{2027}\u{202A}\"")
    // Keys are escaped the same way.
    XCTAssertEqual(JSON.object(["<k>": 1]).description, #"{"\u003ck\u003e":1}"#)
  }

  func testEscapingInLongStringsOnEveryByteBoundary() {
    // The scanner steps eight bytes at a time: put each special at every offset in a word.
    for special in ["\"", "\\", "<", ">", "&", "\n", "\u{1}", "\u{2028}"] {
      for offset in 0..<17 {
        let text = String(repeating: "x", count: offset) + special + String(repeating: "y", count: 9)
        let printed = JSON.string(text).description
        XCTAssertEqual(try JSON.parse(printed), .string(text), "\(special) at \(offset)")
        XCTAssertFalse(
          printed.dropFirst().dropLast().contains(where: { "<>&\n\u{1}\u{2028}".contains($0) }),
          "\(special) at \(offset) was not escaped in \(printed)")
      }
    }
  }

  func testDoublesPrintAsGoPrintsFloat64() {
    let cases: [(Double, String)] = [
      (1, "1"), (-1, "-1"), (1.5, "1.5"), (-0.0, "-0"), (0, "0"), (0.1, "0.1"),
      (100, "100"), (123_456_789.125, "123456789.125"), (1e20, "100000000000000000000"),
      (1e21, "1e+21"), (1.5e21, "1.5e+21"), (0.000001, "0.000001"), (1e-7, "1e-7"),
      (1.5e-7, "1.5e-7"), (1.25e-10, "1.25e-10"), (0.000001234, "0.000001234"),
      (1.2345678901234567e19, "12345678901234567000"),
      (9_223_372_036_854_775_808, "9223372036854776000"),
      (1.7976931348623157e308, "1.7976931348623157e+308"), (.leastNonzeroMagnitude, "5e-324"),
      (2.5e-5, "0.000025"), (3.14159, "3.14159"),
    ]
    for (value, expected) in cases {
      XCTAssertEqual(JSON.double(value).description, expected, "\(value)")
    }
  }

  func testParsedDoublesPrintInGoForm() throws {
    XCTAssertEqual(try JSON.parse("[1.0,1.50,2e3,1E-7,0.5]").description, "[1,1.5,2000,1e-7,0.5]")
  }

  func testNonFiniteDoublesPrintAsNull() {
    XCTAssertEqual(JSON.double(.nan).description, "null")
    XCTAssertEqual(JSON.double(.infinity).description, "null")
  }
}
