// Why a plugin could not be loaded or started: always the plugin, the file and the cause.

public struct PluginLoadError: Error, CustomStringConvertible, Sendable {
  public enum Cause: String, Sendable {
    case fileMissing, notSharedLibrary, noEntrySymbol, abiVersionMismatch, descriptorTooSmall
    case invalidDescriptor, nameMismatch, missingDependency, dependencyCycle
    case invalidConfig, initFailed, startFailed
  }

  public let plugin: String
  public let file: String?
  public let cause: Cause
  public let message: String

  public init(plugin: String, file: String?, cause: Cause, _ message: String) {
    self.plugin = plugin
    self.file = file
    self.cause = cause
    self.message = message
  }

  public var description: String {
    if let file { return "plugin '\(plugin)' (\(file)): \(message)" }
    return "plugin '\(plugin)': \(message)"
  }
}
