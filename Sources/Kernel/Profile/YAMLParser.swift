// YAML text to a YAMLNode tree through libyaml's event parser. libyaml checks the syntax; this
// file adds what its event API leaves to the caller: aliases, duplicate keys and a single document.
import CLibYAML

public enum YAMLParser {
  /// Past this many nodes, counting each alias as the whole node it repeats, a document is an
  /// alias bomb ("billion laughs") rather than a configuration.
  static let maxExpandedNodes = 1_000_000
  /// Deeper trees would overflow the stack of the recursive code that walks (and frees) them.
  static let maxDepth = 1_000

  /// Parses one document; an empty one is an empty mapping.
  public static func parse(_ text: String, file: String) throws(ProfileError) -> YAMLNode {
    var text = text
    return try text.withUTF8 { bytes in
      Result { () throws(ProfileError) in try parse(bytes: bytes, file: file) }
    }.get()
  }

  /// Parses raw bytes, so that libyaml rather than Swift's String judges the encoding of a file
  /// and reports a bad byte where it is instead of quietly replacing it.
  static func parse(bytes: UnsafeBufferPointer<UInt8>, file: String) throws(ProfileError)
    -> YAMLNode
  {
    let start = SourceMark(file: file, line: 1, column: 1)
    guard let text = bytes.baseAddress, !bytes.isEmpty else {
      return YAMLNode(.mapping([]), at: start)
    }
    let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
    defer { parser.deallocate() }
    guard yaml_parser_initialize(parser) != 0 else {
      throw ProfileError("out of memory", at: start)
    }
    defer { yaml_parser_delete(parser) }
    yaml_parser_set_input_string(parser, text, bytes.count)

    var builder = TreeBuilder(file: file)
    var event = yaml_event_t()
    repeat {
      guard yaml_parser_parse(parser, &event) != 0 else {
        throw syntaxError(parser.pointee, in: bytes, file: file)
      }
      defer { yaml_event_delete(&event) }
      try builder.handle(event)
    } while !builder.finished

    guard let root = builder.root else { return YAMLNode(.mapping([]), at: start) }
    // A document that is only `---` holds one empty plain scalar: as empty as no document at all.
    if case .scalar("", quoted: false) = root.value {
      return YAMLNode(.mapping([]), at: root.mark)
    }
    return root
  }

  private static func syntaxError(
    _ parser: yaml_parser_t, in bytes: UnsafeBufferPointer<UInt8>, file: String
  ) -> ProfileError {
    let problem = parser.problem.map { String(cString: $0) } ?? "invalid YAML"
    switch parser.error {
    case YAML_MEMORY_ERROR:
      return ProfileError("out of memory", at: SourceMark(file: file, line: 1, column: 1))
    case YAML_READER_ERROR:
      // The reader fails before it counts lines, so it reports a byte offset and the bad value.
      let value = parser.problem_value == -1 ? "" : " (0x\(hex(parser.problem_value)))"
      return ProfileError(
        problem + value, at: mark(ofByte: parser.problem_offset, in: bytes, file: file))
    default:
      var message = problem
      if let context = parser.context {
        let contextMark = SourceMark(parser.context_mark, file: file)
        message += " (\(String(cString: context)) at \(contextMark.lineAndColumn))"
      }
      return ProfileError(message, at: SourceMark(parser.problem_mark, file: file))
    }
  }

  private static func hex(_ value: Int32) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return digits.count % 2 == 1 ? "0" + digits : digits
  }

  /// Counts lines and characters (not bytes) up to `offset`, as libyaml's own marks do.
  private static func mark(ofByte offset: Int, in bytes: UnsafeBufferPointer<UInt8>, file: String)
    -> SourceMark
  {
    var line = 1
    var column = 1
    for byte in bytes.prefix(offset) {
      if byte == UInt8(ascii: "\n") {
        line += 1
        column = 1
      } else if byte & 0b1100_0000 != 0b1000_0000 {
        column += 1
      }
    }
    return SourceMark(file: file, line: line, column: column)
  }
}

extension SourceMark {
  fileprivate init(_ mark: yaml_mark_t, file: String) {
    self.init(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
  }
}

/// Turns libyaml's events into nodes: collections stay open on a stack until their end event.
private struct TreeBuilder {
  private struct OpenCollection {
    let mark: SourceMark
    let anchor: String?
    let isMapping: Bool
    /// `expandedNodes` before this collection began, to weigh it if an alias repeats it.
    let expandedBefore: Int
    /// A mapping's keys and values alternate here.
    var items: [YAMLNode] = []
    var keyMarks: [String: SourceMark] = [:]
  }

  let file: String
  private(set) var root: YAMLNode?
  private(set) var finished = false
  private var documents = 0
  private var open: [OpenCollection] = []
  /// Each anchored node with the number of nodes it expands to.
  private var anchors: [String: (node: YAMLNode, weight: Int)] = [:]
  private var expandedNodes = 0

  init(file: String) {
    self.file = file
  }

  mutating func handle(_ event: yaml_event_t) throws(ProfileError) {
    let mark = SourceMark(event.start_mark, file: file)
    switch event.type {
    case YAML_DOCUMENT_START_EVENT:
      documents += 1
      if documents > 1 {
        throw ProfileError("expected one YAML document, found a second one", at: mark)
      }
    case YAML_STREAM_END_EVENT:
      finished = true
    case YAML_SCALAR_EVENT:
      let scalar = event.data.scalar
      let text = String(
        decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
      // `!!str 42` and `! 42` are strings as surely as `"42"` is.
      let tag = scalar.tag.map { String(cString: $0) }
      let quoted =
        scalar.style != YAML_PLAIN_SCALAR_STYLE || tag == "!" || tag == "tag:yaml.org,2002:str"
      let before = expandedNodes
      expandedNodes += 1
      try add(
        YAMLNode(.scalar(text, quoted: quoted), at: mark), anchor: Self.name(scalar.anchor),
        weight: expandedNodes - before)
    case YAML_ALIAS_EVENT:
      try addAlias(Self.name(event.data.alias.anchor) ?? "", at: mark)
    case YAML_SEQUENCE_START_EVENT:
      try begin(at: mark, anchor: Self.name(event.data.sequence_start.anchor), isMapping: false)
    case YAML_MAPPING_START_EVENT:
      try begin(at: mark, anchor: Self.name(event.data.mapping_start.anchor), isMapping: true)
    case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
      let collection = open.removeLast()
      let value: YAMLValue
      if collection.isMapping {
        value = .mapping(
          stride(from: 0, to: collection.items.count, by: 2).map {
            (key: collection.items[$0], value: collection.items[$0 + 1])
          })
      } else {
        value = .sequence(collection.items)
      }
      try add(
        YAMLNode(value, at: collection.mark), anchor: collection.anchor,
        weight: expandedNodes - collection.expandedBefore)
    default:
      break
    }
  }

  private static func name(_ anchor: UnsafeMutablePointer<yaml_char_t>?) -> String? {
    anchor.map { String(cString: $0) }
  }

  private mutating func begin(at mark: SourceMark, anchor: String?, isMapping: Bool)
    throws(ProfileError)
  {
    guard open.count < YAMLParser.maxDepth else {
      throw ProfileError("nested more than \(YAMLParser.maxDepth) levels deep", at: mark)
    }
    open.append(
      OpenCollection(
        mark: mark, anchor: anchor, isMapping: isMapping, expandedBefore: expandedNodes))
    expandedNodes += 1
  }

  private mutating func addAlias(_ name: String, at mark: SourceMark) throws(ProfileError) {
    guard let anchored = anchors[name] else {
      if open.contains(where: { $0.anchor == name }) {
        throw ProfileError("alias '*\(name)' refers to a node that contains it", at: mark)
      }
      throw ProfileError("undefined alias '*\(name)' (no anchor '&\(name)' before it)", at: mark)
    }
    expandedNodes += anchored.weight
    guard expandedNodes <= YAMLParser.maxExpandedNodes else {
      throw ProfileError(
        "aliases expand the document past \(YAMLParser.maxExpandedNodes) nodes", at: mark)
    }
    // The alias's own position, not the anchor's: an error about this value is about this use.
    try add(YAMLNode(anchored.node.value, at: mark), anchor: nil, weight: anchored.weight)
  }

  private mutating func add(_ node: YAMLNode, anchor: String?, weight: Int) throws(ProfileError) {
    if let anchor {
      anchors[anchor] = (node, weight)
    }
    guard let parent = open.indices.last else {
      root = node
      return
    }
    if open[parent].isMapping && open[parent].items.count % 2 == 0 {
      guard let key = node.stringValue else {
        throw ProfileError(
          "a mapping key must be a scalar, not \(node.kindDescription)", at: node.mark)
      }
      if let first = open[parent].keyMarks[key] {
        throw ProfileError(
          "duplicate key '\(key)' (first at \(first.lineAndColumn))", at: node.mark)
      }
      open[parent].keyMarks[key] = node.mark
    }
    open[parent].items.append(node)
  }
}
