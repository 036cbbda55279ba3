// A blocking socket client that writes exact bytes and reads responses apart by hand, so tests
// can pipeline, stop halfway, send garbage and see precisely what the server sent back.
import Foundation
import XCTest

struct ClientError: Error, CustomStringConvertible {
  let description: String
}

struct RawResponse {
  var status: Int
  var headers: [(String, String)]
  var body: [UInt8]

  func header(_ name: String) -> String? {
    headers.first { $0.0.lowercased() == name.lowercased() }?.1
  }
  var text: String { String(decoding: body, as: UTF8.self) }
}

final class RawClient {
  private let fd: Int32
  private var received: [UInt8] = []

  init(port: Int, host: String = "127.0.0.1") throws {
    let ipv6 = host.contains(":")
    fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ClientError(description: "socket: \(errno)") }
    // A server that never answers fails the test instead of hanging it.
    var timeout = timeval(tv_sec: 20, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    let status: Int32
    if ipv6 {
      var address = sockaddr_in6()
      address.sin6_family = sa_family_t(AF_INET6)
      address.sin6_port = UInt16(port).bigEndian
      inet_pton(AF_INET6, host, &address.sin6_addr)
      status = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
      }
    } else {
      var address = sockaddr_in()
      address.sin_family = sa_family_t(AF_INET)
      address.sin_port = UInt16(port).bigEndian
      address.sin_addr.s_addr = inet_addr(host)
      status = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
          connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
      }
    }
    guard status == 0 else {
      Glibc.close(fd)
      throw ClientError(description: "connect to \(host):\(port): errno \(errno)")
    }
  }

  deinit { Glibc.close(fd) }

  func send(_ text: String) throws { try send(Array(text.utf8)) }

  func send(_ bytes: [UInt8]) throws {
    var sent = 0
    while sent < bytes.count {
      let result = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, 0) }
      guard result > 0 else { throw ClientError(description: "send: errno \(errno)") }
      sent += result
    }
  }

  /// Closes the client's side entirely, as a client that goes away does.
  func disconnect() { shutdown(fd, Int32(SHUT_RDWR)) }

  func readResponse(toHEAD: Bool = false) throws -> RawResponse {
    var response = try readHead()
    if toHEAD || response.status < 200 || response.status == 204 || response.status == 304 { return response }
    if let length = response.header("content-length").flatMap(Int.init) {
      response.body = try read(count: length)
    } else if response.header("transfer-encoding")?.lowercased() == "chunked" {
      while case let chunk = try readChunk(), !chunk.isEmpty { response.body += chunk }
    } else {
      response.body = try readToEnd()
    }
    return response
  }

  /// The status line and header fields of the next response.
  func readHead() throws -> RawResponse {
    let statusLine = try readLine()
    let parts = statusLine.split(separator: " ", maxSplits: 2)
    guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]) else {
      throw ClientError(description: "bad status line '\(statusLine)'")
    }
    var headers: [(String, String)] = []
    while case let line = try readLine(), !line.isEmpty {
      guard let colon = line.firstIndex(of: ":") else { throw ClientError(description: "bad header '\(line)'") }
      headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
    }
    return RawResponse(status: status, headers: headers, body: [])
  }

  /// One chunk of a chunked body; empty for the last one.
  func readChunk() throws -> [UInt8] {
    let sizeLine = try readLine()
    guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
      throw ClientError(description: "bad chunk size '\(sizeLine)'")
    }
    if size == 0 {
      while try !readLine().isEmpty {}  // trailers
      return []
    }
    let chunk = try read(count: size)
    guard try readLine().isEmpty else { throw ClientError(description: "chunk not followed by CRLF") }
    return chunk
  }

  func readLine() throws -> String {
    while true {
      if let end = received.firstIndex(of: UInt8(ascii: "\n")) {
        var line = received[..<end]
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        received.removeSubrange(...end)
        return String(decoding: line, as: UTF8.self)
      }
      guard try fill() else { throw ClientError(description: "connection closed mid-line") }
    }
  }

  func read(count: Int) throws -> [UInt8] {
    while received.count < count {
      guard try fill() else { throw ClientError(description: "connection closed after \(received.count) of \(count) bytes") }
    }
    let bytes = Array(received[..<count])
    received.removeSubrange(..<count)
    return bytes
  }

  func readToEnd() throws -> [UInt8] {
    while try fill() {}
    defer { received = [] }
    return received
  }

  /// Whether the server closed the connection without sending anything more.
  func closedByServer() throws -> Bool {
    try readToEnd().isEmpty
  }

  /// Reads what has arrived; false once the server has closed its side.
  private func fill() throws -> Bool {
    var buffer = [UInt8](repeating: 0, count: 65536)
    let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    if count > 0 {
      received += buffer[..<count]
      return true
    }
    if count == 0 || errno == ECONNRESET { return false }
    throw ClientError(description: errno == EAGAIN ? "no answer from the server" : "recv: errno \(errno)")
  }
}
