// A small HTTP/1.1 client for talking to image registries: one request per connection (plain or
// TLS, RegistryConnection.swift), bodies by Content-Length, chunked or until close, streamed to
// the caller so that a layer never has to fit in memory.
import FoundationEssentials
import Glibc

struct HTTPResponse {
  var status: Int
  /// Header names lowercased.
  var headers: [String: String]
  /// Set when the caller asked for the body in memory.
  var body: [UInt8] = []
}

struct HTTPURL: CustomStringConvertible {
  var secure: Bool
  var host: String
  var port: UInt16
  /// Path and query, starting with "/".
  var target: String

  init(secure: Bool, host: String, port: UInt16, target: String) {
    self.secure = secure
    self.host = host
    self.port = port
    self.target = target
  }

  init(_ text: String) throws(ImageError) {
    let scheme = text.prefix { $0 != ":" }
    guard scheme == "http" || scheme == "https", text.dropFirst(scheme.count).hasPrefix("://") else {
      throw ImageError("\(text): not an http:// or https:// URL")
    }
    secure = scheme == "https"
    let rest = text.dropFirst(scheme.count + 3)
    let slash = rest.firstIndex(of: "/") ?? rest.endIndex
    let authority = rest[..<slash]
    target = slash == rest.endIndex ? "/" : String(rest[slash...])
    if let colon = authority.lastIndex(of: ":"), !authority.hasPrefix("[") || authority[..<colon].hasSuffix("]") {
      guard let port = UInt16(authority[authority.index(after: colon)...]) else {
        throw ImageError("\(text): the port is not a number")
      }
      host = String(authority[..<colon])
      self.port = port
    } else {
      host = String(authority)
      port = secure ? 443 : 80
    }
    host = host.trimmingBrackets
  }

  var description: String {
    "\(secure ? "https" : "http")://\(host.contains(":") ? "[\(host)]" : host):\(port)\(target)"
  }
}

extension String {
  fileprivate var trimmingBrackets: String {
    hasPrefix("[") && hasSuffix("]") ? String(dropFirst().dropLast()) : self
  }
}

enum RegistryHTTP {
  /// GETs `url`, following up to five redirects. With `sink`, a 200 body goes to it in pieces
  /// and `body` stays empty; other bodies (errors) are read into `body`.
  /// `ca`: a file of CA certificates trusted besides the system's, for https.
  static func get(_ url: HTTPURL, headers: [String: String] = [:], ca: String? = nil,
                  sink: ((ArraySlice<UInt8>) throws(ImageError) -> Void)? = nil) throws(ImageError) -> HTTPResponse {
    var url = url
    for _ in 0..<6 {
      let response = try request(url, headers: headers, ca: ca, sink: sink)
      guard [301, 302, 303, 307, 308].contains(response.status), let location = response.headers["location"] else {
        return response
      }
      url = location.hasPrefix("/") ? HTTPURL(secure: url.secure, host: url.host, port: url.port, target: location)
        : try HTTPURL(location)
    }
    throw ImageError("\(url): too many redirects")
  }

  private static func request(_ url: HTTPURL, headers: [String: String], ca: String?,
                              sink: ((ArraySlice<UInt8>) throws(ImageError) -> Void)?) throws(ImageError) -> HTTPResponse {
    let connection = try RegistryConnection(url, ca: ca)
    var text = "GET \(url.target) HTTP/1.1\r\nHost: \(url.host):\(url.port)\r\nConnection: close\r\n"
      + "User-Agent: skiff-runtime\r\n"
    for (name, value) in headers { text += "\(name): \(value)\r\n" }
    text += "\r\n"
    try connection.send(Array(text.utf8))
    let reader = SocketReader(connection: connection, url: url)
    let statusLine = try reader.line()
    let parts = statusLine.split(separator: " ", maxSplits: 2)
    guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
      throw ImageError("\(url): not an HTTP response (\(statusLine.prefix(40)))")
    }
    var response = HTTPResponse(status: status, headers: [:])
    while true {
      let line = try reader.line()
      if line.isEmpty { break }
      guard let colon = line.firstIndex(of: ":") else { continue }
      response.headers[line[..<colon].lowercased()] = String(line[line.index(after: colon)...].drop { $0 == " " })
    }
    let deliver: (ArraySlice<UInt8>) throws(ImageError) -> Void
    if let sink, status == 200 {
      deliver = sink
    } else {
      var collected: [UInt8] = []
      try reader.body(response.headers) { bytes throws(ImageError) in
        guard collected.count < 16 << 20 else { throw ImageError("\(url): the response is too large") }
        collected += bytes
      }
      response.body = collected
      return response
    }
    try reader.body(response.headers, deliver)
    return response
  }
}

/// Buffered reads from the socket: header lines, then the body in its framing.
private final class SocketReader {
  let connection: RegistryConnection
  let url: HTTPURL
  var buffer: [UInt8] = []
  var start = 0
  var closed = false

  /// Allocated once, not an array: `receive` writes into it through a raw pointer.
  private let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 1)

  init(connection: RegistryConnection, url: HTTPURL) {
    self.connection = connection
    self.url = url
  }

  deinit { chunk.deallocate() }

  private func fill() throws(ImageError) -> Bool {
    if start > 0 {
      buffer.removeFirst(start)
      start = 0
    }
    let count = try connection.receive(chunk)
    if count == 0 { closed = true; return false }
    buffer += chunk[0..<count]
    return true
  }

  func line() throws(ImageError) -> String {
    while true {
      if let newline = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) {
        var end = newline
        if end > start && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let text = String(decoding: buffer[start..<end], as: UTF8.self)
        start = newline + 1
        return text
      }
      guard try fill() else { throw ImageError("\(url): the connection closed mid-response") }
    }
  }

  /// Up to `count` bytes that are already buffered or arrive next.
  private func take(upTo count: Int) throws(ImageError) -> ArraySlice<UInt8>? {
    if start == buffer.count { guard try fill() else { return nil } }
    let end = start + min(buffer.count - start, count)
    defer { start = end }
    return buffer[start..<end]
  }

  func body(_ headers: [String: String], _ deliver: (ArraySlice<UInt8>) throws(ImageError) -> Void) throws(ImageError) {
    if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
      while true {
        let sizeLine = try line()
        guard let size = Int(sizeLine.split(separator: ";")[0].filter { $0 != " " }, radix: 16) else {
          throw ImageError("\(url): bad chunk size \"\(sizeLine)\"")
        }
        if size == 0 { break }
        var left = size
        while left > 0 {
          guard let bytes = try take(upTo: left) else { throw ImageError("\(url): the body is truncated") }
          try deliver(bytes)
          left -= bytes.count
        }
        _ = try line()
      }
    } else if let length = headers["content-length"].flatMap({ Int($0) }) {
      var left = length
      while left > 0 {
        guard let bytes = try take(upTo: left) else {
          throw ImageError("\(url): the body ended after \(length - left) of \(length) bytes")
        }
        try deliver(bytes)
        left -= bytes.count
      }
    } else {
      while let bytes = try take(upTo: Int.max) { try deliver(bytes) }
    }
  }
}
