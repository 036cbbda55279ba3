// The HTTP/1.1 server the API server runs on: accepts connections on the kernel's loop and hands
// each parsed request, with a responder, to one handler.
import CHTTPParser
import CLibUV
import Kernel

public struct HTTPLimits: Sendable {
  /// Request line and header fields together: Go's default, which the Kubernetes API server keeps.
  public var maxHeaderBytes: Int
  /// The Kubernetes API server refuses request bodies over 3 MiB.
  public var maxBodyBytes: Int
  /// How long a connection may wait between requests before the server closes it.
  public var idleTimeout: Duration

  public init(maxHeaderBytes: Int = 1 << 20, maxBodyBytes: Int = 3 << 20,
              idleTimeout: Duration = .seconds(120)) {
    self.maxHeaderBytes = maxHeaderBytes
    self.maxBodyBytes = maxBodyBytes
    self.idleTimeout = idleTimeout
  }
}

/// Everything but `init` is loop-only, and the handler runs on the loop.
public final class HTTPServer {
  public typealias Handler = (HTTPRequest, HTTPResponder) -> Void

  public let loop: EventLoop
  public let limits: HTTPLimits
  let handler: Handler
  let date = HTTPDate()
  private var listeners: [TCPListener] = []
  private var connections: [ObjectIdentifier: HTTPConnection] = [:]
  private var idleSweep: LoopTimer?
  private var closed = false

  public init(loop: EventLoop, limits: HTTPLimits = HTTPLimits(), handler: @escaping Handler) {
    _ = parserHeaderLimitLifted
    self.loop = loop
    self.limits = limits
    self.handler = handler
  }

  /// Accepts plain TCP clients on an IPv4 or IPv6 literal; port 0 picks a free port. Returns the
  /// port bound. May be called more than once, one address each.
  @discardableResult
  public func listen(host: String, port: Int) throws -> Int {
    loop.preconditionInEventLoop()
    precondition(!closed, "HTTPServer.listen after close")
    let listener = try TCPListener(loop: loop, host: host, port: port) { [weak self] connection in
      if let self { self.serve(connection) } else { connection.close() }
    }
    listeners.append(listener)
    return listener.port
  }

  /// Speaks HTTP over a connection some listener accepted: how TLS, or any other transport,
  /// plugs in.
  public func serve(_ connection: Connection) {
    loop.preconditionInEventLoop()
    guard !closed else {
      connection.close()
      return
    }
    let http = HTTPConnection(server: self, transport: connection)
    let id = ObjectIdentifier(http)
    connections[id] = http
    connection.onClose { [weak self] in self?.connections[id] = nil }
    startIdleSweep()
    http.start()
  }

  /// Stops accepting and closes every connection, including ones handed over after an upgrade.
  /// Responses in flight end; streams see `onClose`. Idempotent.
  public func close() {
    loop.preconditionInEventLoop()
    guard !closed else { return }
    closed = true
    for listener in listeners { listener.close() }
    listeners = []
    idleSweep?.close()
    idleSweep = nil
    for connection in Array(connections.values) { connection.close() }
  }

  /// Connections accepted and not yet fully closed.
  public var connectionCount: Int {
    loop.preconditionInEventLoop()
    return connections.count
  }

  /// One timer for all connections rather than one per connection; it stops when none is left.
  private func startIdleSweep() {
    guard idleSweep == nil else { return }
    let limit = milliseconds(limits.idleTimeout)
    let interval = max(10, min(1_000, limit / 2))
    idleSweep = loop.scheduleTimer(after: interval, repeating: interval) { [weak self] timer in
      guard let self, !self.connections.isEmpty else {
        timer.close()
        self?.idleSweep = nil
        return
      }
      let now = uv_now(self.loop.uv)
      for connection in Array(self.connections.values) {
        connection.closeIfIdle(now: now, limit: limit)
      }
    }
  }
}

private func milliseconds(_ duration: Duration) -> UInt64 {
  let (seconds, attoseconds) = duration.components
  return UInt64(max(0, seconds)) * 1_000 + UInt64(max(0, attoseconds)) / 1_000_000_000_000_000
}

/// http-parser's own header limit is a process-wide setting (80 KiB by default); lifting it once
/// leaves each server's `maxHeaderBytes` in charge.
private let parserHeaderLimitLifted: Void = http_parser_set_max_header_size(UInt32.max)
