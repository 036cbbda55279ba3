// What went wrong in a profile and where: every profile and YAML error carries the file, line and
// column so that a user can jump straight to the offending text.

public struct ProfileError: Error, CustomStringConvertible, Sendable {
  public let mark: SourceMark
  public let message: String

  public init(_ message: String, at mark: SourceMark) {
    self.mark = mark
    self.message = message
  }

  /// gcc style, which editors and terminals already know how to link to the position.
  public var description: String {
    mark.line == 0
      ? "\(mark.file): \(message)"
      : "\(mark.file):\(mark.line):\(mark.column): \(message)"
  }
}
