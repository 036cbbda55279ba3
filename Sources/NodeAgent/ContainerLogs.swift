// The kubelet's `GET /containerLogs/NS/POD/CONTAINER` on the agent's port, from the runtime's CRI
// log files: follow, tailLines, previous, timestamps, limitBytes, sinceSeconds. The API server's
// pods/log relays it. File reads run on libuv's thread pool, never on the loop.
import Glibc
import HTTP
import Kernel
import ObjectModel

enum ContainerLogs {
  /// Where one container's logs are, as the sync thread last saw them.
  struct Entry: Sendable {
    /// The current instance's runtime id and the runtime that runs it (the pod's RuntimeClass
    /// handler or the profile's), for exec.
    var id: String?
    var runtime: String
    var current: String?
    var previous: String?
    var running: Bool
  }

  struct Options {
    var follow = false
    var previous = false
    var timestamps = false
    var tailLines: Int?
    var limitBytes: Int?
    /// Records before this RFC 3339 second ("2006-01-02T15:04:05") are left out.
    var since: String?

    init(_ request: HTTPRequest) {
      let yes = { (name: String) in ["true", "1"].contains(request.queryValue(name) ?? "") }
      follow = yes("follow")
      previous = yes("previous")
      timestamps = yes("timestamps")
      tailLines = request.queryValue("tailLines").flatMap { Int($0) }.flatMap { $0 >= 0 ? $0 : nil }
      limitBytes = request.queryValue("limitBytes").flatMap { Int($0) }
      if let seconds = request.queryValue("sinceSeconds").flatMap({ Double($0) }) {
        since = String(Clock.rfc3339(Clock.now() - seconds).prefix(19))
      } else if let time = request.queryValue("sinceTime") {
        since = String(time.prefix(19))
      }
    }
  }

  static func serve(_ request: HTTPRequest, _ responder: HTTPResponder, agent: NodeAgent) {
    let parts = request.path.split(separator: "/").map(String.init)
    if request.path == "/healthz" {
      return responder.respond(status: 200, headers: [("Content-Type", "text/plain")], body: Array("ok".utf8))
    }
    guard request.method == "GET", parts.count == 4, parts[0] == "containerLogs" else {
      return fail(responder, 404, "NotFound", "the node agent serves /containerLogs/NAMESPACE/POD/CONTAINER, /exec/NAMESPACE/POD/CONTAINER and /healthz")
    }
    let (namespace, pod, container) = (parts[1], parts[2], parts[3])
    let options = Options(request)
    guard let entry = agent.logIndex.withLock({ $0["\(namespace)/\(pod)/\(container)"] }) else {
      return fail(responder, 404, "NotFound", "container \"\(container)\" in pod \"\(pod)\" in namespace \"\(namespace)\" is not running on node \(agent.settings.nodeName)")
    }
    guard let path = options.previous ? entry.previous : entry.current else {
      return fail(responder, 400, "BadRequest", options.previous
        ? "previous terminated container \"\(container)\" in pod \"\(pod)\" not found"
        : "container \"\(container)\" in pod \"\(pod)\" has no log yet")
    }
    let follow = options.follow && !options.previous
    responder.beginStream(status: 200, headers: [("Content-Type", "text/plain")])
    let stream = LogStream(path: path, options: options, responder: responder, loop: agent.kernel.loop)
    stream.readMore(initial: true) {
      guard follow, stream.open else { return stream.finish() }
      stream.follow {
        agent.logIndex.withLock { $0["\(namespace)/\(pod)/\(container)"]?.current == path && $0["\(namespace)/\(pod)/\(container)"]!.running }
      }
    }
  }

  static func fail(_ responder: HTTPResponder, _ code: Int, _ reason: String, _ message: String) {
    let status: JSON = ["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure",
                        "message": .string(message), "reason": .string(reason), "code": .int(Int64(code))]
    responder.respond(status: code, headers: [("Content-Type", "application/json")], body: status.serialized())
  }
}

/// One response's reading of a log file: where it got to, and what it has sent.
final class LogStream: @unchecked Sendable {
  let path: String
  let options: ContainerLogs.Options
  let responder: HTTPResponder
  let loop: EventLoop
  private var offset: Int64 = 0
  private var sent = 0
  private var timer: LoopTimer?
  var open: Bool { responder.isOpen && (options.limitBytes.map { sent < $0 } ?? true) }

  init(path: String, options: ContainerLogs.Options, responder: HTTPResponder, loop: EventLoop) {
    self.loop = loop
    self.path = path
    self.options = options
    self.responder = responder
    responder.onClose { [weak self] in self?.stopTimer() }
  }

  /// Reads the complete lines written since the last read (on the thread pool) and sends them.
  func readMore(initial: Bool, then: @escaping () -> Void) {
    let start = offset
    nonisolated(unsafe) var lines: [UInt8] = []
    nonisolated(unsafe) var end = start
    let path = path, options = options
    loop.queueWork({
      (lines, end) = Self.read(path, from: start)
      lines = Self.render(lines, options, tail: initial ? options.tailLines : nil)
    }, then: { [self] in
      offset = end
      send(lines)
      then()
    })
  }

  /// Polls the file while `running` says the container runs, then one last read. The timer holds
  /// the stream (nothing else does) until `finish` or the client's leaving closes it.
  func follow(running: @escaping () -> Bool) {
    var reading = false
    timer = loop.scheduleTimer(after: 200, repeating: 200) { [self] _ in
      guard !reading else { return }
      reading = true
      let stillRunning = running()
      readMore(initial: false) {
        reading = false
        if !stillRunning || !self.open { self.finish() }
      }
    }
  }

  func finish() {
    stopTimer()
    if responder.isOpen { responder.end() }
  }

  private func stopTimer() {
    timer?.close()
    timer = nil
  }

  private func send(_ bytes: [UInt8]) {
    guard open, !bytes.isEmpty else { return }
    var bytes = bytes
    if let limit = options.limitBytes, sent + bytes.count > limit { bytes = Array(bytes.prefix(limit - sent)) }
    sent += bytes.count
    responder.write(chunk: bytes)
  }

  /// The file's complete lines from `offset`, and the offset after the last one.
  static func read(_ path: String, from offset: Int64) -> ([UInt8], Int64) {
    guard let file = fopen(path, "rb") else { return ([], offset) }
    defer { fclose(file) }
    fseeko(file, off_t(offset), SEEK_SET)
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    while case let count = fread(&buffer, 1, buffer.count, file), count > 0 { bytes += buffer[..<count] }
    guard let lastNewline = bytes.lastIndex(of: 10) else { return ([], offset) }
    return (Array(bytes[...lastNewline]), offset + Int64(lastNewline + 1))
  }

  /// CRI records (`TIME STREAM TAG TEXT`) as the text `kubectl logs` shows, tagged `P` records
  /// joined to the line they start.
  static func render(_ bytes: [UInt8], _ options: ContainerLogs.Options, tail: Int?) -> [UInt8] {
    var lines: [[UInt8]] = []
    var atLineStart = true
    for record in bytes.split(separator: 10, omittingEmptySubsequences: true) {
      let fields = record.split(separator: 32, maxSplits: 3, omittingEmptySubsequences: false)
      guard fields.count >= 3 else { continue }
      let time = fields[0]
      if let since = options.since, String(decoding: time.prefix(19), as: UTF8.self) < since { continue }
      var line: [UInt8] = []
      if options.timestamps && atLineStart { line += time + [32] }
      if fields.count == 4 { line += fields[3] }
      let full = fields[2].first != UInt8(ascii: "P")
      if full { line.append(10) }
      if atLineStart || lines.isEmpty { lines.append(line) } else { lines[lines.count - 1] += line }
      atLineStart = full
    }
    if let tail { lines = Array(lines.suffix(tail)) }
    return lines.flatMap { $0 }
  }
}
