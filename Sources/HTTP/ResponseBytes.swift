// Writing a response head as bytes without building Strings: status line, header fields,
// numbers, and the Date header formatted once a second.
import CHTTPParser
import Glibc

extension Array where Element == UInt8 {
  mutating func appendASCII(_ text: StaticString) {
    text.withUTF8Buffer { append(contentsOf: $0) }
  }

  mutating func appendStatusLine(_ status: Int) {
    precondition((100...999).contains(status), "HTTP status \(status) is not three digits")
    appendASCII("HTTP/1.1 ")
    appendDecimal(status)
    append(UInt8(ascii: " "))
    let reason = http_status_str(http_status(rawValue: UInt32(status)))!
    if strcmp(reason, "<unknown>") != 0 {
      append(contentsOf: UnsafeRawBufferPointer(start: reason, count: strlen(reason)))
    }
    appendASCII("\r\n")
  }

  /// A CR or LF in a handler's header would let a client-supplied value forge headers of its
  /// own, so both become spaces, as Go's server does.
  mutating func appendHeader(name: String, value: String) {
    append(contentsOf: name.utf8)
    appendASCII(": ")
    if value.utf8.contains(where: { $0 == 13 || $0 == 10 }) {
      append(contentsOf: value.utf8.map { $0 == 13 || $0 == 10 ? UInt8(ascii: " ") : $0 })
    } else {
      append(contentsOf: value.utf8)
    }
    appendASCII("\r\n")
  }

  mutating func appendDecimal(_ value: Int) {
    appendDigits(of: value, base: 10)
  }

  mutating func appendHex(_ value: Int) {
    appendDigits(of: value, base: 16)
  }

  private mutating func appendDigits(of value: Int, base: Int) {
    precondition(value >= 0)
    var divisor = 1
    while value / divisor >= base { divisor *= base }
    while divisor > 0 {
      append(hexDigits[value / divisor % base])
      divisor /= base
    }
  }
}

private let hexDigits = Array("0123456789abcdef".utf8)

/// The Date header's value (RFC 9110 IMF-fixdate), formatted at most once a second. Loop only.
final class HTTPDate {
  private var second = -1
  private var formatted: [UInt8] = []

  var current: [UInt8] {
    let now = time(nil)
    if now != second {
      second = now
      formatted = Self.format(now)
    }
    return formatted
  }

  /// Formatted by hand: strftime's day and month names follow the locale.
  static func format(_ time: time_t) -> [UInt8] {
    var seconds = time
    var parts = tm()
    gmtime_r(&seconds, &parts)
    let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    func twoDigits(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    let text = "\(days[Int(parts.tm_wday)]), \(twoDigits(parts.tm_mday)) \(months[Int(parts.tm_mon)]) "
      + "\(parts.tm_year + 1900) \(twoDigits(parts.tm_hour)):\(twoDigits(parts.tm_min)):\(twoDigits(parts.tm_sec)) GMT"
    return Array(text.utf8)
  }
}
