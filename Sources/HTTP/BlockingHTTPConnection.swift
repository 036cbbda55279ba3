// A minimal blocking HTTP/1.1 client over POSIX sockets: one keep-alive connection, used by one
// thread at a time, for code off the loop: the node agent, and the API server relaying pod logs.
import Glibc

public struct ConnectionError: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}

/// One keep-alive connection to an IPv4 address, used by one thread at a time (hence unchecked).
/// It understands what the API server sends: Content-Length bodies and chunked streams.
public final class BlockingHTTPConnection: @unchecked Sendable {
  private let fd: Int32
  private let host: String
  /// Bytes received and not yet consumed start at `consumed`.
  private var received: [UInt8] = []
  private var consumed = 0
  private var scratch = [UInt8](repeating: 0, count: 64 * 1024)
  /// Sent with every request (e.g. `Authorization`).
  public var extraHeaders: [(name: String, value: String)] = []

  public struct Response {
    public var status: Int
    public var body: [UInt8]
    public var text: String { String(decoding: body, as: UTF8.self) }
  }

  /// `host` is an IPv4 address ("localhost" means 127.0.0.1). A server silent for
  /// `receiveTimeoutSeconds` fails the read instead of hanging the caller.
  public init(host: String = "127.0.0.1", port: Int, receiveTimeoutSeconds: Int = 30) throws(ConnectionError) {
    self.host = host == "localhost" ? "127.0.0.1" : host
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    guard inet_pton(AF_INET, self.host, &address.sin_addr) == 1 else {
      throw ConnectionError("'\(host)' is not an IPv4 address")
    }
    fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ConnectionError("socket: \(String(cString: strerror(errno)))") }
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    var timeout = timeval(tv_sec: receiveTimeoutSeconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let status = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard status == 0 else {
      let reason = String(cString: strerror(errno))
      Glibc.close(fd)
      throw ConnectionError("connect to \(self.host):\(port): \(reason)")
    }
  }

  deinit { Glibc.close(fd) }

  /// Ends the connection from another thread: a read blocked on it fails at once.
  public func shutdown() { _ = Glibc.shutdown(fd, Int32(SHUT_RDWR)) }

  /// Sends one request and reads its whole response.
  public func request(_ method: String, _ path: String, body: [UInt8] = [],
               contentType: String = "application/json") throws(ConnectionError) -> Response {
    try send(method, path, body: body, contentType: contentType)
    return try readResponse()
  }

  /// Sends one request, head and body in one write.
  public func send(_ method: String, _ path: String, body: [UInt8] = [],
            contentType: String = "application/json") throws(ConnectionError) {
    var bytes = Array("\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nAccept: application/json\r\n".utf8)
    for header in extraHeaders { bytes += Array("\(header.name): \(header.value)\r\n".utf8) }
    if !body.isEmpty || ["POST", "PUT", "PATCH"].contains(method) {
      bytes += Array("Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n".utf8)
    }
    bytes += [13, 10] + body
    var sent = 0
    while sent < bytes.count {
      let count = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
      guard count > 0 else { throw ConnectionError("send: \(String(cString: strerror(errno)))") }
      sent += count
    }
  }

  /// The next response; a chunked one is read to its end.
  public func readResponse() throws(ConnectionError) -> Response {
    let head = try readHead()
    if let length = head.contentLength { return Response(status: head.status, body: try take(length)) }
    var body: [UInt8] = []
    if head.chunked {
      while case let chunk = try readChunk(), !chunk.isEmpty { body += chunk }
    }
    return Response(status: head.status, body: body)
  }

  /// A body of `length` bytes, after `readHead`.
  public func readResponseBody(length: Int) throws(ConnectionError) -> [UInt8] { try take(length) }

  /// The status line and the framing of the next response.
  public func readHead() throws(ConnectionError)
    -> (status: Int, contentLength: Int?, chunked: Bool, headers: [(name: String, value: String)]) {
    let end = try index(of: [13, 10, 13, 10])
    let head = String(decoding: received[consumed..<end], as: UTF8.self)
    consumed = end + 4
    let lines = head.split(separator: "\r\n")
    guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1."),
          let status = Int(statusLine.dropFirst(9).prefix(3)) else {
      throw ConnectionError("bad response head: \(head.prefix(200))")
    }
    var contentLength: Int?
    var chunked = false
    var headers: [(name: String, value: String)] = []
    for line in lines.dropFirst() {
      guard let colon = line.firstIndex(of: ":") else { continue }
      let name = line[..<colon].lowercased()
      let value = String(line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" })
      headers.append((name, value))
      if name == "content-length" {
        contentLength = Int(value)
      } else if name == "transfer-encoding" {
        chunked = value.lowercased().contains("chunked")
      }
    }
    return (status, contentLength, chunked, headers)
  }

  /// One chunk of a chunked body; empty for the last one.
  public func readChunk() throws(ConnectionError) -> [UInt8] {
    let lineEnd = try index(of: [13, 10])
    let sizeText = String(decoding: received[consumed..<lineEnd], as: UTF8.self)
    guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else {
      throw ConnectionError("bad chunk size '\(sizeText)'")
    }
    consumed = lineEnd + 2
    if size == 0 {
      consumed = try index(of: [13, 10]) + 2  // no trailers are sent: just the final CRLF
      return []
    }
    let chunk = try take(size)
    consumed = try index(of: [13, 10]) + 2
    return chunk
  }

  /// The next `count` bytes.
  private func take(_ count: Int) throws(ConnectionError) -> [UInt8] {
    while received.count - consumed < count { try fill() }
    defer { consumed += count }
    return Array(received[consumed..<consumed + count])
  }

  /// Where `pattern` next starts among the unconsumed bytes, reading until it arrives.
  private func index(of pattern: [UInt8]) throws(ConnectionError) -> Int {
    // Counted from `consumed`, which `fill` may move when it compacts.
    var searched = 0
    while true {
      if let found = Self.find(pattern, in: received, from: consumed + searched) { return found }
      searched = max(0, received.count - consumed - pattern.count + 1)
      try fill()
    }
  }

  public static func find(_ pattern: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
    guard bytes.count >= pattern.count else { return nil }
    var index = start
    while index <= bytes.count - pattern.count {
      if bytes[index] == pattern[0] {
        var offset = 1
        while offset < pattern.count, bytes[index + offset] == pattern[offset] { offset += 1 }
        if offset == pattern.count { return index }
      }
      index += 1
    }
    return nil
  }

  private func fill() throws(ConnectionError) {
    // Drop what was consumed before growing: large bodies are read into a compact buffer.
    if consumed > 0 && consumed >= received.count / 2 {
      received.removeFirst(consumed)
      consumed = 0
    }
    let count = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    if count > 0 {
      received += scratch[..<count]
    } else if count == 0 {
      throw ConnectionError("the server closed the connection")
    } else {
      throw ConnectionError(errno == EAGAIN ? "no answer from the server in time" : "recv: \(String(cString: strerror(errno)))")
    }
  }
}
