// JSON Pointer (RFC 6901): "/spec/containers/0/image" names one value in a document. JSON Patch
// addresses everything with these, so the operations here carry RFC 6902's semantics.

public struct JSONPointer: Sendable, Hashable, CustomStringConvertible {
  /// The unescaped reference tokens; empty for the whole document.
  public let tokens: [String]

  public init(tokens: [String]) { self.tokens = tokens }

  /// Parses the pointer's text: "" or "/" followed by tokens in which "~1" stands for "/" and
  /// "~0" for "~".
  public init(_ text: String) throws(JSONPointerError) {
    if text.isEmpty {
      tokens = []
      return
    }
    guard text.first == "/" else {
      throw JSONPointerError(pointer: text, message: "a JSON pointer must be empty or start with '/'")
    }
    var tokens: [String] = []
    for part in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
      guard part.contains("~") else {
        tokens.append(String(part))
        continue
      }
      var token = ""
      var escaping = false
      for character in part {
        if escaping {
          switch character {
          case "0": token.append("~")
          case "1": token.append("/")
          default:
            throw JSONPointerError(pointer: text, message: "'~' must be followed by '0' or '1'")
          }
          escaping = false
        } else if character == "~" {
          escaping = true
        } else {
          token.append(character)
        }
      }
      if escaping {
        throw JSONPointerError(pointer: text, message: "'~' must be followed by '0' or '1'")
      }
      tokens.append(token)
    }
    self.tokens = tokens
  }

  public var description: String {
    tokens.map { "/" + escape($0) }.joined()
  }

  private func escape(_ token: String) -> String {
    guard token.contains(where: { $0 == "~" || $0 == "/" }) else { return token }
    var escaped = ""
    for character in token {
      switch character {
      case "~": escaped += "~0"
      case "/": escaped += "~1"
      default: escaped.append(character)
      }
    }
    return escaped
  }
}

public struct JSONPointerError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The pointer as written.
  public let pointer: String
  public let message: String

  public var description: String { "\(pointer): \(message)" }
}

extension JSON {
  /// The value the pointer names, or nil if there is none.
  public func value(at pointer: JSONPointer) -> JSON? {
    var current = self
    for token in pointer.tokens {
      switch current {
      case .object(let object):
        guard let next = object[token] else { return nil }
        current = next
      case .array(let elements):
        guard let index = Self.arrayIndex(token), index < elements.count else { return nil }
        current = elements[index]
      default:
        return nil
      }
    }
    return current
  }

  /// RFC 6902 "add": sets an object member (adding or replacing it), or inserts into an array
  /// at an index from 0 through its count, or appends for "-". The parent must exist; the empty
  /// pointer replaces the whole document.
  public mutating func addValue(_ value: JSON, at pointer: JSONPointer) throws(JSONPointerError) {
    try modifyParent(of: pointer) { parent, token throws(JSONPointerError) in
      switch parent {
      case .object(var object):
        parent = .null
        object[token] = value
        parent = .object(object)
      case .array(var elements):
        let index: Int
        if token == "-" {
          index = elements.count
        } else {
          index = try Self.existingIndex(
            token, count: elements.count, allowingEnd: true, pointer: pointer)
        }
        parent = .null
        elements.insert(value, at: index)
        parent = .array(elements)
      default:
        throw Self.notContainer(parent, pointer: pointer)
      }
    } whole: { document in
      document = value
    }
  }

  /// RFC 6902 "remove": the value must exist. Returns it.
  @discardableResult
  public mutating func removeValue(at pointer: JSONPointer) throws(JSONPointerError) -> JSON {
    var removed = JSON.null
    try modifyParent(of: pointer) { parent, token throws(JSONPointerError) in
      switch parent {
      case .object(var object):
        guard object.contains(key: token) else { throw Self.missing(token, pointer: pointer) }
        parent = .null
        removed = object.removeValue(forKey: token)!
        parent = .object(object)
      case .array(var elements):
        let index = try Self.existingIndex(token, count: elements.count, pointer: pointer)
        parent = .null
        removed = elements.remove(at: index)
        parent = .array(elements)
      default:
        throw Self.notContainer(parent, pointer: pointer)
      }
    } whole: { _ throws(JSONPointerError) in
      throw JSONPointerError(pointer: "", message: "the whole document cannot be removed")
    }
    return removed
  }

  /// RFC 6902 "replace": the value must exist; the empty pointer replaces the whole document.
  public mutating func replaceValue(at pointer: JSONPointer, with value: JSON)
    throws(JSONPointerError)
  {
    try modifyParent(of: pointer) { parent, token throws(JSONPointerError) in
      switch parent {
      case .object(var object):
        guard object.contains(key: token) else { throw Self.missing(token, pointer: pointer) }
        parent = .null
        object[token] = value
        parent = .object(object)
      case .array(var elements):
        let index = try Self.existingIndex(token, count: elements.count, pointer: pointer)
        parent = .null
        elements[index] = value
        parent = .array(elements)
      default:
        throw Self.notContainer(parent, pointer: pointer)
      }
    } whole: { document in
      document = value
    }
  }

  /// Walks to the parent of the pointer's target, mutating in place all the way down, and hands
  /// it and the last token to `body`; `whole` handles the empty pointer.
  private mutating func modifyParent(
    of pointer: JSONPointer,
    _ body: (inout JSON, String) throws(JSONPointerError) -> Void,
    whole: (inout JSON) throws(JSONPointerError) -> Void
  ) throws(JSONPointerError) {
    guard let last = pointer.tokens.last else {
      try whole(&self)
      return
    }
    try descend(pointer.tokens.dropLast(), pointer: pointer) { parent throws(JSONPointerError) in
      try body(&parent, last)
    }
  }

  private mutating func descend(
    _ tokens: ArraySlice<String>, pointer: JSONPointer,
    _ body: (inout JSON) throws(JSONPointerError) -> Void
  ) throws(JSONPointerError) {
    guard let token = tokens.first else {
      try body(&self)
      return
    }
    switch self {
    case .object(var object):
      guard object.contains(key: token) else { throw Self.missing(token, pointer: pointer) }
      self = .null
      defer { self = .object(object) }
      try object.modifyValue(forKey: token) { child throws(JSONPointerError) in
        try child.descend(tokens.dropFirst(), pointer: pointer, body)
      }
    case .array(var elements):
      let index = try Self.existingIndex(token, count: elements.count, pointer: pointer)
      self = .null
      defer { self = .array(elements) }
      try elements[index].descend(tokens.dropFirst(), pointer: pointer, body)
    default:
      throw Self.notContainer(self, pointer: pointer)
    }
  }

  /// An array index as RFC 6901 writes it: "0" or digits without a leading zero.
  static func arrayIndex(_ token: String) -> Int? {
    guard let first = token.utf8.first, first != UInt8(ascii: "0") || token.utf8.count == 1,
      token.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
    else { return nil }
    return Int(token)
  }

  /// The index a token names in an array of `count` elements; `allowingEnd` admits `count`
  /// itself, where "add" inserts at the end.
  private static func existingIndex(
    _ token: String, count: Int, allowingEnd: Bool = false, pointer: JSONPointer
  ) throws(JSONPointerError) -> Int {
    guard let index = arrayIndex(token) else {
      throw JSONPointerError(
        pointer: pointer.description, message: "'\(token)' is not a valid array index")
    }
    guard index < count || (allowingEnd && index == count) else {
      throw JSONPointerError(
        pointer: pointer.description,
        message: "array index \(index) is out of range (the array has \(count) elements)")
    }
    return index
  }

  private static func missing(_ token: String, pointer: JSONPointer) -> JSONPointerError {
    JSONPointerError(pointer: pointer.description, message: "member '\(token)' not found")
  }

  private static func notContainer(_ value: JSON, pointer: JSONPointer) -> JSONPointerError {
    JSONPointerError(
      pointer: pointer.description,
      message: "cannot descend into \(value.kindDescription), only objects and arrays")
  }
}
