// The protobuf wire format, read forward: varints, fixed-width numbers and length-delimited
// payloads, with every length checked against the bytes that are actually there.

/// Why a protobuf body could not be read; `KubernetesProtobuf` turns it into a 400.
struct ProtobufError: Error {
  let message: String
}

enum WireType: UInt64 {
  case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5
}

/// One field's value as it was on the wire, before anyone says what it means.
enum WireValue {
  case varint(UInt64)
  case fixed64(UInt64)
  case fixed32(UInt32)
  case bytes(WireReader)
}

/// A window onto the body. Nested messages are windows onto the same array, so reading one
/// copies nothing, and every offset in an error counts from the start of the body.
struct WireReader {
  private let bytes: [UInt8]
  private var position: Int
  private let end: Int

  init(_ bytes: [UInt8], from start: Int = 0) {
    self.init(bytes, start, bytes.count)
  }

  private init(_ bytes: [UInt8], _ start: Int, _ end: Int) {
    self.bytes = bytes
    self.position = start
    self.end = end
  }

  var isAtEnd: Bool { position >= end }

  /// The unread bytes, for a string or bytes field's payload.
  var remaining: ArraySlice<UInt8> { bytes[position..<end] }

  mutating func key() throws(ProtobufError) -> (field: Int, wireType: WireType) {
    let start = position
    let key = try varint()
    guard let wireType = WireType(rawValue: key & 7) else {
      throw ProtobufError(message: "byte \(start): wire type \(key & 7) does not exist")
    }
    guard key >> 3 >= 1, key >> 3 <= 0x1FFF_FFFF else {
      throw ProtobufError(message: "byte \(start): field number \(key >> 3) is out of range")
    }
    return (Int(key >> 3), wireType)
  }

  mutating func varint() throws(ProtobufError) -> UInt64 {
    let start = position
    var value: UInt64 = 0
    for shift in stride(from: UInt64(0), to: 70, by: 7) {
      guard position < end else {
        throw ProtobufError(message: "byte \(start): the varint runs past the end of its message")
      }
      let byte = bytes[position]
      position += 1
      value |= UInt64(byte & 0x7F) << shift
      if byte & 0x80 == 0 { return value }
    }
    throw ProtobufError(message: "byte \(start): a varint longer than 10 bytes")
  }

  mutating func fixed64() throws(ProtobufError) -> UInt64 {
    try littleEndian(8)
  }

  mutating func fixed32() throws(ProtobufError) -> UInt32 {
    UInt32(try littleEndian(4))
  }

  private mutating func littleEndian(_ width: Int) throws(ProtobufError) -> UInt64 {
    guard end - position >= width else {
      throw ProtobufError(message: "byte \(position): a \(width * 8)-bit number runs past the end of its message")
    }
    var value: UInt64 = 0
    for index in 0..<width { value |= UInt64(bytes[position + index]) << (8 * UInt64(index)) }
    position += width
    return value
  }

  /// The payload of a length-delimited field, as a reader of its own; this one moves past it.
  mutating func lengthDelimited() throws(ProtobufError) -> WireReader {
    let start = position
    let length = try varint()
    guard length <= UInt64(end - position) else {
      throw ProtobufError(message: "byte \(start): a length of \(length) bytes but only \(end - position) remain")
    }
    let payload = WireReader(bytes, position, position + Int(length))
    position += Int(length)
    return payload
  }

  mutating func value(_ wireType: WireType) throws(ProtobufError) -> WireValue {
    switch wireType {
    case .varint: return .varint(try varint())
    case .fixed64: return .fixed64(try fixed64())
    case .fixed32: return .fixed32(try fixed32())
    case .lengthDelimited: return .bytes(try lengthDelimited())
    case .startGroup, .endGroup:
      throw ProtobufError(message: "byte \(position): groups are not part of any Kubernetes message")
    }
  }

  /// Moves past a field nobody asked for: one that a newer client knows and this server does not.
  mutating func skip(_ wireType: WireType) throws(ProtobufError) {
    _ = try value(wireType)
  }

  /// Every field of a small message, the last value winning as protobuf says, for the few
  /// messages read by hand (the envelope and the types that JSON shows as a single value).
  mutating func fields() throws(ProtobufError) -> [Int: WireValue] {
    var fields: [Int: WireValue] = [:]
    while !isAtEnd {
      let (field, wireType) = try key()
      fields[field] = try value(wireType)
    }
    return fields
  }
}

extension [Int: WireValue] {
  func varint(_ field: Int) -> UInt64? {
    if case .varint(let value)? = self[field] { return value }
    return nil
  }

  func bytes(_ field: Int) -> ArraySlice<UInt8>? {
    if case .bytes(let reader)? = self[field] { return reader.remaining }
    return nil
  }

  func string(_ field: Int) -> String? {
    bytes(field).map { String(decoding: $0, as: UTF8.self) }
  }
}
