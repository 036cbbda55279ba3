// What the server hands a handler: one parsed HTTP/1.x request, its target already split into a
// percent-decoded path and query.

public struct HTTPRequest: Sendable {
  /// As the client sent it, including methods this server has never heard of.
  public let method: String
  /// The raw request-target, e.g. `/api/v1/pods?watch=1`.
  public let target: String
  /// The target's path, percent-decoded.
  public let path: String
  /// The target's query pairs, decoded (`+` is a space), in order, repeated keys kept.
  public let query: [(String, String)]
  public let headers: HTTPHeaders
  public let body: [UInt8]
  public let httpVersion: HTTPVersion
  /// Whether the client will send more requests on this connection after this one.
  public let keepAlive: Bool

  public init(method: String, target: String, headers: HTTPHeaders = HTTPHeaders(),
              body: [UInt8] = [], httpVersion: HTTPVersion = .http1_1, keepAlive: Bool = true) throws {
    guard let parts = RequestTarget(Array(target.utf8)[...]) else { throw MalformedTarget(target: target) }
    self.init(method: method, target: target, parts: parts, headers: headers, body: body,
              httpVersion: httpVersion, keepAlive: keepAlive)
  }

  init(method: String, target: String, parts: RequestTarget, headers: HTTPHeaders, body: [UInt8],
       httpVersion: HTTPVersion, keepAlive: Bool) {
    self.method = method
    self.target = target
    self.path = parts.path
    self.query = parts.query
    self.headers = headers
    self.body = body
    self.httpVersion = httpVersion
    self.keepAlive = keepAlive
  }

  /// The first value of query parameter `name`.
  public func queryValue(_ name: String) -> String? {
    query.first { $0.0 == name }?.1
  }
}

/// A request-target whose path has a broken percent escape.
public struct MalformedTarget: Error, CustomStringConvertible {
  public let target: String
  public var description: String { "malformed request target '\(target)'" }
}

public struct HTTPVersion: Sendable, Equatable, CustomStringConvertible {
  public var major: Int
  public var minor: Int
  public init(major: Int, minor: Int) {
    self.major = major
    self.minor = minor
  }
  public static let http1_0 = HTTPVersion(major: 1, minor: 0)
  public static let http1_1 = HTTPVersion(major: 1, minor: 1)
  public var description: String { "HTTP/\(major).\(minor)" }
}

/// Header fields in arrival order. Names compare without regard to ASCII case; a name sent more
/// than once keeps all its values.
public struct HTTPHeaders: Sendable, Sequence {
  public private(set) var fields: [(name: String, value: String)]

  public init(_ fields: [(name: String, value: String)] = []) { self.fields = fields }

  public mutating func add(name: String, value: String) { fields.append((name, value)) }

  /// The first value of header `name`.
  public subscript(name: String) -> String? {
    fields.first { asciiCaseInsensitiveEquals($0.name, name) }?.value
  }

  /// Every value of header `name`, in arrival order.
  public func values(_ name: String) -> [String] {
    fields.filter { asciiCaseInsensitiveEquals($0.name, name) }.map(\.value)
  }

  public func contains(_ name: String) -> Bool { self[name] != nil }

  public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
    fields.makeIterator()
  }
}

func asciiCaseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
  var a = a, b = b  // native UTF-8 storage compares byte by byte without copying
  return a.withUTF8 { x in
    b.withUTF8 { y in
      guard x.count == y.count else { return false }
      for i in 0..<x.count where x[i] != y[i] {
        // ASCII letters differ only in bit 0x20; anything else must match exactly.
        let lower = x[i] | 0x20
        guard lower == y[i] | 0x20, lower >= UInt8(ascii: "a"), lower <= UInt8(ascii: "z") else { return false }
      }
      return true
    }
  }
}

/// A request-target split into its decoded path and query.
struct RequestTarget {
  var path: String
  var query: [(String, String)]

  /// Accepts origin form (`/a?b`), absolute form (`http://host/a?b`), `*` and authority form
  /// (`host:443`, for CONNECT). Fails on a broken escape in the path.
  init?(_ target: ArraySlice<UInt8>) {
    var rest = target
    if let fragment = rest.firstIndex(of: UInt8(ascii: "#")) { rest = rest[..<fragment] }
    if rest.first != UInt8(ascii: "/"), let scheme = rest.firstRange(of: Self.schemeSeparator) {
      let authority = rest[scheme.upperBound...]
      rest = authority[(authority.firstIndex(of: UInt8(ascii: "/")) ?? authority.endIndex)...]
    }
    let question = rest.firstIndex(of: UInt8(ascii: "?"))
    let rawPath = rest[..<(question ?? rest.endIndex)]
    guard let path = rawPath.isEmpty ? "/" : percentDecoded(rawPath, plusIsSpace: false) else { return nil }
    self.path = path
    query = []
    guard let question else { return }
    for pair in rest[(question + 1)...].split(separator: UInt8(ascii: "&")) {
      let equals = pair.firstIndex(of: UInt8(ascii: "="))
      let name = pair[..<(equals ?? pair.endIndex)]
      let value = pair[(equals.map { $0 + 1 } ?? pair.endIndex)...]
      // As Go's url.ParseQuery decodes for the API server's clients, except that a broken escape
      // stays as sent instead of dropping the pair.
      query.append((percentDecoded(name, plusIsSpace: true) ?? String(decoding: name, as: UTF8.self),
                    percentDecoded(value, plusIsSpace: true) ?? String(decoding: value, as: UTF8.self)))
    }
  }

  private static let schemeSeparator = Array("://".utf8)
}

/// Decodes `%XX` escapes (and `+` if asked); nil on a broken escape.
func percentDecoded<Bytes: Collection>(_ bytes: Bytes, plusIsSpace: Bool) -> String? where Bytes.Element == UInt8 {
  guard bytes.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) else {
    return String(decoding: bytes, as: UTF8.self)
  }
  var decoded: [UInt8] = []
  decoded.reserveCapacity(bytes.count)
  var index = bytes.startIndex
  while index != bytes.endIndex {
    let byte = bytes[index]
    index = bytes.index(after: index)
    if byte == UInt8(ascii: "+") && plusIsSpace {
      decoded.append(UInt8(ascii: " "))
    } else if byte == UInt8(ascii: "%") {
      guard index != bytes.endIndex, let high = hexValue(bytes[index]) else { return nil }
      index = bytes.index(after: index)
      guard index != bytes.endIndex, let low = hexValue(bytes[index]) else { return nil }
      index = bytes.index(after: index)
      decoded.append(high << 4 | low)
    } else {
      decoded.append(byte)
    }
  }
  return String(decoding: decoded, as: UTF8.self)
}

private func hexValue(_ byte: UInt8) -> UInt8? {
  switch byte {
  case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
  case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
  case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
  default: nil
  }
}
