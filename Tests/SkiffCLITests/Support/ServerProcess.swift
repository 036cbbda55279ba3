// The real `skiff server` as a child process for tests that kill, restart and watch it, and a
// small blocking HTTP/1.1 client over POSIX sockets to talk to its Kubernetes API.
import Foundation
import SkiffTestSupport
import XCTest

/// `skiff server` with the scheduler plugin only, on a data directory and a port of its choosing.
final class ServerProcess {
  let dataDir: String
  private let profile: String
  private let log: String
  private var process: Process?
  private(set) var port = 0

  /// Writes the profile next to `dataDir` and starts the server.
  init(dataDir: String) throws {
    self.dataDir = dataDir
    let parent = URL(fileURLWithPath: dataDir).deletingLastPathComponent().path
    profile = parent + "/profile.yaml"
    log = parent + "/server.log"
    try "apiVersion: skiff.dev/v1alpha1\nkind: Profile\nname: api\nplugins:\n  - name: scheduler\n"
      .write(toFile: profile, atomically: true, encoding: .utf8)
    guard FileManager.default.createFile(atPath: log, contents: nil) else { throw ClientError("cannot create \(log)") }
    try start()
  }

  deinit { stop() }

  var pid: pid_t { process?.processIdentifier ?? 0 }

  /// Starts the server and waits for its ready line, which names the port.
  func start() throws {
    let server = Process()
    server.executableURL = URL(fileURLWithPath: Fixtures.buildDirectory + "/skiff")
    server.arguments = ["server", "--profile", profile, "--data-dir", dataDir, "--listen", "127.0.0.1:0"]
    let stdout = Pipe()
    server.standardOutput = stdout
    let errors = try XCTUnwrap(FileHandle(forWritingAtPath: log))
    errors.seekToEndOfFile()
    server.standardError = errors
    try server.run()
    process = server
    var output = Data()
    while !output.contains(10) {
      let more = stdout.fileHandleForReading.availableData
      if more.isEmpty { break }
      output += more
    }
    let line = String(decoding: output, as: UTF8.self)
    guard let portText = line.components(separatedBy: "(port ").dropFirst().first,
          let port = Int(portText.prefix { $0.isNumber }) else {
      throw ClientError("skiff server did not become ready: \(line)\n\(serverLog)")
    }
    self.port = port
  }

  /// Ends the server with `signal` and waits for it to exit; SIGKILL is the crash.
  func kill(_ signal: Int32 = SIGTERM) {
    guard let process, process.isRunning else { return }
    Glibc.kill(process.processIdentifier, signal)
    process.waitUntilExit()
  }

  func stop() { kill(SIGTERM) }

  /// What the server wrote to stderr over all its starts.
  var serverLog: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

  /// User plus system CPU time the server has used, in clock ticks (/proc/PID/stat fields 14, 15).
  func cpuTicks() throws -> Int {
    let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
    // Fields count from after "pid (command)", whose command may hold spaces: state is field 3.
    let fields = try XCTUnwrap(stat.range(of: ")", options: .backwards)).upperBound
    let values = stat[fields...].split(separator: " ")
    return try XCTUnwrap(Int(values[11])) + XCTUnwrap(Int(values[12]))
  }
}

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
