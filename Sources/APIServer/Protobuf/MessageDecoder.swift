// A message's bytes to the JSON object Kubernetes' own JSON encoding would give for it: fields
// in the schema's order, zeros left out where Go leaves them out, special types as JSON shows them.
import FoundationEssentials
import Glibc
import ObjectModel

enum MessageDecoder {
  /// Recursion follows the schema, whose messages never contain themselves, so nesting is as
  /// deep as the schema and no deeper, whatever the body says.
  static func object(_ message: ProtobufMessage, _ reader: WireReader) throws(ProtobufError) -> JSONObject {
    var reader = reader
    var values = [JSON?](repeating: nil, count: message.fields.count)
    while !reader.isAtEnd {
      let (number, wireType) = try reader.key()
      guard let index = message.index(of: number) else {
        try reader.skip(wireType)
        continue
      }
      let field = message.fields[index].field
      switch field.shape {
      case .single, .inline:
        values[index] = try value(field, of: message, wireType, &reader)
      case .repeated:
        var elements = values[index]?.arrayValue ?? []
        values[index] = nil  // so that the append below does not copy
        if wireType == .lengthDelimited, field.type.isNumeric {
          var packed = try reader.lengthDelimited()
          while !packed.isAtEnd {
            elements.append(try value(field, of: message, field.type.wireType, &packed) ?? .null)
          }
        } else {
          elements.append(try value(field, of: message, wireType, &reader) ?? .null)
        }
        values[index] = .array(elements)
      case .map:
        try expect(.lengthDelimited, wireType, field, message)
        var entry = try reader.lengthDelimited()
        var key = "", entryValue: JSON?
        while !entry.isAtEnd {
          let (entryField, entryWireType) = try entry.key()
          switch entryField {
          case 1:
            try expect(.lengthDelimited, entryWireType, field, message)
            key = String(decoding: try entry.lengthDelimited().remaining, as: UTF8.self)
          case 2: entryValue = try value(field, of: message, entryWireType, &entry)
          default: try entry.skip(entryWireType)
          }
        }
        var map = values[index]?.objectValue ?? [:]
        values[index] = nil
        map[key] = entryValue ?? field.type.zero
        values[index] = .object(map)
      }
    }

    var object = JSONObject()
    for (index, (_, field)) in message.fields.enumerated() {
      guard let value = values[index] else { continue }
      switch field.shape {
      case .inline:
        for (key, member) in value.objectValue ?? [:] { object[key] = member }
      case .single(keepsZero: false) where value.isZero:
        continue
      default:
        object[field.name] = value
      }
    }
    return object
  }

  /// One value of `field`; nil for a zero metav1.Time, which Go reads as "not set".
  private static func value(_ field: ProtobufField, of message: ProtobufMessage, _ wireType: WireType,
                            _ reader: inout WireReader) throws(ProtobufError) -> JSON? {
    try expect(field.type.wireType, wireType, field, message)
    switch field.type {
    case .string: return .string(String(decoding: try reader.lengthDelimited().remaining, as: UTF8.self))
    case .bytes: return .string(Data(try reader.lengthDelimited().remaining).base64EncodedString())
    case .int32: return .int(Int64(Int32(truncatingIfNeeded: try reader.varint())))
    case .int64: return .int(Int64(bitPattern: try reader.varint()))
    case .bool: return .bool(try reader.varint() != 0)
    case .message(let name):
      guard let nested = ProtobufSchema.messages[name] else {
        throw ProtobufError(message: "\(message.name).\(field.name) refers to \(name), which the schema lacks")
      }
      return .object(try object(nested, try reader.lengthDelimited()))
    case .quantity:
      var payload = try reader.lengthDelimited()
      return .string(try payload.fields().string(1) ?? "")
    case .intOrString:
      var payload = try reader.lengthDelimited()
      let fields = try payload.fields()
      if fields.varint(1) == 1 { return .string(fields.string(3) ?? "") }
      return .int(Int64(Int32(truncatingIfNeeded: fields.varint(2) ?? 0)))
    case .time:
      var payload = try reader.lengthDelimited()
      guard !payload.isAtEnd else { return nil }  // Go writes a zero time as an empty message
      // Whole seconds: metav1.Time drops the nanoseconds when it reads the wire, as its JSON does.
      return .string(RFC3339.format(seconds: Int64(bitPattern: try payload.fields().varint(1) ?? 0)))
    case .fieldsV1:
      var payload = try reader.lengthDelimited()
      let raw = try payload.fields().bytes(1) ?? []
      do {
        return try JSON.parse(raw)
      } catch {
        throw ProtobufError(message: "\(message.name).\(field.name) does not hold JSON: \(error)")
      }
    }
  }

  private static func expect(_ expected: WireType, _ actual: WireType, _ field: ProtobufField,
                             _ message: ProtobufMessage) throws(ProtobufError) {
    guard expected != actual else { return }
    throw ProtobufError(message: "\(message.name).\(field.name.isEmpty ? "(inline)" : field.name) arrived as "
      + "wire type \(actual.rawValue), but it is \(expected.rawValue)")
  }
}

extension ProtobufType {
  var wireType: WireType {
    switch self {
    case .int32, .int64, .bool: .varint
    default: .lengthDelimited
    }
  }

  /// Repeated numbers may come packed into one length-delimited run.
  var isNumeric: Bool { wireType != .lengthDelimited }

  /// A map entry without a value holds the zero of the map's value type, as in Go.
  var zero: JSON {
    switch self {
    case .int32, .int64, .intOrString: .int(0)
    case .bool: .bool(false)
    case .quantity: "0"
    case .time: .null
    case .message: .object([:])
    default: ""
    }
  }
}

extension JSON {
  /// What Go's `omitempty` leaves out. Objects are never zero: Go shows an empty struct as `{}`.
  fileprivate var isZero: Bool {
    switch self {
    case .string(let value): value.isEmpty
    case .int(let value): value == 0
    case .bool(let value): !value
    case .array(let value): value.isEmpty
    default: false
    }
  }
}

/// RFC 3339 in UTC, as Kubernetes writes timestamps ("2024-05-01T12:00:00Z"). Plain arithmetic
/// (Howard Hinnant's days-to-civil) rather than a shared Foundation formatter, which is not safe to
/// use from more than one thread.
enum RFC3339 {
  static func format(seconds: Int64) -> String {
    let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
    let secondOfDay = seconds - days * 86_400
    let shifted = days + 719_468
    let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
    let dayOfEra = shifted - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let shiftedMonth = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
    let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    return "\(padded(year, 4))-\(padded(month, 2))-\(padded(day, 2))T\(padded(secondOfDay / 3600, 2)):"
      + "\(padded(secondOfDay / 60 % 60, 2)):\(padded(secondOfDay % 60, 2))Z"
  }

  private static func padded(_ value: Int64, _ width: Int) -> String {
    let digits = String(value)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
  }
}
