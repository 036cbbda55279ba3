// A JSON object's members in the order they were added, so that a stored object prints the same
// way every time. Kubernetes objects are small (a few to a few dozen keys per level), so a linear
// scan beats hashing every key on the parser's hot path.

public struct JSONObject: Sendable {
  /// Stored as a struct rather than a tuple: arrays of tuples copy and destroy through the
  /// runtime's generic tuple witnesses, which showed up in parser profiles.
  struct Member {
    var key: String
    var value: JSON
  }

  /// Internal so the printer can walk it without copying each member out.
  private(set) var members: [Member]

  public init() { members = [] }

  /// Keeps the first position and the last value of a repeated key, as `parse` does.
  public init(_ members: some Sequence<(String, JSON)>) {
    self.members = []
    for (key, value) in members { self[key] = value }
  }

  /// For building in code; a repeated key keeps its first position and its last value.
  public init(_ members: some Sequence<(key: String, value: JSON)>) {
    self.members = []
    for member in members { self[member.key] = member.value }
  }

  /// For the parser, which has checked that the keys are distinct.
  init(uniqueMembers: [Member]) { members = uniqueMembers }

  public var keys: [String] { members.map(\.key) }

  public func index(forKey key: String) -> Int? {
    members.firstIndex { $0.key == key }
  }

  public func contains(key: String) -> Bool { index(forKey: key) != nil }

  /// Setting a new key appends it; setting an existing key replaces its value in place; setting
  /// nil removes the member.
  public subscript(key: String) -> JSON? {
    get {
      guard let index = index(forKey: key) else { return nil }
      return members[index].value
    }
    set {
      let index = index(forKey: key)
      switch (index, newValue) {
      case (let index?, let value?): members[index].value = value
      case (let index?, nil): members.remove(at: index)
      case (nil, let value?): members.append(Member(key: key, value: value))
      case (nil, nil): break
      }
    }
  }

  @discardableResult
  public mutating func removeValue(forKey key: String) -> JSON? {
    guard let index = index(forKey: key) else { return nil }
    return members.remove(at: index).value
  }

  /// Changes a member's value where it stands, without copying it (the value is uniquely owned
  /// while `body` runs); a missing member is first added at the end with `defaultValue`.
  public mutating func modifyValue<Result, Failure: Error>(
    forKey key: String, default defaultValue: @autoclosure () -> JSON = .null,
    _ body: (inout JSON) throws(Failure) -> Result
  ) throws(Failure) -> Result {
    let index: Int
    if let existing = self.index(forKey: key) {
      index = existing
    } else {
      members.append(Member(key: key, value: defaultValue()))
      index = members.count - 1
    }
    return try body(&members[index].value)
  }

  /// Drops the members that pass the test, keeping the order of the rest.
  public mutating func removeAll(where shouldRemove: (Element) throws -> Bool) rethrows {
    try members.removeAll { try shouldRemove(($0.key, $0.value)) }
  }
}

extension JSONObject: RandomAccessCollection {
  public var startIndex: Int { members.startIndex }
  public var endIndex: Int { members.endIndex }
  public subscript(position: Int) -> (key: String, value: JSON) {
    let member = members[position]
    return (member.key, member.value)
  }
}

extension JSONObject: ExpressibleByDictionaryLiteral {
  public init(dictionaryLiteral members: (String, JSON)...) { self.init(members) }
}

/// Equal when the members are the same, whatever their order: JSON objects are unordered.
extension JSONObject: Hashable {
  public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
    guard lhs.count == rhs.count else { return false }
    return lhs.allSatisfy { member in rhs[member.key] == member.value }
  }

  public func hash(into hasher: inout Hasher) {
    // Order-independent: add up each member's own hash.
    var sum = 0
    for member in members {
      var memberHasher = Hasher()
      memberHasher.combine(member.key)
      memberHasher.combine(member.value)
      sum &+= memberHasher.finalize()
    }
    hasher.combine(count)
    hasher.combine(sum)
  }
}
