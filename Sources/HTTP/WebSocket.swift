// RFC 6455 WebSocket, server side, over the connection HTTP hands over after an upgrade: the
// opening handshake (accept key, subprotocol choice) and frames (masked by the client, fragmented
// messages, ping/pong, close). Kubernetes' exec and port-forward streams ride on it.
import Kernel

/// Why an upgrade request is not a WebSocket opening handshake this server accepts: answer it
/// with `status` and `message` instead of 101.
public struct WebSocketHandshakeError: Error, CustomStringConvertible {
  public let status: Int
  public let message: String
  public var description: String { message }
}

/// One WebSocket, loop only. Messages arrive whole; control frames are answered here.
public final class WebSocket {
  public enum Message: Equatable {
    case text(String)
    case binary([UInt8])
  }

  /// Close status codes (RFC 6455 section 7.4.1).
  public enum CloseCode {
    public static let normal: UInt16 = 1000
    public static let protocolError: UInt16 = 1002
    public static let invalidData: UInt16 = 1007
    public static let tooBig: UInt16 = 1009
  }

  /// A message larger than this, whole or assembled from fragments, closes with 1009.
  public static let maxMessageBytes = 16 << 20

  /// The subprotocol both sides agreed on; nil if the client offered none.
  public let subprotocol: String?
  private let connection: Connection
  private var unparsed: [UInt8] = []
  /// A fragmented message being assembled: its first frame's opcode, and the bytes so far.
  private var fragments: (opcode: UInt8, bytes: [UInt8])?
  private var sentClose = false
  private var peerCloseCode: UInt16?
  private var onMessage: ((Message) -> Void)?

  /// Whether `request` asks to become a WebSocket (`Upgrade: websocket`).
  public static func isUpgrade(_ request: HTTPRequest) -> Bool {
    request.headers["Upgrade"]?.lowercased() == "websocket"
  }

  /// Checks the opening handshake, answers 101 with Sec-WebSocket-Accept and the first protocol
  /// the client offered that `protocols` holds, and takes the connection over. Throws, having
  /// answered nothing, when the request is not a handshake to accept.
  public static func accept(_ request: HTTPRequest, _ responder: HTTPResponder, protocols: [String])
    throws(WebSocketHandshakeError) -> WebSocket {
    guard request.method == "GET" else {
      throw WebSocketHandshakeError(status: 400, message: "a WebSocket upgrade must be a GET, not \(request.method)")
    }
    guard isUpgrade(request),
          request.headers["Connection"]?.lowercased().split(separator: ",").contains(where: {
            $0.trimmingSpaces == "upgrade"
          }) == true else {
      throw WebSocketHandshakeError(status: 400, message: "not a WebSocket upgrade: Connection: Upgrade and Upgrade: websocket are required")
    }
    guard request.headers["Sec-WebSocket-Version"] == "13" else {
      throw WebSocketHandshakeError(status: 426, message: "unsupported Sec-WebSocket-Version \(request.headers["Sec-WebSocket-Version"] ?? "(none)"): only 13 is supported")
    }
    guard let key = request.headers["Sec-WebSocket-Key"], !key.isEmpty else {
      throw WebSocketHandshakeError(status: 400, message: "the WebSocket upgrade has no Sec-WebSocket-Key")
    }
    let offered = request.headers.values("Sec-WebSocket-Protocol")
      .flatMap { $0.split(separator: ",") }.map { String($0.trimmingSpaces) }.filter { !$0.isEmpty }
    let chosen = offered.first { protocols.contains($0) }
    if !offered.isEmpty && chosen == nil {
      throw WebSocketHandshakeError(status: 400, message: "requested protocol(s) are not supported: \(offered); supports \(protocols)")
    }
    var headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                   ("Sec-WebSocket-Accept", WebSocketAccept.value(forKey: key))]
    if let chosen { headers.append(("Sec-WebSocket-Protocol", chosen)) }
    responder.respond(status: 101, headers: headers)
    return WebSocket(connection: responder.takeOverConnection(), subprotocol: chosen)
  }

  init(connection: Connection, subprotocol: String?) {
    self.connection = connection
    self.subprotocol = subprotocol
  }

  /// Delivers messages until the socket closes; `onClose` gets the client's close code, if it
  /// sent one. The connection holds the socket until then, and the socket its callbacks.
  public func start(onMessage: @escaping (Message) -> Void, onClose: @escaping (UInt16?) -> Void) {
    self.onMessage = onMessage
    connection.onClose { [self] in
      self.onMessage = nil
      onClose(peerCloseCode)
    }
    resumeReading()
  }

  /// For flow control: stop taking messages while what they feed is behind.
  public func pauseReading() { connection.stopReading() }

  public func resumeReading() {
    connection.startReading(onBytes: { [self] bytes in received(bytes) }, onEnd: { [self] in connection.close() })
  }

  /// Bytes sent but not yet taken by the socket.
  public var queuedBytes: Int { connection.queuedBytes }

  public var isOpen: Bool { connection.isOpen && !sentClose }

  public func send(_ message: Message, completion: ((Bool) -> Void)? = nil) {
    switch message {
    case .text(let text): sendFrame(opcode: 1, Array(text.utf8), completion: completion)
    case .binary(let bytes): sendFrame(opcode: 2, bytes, completion: completion)
    }
  }

  /// Sends a close frame, then closes the connection once what is queued has gone.
  public func close(code: UInt16 = CloseCode.normal, reason: String = "") {
    guard !sentClose, connection.isOpen else { return connection.close() }
    sendFrame(opcode: 8, [UInt8(code >> 8), UInt8(code & 0xff)] + Array(reason.utf8.prefix(123)))
    sentClose = true
    connection.close()
  }

  // MARK: Frames

  private func sendFrame(opcode: UInt8, _ payload: [UInt8], completion: ((Bool) -> Void)? = nil) {
    guard !sentClose, connection.isOpen else {
      completion?(false)
      return
    }
    var frame: [UInt8] = [0x80 | opcode]  // FIN: this server never fragments what it sends
    switch payload.count {
    case ..<126: frame.append(UInt8(payload.count))
    case ..<65536: frame += [126, UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
    default: frame += [127] + (0..<8).map { UInt8(truncatingIfNeeded: UInt64(payload.count) >> (56 - 8 * $0)) }
    }
    connection.write(frame + payload, completion: completion)
  }

  private func received(_ bytes: UnsafeRawBufferPointer) {
    unparsed.append(contentsOf: bytes)
    var offset = 0
    while !sentClose, let (consumed, frame) = nextFrame(from: offset) {
      offset += consumed
      if let frame { handle(frame) }
    }
    unparsed.removeFirst(min(offset, unparsed.count))
  }

  private struct Frame {
    var fin: Bool
    var opcode: UInt8
    var payload: [UInt8]
  }

  /// The frame starting at `offset` and its length; nil while it is incomplete. A frame that
  /// breaks the protocol closes the socket and yields a nil frame.
  private func nextFrame(from offset: Int) -> (Int, Frame?)? {
    let available = unparsed.count - offset
    guard available >= 2 else { return nil }
    let first = unparsed[offset], second = unparsed[offset + 1]
    var length = Int(second & 0x7f)
    var header = 2
    if length == 126 {
      guard available >= 4 else { return nil }
      length = Int(unparsed[offset + 2]) << 8 | Int(unparsed[offset + 3])
      header = 4
    } else if length == 127 {
      guard available >= 10 else { return nil }
      let wide = unparsed[offset + 2..<offset + 10].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
      guard wide <= UInt64(Self.maxMessageBytes) else { return (available, fail(CloseCode.tooBig, "message too big")) }
      length = Int(wide)
      header = 10
    }
    guard length <= Self.maxMessageBytes else { return (available, fail(CloseCode.tooBig, "message too big")) }
    guard first & 0x70 == 0 else { return (available, fail(CloseCode.protocolError, "reserved bits set")) }
    guard second & 0x80 != 0 else { return (available, fail(CloseCode.protocolError, "client frames must be masked")) }
    guard available >= header + 4 + length else { return nil }
    let mask = unparsed[offset + header..<offset + header + 4].map { $0 }
    let start = offset + header + 4
    var payload = Array(unparsed[start..<start + length])
    for i in payload.indices { payload[i] ^= mask[i & 3] }
    return (header + 4 + length, Frame(fin: first & 0x80 != 0, opcode: first & 0x0f, payload: payload))
  }

  private func handle(_ frame: Frame) {
    switch frame.opcode {
    case 0x8:
      peerCloseCode = frame.payload.count >= 2 ? UInt16(frame.payload[0]) << 8 | UInt16(frame.payload[1]) : nil
      close(code: peerCloseCode ?? CloseCode.normal)
    case 0x9:
      guard frame.fin, frame.payload.count <= 125 else { return _ = fail(CloseCode.protocolError, "bad ping") }
      sendFrame(opcode: 0xA, frame.payload)
    case 0xA:
      break
    case 0x0:
      guard var message = fragments else { return _ = fail(CloseCode.protocolError, "continuation without a message") }
      guard message.bytes.count + frame.payload.count <= Self.maxMessageBytes else {
        return _ = fail(CloseCode.tooBig, "message too big")
      }
      message.bytes += frame.payload
      if frame.fin {
        fragments = nil
        deliver(opcode: message.opcode, message.bytes)
      } else {
        fragments = message
      }
    case 0x1, 0x2:
      guard fragments == nil else { return _ = fail(CloseCode.protocolError, "a new message inside a fragmented one") }
      if frame.fin { deliver(opcode: frame.opcode, frame.payload) } else { fragments = (frame.opcode, frame.payload) }
    default:
      _ = fail(CloseCode.protocolError, "unknown opcode \(frame.opcode)")
    }
  }

  private func deliver(opcode: UInt8, _ bytes: [UInt8]) {
    if opcode == 0x2 { return onMessage?(.binary(bytes)) ?? () }
    guard let text = String(validating: bytes, as: UTF8.self) else {
      return _ = fail(CloseCode.invalidData, "text message is not UTF-8")
    }
    onMessage?(.text(text))
  }

  private func fail(_ code: UInt16, _ reason: String) -> Frame? {
    close(code: code, reason: reason)
    return nil
  }
}

extension Substring {
  fileprivate var trimmingSpaces: Substring {
    var trimmed = self
    while let first = trimmed.first, first == " " || first == "\t" { trimmed.removeFirst() }
    while let last = trimmed.last, last == " " || last == "\t" { trimmed.removeLast() }
    return trimmed
  }
}
