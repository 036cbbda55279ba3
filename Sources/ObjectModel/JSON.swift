// A JSON value: how Skiff holds a Kubernetes object whole, so that fields it does not act on
// round-trip untouched. Parsing is in JSONParser.swift, printing in JSONSerializer.swift.

/// Not `indirect`: arrays and objects already live on the heap, and boxing every scalar as well
/// would cost an allocation per value on the parser's hot path.
public enum JSON: Sendable {
  case null
  case bool(Bool)
  /// A number written without fraction or exponent that fits in 64 bits, as Kubernetes' own
  /// decoder keeps it (resource versions, ports and generations must not turn into floats).
  case int(Int64)
  case double(Double)
  case string(String)
  case array([JSON])
  case object(JSONObject)
}

// MARK: - Typed access

extension JSON {
  public var isNull: Bool {
    if case .null = self { return true }
    return false
  }

  public var boolValue: Bool? {
    if case .bool(let value) = self { return value }
    return nil
  }

  /// Only `.int`: a `1.5` or `1e3` in a field that should hold an integer is the caller's error to
  /// report, not something to round away here.
  public var intValue: Int64? {
    if case .int(let value) = self { return value }
    return nil
  }

  /// Either kind of number.
  public var doubleValue: Double? {
    switch self {
    case .int(let value): Double(value)
    case .double(let value): value
    default: nil
    }
  }

  public var stringValue: String? {
    if case .string(let value) = self { return value }
    return nil
  }

  public var arrayValue: [JSON]? {
    if case .array(let value) = self { return value }
    return nil
  }

  public var objectValue: JSONObject? {
    if case .object(let value) = self { return value }
    return nil
  }

  /// What kind of value this is, for error messages ("expected an object, found a string").
  public var kindDescription: String {
    switch self {
    case .null: "null"
    case .bool: "a boolean"
    case .int, .double: "a number"
    case .string: "a string"
    case .array: "an array"
    case .object: "an object"
    }
  }
}

// MARK: - Subscripts

extension JSON {
  /// A member of an object; nil when this is not an object or has no such member. Setting a
  /// member on a value that is not an object replaces that value with an object; setting nil
  /// removes the member (and leaves a non-object alone).
  public subscript(key: String) -> JSON? {
    get { objectValue?[key] }
    set {
      if newValue == nil, objectValue == nil { return }
      var object = takeObject()
      object[key] = newValue
      self = .object(object)
    }
  }

  /// An element of an array; nil when this is not an array or the index is out of range. Setting
  /// replaces an existing element (nil removes it) and traps on an index out of range, like
  /// `Array`.
  public subscript(index: Int) -> JSON? {
    get {
      guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
      return elements[index]
    }
    set {
      guard case .array(var elements) = self else {
        preconditionFailure("JSON[\(index)] set on \(kindDescription), not an array")
      }
      self = .null  // drop our reference so the array is uniquely owned and mutates in place
      if let newValue {
        elements[index] = newValue
      } else {
        elements.remove(at: index)
      }
      self = .array(elements)
    }
  }

  /// A value down a chain of object members, such as `["metadata", "name"]`. Setting creates the
  /// objects on the way (replacing any non-object in the way, as the member setter does); setting
  /// nil removes the last member and leaves the objects above it in place.
  public subscript(path path: [String]) -> JSON? {
    get {
      var current = self
      for key in path {
        guard let next = current[key] else { return nil }
        current = next
      }
      return current
    }
    set {
      if path.isEmpty {
        self = newValue ?? .null
      } else if let newValue {
        setValue(newValue, along: path[...])
      } else {
        removeValue(along: path[...])
      }
    }
  }

  private mutating func setValue(_ newValue: JSON, along path: ArraySlice<String>) {
    let key = path[path.startIndex]
    var object = takeObject()
    if path.count == 1 {
      object[key] = newValue
    } else {
      object.modifyValue(forKey: key, default: .object([:])) { child in
        child.setValue(newValue, along: path.dropFirst())
      }
    }
    self = .object(object)
  }

  private mutating func removeValue(along path: ArraySlice<String>) {
    let key = path[path.startIndex]
    guard case .object(var object) = self, object.contains(key: key) else { return }
    self = .null
    if path.count == 1 {
      object.removeValue(forKey: key)
    } else {
      object.modifyValue(forKey: key) { child in child.removeValue(along: path.dropFirst()) }
    }
    self = .object(object)
  }

  /// This value's object, leaving `.null` behind so that the caller holds the only reference and
  /// can mutate it without copying; a non-object yields an empty object.
  mutating func takeObject() -> JSONObject {
    guard case .object(let object) = self else { return [:] }
    self = .null
    return object
  }
}

// MARK: - Equality

/// JSON equality, as RFC 6902's `test` defines it: objects are equal when they have the same
/// members in any order, and numbers when they are numerically equal (`1` equals `1.0`).
extension JSON: Hashable {
  public static func == (lhs: JSON, rhs: JSON) -> Bool {
    switch (lhs, rhs) {
    case (.null, .null): true
    case (.bool(let a), .bool(let b)): a == b
    case (.int(let a), .int(let b)): a == b
    case (.double(let a), .double(let b)): a == b
    case (.int(let a), .double(let b)), (.double(let b), .int(let a)): Self.integer(exactly: b) == a
    case (.string(let a), .string(let b)): a == b
    case (.array(let a), .array(let b)): a == b
    case (.object(let a), .object(let b)): a == b
    default: false
    }
  }

  public func hash(into hasher: inout Hasher) {
    switch self {
    case .null: hasher.combine(0)
    case .bool(let value): hasher.combine(value)
    case .int(let value): hasher.combine(value)
    case .double(let value):
      // Hash an integral double like the integer it equals.
      if let integer = Self.integer(exactly: value) {
        hasher.combine(integer)
      } else {
        hasher.combine(value)
      }
    case .string(let value): hasher.combine(value)
    case .array(let elements): hasher.combine(elements)
    case .object(let object): hasher.combine(object)
    }
  }
}

extension JSON {
  /// The Int64 a double equals, if any. Not `Int64(exactly:)`, which calls libm's `trunc` and so
  /// would make every program linking this module link libm too.
  static func integer(exactly value: Double) -> Int64? {
    guard value >= -0x1p63, value < 0x1p63 else { return nil }  // NaN fails this too
    let integer = Int64(value)
    return Double(integer) == value ? integer : nil
  }
}

// MARK: - Literals, for building documents in code

extension JSON: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
  ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
  ExpressibleByDictionaryLiteral
{
  public init(nilLiteral: ()) { self = .null }
  public init(booleanLiteral value: Bool) { self = .bool(value) }
  public init(integerLiteral value: Int64) { self = .int(value) }
  public init(floatLiteral value: Double) { self = .double(value) }
  public init(stringLiteral value: String) { self = .string(value) }
  public init(arrayLiteral elements: JSON...) { self = .array(elements) }
  public init(dictionaryLiteral members: (String, JSON)...) {
    self = .object(JSONObject(members))
  }
}
