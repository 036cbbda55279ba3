// Where a plugin named in a profile lives on disk.
import FoundationEssentials
import Glibc
import SystemKit

public struct PluginLocator: Sendable {
  /// Folders searched, in order, for a plugin given by name.
  public let searchPath: [String]

  /// The profile's own plugin folders, then `$SKIFF_PLUGIN_PATH`, then `plugins/` beside the
  /// running binary and the binary's own folder (where SwiftPM puts the built libraries).
  public init(profileDirectories: [String], executableDirectory: String = PluginLocator.executableDirectory,
              environment: [String: String] = ProcessInfo.processInfo.environment) {
    var path = profileDirectories
    if let extra = environment["SKIFF_PLUGIN_PATH"] {
      path += extra.split(separator: ":").map(String.init)
    }
    path += [executableDirectory + "/plugins", executableDirectory]
    searchPath = path
  }

  /// The file for a name: `libskiff_<name>.so` in the first folder that has it. When none has it,
  /// the first candidate, so that the error names a concrete path.
  public func file(for name: String) -> (path: String, found: Bool) {
    let candidates = searchPath.map { "\($0)/\(PluginLocator.fileName(for: name))" }
    if let hit = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) {
      return (hit, true)
    }
    return (candidates.first ?? PluginLocator.fileName(for: name), false)
  }

  public static func fileName(for name: String) -> String { "libskiff_\(name).so" }

  public static var executableDirectory: String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
      ?? CommandLine.arguments[0]
    return directoryOf(exe)
  }
}
