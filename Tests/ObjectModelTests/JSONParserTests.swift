// The parser against RFC 8259: what it accepts, what it refuses, and where its errors point.
import XCTest

@testable import ObjectModel

final class JSONParserTests: XCTestCase {
  func testScalars() throws {
    XCTAssertEqual(try JSON.parse("null"), .null)
    XCTAssertEqual(try JSON.parse("true"), .bool(true))
    XCTAssertEqual(try JSON.parse("false"), .bool(false))
    XCTAssertEqual(try JSON.parse(#""text""#), .string("text"))
    XCTAssertEqual(try JSON.parse(" \t\r\n 42 \n"), .int(42))
  }

  func testIntegersThatFitInt64StayIntegers() throws {
    XCTAssertEqual(try JSON.parse("0").intValue, 0)
    XCTAssertEqual(try JSON.parse("-0").intValue, 0)
    XCTAssertEqual(try JSON.parse("-123").intValue, -123)
    XCTAssertEqual(try JSON.parse("9223372036854775807").intValue, Int64.max)
    XCTAssertEqual(try JSON.parse("-9223372036854775808").intValue, Int64.min)
  }

  func testOtherNumbersAreDoubles() throws {
    // One past Int64 either way, and far past UInt64, become doubles as in Kubernetes.
    for text in ["9223372036854775808", "-9223372036854775809"] {
      let value = try JSON.parse(text)
      XCTAssertNil(value.intValue, text)
      XCTAssertEqual(value.doubleValue?.magnitude, 0x1p63, text)
    }
    XCTAssertEqual(try JSON.parse("123456789012345678901234567890"), .double(1.2345678901234568e29))
    guard case .double(let oneAsDouble) = try JSON.parse("1.0") else {
      return XCTFail("1.0 should parse as a double")
    }
    XCTAssertEqual(oneAsDouble, 1)
    XCTAssertEqual(try JSON.parse("1.5"), .double(1.5))
    XCTAssertEqual(try JSON.parse("-2.5e3"), .double(-2500))
    XCTAssertEqual(try JSON.parse("1E-2"), .double(0.01))
    XCTAssertEqual(try JSON.parse("4e+2"), .double(400))
  }

  func testContainers() throws {
    XCTAssertEqual(try JSON.parse("[]"), .array([]))
    XCTAssertEqual(try JSON.parse("{}"), .object([:]))
    XCTAssertEqual(
      try JSON.parse(#" { "a" : [ 1 , { "b" : null } , [ ] ] , "c" : { } } "#),
      ["a": [1, ["b": nil], []], "c": [:]])
  }

  func testObjectKeysKeepTheirOrder() throws {
    let object = try XCTUnwrap(JSON.parse(#"{"zeta":1,"alpha":2,"mid":3}"#).objectValue)
    XCTAssertEqual(object.keys, ["zeta", "alpha", "mid"])
  }

  func testRepeatedKeyKeepsFirstPlaceAndLastValue() throws {
    let object = try XCTUnwrap(JSON.parse(#"{"a":1,"b":2,"a":3}"#).objectValue)
    XCTAssertEqual(object.keys, ["a", "b"])
    XCTAssertEqual(object["a"], 3)
    // Large objects take the hashed path to find repeats.
    let members = (0..<40).map { #""k\#($0)":\#($0)"# }.joined(separator: ",")
    let large = try XCTUnwrap(JSON.parse("{\(members),\"k7\":\"again\"}").objectValue)
    XCTAssertEqual(large.count, 40)
    XCTAssertEqual(large["k7"], "again")
    XCTAssertEqual(large.keys[7], "k7")
  }

  func testEscapes() throws {
    XCTAssertEqual(
      try JSON.parse(#""\"\\\/\b\f\n\r\t""#), .string("\"\\/\u{08}\u{0C}\n\r\t"))
    XCTAssertEqual(try JSON.parse(#""caf\u00e9 \u00E9""#), .string("café é"))
    XCTAssertEqual(try JSON.parse(#""\u003cb\u003e \u0026""#), .string("<b> &"))
    XCTAssertEqual(try JSON.parse(#""\ud83d\ude80""#), .string("🚀"))
    XCTAssertEqual(try JSON.parse(#""a\u0000b""#), .string("a\u{0}b"))
  }

  func testLoneSurrogatesBecomeReplacementCharacters() throws {
    // As Go's decoder does, rather than refusing the document.
    XCTAssertEqual(try JSON.parse(#""\ud800x""#), .string("\u{FFFD}x"))
    XCTAssertEqual(try JSON.parse(#""\udc00""#), .string("\u{FFFD}"))
    XCTAssertEqual(try JSON.parse(#""\ud83d\u0041""#), .string("\u{FFFD}A"))
  }

  func testRawUnicode() throws {
    XCTAssertEqual(try JSON.parse("\"ünïcödé ✓ 🚀 \u{2028}\""), .string("ünïcödé ✓ 🚀 \u{2028}"))
    XCTAssertEqual(try JSON.parse("{\"ключ\":\"值\"}"), ["ключ": "值"])
  }

  func testEveryInputForm() throws {
    let text = #"{"a":[1,2]}"#
    let expected: JSON = ["a": [1, 2]]
    XCTAssertEqual(try JSON.parse(Array(text.utf8)), expected)
    XCTAssertEqual(try JSON.parse(text.utf8), expected)
    XCTAssertEqual(try JSON.parse(ArraySlice(Array("xx\(text)".utf8).dropFirst(2))), expected)
    // A collection without contiguous storage is copied first.
    XCTAssertEqual(try JSON.parse(text.utf8.lazy.map { $0 }), expected)
    let bytes = Array(text.utf8)
    XCTAssertEqual(try bytes.withUnsafeBytes { try JSON.parse($0) }, expected)
  }

  // MARK: Rejections

  /// Asserts that parsing fails with `message` at byte `offset`, line and column.
  private func assertRejects(
    _ text: String, _ message: String, offset: Int, line: Int = 1, column: Int? = nil,
    file: StaticString = #filePath, lineNumber: UInt = #line
  ) {
    assertRejects(
      Array(text.utf8), message, offset: offset, line: line, column: column ?? offset + 1,
      file: file, lineNumber: lineNumber)
  }

  private func assertRejects(
    _ bytes: [UInt8], _ message: String, offset: Int, line: Int = 1, column: Int,
    file: StaticString = #filePath, lineNumber: UInt = #line
  ) {
    do {
      let value = try JSON.parse(bytes)
      XCTFail("parsed \(value) from \(bytes)", file: file, line: lineNumber)
    } catch {
      XCTAssertEqual(
        error, JSONError(offset: offset, line: line, column: column, message: message),
        file: file, line: lineNumber)
    }
  }

  func testRejectsEmptyAndTruncatedInput() {
    assertRejects("", "unexpected end of input, expected a value", offset: 0)
    assertRejects("   ", "unexpected end of input, expected a value", offset: 3)
    assertRejects("[1,", "unexpected end of input, expected a value", offset: 3)
    assertRejects(
      #"{"a":1"#, "unexpected end of input, expected ',' or '}' after object member", offset: 6)
    assertRejects("[1", "unexpected end of input, expected ',' or ']' after array element", offset: 2)
    assertRejects(#"{"a""#, "expected ':' after object key", offset: 4)
    assertRejects(#""abc"#, "unterminated string", offset: 0)
    assertRejects(#""abc\"#, "unterminated string", offset: 4)
  }

  func testRejectsTrailingCommas() {
    assertRejects(
      #"{"a":1,}"#, "expected a string key after ',' (trailing commas are not allowed)", offset: 7)
    assertRejects("[1,]", "expected a value after ',' (trailing commas are not allowed)", offset: 3)
  }

  func testRejectsMissingSeparators() {
    assertRejects(#"{"a":1 "b":2}"#, "expected ',' or '}' after object member", offset: 7)
    assertRejects("[1 2]", "expected ',' or ']' after array element", offset: 3)
    assertRejects(#"{"a" 1}"#, "expected ':' after object key", offset: 5)
    assertRejects(#"{"a":1,2}"#, "expected a string key after ','", offset: 7)
  }

  func testRejectsWhatJavaScriptAllowsButJSONDoesNot() {
    assertRejects("{a:1}", "expected a string key or '}'", offset: 1)
    assertRejects("{'a':1}", "expected a string key or '}'", offset: 1)
    assertRejects("// note\n{}", "expected a value", offset: 0)
    assertRejects("[1 /* two */]", "expected ',' or ']' after array element", offset: 3)
    assertRejects("NaN", "expected a value", offset: 0)
    assertRejects("Infinity", "expected a value", offset: 0)
    assertRejects("-Infinity", "expected a digit in number", offset: 1)
    assertRejects("undefined", "expected a value", offset: 0)
    assertRejects("\u{FEFF}{}", "expected a value", offset: 0)
  }

  func testRejectsBadLiterals() {
    assertRejects("tru", "invalid literal, expected 'true'", offset: 0)
    assertRejects("nul", "invalid literal, expected 'null'", offset: 0)
    assertRejects("True", "expected a value", offset: 0)
    assertRejects("[falsey]", "expected ',' or ']' after array element", offset: 6)
  }

  func testRejectsBadNumbers() {
    assertRejects("01", "leading zeros are not allowed in numbers", offset: 0)
    assertRejects("-01", "leading zeros are not allowed in numbers", offset: 0)
    assertRejects("+1", "expected a value", offset: 0)
    assertRejects(".5", "expected a value", offset: 0)
    assertRejects("1.", "expected a digit after the decimal point", offset: 2)
    assertRejects("1.e5", "expected a digit after the decimal point", offset: 2)
    assertRejects("1e", "expected a digit in the exponent", offset: 2)
    assertRejects("1e+", "expected a digit in the exponent", offset: 3)
    assertRejects("-", "expected a digit in number", offset: 1)
    assertRejects("0x10", "unexpected data after the JSON value", offset: 1)
    assertRejects("1e400", "number 1e400 is out of range", offset: 0)
    assertRejects("[-1e999]", "number -1e999 is out of range", offset: 1)
  }

  func testRejectsBadStrings() {
    assertRejects("\"a\tb\"", "unescaped control character in string", offset: 2)
    assertRejects("\"a\nb\"", "unescaped control character in string", offset: 2)
    assertRejects(#""\x""#, "invalid escape sequence in string", offset: 1)
    assertRejects(#""\'""#, "invalid escape sequence in string", offset: 1)
    assertRejects(#""ab\u12G4""#, "invalid \\u escape in string", offset: 3)
    assertRejects(#""\u12""#, "invalid \\u escape in string", offset: 1)
    // After an escape, the slow path still refuses control characters.
    assertRejects("\"\\n\u{01}\"", "unescaped control character in string", offset: 3)
  }

  func testRejectsInvalidUTF8() {
    let quote = UInt8(ascii: "\"")
    // A lone continuation byte, a truncated sequence, an overlong "/", an encoded surrogate,
    // a value past U+10FFFF, and a byte that never appears in UTF-8.
    for (bad, offset) in [
      ([0x80], 1), ([0xC3, 0x28], 1), ([0xC0, 0xAF], 1), ([0xE0, 0x80, 0xAF], 1),
      ([0xED, 0xA0, 0x80], 1), ([0xF4, 0x90, 0x80, 0x80], 1), ([0xFF], 1),
      ([0x61, 0x62, 0xE2, 0x82], 3),
    ] as [([UInt8], Int)] {
      assertRejects(
        [quote] + bad + [quote], "invalid UTF-8 in string", offset: offset, column: offset + 1)
    }
    // Also on the slow path, after an escape.
    assertRejects(
      [quote, UInt8(ascii: "\\"), UInt8(ascii: "n"), 0xC3, quote], "invalid UTF-8 in string",
      offset: 3, column: 4)
    // Outside a string, a non-ASCII byte is simply not a value.
    assertRejects([0xC3, 0xA9], "expected a value", offset: 0, column: 1)
  }

  func testRejectsTrailingData() {
    assertRejects("[1] x", "unexpected data after the JSON value", offset: 4)
    assertRejects("{}{}", "unexpected data after the JSON value", offset: 2)
    assertRejects("1 2", "unexpected data after the JSON value", offset: 2)
  }

  func testRejectsNestingPastTheLimit() throws {
    let deepest = String(repeating: "[", count: JSON.maximumDepth)
      + String(repeating: "]", count: JSON.maximumDepth)
    XCTAssertNoThrow(try JSON.parse(deepest))
    let tooDeep = String(repeating: "[", count: JSON.maximumDepth + 1)
    assertRejects(
      tooDeep, "nesting deeper than \(JSON.maximumDepth) levels", offset: JSON.maximumDepth)
  }

  func testErrorPositionsCountLinesAndCharacters() throws {
    let text = "{\n  \"a\": 1,\n  \"b\" 2\n}"
    assertRejects(text, "expected ':' after object key", offset: 18, line: 3, column: 7)
    // é is two bytes but one column.
    assertRejects("[\"é\", x]", "expected a value", offset: 7, column: 7)
    XCTAssertThrowsError(try JSON.parse(text)) { error in
      XCTAssertEqual(
        "\(error)", "line 3, column 7 (byte 18): expected ':' after object key")
    }
  }

  func testRepeatedFieldsAreLocatedByPath() throws {
    var repeated: [String] = []
    let value = try JSON.parse(Array(#"{"a":1,"spec":{"items":[{"x":1},{"x":2,"y":0,"x":3}],"b":1,"b":2},"a":2}"#.utf8),
                               repeatedFields: &repeated)
    XCTAssertEqual(repeated, ["spec.items[1].x", "spec.b", "a"])
    XCTAssertEqual(value, try JSON.parse(#"{"a":2,"spec":{"items":[{"x":1},{"x":3,"y":0}],"b":2}}"#))
    var none: [String] = []
    _ = try JSON.parse(Array(#"{"a":{"a":1}}"#.utf8), repeatedFields: &none)
    XCTAssertEqual(none, [])
  }
}
