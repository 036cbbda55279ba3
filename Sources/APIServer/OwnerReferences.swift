// The owner uids a stored object names (metadata.ownerReferences[*].uid), read from its bytes
// without building the JSON tree: at start-up the owner index reads every owned object (each pod
// of a Deployment), and a full parse of one costs several times what loading it from SQLite does.

/// A forward-only reader of one JSON document that steps over every value but the few it wants.
/// It trusts the document to be valid JSON (stored objects were parsed when written) and only
/// guards against running off the end; where it meets what it does not handle, an escaped key or
/// uid, it gives up and the caller parses the whole document instead.
struct OwnerReferenceScanner {
  private let bytes: UnsafeBufferPointer<UInt8>
  private var position = 0

  /// The uids of `metadata.ownerReferences`, as a full parse would find them (strings only); nil
  /// when the scanner cannot tell.
  static func ownerUIDs(in document: [UInt8]) -> [String]? {
    document.withUnsafeBufferPointer { bytes in
      var scanner = OwnerReferenceScanner(bytes: bytes)
      return scanner.uidsInDocument()
    }
  }

  private init(bytes: UnsafeBufferPointer<UInt8>) {
    self.bytes = bytes
  }

  /// Reads only as far as it must: the first `metadata`, and in it the first `ownerReferences`.
  private mutating func uidsInDocument() -> [String]? {
    var uids: [String] = []
    let readable = forEachMember { key, scanner in
      guard key.elementsEqual("metadata".utf8) else { return scanner.skipValue() ? .next : .unreadable }
      guard let found = scanner.uidsInMetadata() else { return .unreadable }
      uids = found
      return .stop
    }
    return readable ? uids : nil
  }

  private mutating func uidsInMetadata() -> [String]? {
    var uids: [String] = []
    let readable = forEachMember { key, scanner in
      guard key.elementsEqual("ownerReferences".utf8) else { return scanner.skipValue() ? .next : .unreadable }
      let references = scanner.forEachElement { scanner in
        scanner.skipWhitespace()
        guard scanner.peek == UInt8(ascii: "{") else { return scanner.skipValue() }
        return scanner.forEachMember { key, scanner in
          scanner.skipWhitespace()
          guard key.elementsEqual("uid".utf8), scanner.peek == UInt8(ascii: "\"") else {
            return scanner.skipValue() ? .next : .unreadable
          }
          guard let uid = scanner.plainString() else { return .unreadable }
          uids.append(String(decoding: uid, as: UTF8.self))
          return .next
        }
      }
      return references ? .stop : .unreadable
    }
    return readable ? uids : nil
  }

  // MARK: Walking containers

  /// What a member's reader tells the walk over an object.
  private enum Step {
    /// The value is consumed: go on to the next member.
    case next
    /// Found what was wanted: leave the rest unread.
    case stop
    case unreadable
  }

  /// Calls `member` with each key of the object here (nothing for null), positioned at its value.
  /// False when the object is not what the scanner reads.
  private mutating func forEachMember(
    _ member: (_ key: UnsafeBufferPointer<UInt8>, _ scanner: inout OwnerReferenceScanner) -> Step
  ) -> Bool {
    skipWhitespace()
    if peek == UInt8(ascii: "n") { return skipValue() }  // null
    guard take(UInt8(ascii: "{")) else { return false }
    skipWhitespace()
    if take(UInt8(ascii: "}")) { return true }
    while true {
      skipWhitespace()
      guard let key = plainString() else { return false }
      skipWhitespace()
      guard take(UInt8(ascii: ":")) else { return false }
      switch member(key, &self) {
      case .next: break
      case .stop: return true
      case .unreadable: return false
      }
      skipWhitespace()
      if take(UInt8(ascii: "}")) { return true }
      guard take(UInt8(ascii: ",")) else { return false }
    }
  }

  /// Calls `element` positioned at each element of the array here (or nothing for null).
  private mutating func forEachElement(_ element: (_ scanner: inout OwnerReferenceScanner) -> Bool) -> Bool {
    skipWhitespace()
    if peek == UInt8(ascii: "n") { return skipValue() }
    guard take(UInt8(ascii: "[")) else { return false }
    skipWhitespace()
    if take(UInt8(ascii: "]")) { return true }
    while true {
      guard element(&self) else { return false }
      skipWhitespace()
      if take(UInt8(ascii: "]")) { return true }
      guard take(UInt8(ascii: ",")) else { return false }
    }
  }

  // MARK: Tokens

  private var peek: UInt8? { position < bytes.count ? bytes[position] : nil }

  private mutating func take(_ byte: UInt8) -> Bool {
    guard peek == byte else { return false }
    position += 1
    return true
  }

  private mutating func skipWhitespace() {
    while let byte = peek, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
  }

  /// The bytes of the string here when it has no escapes; nil otherwise.
  private mutating func plainString() -> UnsafeBufferPointer<UInt8>? {
    guard take(UInt8(ascii: "\"")) else { return nil }
    let start = position
    while let byte = peek {
      if byte == UInt8(ascii: "\\") { return nil }
      position += 1
      if byte == UInt8(ascii: "\"") { return UnsafeBufferPointer(rebasing: bytes[start..<(position - 1)]) }
    }
    return nil
  }

  /// Steps over the value here: a string (escapes included), a container with everything in it,
  /// or a number or literal.
  private mutating func skipValue() -> Bool {
    skipWhitespace()
    var depth = 0
    repeat {
      guard let byte = peek else { return false }
      switch byte {
      case UInt8(ascii: "\""):
        position += 1
        while let inString = peek, inString != UInt8(ascii: "\"") {
          position += inString == UInt8(ascii: "\\") ? 2 : 1
        }
        guard take(UInt8(ascii: "\"")) else { return false }
      case UInt8(ascii: "{"), UInt8(ascii: "["):
        depth += 1
        position += 1
      case UInt8(ascii: "}"), UInt8(ascii: "]"):
        guard depth > 0 else { return false }
        depth -= 1
        position += 1
      case UInt8(ascii: ","), UInt8(ascii: ":"), 0x20, 0x0A, 0x0D, 0x09:
        guard depth > 0 else { return false }
        position += 1
      default:
        // A number or literal: up to the next delimiter.
        while let next = peek, !Self.isDelimiter(next) { position += 1 }
      }
    } while depth > 0
    return true
  }

  private static func isDelimiter(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: ":"), 0x20, 0x0A, 0x0D, 0x09: true
    default: false
    }
  }
}
