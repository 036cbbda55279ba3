// The kernel's log: one line per message, tagged with its source, written to a sink that tests
// can replace.
import FoundationEssentials
import Glibc
import Synchronization
import SystemKit

public enum LogLevel: Int, Sendable, Comparable, CustomStringConvertible {
  case debug = 0, info, warn, error

  public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }

  public var description: String {
    switch self {
    case .debug: "debug"
    case .info: "info"
    case .warn: "warn"
    case .error: "error"
    }
  }
}

public final class KernelLog: Sendable {
  public typealias Sink = @Sendable (_ level: LogLevel, _ source: String, _ message: String) -> Void

  private let sink: Sink
  private let minimum: LogLevel

  public init(minimum: LogLevel = .info, sink: @escaping Sink = KernelLog.standardError) {
    self.minimum = minimum
    self.sink = sink
  }

  public func write(_ level: LogLevel, _ source: String, _ message: String) {
    guard level >= minimum else { return }
    sink(level, source, message)
  }

  public static let standardError: Sink = { level, source, message in
    let line = "\(level) [\(source)] \(message)\n"
    writeStandardError(line)
  }
}
