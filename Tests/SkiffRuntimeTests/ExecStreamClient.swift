// The caller's end of a streaming exec: the socket a runtime answered `{"fd": n}` with, spoken
// in the framing docs/runtime.md documents (channel byte, 4-byte big-endian length, payload).
import Foundation
import XCTest

final class ExecStreamClient {
  let fd: Int32
  private(set) var closed = false

  init(_ answer: [String: Any], file: StaticString = #filePath, line: UInt = #line) throws {
    fd = Int32(try XCTUnwrap(answer["fd"] as? Int, "no fd in \(answer)", file: file, line: line))
    // A test that goes wrong fails rather than hangs.
    var timeout = timeval(tv_sec: 30, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
  }

  deinit { if !closed { close(fd) } }

  func send(_ channel: UInt8, _ payload: [UInt8]) {
    let count = UInt32(payload.count)
    let frame = [channel, UInt8(count >> 24), UInt8(count >> 16 & 0xff), UInt8(count >> 8 & 0xff), UInt8(count & 0xff)]
      + payload
    _ = frame.withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
  }

  func stdin(_ text: String) { send(0, Array(text.utf8)) }
  func closeStdin() { send(255, [0]) }
  func resize(width: Int, height: Int) { send(4, Array(#"{"Width":\#(width),"Height":\#(height)}"#.utf8)) }

  /// Reads one frame; nil at the end of the stream.
  func frame() -> (channel: UInt8, payload: [UInt8])? {
    guard let header = read(5) else { return nil }
    let count = header[1...4].reduce(0) { $0 << 8 | Int($1) }
    guard let payload = read(count) else { return nil }
    return (header[0], payload)
  }

  /// Everything until the runtime closes the stream: text per channel, and the exit code.
  func readToEnd() -> (stdout: String, stderr: String, exitCode: Int?) {
    var outputs: [UInt8: [UInt8]] = [:]
    var exitCode: Int?
    while let (channel, payload) = frame() {
      if channel == 3 {
        let status = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any]
        exitCode = status?["exitCode"] as? Int
      } else {
        outputs[channel, default: []] += payload
      }
    }
    return (String(decoding: outputs[1] ?? [], as: UTF8.self), String(decoding: outputs[2] ?? [], as: UTF8.self),
            exitCode)
  }

  func hangUp() {
    closed = true
    close(fd)
  }

  private func read(_ count: Int) -> [UInt8]? {
    var bytes = [UInt8](repeating: 0, count: count)
    var got = 0
    while got < count {
      let n = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else { return nil }
      got += n
    }
    return bytes
  }
}

/// Polls until `condition` holds; false after long enough to mean "never".
func eventually(_ condition: () -> Bool) -> Bool {
  let deadline = Date().addingTimeInterval(20)
  while Date() < deadline {
    if condition() { return true }
    usleep(10_000)
  }
  return condition()
}
