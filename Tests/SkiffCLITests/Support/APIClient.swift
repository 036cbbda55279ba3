// A small blocking HTTP/1.1 client over POSIX sockets, for tests that keep connections open
// across a server's kills and read watch streams chunk by chunk.
import Foundation
import SkiffTestSupport
import XCTest

struct ClientError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// One keep-alive connection to 127.0.0.1:port. Content-Length and chunked responses.
final class APIClient {
  private let fd: Int32
  private var received: [UInt8] = []

  struct Response {
    var status: Int
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
    func json() throws -> [String: Any] {
      try XCTUnwrap(JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], text)
    }
  }

  init(port: Int) throws {
    fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ClientError("socket: errno \(errno)") }
    // A server that stops answering fails the test instead of hanging it.
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let status = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard status == 0 else {
      Glibc.close(fd)
      throw ClientError("connect to 127.0.0.1:\(port): errno \(errno)")
    }
  }

  deinit { Glibc.close(fd) }

  func request(_ method: String, _ path: String, json body: String? = nil) throws -> Response {
    try send(method, path, json: body)
    let (status, length, chunked) = try readHead()
    if let length { return Response(status: status, body: try read(count: length)) }
    var body: [UInt8] = []
    if chunked {
      while case let chunk = try readChunk(), !chunk.isEmpty { body += chunk }
    }
    return Response(status: status, body: body)
  }

  func send(_ method: String, _ path: String, json body: String? = nil) throws {
    var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if let body { text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)" } else { text += "\r\n" }
    let bytes = Array(text.utf8)
    var sent = 0
    while sent < bytes.count {
      let count = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
      guard count > 0 else { throw ClientError("send: errno \(errno)") }
      sent += count
    }
  }

  /// The status and framing of the next response.
  func readHead() throws -> (status: Int, contentLength: Int?, chunked: Bool) {
    let statusLine = try readLine()
    guard statusLine.hasPrefix("HTTP/1."), let status = Int(statusLine.dropFirst(9).prefix(3)) else {
      throw ClientError("bad status line '\(statusLine)'")
    }
    var contentLength: Int?
    var chunked = false
    while case let line = try readLine().lowercased(), !line.isEmpty {
      if line.hasPrefix("content-length:") { contentLength = Int(line.dropFirst(15).trimmingCharacters(in: .whitespaces)) }
      if line.hasPrefix("transfer-encoding:") { chunked = line.contains("chunked") }
    }
    return (status, contentLength, chunked)
  }

  /// One chunk of a chunked body (a watch sends one event per chunk); empty for the last.
  func readChunk() throws -> [UInt8] {
    let sizeLine = try readLine()
    guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
      throw ClientError("bad chunk size '\(sizeLine)'")
    }
    let chunk = try read(count: size)
    _ = try readLine()
    return chunk
  }

  private func readLine() throws -> String {
    while true {
      if let end = received.firstIndex(of: 10) {
        let line = received[..<end].last == 13 ? received[..<(end - 1)] : received[..<end]
        defer { received.removeSubrange(...end) }
        return String(decoding: line, as: UTF8.self)
      }
      try fill()
    }
  }

  private func read(count: Int) throws -> [UInt8] {
    while received.count < count { try fill() }
    defer { received.removeSubrange(..<count) }
    return Array(received[..<count])
  }

  private func fill() throws {
    var buffer = [UInt8](repeating: 0, count: 65536)
    let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    guard count > 0 else {
      throw ClientError(count == 0 ? "the server closed the connection" : "recv: errno \(errno)")
    }
    received += buffer[..<count]
  }
}
