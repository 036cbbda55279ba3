// JSON Patch (RFC 6902), `application/json-patch+json`: a list of operations on JSON pointers,
// applied all or nothing. `kubectl rollout undo` and `kubectl patch --type json` send these.

public struct JSONPatch: Sendable, Hashable {
  public enum Operation: Sendable, Hashable {
    case add(path: JSONPointer, value: JSON)
    case remove(path: JSONPointer)
    case replace(path: JSONPointer, value: JSON)
    case move(from: JSONPointer, path: JSONPointer)
    case copy(from: JSONPointer, path: JSONPointer)
    case test(path: JSONPointer, value: JSON)

    public var name: String {
      switch self {
      case .add: "add"
      case .remove: "remove"
      case .replace: "replace"
      case .move: "move"
      case .copy: "copy"
      case .test: "test"
      }
    }

    public var path: JSONPointer {
      switch self {
      case .add(let path, _), .remove(let path), .replace(let path, _), .move(_, let path),
        .copy(_, let path), .test(let path, _):
        path
      }
    }
  }

  public var operations: [Operation]

  public init(operations: [Operation]) { self.operations = operations }

  /// Reads a patch document: an array of operation objects. Members an operation does not use
  /// are ignored, as RFC 6902 requires.
  public init(_ document: JSON) throws(JSONPatchError) {
    guard case .array(let items) = document else {
      throw JSONPatchError(
        operationIndex: nil, operation: nil, path: nil,
        message: "a JSON patch must be an array of operations, not \(document.kindDescription)")
    }
    var operations: [Operation] = []
    operations.reserveCapacity(items.count)
    for (index, item) in items.enumerated() {
      operations.append(try Self.operation(item, index: index))
    }
    self.operations = operations
  }

  private static func operation(_ item: JSON, index: Int) throws(JSONPatchError) -> Operation {
    func fail(_ message: String, op: String? = nil, path: String? = nil) -> JSONPatchError {
      JSONPatchError(operationIndex: index, operation: op, path: path, message: message)
    }
    guard case .object(let members) = item else {
      throw fail("an operation must be an object, not \(item.kindDescription)")
    }
    guard let op = members["op"]?.stringValue else { throw fail("missing string member 'op'") }
    func pointer(_ member: String) throws(JSONPatchError) -> JSONPointer {
      guard let text = members[member]?.stringValue else {
        throw fail("missing string member '\(member)'", op: op, path: members["path"]?.stringValue)
      }
      do {
        return try JSONPointer(text)
      } catch {
        throw fail(error.message, op: op, path: text)
      }
    }
    func value() throws(JSONPatchError) -> JSON {
      // Present but null is a value; absent is an error.
      guard let value = members["value"] else {
        throw fail("missing member 'value'", op: op, path: members["path"]?.stringValue)
      }
      return value
    }
    switch op {
    case "add": return .add(path: try pointer("path"), value: try value())
    case "remove": return .remove(path: try pointer("path"))
    case "replace": return .replace(path: try pointer("path"), value: try value())
    case "move": return .move(from: try pointer("from"), path: try pointer("path"))
    case "copy": return .copy(from: try pointer("from"), path: try pointer("path"))
    case "test": return .test(path: try pointer("path"), value: try value())
    default:
      throw fail(
        "unknown operation '\(op)' (expected add, remove, replace, move, copy or test)", op: op,
        path: members["path"]?.stringValue)
    }
  }

  /// Applies every operation in order; if any fails, the document is left as it was and the
  /// error names that operation.
  public func apply(to document: JSON) throws(JSONPatchError) -> JSON {
    var result = document
    for (index, operation) in operations.enumerated() {
      do {
        try Self.apply(operation, to: &result)
      } catch {
        // A failure at the source of a move or copy says so; the error names the target path.
        let message = error.pointer == operation.path.description
          ? error.message : "from \(error.pointer): \(error.message)"
        throw JSONPatchError(
          operationIndex: index, operation: operation.name, path: operation.path.description,
          message: message)
      }
    }
    return result
  }

  private static func apply(_ operation: Operation, to document: inout JSON)
    throws(JSONPointerError)
  {
    switch operation {
    case .add(let path, let value):
      try document.addValue(value, at: path)
    case .remove(let path):
      try document.removeValue(at: path)
    case .replace(let path, let value):
      try document.replaceValue(at: path, with: value)
    case .move(let from, let path):
      if from == path { return }
      if path.tokens.count > from.tokens.count,
        Array(path.tokens.prefix(from.tokens.count)) == from.tokens
      {
        throw JSONPointerError(
          pointer: path.description,
          message: "cannot move \(from) into one of its own children")
      }
      let value = try document.removeValue(at: from)
      try document.addValue(value, at: path)
    case .copy(let from, let path):
      guard let value = document.value(at: from) else {
        throw JSONPointerError(pointer: from.description, message: "'from' names no value")
      }
      try document.addValue(value, at: path)
    case .test(let path, let expected):
      guard let actual = document.value(at: path) else {
        throw JSONPointerError(pointer: path.description, message: "test failed: no value here")
      }
      guard actual == expected else {
        throw JSONPointerError(
          pointer: path.description,
          message: "test failed: expected \(expected), found \(actual)")
      }
    }
  }
}

/// Why a JSON patch could not be read or applied: which operation (counting from 0), what it
/// was, the path it named, and what went wrong. Kubernetes answers these with 422.
public struct JSONPatchError: Error, Sendable, Equatable, CustomStringConvertible {
  public let operationIndex: Int?
  public let operation: String?
  public let path: String?
  public let message: String

  public var description: String {
    var text = "json patch"
    if let operationIndex { text += " operation \(operationIndex)" }
    if let operation {
      text += " (\(operation)"
      if let path { text += " \(path.isEmpty ? "\"\"" : path)" }
      text += ")"
    }
    return text + ": " + message
  }
}
