// A YAML tree as compact JSON, the form in which a plugin receives its configuration. Plain
// scalars are read by the YAML 1.2 core schema, so `3` is a number and `"3"` stays a string.

extension YAMLNode {
  public func json() -> String {
    var out = ""
    appendJSON(to: &out)
    return out
  }

  private func appendJSON(to out: inout String) {
    switch value {
    case .scalar(let text, let quoted):
      switch CoreScalar(text, quoted: quoted) {
      case .null: out.append("null")
      case .bool(let truth): out.append(truth ? "true" : "false")
      case .number(let number): out.append(number)
      case .string(let string): appendJSONString(string, to: &out)
      }
    case .sequence(let items):
      out.append("[")
      for (index, item) in items.enumerated() {
        if index > 0 { out.append(",") }
        item.appendJSON(to: &out)
      }
      out.append("]")
    case .mapping(let entries):
      out.append("{")
      for (index, entry) in entries.enumerated() {
        if index > 0 { out.append(",") }
        // JSON keys are strings, so a key is its text whatever it would resolve to as a value.
        appendJSONString(entry.key.stringValue ?? "", to: &out)
        out.append(":")
        entry.value.appendJSON(to: &out)
      }
      out.append("}")
    }
  }
}

private func appendJSONString(_ string: String, to out: inout String) {
  out.append("\"")
  for scalar in string.unicodeScalars {
    switch scalar {
    case "\"": out.append("\\\"")
    case "\\": out.append("\\\\")
    case "\n": out.append("\\n")
    case "\r": out.append("\\r")
    case "\t": out.append("\\t")
    case _ where scalar.value < 0x20:
      let hex = String(scalar.value, radix: 16)
      out.append("\\u00" + (hex.count == 1 ? "0" + hex : hex))
    default: out.unicodeScalars.append(scalar)
    }
  }
  out.append("\"")
}

/// What a scalar means under the YAML 1.2 core schema, with numbers already spelled as JSON
/// spells them (no `+`, no leading zeros, no bare `.`).
enum CoreScalar: Equatable {
  case null
  case bool(Bool)
  case number(String)
  case string(String)

  init(_ text: String, quoted: Bool) {
    if quoted {
      self = .string(text)
      return
    }
    switch text {
    case "", "~", "null", "Null", "NULL": self = .null
    case "true", "True", "TRUE": self = .bool(true)
    case "false", "False", "FALSE": self = .bool(false)
    default: self = Self.jsonNumber(text).map(CoreScalar.number) ?? .string(text)
    }
  }

  /// The JSON spelling of an integer or finite float; nil for anything else. `.inf` and `.nan` are
  /// floats to YAML but JSON has no number for them, so they stay strings.
  private static func jsonNumber(_ text: String) -> String? {
    let bytes = Array(text.utf8)
    // The sign check matters because UInt64(_:radix:) would accept "0x+1".
    if bytes.count > 2, bytes[0] == UInt8(ascii: "0"), !"+-".utf8.contains(bytes[2]) {
      let digits = String(decoding: bytes[2...], as: UTF8.self)
      // A hex or octal integer too large for 64 bits is left a string rather than rounded.
      switch bytes[1] {
      case UInt8(ascii: "x"): return UInt64(digits, radix: 16).map { String($0) }
      case UInt8(ascii: "o"): return UInt64(digits, radix: 8).map { String($0) }
      default: break
      }
    }
    return decimalNumber(bytes)
  }

  /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, respelled for JSON.
  private static func decimalNumber(_ bytes: [UInt8]) -> String? {
    var index = 0
    func digits() -> String {
      let start = index
      while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
        index += 1
      }
      return String(decoding: bytes[start..<index], as: UTF8.self)
    }
    func skip(_ characters: String) -> UInt8? {
      guard index < bytes.count, characters.utf8.contains(bytes[index]) else { return nil }
      index += 1
      return bytes[index - 1]
    }

    let negative = skip("-+") == UInt8(ascii: "-")
    let whole = digits()
    let hasPoint = skip(".") != nil
    let fraction = hasPoint ? digits() : ""
    guard !whole.isEmpty || !fraction.isEmpty else { return nil }
    var exponent = ""
    if skip("eE") != nil {
      let sign = skip("-+").map { String(UnicodeScalar($0)) } ?? ""
      let power = digits()
      guard !power.isEmpty else { return nil }
      exponent = "e" + sign + power
    }
    guard index == bytes.count else { return nil }

    let trimmedWhole = whole.drop { $0 == "0" }
    return (negative ? "-" : "") + (trimmedWhole.isEmpty ? "0" : String(trimmedWhole))
      + (hasPoint ? "." + (fraction.isEmpty ? "0" : fraction) : "") + exponent
  }
}
