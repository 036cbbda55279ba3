// A service's C signature, parsed from the one-letter-per-type string that skiff.h documents:
// the result type, then the argument types in parentheses, e.g. "l(sl)".

public struct ServiceSignature: Sendable, Equatable, CustomStringConvertible {
  /// The C types a service may take and return.
  public enum ValueType: Sendable, Equatable, CaseIterable, CustomStringConvertible {
    case void    // v: result only
    case int32   // i: int32_t
    case int64   // l: int64_t
    case double  // d: double
    case string  // s: const char *, NUL-terminated

    /// The letter that stands for this type in a signature string.
    public var letter: Character {
      switch self {
      case .void: "v"
      case .int32: "i"
      case .int64: "l"
      case .double: "d"
      case .string: "s"
      }
    }

    public var description: String {
      switch self {
      case .void: "void"
      case .int32: "int32"
      case .int64: "int64"
      case .double: "double"
      case .string: "string"
      }
    }

    init?(letter: Character) {
      guard let type = Self.allCases.first(where: { $0.letter == letter }) else { return nil }
      self = type
    }
  }

  /// libffi is happy with more, but a bound keeps argument storage on the stack and catches typos.
  public static let maxArguments = 16

  public let result: ValueType
  public let arguments: [ValueType]

  public init(parsing text: String) throws(ServiceError) {
    func invalid(_ problem: String) -> ServiceError {
      ServiceError(.invalidSignature, "invalid signature '\(text)': \(problem)")
    }
    // Positions are 1-based characters, as a user counts them in the error message.
    let letters = Array(text)
    guard let first = letters.first else {
      throw invalid("it is empty; write the result type, then the argument types in "
        + "parentheses, e.g. 'l(sl)'")
    }
    guard let result = ValueType(letter: first) else {
      throw invalid("unknown result type '\(first)' at position 1; use v, i, l, d or s")
    }
    guard letters.count > 1, letters[1] == "(" else {
      throw invalid("expected '(' at position 2, after the result type, e.g. '\(first)()'")
    }
    guard let close = letters.firstIndex(of: ")") else {
      throw invalid("missing ')' after the argument types")
    }
    guard close == letters.count - 1 else {
      throw invalid("unexpected '\(letters[close + 1])' at position \(close + 2), after ')'")
    }
    var arguments: [ValueType] = []
    for index in 2..<close {
      let letter = letters[index]
      guard let type = ValueType(letter: letter) else {
        throw invalid(
          "unknown argument type '\(letter)' at position \(index + 1); use i, l, d or s")
      }
      guard type != .void else {
        throw invalid("'v' (void) at position \(index + 1) is only allowed as the result type")
      }
      arguments.append(type)
    }
    guard arguments.count <= Self.maxArguments else {
      throw invalid("\(arguments.count) arguments, at most \(Self.maxArguments) are allowed")
    }
    self.result = result
    self.arguments = arguments
  }

  /// The signature string, e.g. "l(sl)".
  public var description: String {
    String(result.letter) + "(" + String(arguments.map(\.letter)) + ")"
  }
}
