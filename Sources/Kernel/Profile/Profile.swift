// TEMPORARY stand-in until the profile branch merges.
public struct SourceMark: Sendable, Equatable { public let file: String; public let line: Int; public let column: Int }
public struct PluginEntry: Sendable { public let name: String; public let path: String?; public let configJSON: String; public let mark: SourceMark
  public init(name: String, path: String?, configJSON: String, mark: SourceMark) { self.name = name; self.path = path; self.configJSON = configJSON; self.mark = mark } }
public struct Profile: Sendable { public let file: String; public let name: String; public let description: String?; public let pluginDirs: [String]; public let plugins: [PluginEntry] }
public struct ProfileError: Error, CustomStringConvertible, Sendable { public let description: String }
extension Profile { public static func load(path: String) throws(ProfileError) -> Profile { throw ProfileError(description: "stub") } }
