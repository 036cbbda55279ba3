// Label and field selectors as the list and watch query parameters carry them:
// `app=web,tier!=db,env in (prod,staging),!canary` and `metadata.name=x,spec.nodeName!=`.
import FoundationEssentials
import Glibc
import ObjectModel

public struct LabelSelector: Sendable, Equatable {
  public enum Requirement: Sendable, Equatable {
    case equals(String, String), notEquals(String, String)
    case isIn(String, Set<String>), notIn(String, Set<String>)
    case exists(String), doesNotExist(String)
  }

  public let requirements: [Requirement]

  public var isEmpty: Bool { requirements.isEmpty }

  public static let everything = LabelSelector(requirements: [])

  public init(requirements: [Requirement]) { self.requirements = requirements }

  public init(parsing text: String) throws(APIError) {
    var requirements: [Requirement] = []
    for term in try Self.splitTerms(text) {
      let term = term.trimmingSpaces
      guard !term.isEmpty else { continue }
      requirements.append(try Self.requirement(term))
    }
    self.requirements = requirements
  }

  /// A `matchLabels` / `matchExpressions` selector object, as Deployments and Services carry.
  public init(object: JSON) throws(APIError) {
    var requirements: [Requirement] = []
    for (key, value) in object["matchLabels"]?.objectValue ?? [:] {
      requirements.append(.equals(key, value.stringValue ?? ""))
    }
    for expression in object["matchExpressions"]?.arrayValue ?? [] {
      let key = expression["key"]?.stringValue ?? ""
      let values = Set((expression["values"]?.arrayValue ?? []).compactMap(\.stringValue))
      switch expression["operator"]?.stringValue {
      case "In": requirements.append(.isIn(key, values))
      case "NotIn": requirements.append(.notIn(key, values))
      case "Exists": requirements.append(.exists(key))
      case "DoesNotExist": requirements.append(.doesNotExist(key))
      case let other: throw APIError.badRequest("unknown label selector operator \(other ?? "null")")
      }
    }
    self.requirements = requirements
  }

  public func matches(_ labels: JSONObject?) -> Bool {
    requirements.allSatisfy { requirement in
      switch requirement {
      case .equals(let key, let value): labels?[key]?.stringValue == value
      case .notEquals(let key, let value): labels?[key]?.stringValue != value
      case .isIn(let key, let values): labels?[key]?.stringValue.map(values.contains) ?? false
      case .notIn(let key, let values): !(labels?[key]?.stringValue.map(values.contains) ?? false)
      case .exists(let key): labels?[key] != nil
      case .doesNotExist(let key): labels?[key] == nil
      }
    }
  }

  /// Commas separate terms except inside `in (a,b)` sets.
  private static func splitTerms(_ text: String) throws(APIError) -> [Substring] {
    var terms: [Substring] = []
    var depth = 0
    var start = text.startIndex
    for index in text.indices {
      switch text[index] {
      case "(": depth += 1
      case ")": depth -= 1
      case "," where depth == 0:
        terms.append(text[start..<index])
        start = text.index(after: index)
      default: break
      }
    }
    guard depth == 0 else { throw APIError.badRequest("unable to parse requirement: unbalanced parentheses in \"\(text)\"") }
    terms.append(text[start...])
    return terms
  }

  private static func requirement(_ term: String) throws(APIError) -> Requirement {
    if term.hasPrefix("!") { return .doesNotExist(try key(String(term.dropFirst()).trimmingSpaces)) }
    for op in ["!=", "==", "="] {
      if let range = term.firstRange(of: op) {
        let key = try key(String(term[..<range.lowerBound]).trimmingSpaces)
        let value = String(term[range.upperBound...]).trimmingSpaces
        return op == "!=" ? .notEquals(key, value) : .equals(key, value)
      }
    }
    let words = term.split(separator: " ", maxSplits: 1).map(String.init)
    if words.count == 2 {
      let rest = words[1].trimmingSpaces
      for (op, negated) in [("in", false), ("notin", true)] where rest.hasPrefix(op) {
        let set = rest.dropFirst(op.count).trimmingSpaces
        guard set.hasPrefix("("), set.hasSuffix(")") else { break }
        let values = Set(set.dropFirst().dropLast().split(separator: ",").map { String($0).trimmingSpaces })
        return negated ? .notIn(try key(words[0]), values) : .isIn(try key(words[0]), values)
      }
      throw APIError.badRequest("unable to parse requirement: found '\(rest)', expected: in, notin, =, ==, !=")
    }
    return .exists(try key(term))
  }

  private static func key(_ text: String) throws(APIError) -> String {
    guard !text.isEmpty, !text.contains(" ") else {
      throw APIError.badRequest("unable to parse requirement: invalid label key \"\(text)\"")
    }
    return text
  }
}

/// `field=value` and `field!=value` terms over dotted paths into the object.
public struct FieldSelector: Sendable, Equatable {
  public struct Term: Sendable, Equatable {
    public let path: [String]
    public let value: String
    public let negated: Bool
  }

  public let terms: [Term]
  public var isEmpty: Bool { terms.isEmpty }

  public init(parsing text: String) throws(APIError) {
    var terms: [Term] = []
    for raw in text.split(separator: ",") {
      let term = String(raw).trimmingSpaces
      guard !term.isEmpty else { continue }
      let negated = term.contains("!=")
      let parts = term.components(separatedBy: negated ? "!=" : (term.contains("==") ? "==" : "="))
      guard parts.count == 2, !parts[0].isEmpty else {
        throw APIError.badRequest("invalid selector: '\(term)'; can't understand '\(term)'")
      }
      terms.append(Term(path: parts[0].split(separator: ".").map(String.init), value: parts[1], negated: negated))
    }
    self.terms = terms
  }

  public func matches(_ object: JSON) -> Bool {
    terms.allSatisfy { term in
      let actual = FieldSelector.text(object[path: term.path])
      return term.negated ? actual != term.value : actual == term.value
    }
  }

  /// Fields compare as their text, absent fields as "", as the API server's field sets do.
  private static func text(_ value: JSON?) -> String {
    switch value {
    case .string(let text): text
    case .bool(let flag): flag ? "true" : "false"
    case .int(let number): String(number)
    case .double(let number): String(number)
    default: ""
    }
  }
}

extension StringProtocol {
  /// Without the spaces at either end. Works on UTF-8 bytes: it runs on every request.
  var trimmingSpaces: String {
    let bytes = Array(utf8)
    guard let first = bytes.firstIndex(where: { $0 != 0x20 }),
          let last = bytes.lastIndex(where: { $0 != 0x20 }) else { return "" }
    return String(decoding: bytes[first...last], as: UTF8.self)
  }

}
