// A parsed YAML document as a small value tree: scalars keep their text and whether they were
// quoted, mappings keep their key order, and every node remembers where it was written.

/// A position in a source file; line and column are 1-based, as editors and compilers count them.
public struct SourceMark: Sendable, Equatable {
  public let file: String
  public let line: Int
  public let column: Int

  public init(file: String, line: Int, column: Int) {
    self.file = file
    self.line = line
    self.column = column
  }

  /// The file as a whole, for errors that have no position (the file cannot be read at all).
  public static func wholeFile(_ file: String) -> SourceMark {
    SourceMark(file: file, line: 0, column: 0)
  }

  /// `LINE:COLUMN`, for messages that point at a second place in the same file.
  var lineAndColumn: String { "\(line):\(column)" }
}

public indirect enum YAMLValue: Sendable {
  /// `quoted` is true for every style but plain (and for a plain scalar tagged `!!str` or `!`):
  /// such a scalar is a string whatever its text looks like.
  case scalar(String, quoted: Bool)
  case sequence([YAMLNode])
  /// Keys are always scalars (the parser refuses others) and never repeat.
  case mapping([(key: YAMLNode, value: YAMLNode)])
}

public struct YAMLNode: Sendable {
  public let value: YAMLValue
  public let mark: SourceMark

  public init(_ value: YAMLValue, at mark: SourceMark) {
    self.value = value
    self.mark = mark
  }

  /// The text of a scalar; nil for a sequence or a mapping.
  public var stringValue: String? {
    if case .scalar(let text, _) = value { text } else { nil }
  }

  public var sequenceValue: [YAMLNode]? {
    if case .sequence(let items) = value { items } else { nil }
  }

  public var mappingValue: [(key: YAMLNode, value: YAMLNode)]? {
    if case .mapping(let entries) = value { entries } else { nil }
  }

  /// True for `null`, `~` and nothing at all, written plain: YAML's way of leaving a value out.
  public var isNull: Bool {
    if case .scalar(let text, let quoted) = value { CoreScalar(text, quoted: quoted) == .null }
    else { false }
  }

  /// What the node is, in words, for messages such as "must be a mapping, not a sequence".
  public var kindDescription: String {
    switch value {
    case .sequence: "a sequence"
    case .mapping: "a mapping"
    case .scalar(let text, let quoted):
      switch CoreScalar(text, quoted: quoted) {
      case .null: "null"
      case .bool: "a boolean"
      case .number: "a number"
      case .string: "a string"
      }
    }
  }
}
