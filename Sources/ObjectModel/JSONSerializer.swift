// Compact JSON output, byte for byte what Go's encoding/json (and so Kubernetes) writes for the
// same value: the same string escapes and the same number forms, so clients see no difference.

extension JSON: CustomStringConvertible {
  /// The compact JSON text.
  public var description: String { String(decoding: serialized(), as: UTF8.self) }

  public func serialized() -> [UInt8] {
    var writer = JSONWriter()
    writer.write(self)
    return writer.bytes()
  }

  /// Appends the compact JSON text, so that a response can be assembled in one buffer.
  public func serialize(into output: inout [UInt8]) {
    var writer = JSONWriter()
    writer.write(self)
    writer.append(to: &output)
  }

  /// A double as Go's encoding/json prints a float64: the shortest digits that read back to the
  /// same value, positional between 1e-6 and 1e21 (so 1.0 prints "1" and 1e20 prints
  /// "100000000000000000000"), otherwise with an exponent of at least one digit ("1e-7",
  /// "1e+21"). JSON has no NaN or infinity, and Go refuses to encode them; this prints `null`.
  static func goFormat(_ value: Double) -> String {
    guard value.isFinite else { return "null" }
    if value == 0 { return value.sign == .minus ? "-0" : "0" }
    // Swift's description already holds the shortest round-trip digits; only the layout differs.
    let (digits, exponent) = shortestDigits(value.magnitude)
    var text = value.sign == .minus ? "-" : ""
    let magnitude = value.magnitude
    if magnitude < 1e-6 || magnitude >= 1e21 {
      text.append(digits.first!)
      if digits.count > 1 {
        text += "."
        text += digits.dropFirst()
      }
      let power = exponent - 1
      text += power < 0 ? "e-" : "e+"
      text += String(power.magnitude)
    } else if exponent <= 0 {
      text += "0." + String(repeating: "0", count: -exponent) + digits
    } else if exponent >= digits.count {
      text += digits + String(repeating: "0", count: exponent - digits.count)
    } else {
      let point = digits.index(digits.startIndex, offsetBy: exponent)
      text += digits[..<point] + "." + digits[point...]
    }
    return text
  }

  /// The significant digits of a positive finite double and where the decimal point goes:
  /// value = 0.d₁d₂… × 10^exponent, read off Swift's description ("1.5e-07", "1234.5").
  private static func shortestDigits(_ value: Double) -> (digits: String, exponent: Int) {
    let description = value.description
    let parts = description.split(separator: "e", maxSplits: 1)
    let mantissa = parts[0]
    var exponent = parts.count > 1 ? Int(parts[1])! : 0
    let point = mantissa.firstIndex(of: ".") ?? mantissa.endIndex
    exponent += mantissa.distance(from: mantissa.startIndex, to: point)
    var digits = Substring(mantissa.filter { $0 != "." })
    while digits.first == "0" {
      digits = digits.dropFirst()
      exponent -= 1
    }
    while digits.last == "0" { digits = digits.dropLast() }
    return (String(digits), exponent)
  }
}

/// A growable byte buffer written through a pointer: appending to an Array byte by byte checks
/// uniqueness and capacity every time, which made up most of the printing time.
struct JSONWriter: ~Copyable {
  private var base: UnsafeMutablePointer<UInt8>
  private var capacity: Int
  private var count = 0

  init(capacity: Int = 1024) {
    base = .allocate(capacity: capacity)
    self.capacity = capacity
  }

  deinit { base.deallocate() }

  func bytes() -> [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

  func append(to output: inout [UInt8]) {
    output.append(contentsOf: UnsafeBufferPointer(start: base, count: count))
  }

  mutating func write(_ value: JSON) {
    switch value {
    case .null: ascii("null")
    case .bool(let value): ascii(value ? "true" : "false")
    case .int(let value): decimal(value)
    case .double(let value):
      var text = JSON.goFormat(value)
      text.withUTF8 { bytes($0) }
    case .string(let value): quoted(value)
    case .array(let elements):
      byte(UInt8(ascii: "["))
      for index in elements.indices {
        if index > 0 { byte(UInt8(ascii: ",")) }
        write(elements[index])
      }
      byte(UInt8(ascii: "]"))
    case .object(let object):
      byte(UInt8(ascii: "{"))
      // Indexing rather than iterating lets each member be borrowed instead of copied.
      let members = object.members
      for index in members.indices {
        if index > 0 { byte(UInt8(ascii: ",")) }
        quoted(members[index].key)
        byte(UInt8(ascii: ":"))
        write(members[index].value)
      }
      byte(UInt8(ascii: "}"))
    }
  }

  @inline(__always)
  private mutating func reserve(_ extra: Int) {
    guard count + extra > capacity else { return }
    let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: max(capacity * 2, count + extra))
    larger.initialize(from: base, count: count)
    base.deallocate()
    base = larger
    capacity = max(capacity * 2, count + extra)
  }

  @inline(__always)
  private mutating func byte(_ byte: UInt8) {
    reserve(1)
    base[count] = byte
    count += 1
  }

  private mutating func bytes(_ buffer: UnsafeBufferPointer<UInt8>) {
    guard let source = buffer.baseAddress, !buffer.isEmpty else { return }
    reserve(buffer.count)
    (base + count).update(from: source, count: buffer.count)
    count += buffer.count
  }

  private mutating func ascii(_ text: StaticString) {
    text.withUTF8Buffer { bytes($0) }
  }

  private mutating func decimal(_ value: Int64) {
    reserve(20)
    if value < 0 {
      base[count] = UInt8(ascii: "-")
      count += 1
    }
    var magnitude = value.magnitude
    var digitCount = 1
    var probe = magnitude
    while probe >= 10 {
      probe /= 10
      digitCount += 1
    }
    var index = count + digitCount
    count = index
    repeat {
      index -= 1
      base[index] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10)
      magnitude /= 10
    } while magnitude > 0
  }

  /// A JSON string escaped as Go's encoding/json escapes it with HTML escaping on, which is how
  /// Kubernetes writes responses: `"`, `\`, control characters (`\b \f \n \r \t` by name, others
  /// as `\u00XX`), `<`, `>` and `&` as `\u003c`, `\u003e`, `\u0026`, and U+2028 and U+2029 (legal
  /// in JSON, line breaks in JavaScript) as `\u2028` and `\u2029`. Everything else is copied.
  private mutating func quoted(_ text: String) {
    // Borrow the bytes where they are; only a string not stored as UTF-8 is copied first.
    if text.utf8.withContiguousStorageIfAvailable({ quoted(utf8: $0) }) == nil {
      var copy = text
      copy.withUTF8 { quoted(utf8: $0) }
    }
  }

  /// Copies eight bytes at a time while none needs escaping. Room for the string as it stands
  /// is reserved up front and topped up at each escape, so plain bytes need no checks.
  private mutating func quoted(utf8: UnsafeBufferPointer<UInt8>) {
    reserve(utf8.count + 2)
    base[count] = UInt8(ascii: "\"")
    count += 1
    var index = 0
    while index < utf8.count {
      if index + 8 <= utf8.count {
        let word = UnsafeRawPointer(utf8.baseAddress! + index).loadUnaligned(as: UInt64.self)
        if !Self.mayNeedEscape(word) {
          UnsafeMutableRawPointer(base + count).storeBytes(of: word, as: UInt64.self)
          count += 8
          index += 8
          continue
        }
      }
      let byte = utf8[index]
      // Everything above the backslash but the lead byte of U+2028/9 is copied as is; below
      // it, everything printable but the five specials. Letters take the first test.
      if byte > 0x5C ? byte != 0xE2 : (byte >= 0x20 && !Self.isSpecial(byte)) {
        base[count] = byte
        count += 1
        index += 1
        continue
      }
      reserve(utf8.count - index + 6)
      if byte == 0xE2 {  // U+2028 and U+2029 are E2 80 A8 and E2 80 A9
        if index + 2 < utf8.count, utf8[index + 1] == 0x80,
          utf8[index + 2] == 0xA8 || utf8[index + 2] == 0xA9
        {
          ascii(utf8[index + 2] == 0xA8 ? "\\u2028" : "\\u2029")
          index += 3
        } else {
          base[count] = byte
          count += 1
          index += 1
        }
        continue
      }
      escape(byte)
      index += 1
    }
    byte(UInt8(ascii: "\""))
  }

  /// Whether any of eight bytes may need escaping: a control character, `"`, `\`, `<`, `>`,
  /// `&`, or 0xE2 (which starts U+2028 and U+2029).
  @inline(__always)
  private static func mayNeedEscape(_ word: UInt64) -> Bool {
    SWAR.hasByte(word, lessThan: 0x20) | SWAR.hasByte(word, equalTo: 0x22)
      | SWAR.hasByte(word, equalTo: 0x5C) | SWAR.hasByte(word, equalTo: 0x3C)
      | SWAR.hasByte(word, equalTo: 0x3E) | SWAR.hasByte(word, equalTo: 0x26)
      | SWAR.hasByte(word, equalTo: 0xE2) != 0
  }

  @inline(__always)
  private static func isSpecial(_ byte: UInt8) -> Bool {
    byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "&") || byte == UInt8(ascii: "<")
      || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "\\")
  }

  private mutating func escape(_ byte: UInt8) {
    switch byte {
    case UInt8(ascii: "\""): ascii("\\\"")
    case UInt8(ascii: "\\"): ascii("\\\\")
    case 0x08: ascii("\\b")
    case 0x0C: ascii("\\f")
    case 0x0A: ascii("\\n")
    case 0x0D: ascii("\\r")
    case 0x09: ascii("\\t")
    default:
      let hex: StaticString = "0123456789abcdef"
      ascii("\\u00")
      hex.withUTF8Buffer { hex in
        self.byte(hex[Int(byte >> 4)])
        self.byte(hex[Int(byte & 0x0F)])
      }
    }
  }
}
