// Untyped JSON for PluginJSON: decoded through FoundationEssentials' JSONDecoder and printed by
// hand, in place of full Foundation's JSONSerialization.
import FoundationEssentials
import Glibc

enum JSONValue: Decodable {
  case null, bool(Bool), int(Int), double(Double), string(String), array([JSONValue])
  case object([String: JSONValue])

  init(from decoder: any Decoder) throws {
    let container = try decoder.singleValueContainer()
    if container.decodeNil() {
      self = .null
    } else if let value = try? container.decode(Bool.self) {
      self = .bool(value)
    } else if let value = try? container.decode(Int.self) {
      self = .int(value)
    } else if let value = try? container.decode(Double.self) {
      self = .double(value)
    } else if let value = try? container.decode(String.self) {
      self = .string(value)
    } else if let value = try? container.decode([JSONValue].self) {
      self = .array(value)
    } else {
      self = .object(try container.decode([String: JSONValue].self))
    }
  }

  var value: Any {
    switch self {
    case .null: return Optional<Any>.none as Any
    case .bool(let value): return value
    case .int(let value): return value
    case .double(let value): return value
    case .string(let value): return value
    case .array(let values): return values.map(\.value)
    case .object(let members): return members.mapValues(\.value)
    }
  }

  /// Appends `value` as JSON; what is not a JSON value (nor an optional of one) becomes null.
  static func write(_ value: Any, to output: inout String) {
    switch value {
    case let text as String: writeString(text, to: &output)
    case let flag as Bool: output += flag ? "true" : "false"
    case let number as Int: output += String(number)
    case let number as Int64: output += String(number)
    case let number as Int32: output += String(number)
    case let number as UInt64: output += String(number)
    case let number as UInt32: output += String(number)
    case let number as UInt: output += String(number)
    case let number as Double: writeNumber(number, to: &output)
    case let number as Float: writeNumber(Double(number), to: &output)
    case let members as [String: Any]:
      output += "{"
      for (index, key) in members.keys.sorted().enumerated() {
        if index > 0 { output += "," }
        writeString(key, to: &output)
        output += ":"
        write(members[key]!, to: &output)
      }
      output += "}"
    case let values as [Any]:
      output += "["
      for (index, element) in values.enumerated() {
        if index > 0 { output += "," }
        write(element, to: &output)
      }
      output += "]"
    default:
      let mirror = Mirror(reflecting: value)
      if mirror.displayStyle == .optional, let wrapped = mirror.children.first {
        write(wrapped.value, to: &output)
      } else {
        output += "null"
      }
    }
  }

  /// Whole numbers without a fraction, as JSONSerialization printed them; NaN and infinities,
  /// which JSON cannot hold, as null.
  private static func writeNumber(_ number: Double, to output: inout String) {
    if !number.isFinite {
      output += "null"
    } else if number == number.rounded(), abs(number) < 1e15 {
      output += String(Int64(number))
    } else {
      output += "\(number)"
    }
  }

  private static func writeString(_ text: String, to output: inout String) {
    output += "\""
    for scalar in text.unicodeScalars {
      switch scalar {
      case "\"": output += "\\\""
      case "\\": output += "\\\\"
      case "\n": output += "\\n"
      case "\r": output += "\\r"
      case "\t": output += "\\t"
      case _ where scalar.value < 0x20:
        let hex = String(scalar.value, radix: 16)
        output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      default: output.unicodeScalars.append(scalar)
      }
    }
    output += "\""
  }
}
