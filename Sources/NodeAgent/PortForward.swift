// The kubelet's `/portForward/NS/POD` on the agent's port: SPDY/3.1 streams, over a WebSocket
// (`SPDY/3.1+portforward.k8s.io`, kubectl 1.31 and later) or an upgraded connection (SPDY/3.1
// with `portforward.k8s.io`, older kubectl). Each forwarded connection is a pair of streams with
// the same `requestID`: `error` and `data`, with the pod's `port`. Pods here share the node's
// network (the process runtime), so the port is dialled on 127.0.0.1.
import HTTP
import Kernel
import ObjectModel

enum PortForward {
  static let webSocketProtocol = "SPDY/3.1+portforward.k8s.io"
  static let streamProtocol = "portforward.k8s.io"

  static func serve(_ request: HTTPRequest, _ responder: HTTPResponder, agent: NodeAgent) {
    let parts = request.path.split(separator: "/").map(String.init)
    guard parts.count == 3, request.method == "GET" || request.method == "POST" else {
      return ContainerLogs.fail(responder, 404, "NotFound", "port-forward is served at /portForward/NAMESPACE/POD")
    }
    let prefix = "\(parts[1])/\(parts[2])/"
    guard agent.logIndex.withLock({ $0.contains { $0.key.hasPrefix(prefix) && $0.value.running } }) else {
      return ContainerLogs.fail(responder, 400, "BadRequest", "pod \(parts[2]) in namespace \(parts[1]) has no running container on node \(agent.settings.nodeName)")
    }
    let loop = agent.kernel.loop
    if WebSocket.isUpgrade(request) {
      let socket: WebSocket
      do throws(WebSocketHandshakeError) {
        socket = try WebSocket.accept(request, responder, protocols: [webSocketProtocol])
      } catch {
        return ContainerLogs.fail(responder, error.status, "BadRequest", error.message)
      }
      // The SPDY frames ride in binary messages, in both directions.
      let forwarder = Forwarder(loop: loop, send: { bytes, completion in socket.send(.binary(bytes), completion: completion) },
                                queuedBytes: { socket.queuedBytes }, close: { socket.close() })
      socket.start(onMessage: { message in
        if case .binary(let bytes) = message { forwarder.spdy.receive(bytes) }
      }, onClose: { _ in forwarder.closeAll() })
    } else if request.headers["Upgrade"]?.lowercased() == "spdy/3.1" {
      let offered = request.headers.values("X-Stream-Protocol-Version").flatMap { $0.split(separator: ",") }
        .map { String($0.filter { $0 != " " }) }
      guard offered.contains(streamProtocol) else {
        return ContainerLogs.fail(responder, 403, "Forbidden", "unable to upgrade: unable to negotiate protocol: "
          + "client supports \(offered), server supports [\(streamProtocol)]")
      }
      responder.respond(status: 101, headers: [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"),
                                               ("X-Stream-Protocol-Version", streamProtocol)])
      let connection = responder.takeOverConnection()
      let forwarder = Forwarder(loop: loop, send: { bytes, completion in connection.write(bytes, completion: completion) },
                                queuedBytes: { connection.queuedBytes }, close: { connection.close() })
      connection.onClose { forwarder.closeAll() }
      connection.startReading(onBytes: { forwarder.spdy.receive($0) }, onEnd: { connection.close() })
    } else {
      ContainerLogs.fail(responder, 400, "BadRequest", "port-forward needs a connection upgrade: WebSocket speaking "
        + "\(webSocketProtocol), or SPDY/3.1 with \(streamProtocol)")
    }
  }
}

/// One port-forward session: its SPDY streams, and a TCP connection to the pod per request. Loop
/// only; held by the transport's callbacks until it closes. A pod connection stops being read
/// while the transport has more than `backlog` bytes queued.
final class Forwarder {
  static let backlog = 1 << 20

  let spdy: SPDYSession
  private let loop: EventLoop
  private let queuedBytes: () -> Int
  private let close: () -> Void
  /// Streams by request id, until both of a pair have arrived.
  private var pending: [String: (error: SPDYStream?, data: SPDYStream?)] = [:]
  private var connections: [String: TCPConnection] = [:]

  init(loop: EventLoop, send: @escaping SPDYSession.Send, queuedBytes: @escaping () -> Int, close: @escaping () -> Void) {
    self.loop = loop
    self.queuedBytes = queuedBytes
    self.close = close
    spdy = SPDYSession(send: send)
    spdy.onStream = { [unowned self] stream in opened(stream) }
    spdy.onEnd = { _ in close() }
  }

  func closeAll() {
    spdy.onStream = nil
    connections.values.forEach { $0.close() }
    connections = [:]
    pending = [:]
  }

  private func opened(_ stream: SPDYStream) {
    let type = stream.headers["streamtype"] ?? ""
    guard let request = stream.headers["requestid"], let port = stream.headers["port"].flatMap({ Int($0) }),
          (1...65535).contains(port), type == "error" || type == "data" else {
      return stream.reset()
    }
    var pair = pending[request] ?? (nil, nil)
    if type == "error" { pair.error = stream } else { pair.data = stream }
    guard let error = pair.error, let data = pair.data else {
      pending[request] = pair
      return
    }
    pending[request] = nil
    // The client never writes on the error stream; its data goes to the pod.
    var early: [[UInt8]] = []
    var ended = false
    data.onData = { early.append($0) }
    data.onEnd = { ended = true }
    TCPConnection.connect(loop: loop, host: "127.0.0.1", port: port) { [weak self] result in
      guard let self else { return }
      switch result {
      case .failure(let failure):
        error.write(Array("error forwarding port \(port) to pod: \(failure)".utf8))
        error.finish()
        data.finish()
      case .success(let pod):
        connections[request] = pod
        early.forEach { pod.write($0) }
        if ended { pod.finishWriting() }
        data.onData = { pod.write($0) }
        data.onEnd = { pod.finishWriting() }
        let queuedBytes = queuedBytes
        func read() {
          pod.startReading(onBytes: { bytes in
            data.write(Array(bytes)) { _ in
              if pod.isOpen && queuedBytes() < Self.backlog { read() }
            }
            if queuedBytes() >= Self.backlog { pod.stopReading() }
          }, onEnd: { [weak self] in
            data.finish()
            error.finish()
            pod.close()
            self?.connections[request] = nil
          })
        }
        read()
      }
    }
  }
}
