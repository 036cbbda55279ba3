// Copies one output stream of a container from its named pipe into the container's log file in
// the CRI log format: `<RFC3339Nano time> <stdout|stderr> <F|P> <text>` per line, P marking a
// line continued in the next record (too long, or cut by a relay handing over).
import FoundationEssentials
import Glibc
import SystemKit

/// The two named pipes a container's stdout and stderr go into, in its state folder. The
/// container holds each open for reading and writing, so its writes never fail with EPIPE while
/// no relay reads (between a plugin's stop and the next start's re-adoption): output waits in the
/// pipe, and the container blocks only if the pipe fills.
enum OutputPipe {
  /// Creates the pipe afresh; returns the relay's end and the end the container gets.
  static func make(at path: String) throws(SystemError) -> (relay: Int32, container: Int32) {
    unlink(path)
    guard mkfifo(path, 0o600) == 0 else { throw SystemError("creating pipe \(path)") }
    let relay = try openForRelay(at: path)
    let container = open(path, O_RDWR | O_CLOEXEC)
    guard container >= 0 else {
      close(relay)
      throw SystemError("opening pipe \(path)")
    }
    return (relay, container)
  }

  /// Non-blocking, so the relay's poll(2) decides when to read.
  static func openForRelay(at path: String) throws(SystemError) -> Int32 {
    let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard fd >= 0 else { throw SystemError("opening pipe \(path)") }
    return fd
  }
}

final class LogRelay: @unchecked Sendable {
  enum Stream: String {
    case stdout, stderr
  }

  /// containerd's limit: longer lines are split into P records.
  static let maxLineBytes = 16 * 1024

  private let source: Int32
  private let log: Int32
  private let stream: Stream
  /// Closing the write end wakes the relay to stop.
  private let stopPipe: (read: Int32, write: Int32)
  private let stopOnce = Lock()
  private var stopped = false
  private let finished = WaitGroup()

  /// Takes ownership of `source`. The log file is opened here so that a bad path fails the start.
  init(source: Int32, stream: Stream, logPath: String) throws(SystemError) {
    let log = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
    guard log >= 0 else {
      close(source)
      throw SystemError("opening log file \(logPath)")
    }
    var ends: [Int32] = [-1, -1]
    guard GNU.pipe2(&ends, O_CLOEXEC) == 0 else {
      close(source)
      close(log)
      throw SystemError("creating a pipe")
    }
    self.source = source
    self.log = log
    self.stream = stream
    stopPipe = (ends[0], ends[1])
    finished.enter()
    startThread(name: "skiff-log-\(stream)") { [self] in relay() }
  }

  /// Ends the relay without waiting for EOF; unread output stays in the pipe for the next one.
  func stop() {
    stopOnce.lock()
    defer { stopOnce.unlock() }
    guard !stopped else { return }
    stopped = true
    close(stopPipe.write)
  }

  /// Waits until the relay has written everything up to EOF (or was stopped).
  @discardableResult
  func waitUntilFinished(seconds: Double) -> Bool {
    finished.wait(seconds: seconds)
  }

  private func relay() {
    var pending: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    var ending: UInt8 = UInt8(ascii: "F")
    loop: while true {
      var fds = [pollfd(fd: source, events: Int16(POLLIN), revents: 0),
                 pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0)]
      if poll(&fds, 2, -1) < 0 {
        if errno == EINTR { continue }
        break
      }
      if fds[1].revents != 0 {
        ending = UInt8(ascii: "P")  // the next relay continues the line
        break
      }
      let count = chunk.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
      switch count {
      case 0: break loop  // every writer is gone: the container and its descendants exited
      case ..<0 where errno == EAGAIN || errno == EINTR: continue
      case ..<0: break loop
      default:
        pending += chunk[0..<count]
        append(Self.records(from: &pending, stream: stream, at: Self.timestamp()))
      }
    }
    if !pending.isEmpty {
      append(Self.records(from: &pending, stream: stream, at: Self.timestamp(), endingWith: ending))
    }
    close(source)
    close(log)
    close(stopPipe.read)
    stop()
    finished.leave()
  }

  private func append(_ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
      let written = bytes[offset...].withUnsafeBytes { write(log, $0.baseAddress, $0.count) }
      if written < 0 && errno == EINTR { continue }
      guard written > 0 else { return }  // a full disk loses output rather than the container
      offset += written
    }
  }

  /// Turns the complete lines at the front of `pending` into log records and removes them; with
  /// `endingWith`, the rest too, tagged F (the stream ended) or P (a relay hands over).
  static func records(from pending: inout [UInt8], stream: Stream, at time: String,
                      endingWith tag: UInt8? = nil) -> [UInt8] {
    var output: [UInt8] = []
    func record(_ tag: UInt8, _ text: ArraySlice<UInt8>) {
      output += Array(time.utf8)
      output.append(UInt8(ascii: " "))
      output += Array(stream.rawValue.utf8)
      output += [UInt8(ascii: " "), tag, UInt8(ascii: " ")]
      output += text
      output.append(UInt8(ascii: "\n"))
    }
    var start = 0
    while true {
      let end = min(pending.count, start + maxLineBytes)
      if let newline = pending[start..<end].firstIndex(of: UInt8(ascii: "\n")) {
        record(UInt8(ascii: "F"), pending[start..<newline])
        start = newline + 1
      } else if end - start == maxLineBytes {
        record(UInt8(ascii: "P"), pending[start..<end])
        start = end
      } else {
        break
      }
    }
    if let tag, start < pending.count {
      record(tag, pending[start...])
      start = pending.count
    }
    pending.removeFirst(start)
    return output
  }

  /// RFC 3339 in UTC with nanoseconds, always nine digits so that records sort as text.
  static func timestamp() -> String {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    var seconds = now.tv_sec
    var parts = tm()
    gmtime_r(&seconds, &parts)
    return String(cFormat: "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", parts.tm_year + 1900,
                  parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                  now.tv_nsec)
  }
}
