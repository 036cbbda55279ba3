// Strict RFC 8259 parsing from UTF-8 bytes, with errors that name the byte, line and column: a
// malformed request body must come back to the user as a message they can act on.

/// Why a document is not JSON, and where: `offset` counts bytes from 0, `line` and `column` count
/// from 1, and `column` counts characters (Unicode scalars), as an editor does.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
  public let offset: Int
  public let line: Int
  public let column: Int
  public let message: String

  public var description: String { "line \(line), column \(column) (byte \(offset)): \(message)" }
}

extension JSON {
  /// Deeper documents are refused rather than risk the stack: Kubernetes objects nest about
  /// twenty levels, and the parser, printer and patches all recurse.
  public static let maximumDepth = 512

  /// Parses one JSON text: RFC 8259 exactly (no comments, trailing commas, NaN or byte-order
  /// mark), UTF-8 validated. Integers that fit in 64 bits become `.int`, other numbers `.double`.
  /// A repeated object key keeps its first position and its last value, as Go's encoding/json
  /// (and so Kubernetes) lets the last one win. Lone UTF-16 surrogates in `\u` escapes become
  /// U+FFFD, also as Go does.
  public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONError) -> JSON {
    try bytes.withMemoryRebound(to: UInt8.self) { bytes in
      Result { () throws(JSONError) in
        var parser = JSONParser(bytes)
        return try parser.parseDocument()
      }
    }.get()
  }

  public static func parse(_ bytes: some Collection<UInt8>) throws(JSONError) -> JSON {
    let result = bytes.withContiguousStorageIfAvailable { bytes in
      Result { () throws(JSONError) in try parse(UnsafeRawBufferPointer(bytes)) }
    }
    if let result { return try result.get() }
    return try parse(Array(bytes))
  }

  /// Parses as `parse` does, and lists the fields given more than once, by path as Kubernetes'
  /// strict decoding names them ("spec.containers[0].image"). The paths cost a second pass,
  /// taken only when a repeated key was seen.
  public static func parse(_ bytes: [UInt8], repeatedFields: inout [String]) throws(JSONError) -> JSON {
    try bytes.withUnsafeBufferPointer { buffer in
      Result { () throws(JSONError) in
        var parser = JSONParser(buffer)
        let value = try parser.parseDocument()
        if parser.sawRepeatedKey {
          var tracking = JSONParser(buffer)
          tracking.path = []
          _ = try tracking.parseDocument()
          repeatedFields = tracking.repeatedFields
        }
        return value
      }
    }.get()
  }

  /// Parses bytes this server wrote, leaving out, unparsed, the members that `omitting` names by
  /// their two keys below the root (`("metadata", "managedFields")`): for readers that never look
  /// at them, such as the scheduler and watch selectors, which need a pod's spec and labels but
  /// not its field ownership (a third of a stored pod's bytes, and most of its small objects).
  /// What is left out is scanned to its end, not validated.
  public static func parse(_ bytes: some Collection<UInt8>, omitting: [(String, String)]) throws(JSONError) -> JSON {
    let result = bytes.withContiguousStorageIfAvailable { buffer in
      Result { () throws(JSONError) in
        var parser = JSONParser(buffer)
        parser.omitted = omitting
        return try parser.parseDocument()
      }
    }
    if let result { return try result.get() }
    return try parse(Array(bytes), omitting: omitting)
  }

  public static func parse(_ text: String) throws(JSONError) -> JSON {
    var text = text
    return try text.withUTF8 { bytes in
      Result { () throws(JSONError) in try parse(UnsafeRawBufferPointer(bytes)) }
    }.get()
  }
}

private enum ASCII {
  static let quote = UInt8(ascii: "\"")
  static let backslash = UInt8(ascii: "\\")
  static let slash = UInt8(ascii: "/")
  static let comma = UInt8(ascii: ",")
  static let colon = UInt8(ascii: ":")
  static let openBrace = UInt8(ascii: "{")
  static let closeBrace = UInt8(ascii: "}")
  static let openBracket = UInt8(ascii: "[")
  static let closeBracket = UInt8(ascii: "]")
  static let minus = UInt8(ascii: "-")
  static let plus = UInt8(ascii: "+")
  static let dot = UInt8(ascii: ".")
  static let zero = UInt8(ascii: "0")
  static let nine = UInt8(ascii: "9")
}

/// A recursive-descent parser over a borrowed buffer. Members and elements gather on two shared
/// stacks and move into an exactly sized array when their container closes, so each container
/// costs one allocation and no reference counting on the way.
private struct JSONParser: ~Copyable {
  let bytes: UnsafeBufferPointer<UInt8>
  var position = 0
  var depth = 0
  var members = MoveStack<JSONObject.Member>()
  var elements = MoveStack<JSON>()
  /// Where a string with escapes is assembled; reused across strings.
  var scratch: [UInt8] = []
  var sawRepeatedKey = false
  /// The keys and "[index]" steps down to the value being parsed, when repeated fields are
  /// being located; nil otherwise.
  var path: [String]?
  var repeatedFields: [String] = []
  /// Members left out, by their parent's key in the root object and their own key; with the key
  /// of the root member being parsed.
  var omitted: [(String, String)] = []
  var rootKey = ""

  init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

  mutating func parseDocument() throws(JSONError) -> JSON {
    skipWhitespace()
    let value = try parseValue()
    skipWhitespace()
    if position < bytes.count { throw error("unexpected data after the JSON value") }
    return value
  }

  // MARK: Values

  mutating func parseValue() throws(JSONError) -> JSON {
    guard position < bytes.count else { throw error("unexpected end of input, expected a value") }
    switch bytes[position] {
    case ASCII.openBrace: return try parseObject()
    case ASCII.openBracket: return try parseArray()
    case ASCII.quote: return .string(try parseString())
    case UInt8(ascii: "t"):
      try expectLiteral("true")
      return .bool(true)
    case UInt8(ascii: "f"):
      try expectLiteral("false")
      return .bool(false)
    case UInt8(ascii: "n"):
      try expectLiteral("null")
      return .null
    case ASCII.minus, ASCII.zero...ASCII.nine: return try parseNumber()
    default: throw error("expected a value")
    }
  }

  mutating func expectLiteral(_ literal: StaticString) throws(JSONError) {
    let count = literal.utf8CodeUnitCount
    let matches = literal.withUTF8Buffer { expected in
      position + count <= bytes.count
        && (0..<count).allSatisfy { bytes[position + $0] == expected[$0] }
    }
    guard matches else { throw error("invalid literal, expected '\(literal)'") }
    position += count
  }

  mutating func parseObject() throws(JSONError) -> JSON {
    try enterContainer()
    position += 1
    skipWhitespace()
    if position < bytes.count, bytes[position] == ASCII.closeBrace {
      position += 1
      depth -= 1
      return .object(JSONObject())
    }
    let base = members.count
    while true {
      guard position < bytes.count, bytes[position] == ASCII.quote else {
        if members.count == base { throw error("expected a string key or '}'") }
        if position < bytes.count, bytes[position] == ASCII.closeBrace {
          throw error("expected a string key after ',' (trailing commas are not allowed)")
        }
        throw error("expected a string key after ','")
      }
      let key = try parseString()
      skipWhitespace()
      guard position < bytes.count, bytes[position] == ASCII.colon else {
        throw error("expected ':' after object key")
      }
      position += 1
      skipWhitespace()
      if !omitted.isEmpty {
        if depth == 1 {
          rootKey = key
        } else if depth == 2, omitted.contains(where: { $0.0 == rootKey && $0.1 == key }) {
          try skipValue()
          skipWhitespace()
          guard position < bytes.count else {
            throw error("unexpected end of input, expected ',' or '}' after object member")
          }
          if bytes[position] == ASCII.closeBrace { break }
          guard bytes[position] == ASCII.comma else { throw error("expected ',' or '}' after object member") }
          position += 1
          skipWhitespace()
          continue
        }
      }
      path?.append(key)
      let value = try parseValue()
      path?.removeLast()
      members.push(JSONObject.Member(key: key, value: value))
      skipWhitespace()
      guard position < bytes.count else {
        throw error("unexpected end of input, expected ',' or '}' after object member")
      }
      let delimiter = bytes[position]
      if delimiter == ASCII.closeBrace { break }
      guard delimiter == ASCII.comma else { throw error("expected ',' or '}' after object member") }
      position += 1
      skipWhitespace()
    }
    position += 1
    depth -= 1
    let object = members.popAll(from: base)
    if Self.hasRepeatedKey(object) {
      sawRepeatedKey = true
      if let path { recordRepeatedKeys(object, under: path) }
      return .object(JSONObject(object.map { ($0.key, $0.value) }))
    }
    return .object(JSONObject(uniqueMembers: object))
  }

  /// Pairwise for the small objects that are nearly all of Kubernetes, hashed for large ones
  /// (a ConfigMap's data can hold thousands of keys).
  static func hasRepeatedKey(_ members: [JSONObject.Member]) -> Bool {
    if members.count <= 16 {
      for i in members.indices.dropFirst() {
        // Lengths first: comparing two different strings costs more than comparing counts.
        let key = members[i].key
        let length = key.utf8.count
        for j in 0..<i where members[j].key.utf8.count == length && members[j].key == key {
          return true
        }
      }
      return false
    }
    var seen = Set<String>(minimumCapacity: members.count)
    return !members.allSatisfy { seen.insert($0.key).inserted }
  }

  mutating func recordRepeatedKeys(_ object: [JSONObject.Member], under path: [String]) {
    var seen = Set<String>()
    var reported = Set<String>()
    for member in object where !seen.insert(member.key).inserted && reported.insert(member.key).inserted {
      var text = ""
      for step in path + [member.key] {
        if !text.isEmpty && !step.hasPrefix("[") { text += "." }
        text += step
      }
      repeatedFields.append(text)
    }
  }

  mutating func parseArray() throws(JSONError) -> JSON {
    try enterContainer()
    position += 1
    skipWhitespace()
    if position < bytes.count, bytes[position] == ASCII.closeBracket {
      position += 1
      depth -= 1
      return .array([])
    }
    let base = elements.count
    while true {
      if position < bytes.count, bytes[position] == ASCII.closeBracket {
        throw error("expected a value after ',' (trailing commas are not allowed)")
      }
      path?.append("[\(elements.count - base)]")
      elements.push(try parseValue())
      path?.removeLast()
      skipWhitespace()
      guard position < bytes.count else {
        throw error("unexpected end of input, expected ',' or ']' after array element")
      }
      let delimiter = bytes[position]
      if delimiter == ASCII.closeBracket { break }
      guard delimiter == ASCII.comma else { throw error("expected ',' or ']' after array element") }
      position += 1
      skipWhitespace()
    }
    position += 1
    depth -= 1
    let array = elements.popAll(from: base)
    return .array(array)
  }

  /// Steps over one value without building it (see `omitting`): strings to their closing quote,
  /// containers to their matching bracket.
  mutating func skipValue() throws(JSONError) {
    guard position < bytes.count else { throw error("unexpected end of input, expected a value") }
    switch bytes[position] {
    case ASCII.quote:
      try skipString()
    case ASCII.openBrace, ASCII.openBracket:
      let opening = position
      var nesting = 0
      while position < bytes.count {
        switch bytes[position] {
        case ASCII.quote:
          try skipString()
          continue
        case ASCII.openBrace, ASCII.openBracket:
          nesting += 1
        case ASCII.closeBrace, ASCII.closeBracket:
          nesting -= 1
          if nesting == 0 {
            position += 1
            return
          }
        default: break
        }
        position += 1
      }
      throw error("unexpected end of input in an unclosed container", at: opening)
    default:
      _ = try parseValue()  // a number or literal: nothing to spare
    }
  }

  mutating func skipString() throws(JSONError) {
    let opening = position
    position += 1
    while position < bytes.count {
      skipPlainASCII()
      guard position < bytes.count else { break }
      switch bytes[position] {
      case ASCII.quote:
        position += 1
        return
      case ASCII.backslash: position += 2
      default: position += 1
      }
    }
    throw error("unterminated string", at: opening)
  }

  mutating func enterContainer() throws(JSONError) {
    depth += 1
    if depth > JSON.maximumDepth {
      throw error("nesting deeper than \(JSON.maximumDepth) levels")
    }
  }

  // MARK: Strings

  /// Most strings have no escapes: those become a String straight from the input.
  mutating func parseString() throws(JSONError) -> String {
    let opening = position
    position += 1
    let start = position
    while position < bytes.count {
      skipPlainASCII()
      guard position < bytes.count else { break }
      let byte = bytes[position]
      if byte == ASCII.quote {
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]),
                          as: UTF8.self)
        position += 1
        return text
      }
      if byte == ASCII.backslash { return try parseEscapedString(from: start, opening: opening) }
      if byte < 0x20 { throw error("unescaped control character in string") }
      if byte < 0x80 { position += 1 } else { try skipUTF8Sequence() }
    }
    throw error("unterminated string", at: opening)
  }

  /// Steps eight bytes at a time over string content that needs no attention: printable ASCII
  /// other than `"` and `\`. Most of a Kubernetes object is such strings.
  @inline(__always)
  mutating func skipPlainASCII() {
    while position + 8 <= bytes.count {
      let word = UnsafeRawPointer(bytes.baseAddress! + position).loadUnaligned(as: UInt64.self)
      if SWAR.hasByte(word, equalTo: ASCII.quote) | SWAR.hasByte(word, equalTo: ASCII.backslash)
        | SWAR.hasByte(word, lessThan: 0x20) | (word & SWAR.highBits) != 0
      {
        return
      }
      position += 8
    }
  }

  mutating func parseEscapedString(from start: Int, opening: Int) throws(JSONError) -> String {
    scratch.removeAll(keepingCapacity: true)
    scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<position]))
    while position < bytes.count {
      let byte = bytes[position]
      switch byte {
      case ASCII.quote:
        position += 1
        return String(decoding: scratch, as: UTF8.self)
      case ASCII.backslash:
        try appendEscape()
      case ..<0x20:
        throw error("unescaped control character in string")
      case ..<0x80:
        scratch.append(byte)
        position += 1
      default:
        let sequenceStart = position
        try skipUTF8Sequence()
        scratch.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[sequenceStart..<position]))
      }
    }
    throw error("unterminated string", at: opening)
  }

  mutating func appendEscape() throws(JSONError) {
    guard position + 1 < bytes.count else { throw error("unterminated string") }
    let escaped = bytes[position + 1]
    let simple: UInt8? = switch escaped {
    case ASCII.quote, ASCII.backslash, ASCII.slash: escaped
    case UInt8(ascii: "b"): 0x08
    case UInt8(ascii: "f"): 0x0C
    case UInt8(ascii: "n"): 0x0A
    case UInt8(ascii: "r"): 0x0D
    case UInt8(ascii: "t"): 0x09
    default: nil
    }
    if let simple {
      scratch.append(simple)
      position += 2
      return
    }
    guard escaped == UInt8(ascii: "u") else { throw error("invalid escape sequence in string") }
    let unit = try hexQuad(at: position + 2)
    position += 6
    var scalar = Unicode.Scalar(unit)
    if (0xD800...0xDBFF).contains(unit), position + 1 < bytes.count,
      bytes[position] == ASCII.backslash, bytes[position + 1] == UInt8(ascii: "u"),
      let low = try? hexQuad(at: position + 2), (0xDC00...0xDFFF).contains(low)
    {
      scalar = Unicode.Scalar(0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00))
      position += 6
    }
    for unit in UTF8.encode(scalar ?? "\u{FFFD}")! { scratch.append(unit) }
  }

  func hexQuad(at start: Int) throws(JSONError) -> UInt16 {
    guard start + 4 <= bytes.count else { throw error("invalid \\u escape in string", at: start - 2) }
    var value: UInt16 = 0
    for offset in 0..<4 {
      let byte = bytes[start + offset]
      let digit: UInt8
      switch byte {
      case ASCII.zero...ASCII.nine: digit = byte - ASCII.zero
      case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
      default: throw error("invalid \\u escape in string", at: start - 2)
      }
      value = value << 4 | UInt16(digit)
    }
    return value
  }

  /// Steps over one multi-byte UTF-8 sequence, refusing overlong forms, surrogates and values
  /// past U+10FFFF (the table in RFC 3629, section 4).
  mutating func skipUTF8Sequence() throws(JSONError) {
    let lead = bytes[position]
    let length: Int
    var secondRange: ClosedRange<UInt8> = 0x80...0xBF
    switch lead {
    case 0xC2...0xDF: length = 2
    case 0xE0: length = 3; secondRange = 0xA0...0xBF
    case 0xE1...0xEC, 0xEE...0xEF: length = 3
    case 0xED: length = 3; secondRange = 0x80...0x9F
    case 0xF0: length = 4; secondRange = 0x90...0xBF
    case 0xF1...0xF3: length = 4
    case 0xF4: length = 4; secondRange = 0x80...0x8F
    default: throw error("invalid UTF-8 in string")
    }
    guard position + length <= bytes.count, secondRange.contains(bytes[position + 1]),
      (2..<length).allSatisfy({ (0x80...0xBF).contains(bytes[position + $0]) })
    else { throw error("invalid UTF-8 in string") }
    position += length
  }

  // MARK: Numbers

  mutating func parseNumber() throws(JSONError) -> JSON {
    let start = position
    let negative = bytes[position] == ASCII.minus
    if negative { position += 1 }
    guard position < bytes.count, isDigit(bytes[position]) else {
      throw error("expected a digit in number")
    }
    var magnitude: UInt64 = 0
    var overflowed = false
    if bytes[position] == ASCII.zero {
      position += 1
      if position < bytes.count, isDigit(bytes[position]) {
        throw error("leading zeros are not allowed in numbers", at: start)
      }
    } else {
      while position < bytes.count, isDigit(bytes[position]) {
        let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
        let (sum, overflow2) = times10.addingReportingOverflow(UInt64(bytes[position] - ASCII.zero))
        magnitude = sum
        overflowed = overflowed || overflow1 || overflow2
        position += 1
      }
    }
    var isInteger = true
    if position < bytes.count, bytes[position] == ASCII.dot {
      isInteger = false
      position += 1
      guard position < bytes.count, isDigit(bytes[position]) else {
        throw error("expected a digit after the decimal point")
      }
      while position < bytes.count, isDigit(bytes[position]) { position += 1 }
    }
    if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
      isInteger = false
      position += 1
      if position < bytes.count, bytes[position] == ASCII.plus || bytes[position] == ASCII.minus {
        position += 1
      }
      guard position < bytes.count, isDigit(bytes[position]) else {
        throw error("expected a digit in the exponent")
      }
      while position < bytes.count, isDigit(bytes[position]) { position += 1 }
    }
    if isInteger && !overflowed {
      if !negative, magnitude <= UInt64(Int64.max) { return .int(Int64(magnitude)) }
      if negative, magnitude <= Int64.min.magnitude { return .int(Int64(truncatingIfNeeded: 0 &- magnitude)) }
    }
    let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]),
                      as: UTF8.self)
    // Go refuses what a float64 cannot hold, and so does Kubernetes.
    guard let value = Double(text), value.isFinite else {
      throw error("number \(text) is out of range", at: start)
    }
    return .double(value)
  }

  func isDigit(_ byte: UInt8) -> Bool { byte &- ASCII.zero < 10 }

  // MARK: Whitespace and errors

  mutating func skipWhitespace() {
    while position < bytes.count {
      switch bytes[position] {
      case 0x20, 0x0A, 0x0D, 0x09: position += 1
      default: return
      }
    }
  }

  /// Counts lines and columns only now: errors are rare, and positions are free until then.
  func error(_ message: String, at offset: Int? = nil) -> JSONError {
    let offset = min(offset ?? position, bytes.count)
    var line = 1
    var column = 1
    for byte in bytes[..<offset] {
      if byte == 0x0A {
        line += 1
        column = 1
      } else if byte & 0xC0 != 0x80 {  // count a character at its first byte only
        column += 1
      }
    }
    return JSONError(offset: offset, line: line, column: column, message: message)
  }
}

/// A stack whose top elements leave by being moved, not copied: popping a container's members
/// into their array costs one memcpy instead of a retain and a release per member.
private struct MoveStack<Element>: ~Copyable {
  private var base: UnsafeMutablePointer<Element>
  private var capacity: Int
  private(set) var count = 0

  init(capacity: Int = 32) {
    base = .allocate(capacity: capacity)
    self.capacity = capacity
  }

  deinit {
    base.deinitialize(count: count)
    base.deallocate()
  }

  mutating func push(_ element: consuming Element) {
    if count == capacity {
      let larger = UnsafeMutablePointer<Element>.allocate(capacity: capacity * 2)
      larger.moveInitialize(from: base, count: count)
      base.deallocate()
      base = larger
      capacity *= 2
    }
    (base + count).initialize(to: element)
    count += 1
  }

  /// The elements from `start` up, in order, in an array of exactly their number.
  mutating func popAll(from start: Int) -> [Element] {
    let moving = count - start
    guard moving > 0 else { return [] }
    let source = base + start
    count = start
    return [Element](unsafeUninitializedCapacity: moving) { buffer, initialized in
      buffer.baseAddress!.moveInitialize(from: source, count: moving)
      initialized = moving
    }
  }
}

/// Tests on eight bytes at once (SIMD within a register), from "Bit Twiddling Hacks".
enum SWAR {
  static let ones: UInt64 = 0x0101_0101_0101_0101
  static let highBits: UInt64 = 0x8080_8080_8080_8080

  /// Nonzero if any byte of `word` is below `limit` (at most 0x80).
  @inline(__always)
  static func hasByte(_ word: UInt64, lessThan limit: UInt8) -> UInt64 {
    (word &- ones &* UInt64(limit)) & ~word & highBits
  }

  /// Nonzero if any byte of `word` equals `byte`.
  @inline(__always)
  static func hasByte(_ word: UInt64, equalTo byte: UInt8) -> UInt64 {
    hasByte(word ^ (ones &* UInt64(byte)), lessThan: 1)
  }
}

extension JSON {
  /// `bytes`, a JSON object this server wrote, with `"key":value` added as the first member of
  /// the object that is the root's member `parent` (`metadata`): a stored object given its
  /// resourceVersion for a reader, or a pod its node, without parsing and printing it again. nil
  /// when the bytes hold no such object. `key` must not be there already nor need escaping.
  public static func splicing(_ key: String, _ value: JSON, into parent: String, of bytes: [UInt8]) -> [UInt8]? {
    bytes.withUnsafeBufferPointer { buffer -> [UInt8]? in
      var parser = JSONParser(buffer)
      guard let opening = try? parser.openingOfRootMember(parent) else { return nil }
      var member = Array("\"\(key)\":".utf8)
      value.serialize(into: &member)
      var next = opening + 1
      while next < buffer.count, buffer[next] == 0x20 || buffer[next] == 0x0A || buffer[next] == 0x09 || buffer[next] == 0x0D {
        next += 1
      }
      if next < buffer.count, buffer[next] != UInt8(ascii: "}") { member.append(UInt8(ascii: ",")) }
      var spliced: [UInt8] = []
      spliced.reserveCapacity(bytes.count + member.count)
      spliced.append(contentsOf: buffer[...opening])
      spliced.append(contentsOf: member)
      spliced.append(contentsOf: buffer[(opening + 1)...])
      return spliced
    }
  }
}

extension JSONParser {
  /// Where the `{` of the root object's member `key` is, stepping over the members before it;
  /// nil when there is no such member or its value is not an object.
  mutating func openingOfRootMember(_ key: String) throws(JSONError) -> Int? {
    skipWhitespace()
    guard position < bytes.count, bytes[position] == ASCII.openBrace else { return nil }
    position += 1
    skipWhitespace()
    while position < bytes.count, bytes[position] == ASCII.quote {
      let name = try parseString()
      skipWhitespace()
      guard position < bytes.count, bytes[position] == ASCII.colon else { return nil }
      position += 1
      skipWhitespace()
      if name == key {
        return position < bytes.count && bytes[position] == ASCII.openBrace ? position : nil
      }
      try skipValue()
      skipWhitespace()
      guard position < bytes.count, bytes[position] == ASCII.comma else { return nil }
      position += 1
      skipWhitespace()
    }
    return nil
  }
}
