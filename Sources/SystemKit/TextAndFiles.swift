// printf-style formatting, trimming, path parts and standard streams: the few things Skiff used
// from full Foundation that FoundationEssentials does not have.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension String {
  /// C's printf rules (vsnprintf): `%d` and `%ld` for integers, `%.2f` for doubles, `%x`; no `%@`.
  public init(cFormat format: String, _ arguments: any CVarArg...) {
    // Measure first, then print: vsnprintf consumes its va_list, so each call gets a fresh one.
    let length = Int(withVaList(arguments) { vsnprintf(nil, 0, format, $0) })
    var buffer = [CChar](repeating: 0, count: Swift.max(length, 0) + 1)
    _ = withVaList(arguments) { vsnprintf(&buffer, buffer.count, format, $0) }
    self = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
  }
}

extension StringProtocol {
  /// Without leading and trailing spaces, tabs and line breaks.
  public func trimmingWhitespace() -> String { trimming(while: \.isWhitespace) }

  /// Without the leading and trailing characters for which `predicate` holds.
  public func trimming(while predicate: (Character) -> Bool) -> String {
    guard let first = firstIndex(where: { !predicate($0) }) else { return "" }
    let last = lastIndex(where: { !predicate($0) })!
    return String(self[first...last])
  }
}

/// The directory part of a path as NSString's deletingLastPathComponent gives it: "/a/b" → "/a",
/// "/a" → "/", "a" → "".
public func directoryOf(_ path: String) -> String {
  var path = Substring(path)
  while path.count > 1 && path.hasSuffix("/") { path = path.dropLast() }
  guard let slash = path.lastIndex(of: "/") else { return "" }
  if slash == path.startIndex { return "/" }
  var directory = path[..<slash]
  while directory.count > 1 && directory.hasSuffix("/") { directory = directory.dropLast() }
  return String(directory)
}

/// Writes all of `text` to a file descriptor, retrying short writes; errors are dropped (the
/// streams are for humans and logs).
public func writeAll(_ text: String, to descriptor: Int32) {
  var text = text
  text.withUTF8 { bytes in
    var offset = 0
    while offset < bytes.count {
      let written = write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
      if written < 0 && errno == EINTR { continue }
      if written <= 0 { return }
      offset += written
    }
  }
}

public func writeStandardOutput(_ text: String) { writeAll(text, to: STDOUT_FILENO) }
public func writeStandardError(_ text: String) { writeAll(text, to: STDERR_FILENO) }
