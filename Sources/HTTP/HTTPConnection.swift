// HTTP/1.1 framing over one Connection: http-parser turns bytes into requests, which reach the
// handler one at a time so that responses leave in request order.
import CHTTPParser
import CLibUV
import Kernel

final class HTTPConnection {
  /// Pipelined input kept while a response is in progress; past this, reading pauses.
  static let unparsedLimit = 64 * 1024

  unowned let server: HTTPServer
  let transport: Connection
  private let parser: UnsafeMutablePointer<http_parser>
  /// Responses are assembled here and written in one piece.
  private var output: [UInt8] = []

  // The request being parsed.
  private var methodToken: [UInt8] = []
  private var awaitingMethod = true
  private var method = ""
  private var url: [UInt8] = []
  private var headers: [(name: String, value: String)] = []
  private var fieldName: [UInt8] = []
  private var fieldValue: [UInt8] = []
  private var inFieldValue = false
  private var headerBytes = 0
  private var headersDone = false
  private var keepAlive = true
  private var body: [UInt8] = []
  /// Why a parser callback stopped the parser.
  private var rejection: Refusal?

  // Flow between parsing and responding.
  /// A complete request (or a refusal) the pump is about to dispatch.
  private var next: Next?
  /// The request being responded to; parsing waits until its response ends.
  private var active: HTTPResponder?
  /// False after the last request a connection may carry: a final one, a refusal, an upgrade.
  private var parsing = true
  /// Bytes behind an upgrade request belong to whoever takes the connection over.
  private var upgraded = false
  private var unparsed: [UInt8] = []
  private var pumping = false
  private var readingPaused = false
  private(set) var closed = false
  private var takenOver = false
  private var lastActivity: UInt64

  private enum Next {
    case request(HTTPRequest, upgrade: Bool)
    case refusal(Refusal)
  }

  struct Refusal {
    var status: Int
    var reason: String
  }

  init(server: HTTPServer, transport: Connection) {
    self.server = server
    self.transport = transport
    parser = .allocate(capacity: 1)
    http_parser_init(parser, HTTP_REQUEST)
    lastActivity = uv_now(server.loop.uv)
    parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
  }

  deinit { parser.deallocate() }

  func start() { readFromTransport() }

  /// Closes now: a response in progress is abandoned and its responder told. Idempotent.
  func close() {
    guard !closed else { return }
    closed = true
    parsing = false
    next = nil
    unparsed = []
    let abandoned = active
    active = nil
    transport.close()
    abandoned?.connectionClosed()
  }

  func closeIfIdle(now: UInt64, limit: UInt64) {
    guard active == nil, !takenOver, now &- lastActivity >= limit else { return }
    close()
  }

  // MARK: Reading

  private func readFromTransport() {
    // The client going away ends everything, even a response in progress: nobody is left to read it.
    transport.startReading(onBytes: { [self] in received($0) }, onEnd: { [self] in close() })
  }

  private func received(_ bytes: UnsafeRawBufferPointer) {
    lastActivity = uv_now(server.loop.uv)
    guard !closed, !takenOver else { return }
    if unparsed.isEmpty && !pumping {
      // The common case parses straight from the read buffer.
      let used = pump(bytes)
      keepUnparsed(UnsafeRawBufferPointer(rebasing: bytes[used...]))
    } else {
      keepUnparsed(bytes)
      pumpUnparsed()
    }
  }

  private func keepUnparsed(_ bytes: UnsafeRawBufferPointer) {
    // After the last request, whatever else arrives is dropped.
    guard !bytes.isEmpty, parsing || upgraded, !closed, !takenOver else { return }
    unparsed.append(contentsOf: bytes)
    if unparsed.count > Self.unparsedLimit && !readingPaused {
      readingPaused = true
      transport.stopReading()
    }
  }

  private func pumpUnparsed() {
    guard !pumping, parsing, !unparsed.isEmpty else { return }
    var pending: [UInt8] = []
    swap(&pending, &unparsed)
    pending.withUnsafeBytes { bytes in
      let used = pump(bytes)
      keepUnparsed(UnsafeRawBufferPointer(rebasing: bytes[used...]))
    }
  }

  /// Dispatches the next request and parses `input` for more while no response is in progress.
  /// Returns how many bytes were parsed. A handler that responds at once lets the loop go on.
  private func pump(_ input: UnsafeRawBufferPointer) -> Int {
    pumping = true
    defer { pumping = false }
    var offset = 0
    while !closed && !takenOver && active == nil {
      if let waiting = next {
        next = nil
        dispatch(waiting)
      } else if parsing && offset < input.count {
        offset += parse(UnsafeRawBufferPointer(rebasing: input[offset...]))
        if upgraded {
          // Set aside before the handler runs: it may take the connection over at once.
          unparsed.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[offset...]))
          offset = input.count
        }
      } else {
        break
      }
    }
    return offset
  }

  /// Parses until one request is complete, the parser refuses, or the input runs out.
  private func parse(_ input: UnsafeRawBufferPointer) -> Int {
    var offset = 0
    if awaitingMethod {
      offset = readMethod(input)
      if awaitingMethod || !parsing { return offset }
    }
    guard offset < input.count else { return offset }
    let start = input.baseAddress!.assumingMemoryBound(to: CChar.self) + offset
    offset += http_parser_execute(parser, parserSettings, start, input.count - offset)
    let error = parser.pointee.http_errno
    if error == HPE_PAUSED.rawValue {
      // messageComplete paused the parser so that requests can be handed out one at a time.
      http_parser_pause(parser, 0)
      awaitingMethod = true
    } else if error != HPE_OK.rawValue {
      refuse(rejection ?? Self.refusal(for: http_errno(rawValue: error)))
      return input.count
    }
    return offset
  }

  /// http-parser knows a fixed list of methods, and the handler must see any method a client
  /// sends. So the method token is read here and the parser shown a stand-in for unknown ones.
  private func readMethod(_ input: UnsafeRawBufferPointer) -> Int {
    var index = 0
    if methodToken.isEmpty {
      // Empty lines before a request are allowed (RFC 9112 section 2.2).
      while index < input.count && (input[index] == cr || input[index] == lf) { index += 1 }
    }
    while index < input.count {
      let byte = input[index]
      index += 1
      if byte == space && !methodToken.isEmpty {
        startMessage()
        return index
      }
      guard isTokenByte(byte), methodToken.count < 32 else {
        refuse(Refusal(status: 400, reason: "invalid HTTP method"))
        return input.count
      }
      methodToken.append(byte)
    }
    return index
  }

  private func startMessage() {
    awaitingMethod = false
    method = String(decoding: methodToken, as: UTF8.self)
    headerBytes = methodToken.count + 1
    methodToken.append(space)
    let shown = parserMethods.contains(method) ? methodToken : standInMethod
    let used = shown.withUnsafeBytes {
      http_parser_execute(parser, parserSettings, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count)
    }
    methodToken.removeAll(keepingCapacity: true)
    if used != shown.count || parser.pointee.http_errno != HPE_OK.rawValue {
      refuse(Refusal(status: 400, reason: "invalid HTTP method"))
    }
  }

  private static func refusal(for error: http_errno) -> Refusal {
    let status = error == HPE_HEADER_OVERFLOW ? 431 : 400
    return Refusal(status: status, reason: String(cString: http_errno_description(error)))
  }

  // MARK: Parser callbacks

  fileprivate func messageBegan() -> Int32 {
    url.removeAll(keepingCapacity: true)
    headers = []
    fieldName.removeAll(keepingCapacity: true)
    fieldValue.removeAll(keepingCapacity: true)
    inFieldValue = false
    headersDone = false
    body = []
    rejection = nil
    return 0
  }

  fileprivate func urlBytes(_ bytes: UnsafeRawBufferPointer) -> Int32 {
    url.append(contentsOf: bytes)
    return countHeaderBytes(bytes.count)
  }

  fileprivate func headerField(_ bytes: UnsafeRawBufferPointer) -> Int32 {
    // Trailers after a chunked body count against the limit but are not kept.
    if !headersDone {
      if inFieldValue { addHeader() }
      fieldName.append(contentsOf: bytes)
    }
    return countHeaderBytes(bytes.count)
  }

  fileprivate func headerValue(_ bytes: UnsafeRawBufferPointer) -> Int32 {
    if !headersDone {
      inFieldValue = true
      fieldValue.append(contentsOf: bytes)
    }
    return countHeaderBytes(bytes.count)
  }

  private func addHeader() {
    headers.append((String(decoding: fieldName, as: UTF8.self), String(decoding: fieldValue, as: UTF8.self)))
    fieldName.removeAll(keepingCapacity: true)
    fieldValue.removeAll(keepingCapacity: true)
    inFieldValue = false
  }

  private func countHeaderBytes(_ count: Int) -> Int32 {
    headerBytes += count
    guard headerBytes > server.limits.maxHeaderBytes else { return 0 }
    rejection = Refusal(status: 431, reason: "request header fields too large")
    return 1
  }

  fileprivate func headersComplete() -> Int32 {
    if inFieldValue { addHeader() }
    headersDone = true
    keepAlive = http_should_keep_alive(parser) != 0
    let chunked = parser.pointee.flags & F_CHUNKED.rawValue != 0
    // http-parser reports "no Content-Length" as the largest value.
    let length = parser.pointee.content_length == UInt64.max ? 0 : parser.pointee.content_length
    // Refused before any of the body is read; closing with linger spares the client a reset.
    guard length <= UInt64(server.limits.maxBodyBytes) else {
      rejection = Refusal(status: 413, reason: "request body too large")
      return -1
    }
    // Reserved only in part: a declared length costs nothing to send.
    body.reserveCapacity(Int(min(length, 64 * 1024)))
    if (chunked || length > 0) && parser.pointee.http_minor >= 1,
       let expect = headers.first(where: { asciiCaseInsensitiveEquals($0.name, "expect") }),
       asciiCaseInsensitiveEquals(expect.value, "100-continue") {
      // Parsing runs only when no response is in progress, so the interim response is in order.
      continueResponse.withUnsafeBytes { transport.write($0, completion: nil) }
    }
    return 0
  }

  fileprivate func bodyBytes(_ bytes: UnsafeRawBufferPointer) -> Int32 {
    guard body.count + bytes.count <= server.limits.maxBodyBytes else {
      rejection = Refusal(status: 413, reason: "request body too large")
      return 1
    }
    body.append(contentsOf: bytes)
    return 0
  }

  fileprivate func messageComplete() -> Int32 {
    guard let parts = RequestTarget(url[...]) else {
      rejection = Refusal(status: 400, reason: "malformed request target")
      return 1
    }
    let upgrade = parser.pointee.upgrade != 0
    let version = HTTPVersion(major: Int(parser.pointee.http_major), minor: Int(parser.pointee.http_minor))
    let request = HTTPRequest(method: method, target: String(decoding: url, as: UTF8.self), parts: parts,
                              headers: HTTPHeaders(headers), body: body, httpVersion: version,
                              keepAlive: keepAlive)
    headers = []
    body = []
    next = .request(request, upgrade: upgrade)
    if !keepAlive || upgrade {
      parsing = false
      upgraded = upgrade
    }
    http_parser_pause(parser, 1)
    return 0
  }

  // MARK: Responding

  private func dispatch(_ next: Next) {
    switch next {
    case .request(let request, let upgrade):
      let responder = HTTPResponder(connection: self, request: request, upgrade: upgrade)
      active = responder
      server.handler(request, responder)
    case .refusal(let refusal):
      let message = Array("\(refusal.status) \(refusal.reason)\n".utf8)
      writeHead(status: refusal.status, headers: [("Content-Type", "text/plain; charset=utf-8")],
                framing: .length(message.count), keepAlive: false, version: .http1_1)
      output.append(contentsOf: message)
      flush()
      close()
    }
  }

  /// Stops parsing for good; the pump answers the refusal as the connection's last response.
  private func refuse(_ refusal: Refusal) {
    parsing = false
    unparsed = []
    next = .refusal(refusal)
  }

  /// The active response has been written in full.
  func responseEnded(keepAlive: Bool) {
    active = nil
    guard keepAlive, !closed else {
      close()
      return
    }
    lastActivity = uv_now(server.loop.uv)
    // When the handler answered inside `pump`, the pump carries on by itself.
    guard !pumping else { return }
    pumpUnparsed()
    if readingPaused && unparsed.count <= Self.unparsedLimit && !closed && !takenOver {
      readingPaused = false
      readFromTransport()
    }
  }

  /// Hands the byte stream to the caller: HTTP is done with this connection.
  func handOver() -> Connection {
    takenOver = true
    parsing = false
    active = nil
    next = nil
    transport.stopReading()
    let early = unparsed
    unparsed = []
    return early.isEmpty ? transport : ReplayingConnection(transport, replaying: early)
  }

  enum Framing {
    case length(Int)
    case chunked
    /// No body (1xx, 204, 304), or one that ends when the connection does (HTTP/1.0 streams).
    case none
  }

  /// Starts a response in the output buffer; `flush` sends it.
  func writeHead(status: Int, headers: [(String, String)], framing: Framing, keepAlive: Bool,
                 version: HTTPVersion) {
    output.removeAll(keepingCapacity: true)
    output.appendStatusLine(status)
    var connectionHeaderGiven = false
    for (name, value) in headers {
      // Framing is this server's business; a handler's Connection header is taken as given.
      if asciiCaseInsensitiveEquals(name, "content-length") || asciiCaseInsensitiveEquals(name, "transfer-encoding") {
        continue
      }
      if asciiCaseInsensitiveEquals(name, "connection") { connectionHeaderGiven = true }
      output.appendHeader(name: name, value: value)
    }
    output.appendASCII("Date: ")
    output.append(contentsOf: server.date.current)
    output.appendASCII("\r\n")
    switch framing {
    case .length(let count):
      output.appendASCII("Content-Length: ")
      output.appendDecimal(count)
      output.appendASCII("\r\n")
    case .chunked:
      output.appendASCII("Transfer-Encoding: chunked\r\n")
    case .none:
      break
    }
    if !connectionHeaderGiven && status != 101 {
      if !keepAlive {
        output.appendASCII("Connection: close\r\n")
      } else if version == .http1_0 {
        output.appendASCII("Connection: keep-alive\r\n")
      }
    }
    output.appendASCII("\r\n")
  }

  func appendOutput(_ bytes: [UInt8]) { output.append(contentsOf: bytes) }

  func appendChunk(_ chunk: [UInt8]) {
    output.appendHex(chunk.count)
    output.appendASCII("\r\n")
    output.append(contentsOf: chunk)
    output.appendASCII("\r\n")
  }

  func appendLastChunk() { output.appendASCII("0\r\n\r\n") }

  func startOutput() { output.removeAll(keepingCapacity: true) }

  func flush() {
    output.withUnsafeBytes { transport.write($0, completion: nil) }
    // One large response must not pin its size in every idle connection.
    if output.capacity > 64 * 1024 { output = [] }
  }
}

// MARK: http-parser glue

/// The parser calls back into C function pointers; `data` leads back to the connection.
nonisolated(unsafe) private let parserSettings: UnsafeMutablePointer<http_parser_settings> = {
  let settings = UnsafeMutablePointer<http_parser_settings>.allocate(capacity: 1)
  http_parser_settings_init(settings)
  settings.pointee.on_message_begin = { connection(of: $0).messageBegan() }
  settings.pointee.on_url = { connection(of: $0).urlBytes(UnsafeRawBufferPointer(start: $1, count: $2)) }
  settings.pointee.on_header_field = { connection(of: $0).headerField(UnsafeRawBufferPointer(start: $1, count: $2)) }
  settings.pointee.on_header_value = { connection(of: $0).headerValue(UnsafeRawBufferPointer(start: $1, count: $2)) }
  settings.pointee.on_headers_complete = { connection(of: $0).headersComplete() }
  settings.pointee.on_body = { connection(of: $0).bodyBytes(UnsafeRawBufferPointer(start: $1, count: $2)) }
  settings.pointee.on_message_complete = { connection(of: $0).messageComplete() }
  return settings
}()

private func connection(of parser: UnsafeMutablePointer<http_parser>?) -> HTTPConnection {
  Unmanaged<HTTPConnection>.fromOpaque(parser!.pointee.data).takeUnretainedValue()
}

/// The methods http-parser accepts, by name.
private let parserMethods: Set<String> = {
  var names: Set<String> = []
  for raw in UInt32(0)..<64 {
    let name = String(cString: http_method_str(http_method(rawValue: raw)))
    if name == "<unknown>" { break }
    names.insert(name)
  }
  return names
}()

/// What the parser is shown in place of a method it does not know; the handler sees the real one.
private let standInMethod = Array("GET ".utf8)
private let continueResponse = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

private let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n"), space = UInt8(ascii: " ")

/// RFC 9110 tchar.
private func isTokenByte(_ byte: UInt8) -> Bool {
  switch byte {
  case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
    true
  default:
    "!#$%&'*+-.^_`|~".utf8.contains(byte)
  }
}
