// What `skiff bench api` drives the server with: a `skiff server` child process, and a minimal
// blocking HTTP/1.1 client over POSIX sockets (one keep-alive connection per thread).
import Foundation

struct BenchError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// One keep-alive connection to 127.0.0.1, used by one thread at a time (hence unchecked).
/// It understands what the API server sends: Content-Length bodies and chunked streams.
final class BenchConnection: @unchecked Sendable {
  private let fd: Int32
  /// Bytes received and not yet consumed start at `consumed`.
  private var received: [UInt8] = []
  private var consumed = 0
  private var scratch = [UInt8](repeating: 0, count: 64 * 1024)

  struct Response {
    var status: Int
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
  }

  init(port: Int) throws(BenchError) {
    fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BenchError("socket: \(String(cString: strerror(errno)))") }
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    // A server that stops answering ends the benchmark with an error instead of hanging it.
    var timeout = timeval(tv_sec: 30, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let status = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard status == 0 else {
      let reason = String(cString: strerror(errno))
      Glibc.close(fd)
      throw BenchError("connect to 127.0.0.1:\(port): \(reason)")
    }
  }

  deinit { Glibc.close(fd) }

  /// Sends one request and reads its whole response.
  func request(_ method: String, _ path: String, body: [UInt8] = []) throws(BenchError) -> Response {
    try send(method, path, body: body)
    return try readResponse()
  }

  /// Sends one request, head and body in one write.
  func send(_ method: String, _ path: String, body: [UInt8] = []) throws(BenchError) {
    var bytes = Array("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n".utf8)
    if !body.isEmpty || method == "POST" || method == "PUT" {
      bytes += Array("Content-Type: application/json\r\nContent-Length: \(body.count)\r\n".utf8)
    }
    bytes += [13, 10] + body
    var sent = 0
    while sent < bytes.count {
      let count = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
      guard count > 0 else { throw BenchError("send: \(String(cString: strerror(errno)))") }
      sent += count
    }
  }

  /// The next response; a chunked one is read to its end.
  func readResponse() throws(BenchError) -> Response {
    let head = try readHead()
    if let length = head.contentLength { return Response(status: head.status, body: try take(length)) }
    var body: [UInt8] = []
    if head.chunked {
      while case let chunk = try readChunk(), !chunk.isEmpty { body += chunk }
    }
    return Response(status: head.status, body: body)
  }

  /// The status line and the framing of the next response.
  func readHead() throws(BenchError) -> (status: Int, contentLength: Int?, chunked: Bool) {
    let end = try index(of: [13, 10, 13, 10])
    let head = String(decoding: received[consumed..<end], as: UTF8.self)
    consumed = end + 4
    let lines = head.split(separator: "\r\n")
    guard let statusLine = lines.first, statusLine.hasPrefix("HTTP/1."),
          let status = Int(statusLine.dropFirst(9).prefix(3)) else {
      throw BenchError("bad response head: \(head.prefix(200))")
    }
    var contentLength: Int?
    var chunked = false
    for line in lines.dropFirst() {
      let lower = line.lowercased()
      if lower.hasPrefix("content-length:") {
        contentLength = Int(lower.dropFirst(15).trimmingCharacters(in: .whitespaces))
      } else if lower.hasPrefix("transfer-encoding:") {
        chunked = lower.contains("chunked")
      }
    }
    return (status, contentLength, chunked)
  }

  /// One chunk of a chunked body; empty for the last one.
  func readChunk() throws(BenchError) -> [UInt8] {
    let lineEnd = try index(of: [13, 10])
    let sizeText = String(decoding: received[consumed..<lineEnd], as: UTF8.self)
    guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else {
      throw BenchError("bad chunk size '\(sizeText)'")
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
  private func take(_ count: Int) throws(BenchError) -> [UInt8] {
    while received.count - consumed < count { try fill() }
    defer { consumed += count }
    return Array(received[consumed..<consumed + count])
  }

  /// Where `pattern` next starts among the unconsumed bytes, reading until it arrives.
  private func index(of pattern: [UInt8]) throws(BenchError) -> Int {
    // Counted from `consumed`, which `fill` may move when it compacts.
    var searched = 0
    while true {
      if let found = Self.find(pattern, in: received, from: consumed + searched) { return found }
      searched = max(0, received.count - consumed - pattern.count + 1)
      try fill()
    }
  }

  static func find(_ pattern: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
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

  private func fill() throws(BenchError) {
    // Drop what was consumed before growing: large bodies are read into a compact buffer.
    if consumed > 0 && consumed >= received.count / 2 {
      received.removeFirst(consumed)
      consumed = 0
    }
    let count = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    if count > 0 {
      received += scratch[..<count]
    } else if count == 0 {
      throw BenchError("the server closed the connection")
    } else {
      throw BenchError(errno == EAGAIN ? "no answer from the server in 30 s" : "recv: \(String(cString: strerror(errno)))")
    }
  }
}

/// A `skiff server` started from an executable on a data directory and a free port; `ready`
/// is how long it took from spawning it to its ready line.
final class ServerChild {
  let pid: pid_t
  let port: Int
  let readyNanoseconds: UInt64
  private let stdoutFD: Int32
  private var reaped = false

  init(executable: String, profile: String, dataDir: String) throws(BenchError) {
    var pipeFDs: [Int32] = [0, 0]
    guard pipe(&pipeFDs) == 0 else { throw BenchError("pipe: \(String(cString: strerror(errno)))") }
    // Close-on-exec, so that servers started later do not hold this one's pipe; the child's fd 1,
    // a dup2 of the write end, is not.
    for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
    let arguments = [executable, "server", "--profile", profile, "--data-dir", dataDir, "--listen", "127.0.0.1:0"]
    let environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup($0) } + [nil]
    defer { (argv + envp).forEach { free($0) } }
    var child: pid_t = 0
    let started = monotonicNanoseconds()
    let status = posix_spawn(&child, executable, &actions, nil, argv, envp)
    Glibc.close(pipeFDs[1])
    guard status == 0 else {
      Glibc.close(pipeFDs[0])
      throw BenchError("cannot start \(executable): \(String(cString: strerror(status)))")
    }
    pid = child
    let readEnd = pipeFDs[0]
    stdoutFD = readEnd
    // The server writes its ready line in one write; read until a whole line is there.
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while !output.contains(10) {
      let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
      guard count > 0 else { break }
      output += buffer[..<count]
    }
    readyNanoseconds = monotonicNanoseconds() - started
    let line = String(decoding: output, as: UTF8.self)
    guard line.hasPrefix("skiff: ready:"), let portText = line.split(separator: "(port ").dropFirst().first,
          let port = Int(portText.prefix { $0.isNumber }) else {
      kill(child, SIGKILL)
      waitpid(child, nil, 0)
      Glibc.close(readEnd)
      throw BenchError("skiff server did not become ready (it said: \(line.isEmpty ? "nothing" : line))")
    }
    self.port = port
  }

  deinit { stop() }

  /// SIGTERM, then waits for the orderly stop.
  func stop() {
    guard !reaped else { return }
    kill(pid, SIGTERM)
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    reaped = true
    Glibc.close(stdoutFD)
  }

  /// How the server ended, if it has or does within a second ("was killed by signal 11"); nil
  /// while it runs. The wait covers a dying process, whose sockets close before it can be reaped.
  func endedHow() -> String? {
    guard !reaped else { return nil }
    var status: Int32 = 0
    var attempts = 0
    while waitpid(pid, &status, WNOHANG) != pid {
      attempts += 1
      if attempts == 100 { return nil }
      usleep(10_000)
    }
    reaped = true
    Glibc.close(stdoutFD)
    // The wait status: a signal number in the low seven bits, else the exit code in the next byte.
    return status & 0x7f == 0 ? "exited with status \((status >> 8) & 0xff)" : "was killed by signal \(status & 0x7f)"
  }

  /// A field of /proc/PID/status in MiB (VmRSS: resident now, VmHWM: the peak).
  func memoryMegabytes(_ field: String) -> Double {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
          let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
    else { return .nan }
    return kilobytes / 1024
  }

  /// User plus system CPU seconds the server has used.
  var cpuSeconds: Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let afterName = stat.range(of: ")", options: .backwards) else { return .nan }
    // After "pid (comm)": state is field 3, utime 14 and stime 15.
    let fields = stat[afterName.upperBound...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return .nan }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
  }
}

/// Runs `body(index)` on `count` threads at once and returns their results in index order; the
/// first error thrown is rethrown once all have finished.
func onThreads<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
  let results = ResultSlots<T>(count)
  let group = DispatchGroup()
  for index in 0..<count {
    group.enter()
    let thread = Thread {
      results.set(index, Result { try body(index) })
      group.leave()
    }
    thread.stackSize = 1 << 20
    thread.start()
  }
  group.wait()
  return try results.all()
}

private final class ResultSlots<T: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private var slots: [Result<T, any Error>?]

  init(_ count: Int) { slots = Array(repeating: nil, count: count) }

  func set(_ index: Int, _ result: Result<T, any Error>) { lock.withLock { slots[index] = result } }

  func all() throws -> [T] { try lock.withLock { try slots.map { try $0!.get() } } }
}
