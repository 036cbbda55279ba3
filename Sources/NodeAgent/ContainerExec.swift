// The kubelet's `/exec/NS/POD/CONTAINER?command=..&stdin=&stdout=&stderr=&tty=` on the agent's
// port, relayed to the runtime's streaming exec socket (docs/runtime.md). The client speaks
// Kubernetes' v5 or v4 channel protocol over a WebSocket (kubectl 1.30 and later, the Python
// client) or over SPDY/3.1 streams (kubectl 1.29 and older). Both carry Kubernetes' channel
// numbers as the runtime's socket does: 0 stdin, 1 stdout, 2 stderr, 3 the final Status,
// 4 resize, 255 close.
import Glibc
import HTTP
import Kernel
import ObjectModel

enum ContainerExec {
  static let protocols = ["v5.channel.k8s.io", "v4.channel.k8s.io"]

  struct Options {
    var command: [String]
    var stdin, stdout, stderr, tty: Bool
  }

  static func serve(_ request: HTTPRequest, _ responder: HTTPResponder, agent: NodeAgent) {
    let parts = request.path.split(separator: "/").map(String.init)
    guard parts.count == 4, request.method == "GET" || request.method == "POST" else {
      return ContainerLogs.fail(responder, 404, "NotFound", "exec is served at /exec/NAMESPACE/POD/CONTAINER")
    }
    let (namespace, pod, container) = (parts[1], parts[2], parts[3])
    let yes = { (name: String) in ["true", "1"].contains(request.queryValue(name) ?? "") }
    let options = Options(command: request.query.filter { $0.0 == "command" }.map(\.1),
                          stdin: yes("input") || yes("stdin"), stdout: yes("output") || yes("stdout"),
                          stderr: yes("error") || yes("stderr"), tty: yes("tty"))
    guard !options.command.isEmpty else {
      return ContainerLogs.fail(responder, 400, "BadRequest", "you must specify at least one command for the container")
    }
    guard options.stdin || options.stdout || options.stderr else {
      return ContainerLogs.fail(responder, 400, "BadRequest", "you must specify at least one of stdin, stdout, stderr")
    }
    let entry = agent.logIndex.withLock { $0["\(namespace)/\(pod)/\(container)"] }
    guard let entry, entry.running, let id = entry.id else {
      return ContainerLogs.fail(responder, 400, "BadRequest", "container not found (\"\(container)\")")
    }
    let start = { (client: ExecClient) in
      let session = ExecSession(client: client, options: options, loop: agent.kernel.loop)
      client.start(session) { session.run(id, on: agent.runtimes[entry.runtime] ?? agent.runtime) }
    }
    if WebSocket.isUpgrade(request) {
      do throws(WebSocketHandshakeError) {
        start(WebSocketExecClient(try WebSocket.accept(request, responder, protocols: protocols)))
      } catch {
        ContainerLogs.fail(responder, error.status, "BadRequest", error.message)
      }
    } else if request.headers["Upgrade"]?.lowercased() == "spdy/3.1" {
      let offered = request.headers.values("X-Stream-Protocol-Version")
        .flatMap { $0.split(separator: ",") }.map { String($0.filter { $0 != " " }) }
      guard let chosen = offered.first(where: { protocols.contains($0) }) else {
        return ContainerLogs.fail(responder, 403, "Forbidden", "unable to upgrade: unable to negotiate protocol: "
          + "client supports \(offered), server supports \(protocols)")
      }
      responder.respond(status: 101, headers: [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"),
                                               ("X-Stream-Protocol-Version", chosen)])
      start(SPDYExecClient(responder.takeOverConnection(), options: options))
    } else {
      ContainerLogs.fail(responder, 400, "BadRequest", "exec needs a connection upgrade: WebSocket speaking "
        + "\(protocols.joined(separator: " or ")), or SPDY/3.1")
    }
  }
}

/// The client's side of an exec, whichever transport carries it. Loop only.
protocol ExecClient: AnyObject {
  /// Starts taking the client's input into `session`; `ready` runs once the client can take
  /// output (at once for a WebSocket; once every stream has been opened for SPDY).
  func start(_ session: ExecSession, ready: @escaping () -> Void)
  /// stdout (1) or stderr (2); `sent` runs once the bytes have gone.
  func send(_ channel: UInt8, _ bytes: [UInt8], sent: @escaping () -> Void)
  /// Bytes written but not yet taken by the socket.
  var queuedBytes: Int { get }
  func pauseInput()
  func resumeInput()
  /// Sends the final Status and ends the exchange.
  func finish(status: JSON)
}

/// One exec: the client on one side, the runtime's stream socket on the other. Each side is
/// paused while the other has more than `backlog` bytes queued.
final class ExecSession {
  static let backlog = 1 << 20

  private let client: ExecClient
  private let options: ContainerExec.Options
  private let loop: EventLoop
  private var runtime: Connection?
  /// Runtime bytes not yet a whole frame.
  private var unparsed: [UInt8] = []
  /// Client input that arrived before the runtime's stream did.
  private var early: [[UInt8]] = []
  private var finished = false

  init(client: ExecClient, options: ContainerExec.Options, loop: EventLoop) {
    self.client = client
    self.options = options
    self.loop = loop
  }

  /// Asks the runtime for a stream and relays it.
  func run(_ id: String, on runtime: RuntimeCalls) {
    let request: JSON = ["cmd": .array(options.command.map { .string($0) }), "stdin": .bool(options.stdin),
                         "tty": .bool(options.tty), "stream": true]
    runtime.startExec(id, request) { [self] result in
      switch result {
      case .success(let answer):
        guard let fd = answer["fd"]?.intValue else {
          return finish(failure: "the \(runtime.name) runtime answered exec without a stream")
        }
        attach(runtimeSocket: Int32(fd))
      case .failure(let error):
        finish(failure: "error executing command in container: \(error.message.isEmpty ? error.reason : error.message)")
      }
    }
  }

  /// Input from the client for `channel`: stdin, resize, or the close signal.
  func received(_ channel: UInt8, _ payload: some Collection<UInt8>) {
    let frame = Self.frame(channel, payload)
    guard let runtime else { return early.append(frame) }
    runtime.write(frame) { [weak self] _ in
      guard let self, runtime.queuedBytes < Self.backlog else { return }
      client.resumeInput()
    }
    if runtime.queuedBytes >= Self.backlog { client.pauseInput() }
  }

  /// The client has gone: the runtime ends a command whose caller has.
  func clientClosed() {
    finished = true
    runtime?.close()
  }

  /// Ends the exec with a Failure Status (nothing ran, or the stream broke).
  func finish(failure message: String) {
    finish(status: ["metadata": [:], "status": "Failure", "message": .string(message), "reason": "InternalError",
                    "code": 500])
  }

  private func finish(status: JSON) {
    guard !finished else { return }
    finished = true
    client.finish(status: status)
    runtime?.close()
  }

  private func attach(runtimeSocket fd: Int32) {
    guard !finished else {
      _ = Glibc.close(fd)
      return
    }
    let connection: Connection
    do {
      connection = try TCPConnection.adopting(socket: fd, loop: loop)
    } catch {
      return finish(failure: "\(error)")
    }
    runtime = connection
    early.forEach { frame in connection.write(frame) }
    early = []
    read(connection)
  }

  private func read(_ runtime: Connection) {
    runtime.startReading(onBytes: { [self] bytes in
      unparsed.append(contentsOf: bytes)
      relayFrames(from: runtime)
    }, onEnd: { [self] in
      runtime.close()
      finish(failure: "the runtime ended the exec stream without an exit status")
    })
  }

  private func relayFrames(from runtime: Connection) {
    var offset = 0
    while !finished, unparsed.count - offset >= 5 {
      let length = unparsed[offset + 1...offset + 4].reduce(0) { $0 << 8 | Int($1) }
      guard unparsed.count - offset - 5 >= length else { break }
      let channel = unparsed[offset]
      let payload = Array(unparsed[offset + 5..<offset + 5 + length])
      offset += 5 + length
      switch channel {
      case 1 where options.stdout, 2 where options.stderr:
        client.send(channel, payload) { [weak self] in
          guard let self, !finished, client.queuedBytes < Self.backlog else { return }
          read(runtime)
        }
        if client.queuedBytes >= Self.backlog { runtime.stopReading() }
      case 3:
        let exitCode = (try? JSON.parse(payload))?["exitCode"]?.intValue ?? -1
        finish(status: exitCode == 0 ? ["metadata": [:], "status": "Success"] : [
          "metadata": [:], "status": "Failure", "reason": "NonZeroExitCode",
          "message": .string("command terminated with non-zero exit code: error executing command "
            + "[\(options.command.joined(separator: " "))], exit code \(exitCode)"),
          "details": ["causes": [["reason": "ExitCode", "message": .string("\(exitCode)")]]]])
      default:
        break
      }
    }
    unparsed.removeFirst(min(offset, unparsed.count))
  }

  /// The runtime's framing: channel, 4-byte big-endian length, payload.
  private static func frame(_ channel: UInt8, _ payload: some Collection<UInt8>) -> [UInt8] {
    let count = UInt32(payload.count)
    return [channel, UInt8(count >> 24), UInt8(count >> 16 & 0xff), UInt8(count >> 8 & 0xff), UInt8(count & 0xff)] + payload
  }
}

/// v5/v4 over a WebSocket: each binary (or text) message is a channel byte and its data.
final class WebSocketExecClient: ExecClient {
  private let socket: WebSocket

  init(_ socket: WebSocket) { self.socket = socket }

  func start(_ session: ExecSession, ready: @escaping () -> Void) {
    // The socket holds the session through these callbacks until it closes.
    socket.start(onMessage: { message in
      // The official Python client sends str data as text messages: the same bytes.
      let bytes = switch message {
      case .binary(let bytes): bytes
      case .text(let text): Array(text.utf8)
      }
      guard let channel = bytes.first else { return }
      session.received(channel, bytes.dropFirst())
    }, onClose: { _ in session.clientClosed() })
    ready()
  }

  func send(_ channel: UInt8, _ bytes: [UInt8], sent: @escaping () -> Void) {
    socket.send(.binary([channel] + bytes)) { _ in sent() }
  }

  var queuedBytes: Int { socket.queuedBytes }
  func pauseInput() { socket.pauseReading() }
  func resumeInput() { socket.resumeReading() }

  func finish(status: JSON) {
    socket.send(.binary([3] + status.serialized()))
    socket.close()
  }
}

/// v5/v4 over SPDY/3.1: the client opens one stream per channel, named by its `streamType`
/// header; stdin's FIN closes stdin; resize carries one JSON size per line; the Status goes on
/// the error stream, then every stream ends.
final class SPDYExecClient: ExecClient {
  private let connection: Connection
  private let spdy: SPDYSession
  private var streams: [String: SPDYStream] = [:]
  private let expected: Set<String>
  private var resizeLine: [UInt8] = []

  init(_ connection: Connection, options: ContainerExec.Options) {
    self.connection = connection
    spdy = SPDYSession { bytes, completion in connection.write(bytes, completion: completion) }
    var expected: Set<String> = ["error"]
    if options.stdin { expected.insert("stdin") }
    if options.stdout { expected.insert("stdout") }
    if options.stderr && !options.tty { expected.insert("stderr") }
    if options.tty { expected.insert("resize") }
    self.expected = expected
  }

  func start(_ session: ExecSession, ready: @escaping () -> Void) {
    var started = false
    spdy.onStream = { [self] stream in
      guard let type = stream.headers["streamtype"], expected.contains(type), streams[type] == nil else {
        return stream.reset()
      }
      streams[type] = stream
      switch type {
      case "stdin":
        stream.onData = { session.received(0, $0) }
        stream.onEnd = { session.received(255, [0]) }
      case "resize":
        stream.onData = { [self] bytes in
          resizeLine += bytes
          while let end = resizeLine.firstIndex(of: UInt8(ascii: "\n")) {
            session.received(4, resizeLine[..<end])
            resizeLine.removeFirst(end + 1)
          }
        }
      default:
        break
      }
      if !started && Set(streams.keys) == expected {
        started = true
        ready()
      }
    }
    spdy.onEnd = { [connection] _ in connection.close() }
    // The connection holds the client (and the session) through these callbacks until it closes.
    connection.onClose { [self] in
      spdy.onStream = nil
      streams = [:]
      session.clientClosed()
    }
    connection.startReading(onBytes: { [self] bytes in spdy.receive(bytes) }, onEnd: { [connection] in connection.close() })
  }

  func send(_ channel: UInt8, _ bytes: [UInt8], sent: @escaping () -> Void) {
    guard let stream = streams[channel == 1 ? "stdout" : "stderr"] else { return sent() }
    stream.write(bytes) { _ in sent() }
  }

  var queuedBytes: Int { connection.queuedBytes }

  func pauseInput() { connection.stopReading() }

  func resumeInput() {
    connection.startReading(onBytes: { [self] bytes in spdy.receive(bytes) }, onEnd: { [connection] in connection.close() })
  }

  func finish(status: JSON) {
    // v4 and later: the Status as JSON on the error stream (v3's plain text has no exit codes).
    streams["error"]?.write(status.serialized())
    for type in ["stdout", "stderr", "error", "resize"] { streams[type]?.finish() }
    spdy.goAway()
    connection.close()
  }
}
