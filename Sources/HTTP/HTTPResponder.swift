// How a handler answers one request: a whole response, a chunked stream (watches, logs), or by
// taking the raw connection over after an upgrade (exec, port-forward).
import Kernel

/// One per request, used once. Loop only: a handler that answers from another thread hops onto
/// the loop first. Calls after the client has gone are ignored.
public final class HTTPResponder: @unchecked Sendable {
  private enum State { case pending, streaming, switchingProtocols, ended, takenOver }

  private let loop: EventLoop
  private let transport: Connection
  /// nil once the response has ended, the client has gone, or the connection was taken over.
  private var connection: HTTPConnection?
  private var state = State.pending
  private let isHead: Bool
  private let version: HTTPVersion
  private var keepAlive: Bool
  private var chunked = false
  private var closeCallbacks: [() -> Void] = []
  private var clientGone = false

  init(connection: HTTPConnection, request: HTTPRequest, upgrade: Bool) {
    self.connection = connection
    loop = connection.server.loop
    transport = connection.transport
    isHead = request.method == "HEAD"
    version = request.httpVersion
    // After an upgrade request that is refused, what follows on the wire may not be HTTP.
    keepAlive = request.keepAlive && !upgrade
  }

  /// Whether the client is still there to receive this response.
  public var isOpen: Bool {
    loop.preconditionInEventLoop()
    return connection != nil
  }

  /// Whether a streamed response has begun and not ended: it can only be ended now, not answered.
  public var isStreaming: Bool {
    loop.preconditionInEventLoop()
    return state == .streaming
  }

  /// Bytes written but not yet taken by the client's socket; a watch cuts off a reader that
  /// falls too far behind.
  public var queuedBytes: Int {
    loop.preconditionInEventLoop()
    return transport.queuedBytes
  }

  /// Sends a whole response and ends it; Content-Length is set here. A `Connection: close` header
  /// closes the connection afterwards. Status 101 instead leaves the connection to
  /// `takeOverConnection()`.
  public func respond(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
    guard let connection = ready(for: .pending) else { return }
    if closeRequested(headers) { keepAlive = false }
    let hasBody = status >= 200 && status != 204 && status != 304
    connection.writeHead(status: status, headers: headers, framing: hasBody ? .length(body.count) : .none,
                         keepAlive: keepAlive, version: version)
    if hasBody && !isHead { connection.appendOutput(body) }
    connection.flush()
    if status == 101 {
      state = .switchingProtocols
    } else {
      end(connection)
    }
  }

  /// Starts a streamed response (chunked; to an HTTP/1.0 client, raw until the connection closes).
  public func beginStream(status: Int, headers: [(String, String)] = []) {
    guard let connection = ready(for: .pending) else { return }
    if closeRequested(headers) { keepAlive = false }
    chunked = version != .http1_0
    if !chunked { keepAlive = false }
    connection.writeHead(status: status, headers: headers, framing: chunked ? .chunked : .none,
                         keepAlive: keepAlive, version: version)
    connection.flush()
    state = .streaming
  }

  /// Sends one piece of a streamed response. Empty chunks are skipped: on the wire one would end it.
  public func write(chunk: [UInt8]) {
    guard let connection = ready(for: .streaming), !chunk.isEmpty, !isHead else { return }
    connection.startOutput()
    if chunked { connection.appendChunk(chunk) } else { connection.appendOutput(chunk) }
    connection.flush()
  }

  /// Ends a streamed response.
  public func end() {
    guard let connection = ready(for: .streaming) else { return }
    if chunked && !isHead {
      connection.startOutput()
      connection.appendLastChunk()
      connection.flush()
    }
    end(connection)
  }

  /// Runs `callback` once if the client goes away before this response has ended; at once if
  /// it already has.
  public func onClose(_ callback: @escaping () -> Void) {
    loop.preconditionInEventLoop()
    if clientGone {
      callback()
    } else if connection != nil {
      closeCallbacks.append(callback)
    }
  }

  /// Hands over the raw connection, for a protocol that replaces HTTP after `101 Switching
  /// Protocols` (written with `respond` first, or by the new owner itself). Bytes the client sent
  /// behind the request reach the new owner's first read. HTTP never touches it again, but
  /// `HTTPServer.close()` still closes it.
  public func takeOverConnection() -> Connection {
    loop.preconditionInEventLoop()
    precondition(state == .pending || state == .switchingProtocols,
                 "takeOverConnection after the response was streamed or ended")
    state = .takenOver
    closeCallbacks = []
    guard let connection else { return transport }  // the client has gone: a closed connection
    self.connection = nil
    return connection.handOver()
  }

  /// The connection closed before this response ended.
  func connectionClosed() {
    connection = nil
    clientGone = true
    let callbacks = closeCallbacks
    closeCallbacks = []
    for callback in callbacks { callback() }
  }

  /// The connection to write to if the response is in `expected` state and the client is still
  /// there. Calling out of order is a handler bug; calling after the client has gone is not.
  private func ready(for expected: State, function: StaticString = #function) -> HTTPConnection? {
    loop.preconditionInEventLoop()
    guard state == expected else {
      assertionFailure("HTTPResponder.\(function) called when the response was \(state)")
      return nil
    }
    return connection
  }

  private func end(_ connection: HTTPConnection) {
    state = .ended
    self.connection = nil
    closeCallbacks = []
    connection.responseEnded(keepAlive: keepAlive)
  }

  private func closeRequested(_ headers: [(String, String)]) -> Bool {
    headers.contains { asciiCaseInsensitiveEquals($0.0, "connection") && asciiCaseInsensitiveEquals($0.1, "close") }
  }
}
