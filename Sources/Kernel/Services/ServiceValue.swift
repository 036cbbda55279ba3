// The Swift side of a service call: argument and result values, the errors a caller can act on,
// and the status the host table hands to plugins.

/// One argument or result of a service, in Swift form.
public enum ServiceValue: Sendable, Equatable, CustomStringConvertible {
  case void
  case int32(Int32)
  case int64(Int64)
  case double(Double)
  case string(String)

  public var type: ServiceSignature.ValueType {
    switch self {
    case .void: .void
    case .int32: .int32
    case .int64: .int64
    case .double: .double
    case .string: .string
    }
  }

  /// The value as `skiff call` prints it: numbers in decimal, strings as they are, void as nothing.
  public var description: String {
    switch self {
    case .void: ""
    case .int32(let value): String(value)
    case .int64(let value): String(value)
    case .double(let value): String(value)
    case .string(let value): value
    }
  }
}

/// Why a service could not be registered or called. The message names the service, and the
/// plugin where one is involved.
public struct ServiceError: Error, CustomStringConvertible, Sendable {
  public enum Reason: Sendable, Equatable {
    case invalidName
    case invalidSignature
    case duplicateName
    case registryFrozen
    case notFound
    case wrongArgumentCount
    case wrongArgumentType
    case invalidArgument  // not a number of its type, out of range, or a string holding NUL
    case nullString
  }

  public let reason: Reason
  public let message: String

  public init(_ reason: Reason, _ message: String) {
    self.reason = reason
    self.message = message
  }

  /// The skiff_status a host call reports for this error.
  public var status: ServiceStatus {
    switch reason {
    case .notFound: .notFound
    case .duplicateName: .conflict
    default: .invalid
    }
  }

  public var description: String { message }
}

/// The outcome of a raw service call or registration; raw values are skiff.h's skiff_status.
public enum ServiceStatus: Int32, Sendable {
  case ok = 0
  case notFound = 7
  case invalid = 8
  case conflict = 9
}
