// A profile: which plugins the kernel loads, where it finds them, and the configuration each one
// receives. The schema is strict, so a misspelt key fails at start-up instead of being ignored.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct Profile: Sendable {
  public static let apiVersion = "skiff.dev/v1alpha1"
  public static let kind = "Profile"

  public let file: String
  public let name: String
  public let description: String?
  /// Where the loader looks, in order, for a plugin listed by name without a path.
  public let pluginDirs: [String]
  /// In the order the profile lists them, which matters where several serve one extension point.
  public let plugins: [PluginEntry]
  /// The node agent's settings; nil when this profile runs no node agent.
  public let agent: AgentSection?

  public static func load(path: String) throws(ProfileError) -> Profile {
    let bytes = try readFile(path)
    let root = try bytes.withUnsafeBufferPointer { bytes in
      Result { () throws(ProfileError) in try YAMLParser.parse(bytes: bytes, file: path) }
    }.get()
    return try Profile(root, file: path)
  }

  /// `file` names the text in errors, and its folder anchors the relative paths in it.
  public static func parse(_ text: String, file: String) throws(ProfileError) -> Profile {
    try Profile(YAMLParser.parse(text, file: file), file: file)
  }

  private init(_ root: YAMLNode, file: String) throws(ProfileError) {
    let fields = try Fields(
      root, named: "profile",
      allowed: ["apiVersion", "kind", "name", "description", "pluginDirs", "plugins", "agent"])
    try expect(fields.required("apiVersion"), "apiVersion", toBe: Self.apiVersion)
    try expect(fields.required("kind"), "kind", toBe: Self.kind)
    let folder = Self.folder(of: file)

    self.file = file
    name = try string(fields.required("name"), "name")
    description = try fields.optional("description").map { node throws(ProfileError) in
      try string(node, "description")
    }
    pluginDirs = try Self.strings(fields.optional("pluginDirs"), "pluginDirs").map {
      Self.resolve($0, in: folder)
    }
    plugins = try Self.pluginEntries(fields.required("plugins"), folder: folder)
    agent = try fields.optional("agent").map { node throws(ProfileError) in try AgentSection(node) }
  }

  private static func pluginEntries(_ node: YAMLNode, folder: String) throws(ProfileError)
    -> [PluginEntry]
  {
    guard let items = node.sequenceValue else {
      throw ProfileError(
        "'plugins' must be a sequence of mappings, not \(node.kindDescription)", at: node.mark)
    }
    var plugins: [PluginEntry] = []
    var nameMarks: [String: SourceMark] = [:]
    for item in items {
      guard item.mappingValue != nil else {
        throw ProfileError(
          "'plugins' must be a sequence of mappings; this entry is \(item.kindDescription)",
          at: item.mark)
      }
      let fields = try Fields(item, named: "plugin entry", allowed: ["name", "path", "config"])

      let nameNode = try fields.required("name")
      let name = try string(nameNode, "name")
      guard isValidPluginName(name) else {
        throw ProfileError(
          "invalid plugin name '\(name)' (use at most 63 lowercase letters, digits, '.', '_' "
            + "and '-', starting with a letter or digit)", at: nameNode.mark)
      }
      if let first = nameMarks[name] {
        throw ProfileError(
          "plugin '\(name)' is listed twice (first at \(first.lineAndColumn))", at: nameNode.mark)
      }
      nameMarks[name] = nameNode.mark

      let path = try fields.optional("path").map { node throws(ProfileError) in
        resolve(try string(node, "path"), in: folder)
      }
      var configJSON = "{}"
      if let config = fields.optional("config") {
        guard config.mappingValue != nil else {
          throw ProfileError(
            "'config' must be a mapping, not \(config.kindDescription)", at: config.mark)
        }
        configJSON = config.json()
      }
      plugins.append(PluginEntry(name: name, path: path, configJSON: configJSON, mark: item.mark))
    }
    return plugins
  }

  private static func strings(_ node: YAMLNode?, _ key: String) throws(ProfileError) -> [String] {
    guard let node else { return [] }
    guard let items = node.sequenceValue else {
      throw ProfileError(
        "'\(key)' must be a sequence of strings, not \(node.kindDescription)", at: node.mark)
    }
    var strings: [String] = []
    for item in items {
      guard item.stringValue != nil, !item.isNull else {
        throw ProfileError(
          "'\(key)' must be a sequence of strings; this entry is \(item.kindDescription)",
          at: item.mark)
      }
      strings.append(try string(item, key))
    }
    return strings
  }

  /// The same rule as Kubernetes' DNS labels, plus '.' and '_', so a name is also a safe file name.
  private static func isValidPluginName(_ name: String) -> Bool {
    func isLowercaseOrDigit(_ byte: UInt8) -> Bool {
      (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
        || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }
    let bytes = Array(name.utf8)
    guard let first = bytes.first, bytes.count <= 63, isLowercaseOrDigit(first) else {
      return false
    }
    return bytes.allSatisfy { isLowercaseOrDigit($0) || "._-".utf8.contains($0) }
  }

  private static func folder(of file: String) -> String {
    guard let slash = file.lastIndex(of: "/") else { return "" }
    return slash == file.startIndex ? "/" : String(file[..<slash])
  }

  /// Relative paths are relative to the profile's folder, so a profile means the same thing
  /// whichever directory the kernel starts in.
  private static func resolve(_ path: String, in folder: String) -> String {
    if path.hasPrefix("/") || folder.isEmpty { return path }
    return folder.hasSuffix("/") ? folder + path : folder + "/" + path
  }

  private static func readFile(_ path: String) throws(ProfileError) -> [UInt8] {
    func cannotRead() -> ProfileError {
      ProfileError(
        "cannot read profile: \(String(cString: strerror(errno)))", at: .wholeFile(path))
    }
    guard let stream = fopen(path, "rb") else { throw cannotRead() }
    defer { fclose(stream) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while true {
      let count = fread(&chunk, 1, chunk.count, stream)
      bytes += chunk[..<count]
      if count < chunk.count {
        if ferror(stream) != 0 { throw cannotRead() }
        return bytes
      }
    }
  }
}

/// One plugin to load. `path` is nil when the loader is to find the plugin by name in the
/// profile's pluginDirs.
public struct PluginEntry: Sendable {
  public let name: String
  public let path: String?
  /// The plugin's `config:` as a JSON object, "{}" when the profile gives none.
  public let configJSON: String
  /// Where the entry starts, for the loader's own errors about this plugin.
  public let mark: SourceMark
}

/// The profile's `agent:` section: how the node agent (kubelet's role) runs on this machine.
/// Every key is optional; `agent: {}` runs an agent with the defaults.
public struct AgentSection: Sendable {
  /// The Node's name; default: the host name.
  public let nodeName: String?
  /// Where the agent serves the kubelet's endpoints (logs), host:port; default 127.0.0.1:0.
  public let listen: String?
  /// The runtime handler the agent drives; default "process".
  public let runtime: String?
  /// The first restart back-off and its ceiling, in seconds (Kubernetes: 10 and 300).
  public let restartBackoffSeconds: Double?
  public let maxRestartBackoffSeconds: Double?
  /// How many pods the agent starts at once; default 4.
  public let podWorkers: Int?
  public let mark: SourceMark

  init(_ node: YAMLNode) throws(ProfileError) {
    let fields = try Fields(node, named: "agent section", allowed: [
      "nodeName", "listen", "runtime", "restartBackoffSeconds", "maxRestartBackoffSeconds", "podWorkers"])
    mark = node.mark
    nodeName = try fields.optional("nodeName").map { node throws(ProfileError) in try string(node, "nodeName") }
    listen = try fields.optional("listen").map { node throws(ProfileError) in try string(node, "listen") }
    runtime = try fields.optional("runtime").map { node throws(ProfileError) in try string(node, "runtime") }
    func seconds(_ key: String) throws(ProfileError) -> Double? {
      guard let node = fields.optional(key) else { return nil }
      guard let value = Double(try string(node, key)), value >= 0 else {
        throw ProfileError("'\(key)' must be a number of seconds, not \(node.kindDescription)", at: node.mark)
      }
      return value
    }
    restartBackoffSeconds = try seconds("restartBackoffSeconds")
    maxRestartBackoffSeconds = try seconds("maxRestartBackoffSeconds")
    podWorkers = try fields.optional("podWorkers").map { node throws(ProfileError) in
      guard let count = Int(try string(node, "podWorkers")), count >= 1 else {
        throw ProfileError("'podWorkers' must be a whole number of at least 1, not \(node.kindDescription)", at: node.mark)
      }
      return count
    }
  }
}

/// A scalar's text. Any scalar but null will do: `name: 42` plainly means the name "42".
private func string(_ node: YAMLNode, _ key: String) throws(ProfileError) -> String {
  guard let text = node.stringValue, !node.isNull else {
    throw ProfileError("'\(key)' must be a string, not \(node.kindDescription)", at: node.mark)
  }
  guard !text.isEmpty else {
    throw ProfileError("'\(key)' must not be empty", at: node.mark)
  }
  return text
}

private func expect(_ node: YAMLNode, _ key: String, toBe expected: String) throws(ProfileError) {
  let text = try string(node, key)
  guard text == expected else {
    throw ProfileError("unsupported \(key) '\(text)' (expected \(expected))", at: node.mark)
  }
}

/// One mapping of the schema: its keys checked against those allowed, its values found by key.
private struct Fields {
  private let mapping: YAMLNode
  private let name: String
  private let entries: [(key: YAMLNode, value: YAMLNode)]

  init(_ mapping: YAMLNode, named name: String, allowed: [String]) throws(ProfileError) {
    guard let entries = mapping.mappingValue else {
      throw ProfileError(
        "a \(name) must be a mapping, not \(mapping.kindDescription)", at: mapping.mark)
    }
    for entry in entries {
      let key = entry.key.stringValue ?? ""
      guard allowed.contains(key) else {
        throw ProfileError(
          "unknown key '\(key)' in \(name) (allowed: \(allowed.joined(separator: ", ")))",
          at: entry.key.mark)
      }
    }
    self.mapping = mapping
    self.name = name
    self.entries = entries
  }

  func required(_ key: String) throws(ProfileError) -> YAMLNode {
    guard let entry = entries.first(where: { $0.key.stringValue == key }) else {
      throw ProfileError("missing required key '\(key)' in \(name)", at: mapping.mark)
    }
    return entry.value
  }

  /// Nil when the key is absent or null: YAML's way of writing "not set".
  func optional(_ key: String) -> YAMLNode? {
    guard let value = entries.first(where: { $0.key.stringValue == key })?.value, !value.isNull
    else { return nil }
    return value
  }
}
