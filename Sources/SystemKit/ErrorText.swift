// Errors in words, as full Foundation's localizedDescription gave them, for messages a user acts on.
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file error as "PATH: reason" (the system's strerror text); any other error as it describes
/// itself.
public func describeError(_ error: any Error) -> String {
  if let posix = error as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
  guard let cocoa = error as? CocoaError else { return "\(error)" }
  let reason = cocoa.underlying.map(describeError) ?? "error \(cocoa.code.rawValue)"
  return cocoa.filePath.map { "\($0): \(reason)" } ?? reason
}
