// A test's own failure with a message, for helpers that throw rather than assert.
public struct TestFailure: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}
