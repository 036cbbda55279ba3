// SPDY/3.1, server side, as Kubernetes' streaming uses it (moby/spdystream is the client): the
// client opens streams (SYN_STREAM, headers zlib-compressed against SPDY's dictionary), both
// sides send DATA with FIN to half-close, PING is echoed. Flow-control windows are not enforced:
// spdystream does not send WINDOW_UPDATE either. The transport is any byte pipe: an upgraded
// connection (exec's fallback) or WebSocket messages (port-forward in kubectl 1.31 and later).
import CZlib

/// One SPDY session. Loop only (or any one thread).
public final class SPDYSession {
  /// Writes bytes to the transport; the completion, if any, runs once they have gone.
  public typealias Send = ([UInt8], ((Bool) -> Void)?) -> Void

  private let send: Send
  private var unparsed: [UInt8] = []
  private var streams: [UInt32: SPDYStream] = [:]
  private var lastStreamID: UInt32 = 0
  private let inflater = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
  private let deflater = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
  private var failed = false
  /// A stream the client opened, with its headers.
  public var onStream: ((SPDYStream) -> Void)?
  /// The session broke (a malformed frame) or the client sent GOAWAY.
  public var onEnd: ((String) -> Void)?

  public init(send: @escaping Send) {
    self.send = send
    inflater.initialize(to: z_stream())
    deflater.initialize(to: z_stream())
    _ = skiff_inflate_init_zlib(inflater)
    _ = skiff_deflate_init_zlib(deflater, Z_DEFAULT_COMPRESSION)
    _ = SPDYDictionary.bytes.withUnsafeBufferPointer {
      deflateSetDictionary(deflater, $0.baseAddress, UInt32($0.count))
    }
  }

  deinit {
    inflateEnd(inflater)
    deflateEnd(deflater)
    inflater.deallocate()
    deflater.deallocate()
  }

  /// Feeds bytes from the transport.
  public func receive(_ bytes: some Collection<UInt8>) {
    guard !failed else { return }
    unparsed.append(contentsOf: bytes)
    var offset = 0
    while !failed, unparsed.count - offset >= 8 {
      let length = Int(unparsed[offset + 5]) << 16 | Int(unparsed[offset + 6]) << 8 | Int(unparsed[offset + 7])
      guard unparsed.count - offset - 8 >= length else { break }
      let header = Array(unparsed[offset..<offset + 8])
      let body = Array(unparsed[offset + 8..<offset + 8 + length])
      offset += 8 + length
      if header[0] & 0x80 != 0 {
        control(header, body)
      } else {
        let id = Self.word(header, 0) & 0x7fff_ffff
        guard let stream = streams[id] else { continue }  // reset or unknown: dropped
        if !body.isEmpty { stream.onData?(body) }
        if header[4] & 0x01 != 0 { stream.remoteFinished() }
      }
    }
    unparsed.removeFirst(min(offset, unparsed.count))
  }

  /// Tells the client no more streams will be accepted.
  public func goAway() {
    sendControl(type: 7, flags: 0, Self.bytes(lastStreamID) + Self.bytes(0))
  }

  // MARK: Frames

  private func control(_ header: [UInt8], _ body: [UInt8]) {
    let version = Int(header[0] & 0x7f) << 8 | Int(header[1])
    let type = Int(header[2]) << 8 | Int(header[3])
    let flags = header[4]
    guard version == 3 else { return fail("unsupported SPDY version \(version)") }
    switch type {
    case 1:  // SYN_STREAM
      guard body.count >= 10 else { return fail("short SYN_STREAM") }
      let id = Self.word(body, 0) & 0x7fff_ffff
      guard let headers = decompressHeaders(Array(body[10...])) else { return fail("bad SYN_STREAM header block") }
      lastStreamID = max(lastStreamID, id)
      let stream = SPDYStream(id: id, headers: headers, session: self)
      streams[id] = stream
      sendControl(type: 2, flags: 0, Self.bytes(id) + compressHeaders([]))  // SYN_REPLY
      onStream?(stream)
      if flags & 0x01 != 0 { stream.remoteFinished() }
    case 3:  // RST_STREAM
      guard body.count >= 8 else { return fail("short RST_STREAM") }
      let id = Self.word(body, 0) & 0x7fff_ffff
      streams[id]?.remoteFinished()
      streams[id] = nil
    case 6:  // PING: the client's (odd ids) come back
      sendControl(type: 6, flags: 0, body)
    case 7:  // GOAWAY
      onEnd?("the client went away")
    case 8:  // HEADERS: decompressed to keep the zlib stream in step, otherwise ignored
      if body.count > 4 { _ = decompressHeaders(Array(body[4...])) }
    default:  // SETTINGS, WINDOW_UPDATE and the rest need nothing here
      break
    }
  }

  func sendData(_ id: UInt32, _ bytes: [UInt8], fin: Bool, completion: ((Bool) -> Void)? = nil) {
    guard !failed else { return completion?(false) ?? () }
    // Frames of at most 32 KiB keep one stream from holding the transport for long.
    var chunks = stride(from: 0, to: bytes.count, by: 32 * 1024).map { Array(bytes[$0..<min($0 + 32 * 1024, bytes.count)]) }
    if chunks.isEmpty { chunks = [[]] }
    for (index, chunk) in chunks.enumerated() {
      let last = index == chunks.count - 1
      send(Self.bytes(id & 0x7fff_ffff) + [last && fin ? 0x01 : 0x00] + Self.length(chunk.count) + chunk,
           last ? completion : nil)
    }
  }

  func reset(_ id: UInt32) {
    streams[id] = nil
    sendControl(type: 3, flags: 0, Self.bytes(id) + Self.bytes(5))  // CANCEL
  }

  func forget(_ id: UInt32) { streams[id] = nil }

  private func sendControl(type: UInt16, flags: UInt8, _ body: [UInt8]) {
    guard !failed else { return }
    send([0x80, 0x03, UInt8(type >> 8), UInt8(type & 0xff), flags] + Self.length(body.count) + body, nil)
  }

  private func fail(_ reason: String) {
    guard !failed else { return }
    sendControl(type: 7, flags: 0, Self.bytes(lastStreamID) + Self.bytes(1))  // GOAWAY, PROTOCOL_ERROR
    failed = true
    onEnd?(reason)
  }

  // MARK: Header blocks

  /// A name/value block: count, then each name and value after its 4-byte length.
  private func decompressHeaders(_ compressed: [UInt8]) -> [String: String]? {
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 16 * 1024)
    var input = compressed
    var status = Z_OK
    input.withUnsafeMutableBufferPointer { source in
      inflater.pointee.next_in = source.baseAddress
      inflater.pointee.avail_in = UInt32(source.count)
      repeat {
        status = chunk.withUnsafeMutableBufferPointer { target in
          inflater.pointee.next_out = target.baseAddress
          inflater.pointee.avail_out = UInt32(target.count)
          var result = inflate(inflater, Z_SYNC_FLUSH)
          if result == Z_NEED_DICT {
            result = SPDYDictionary.bytes.withUnsafeBufferPointer {
              inflateSetDictionary(inflater, $0.baseAddress, UInt32($0.count))
            }
            if result == Z_OK { result = inflate(inflater, Z_SYNC_FLUSH) }
          }
          return result
        }
        output += chunk[0..<(chunk.count - Int(inflater.pointee.avail_out))]
      } while status == Z_OK && (inflater.pointee.avail_in > 0 || inflater.pointee.avail_out == 0)
    }
    guard status == Z_OK || status == Z_BUF_ERROR, output.count >= 4 else { return nil }
    var headers: [String: String] = [:]
    var offset = 4
    func string() -> String? {
      guard output.count - offset >= 4 else { return nil }
      let length = Int(Self.word(output, offset))
      guard output.count - offset - 4 >= length else { return nil }
      defer { offset += 4 + length }
      return String(decoding: output[offset + 4..<offset + 4 + length], as: UTF8.self)
    }
    for _ in 0..<Self.word(output, 0) {
      guard let name = string(), let value = string() else { return nil }
      headers[name.lowercased()] = value
    }
    return headers
  }

  private func compressHeaders(_ headers: [(String, String)]) -> [UInt8] {
    var block = Self.bytes(UInt32(headers.count))
    for (name, value) in headers {
      block += Self.bytes(UInt32(name.utf8.count)) + Array(name.lowercased().utf8)
      block += Self.bytes(UInt32(value.utf8.count)) + Array(value.utf8)
    }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    block.withUnsafeMutableBufferPointer { source in
      deflater.pointee.next_in = source.baseAddress
      deflater.pointee.avail_in = UInt32(source.count)
      repeat {
        chunk.withUnsafeMutableBufferPointer { target in
          deflater.pointee.next_out = target.baseAddress
          deflater.pointee.avail_out = UInt32(target.count)
          _ = deflate(deflater, Z_SYNC_FLUSH)
        }
        output += chunk[0..<(chunk.count - Int(deflater.pointee.avail_out))]
      } while deflater.pointee.avail_out == 0
    }
    return output
  }

  // MARK: Bytes

  static func word(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
  }

  static func bytes(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
  }

  static func length(_ count: Int) -> [UInt8] {
    [UInt8(count >> 16 & 0xff), UInt8(count >> 8 & 0xff), UInt8(count & 0xff)]
  }
}

/// One stream the client opened.
public final class SPDYStream {
  public let id: UInt32
  /// Header names in lower case.
  public let headers: [String: String]
  private weak var session: SPDYSession?
  private var localFinished = false
  private var remoteDone = false
  public var onData: (([UInt8]) -> Void)?
  /// The client half-closed the stream (FIN) or reset it.
  public var onEnd: (() -> Void)?

  init(id: UInt32, headers: [String: String], session: SPDYSession) {
    self.id = id
    self.headers = headers
    self.session = session
  }

  public func write(_ bytes: [UInt8], completion: ((Bool) -> Void)? = nil) {
    guard !localFinished, !bytes.isEmpty, let session else { return completion?(false) ?? () }
    session.sendData(id, bytes, fin: false, completion: completion)
  }

  /// Half-closes this side (DATA with FIN).
  public func finish() {
    guard !localFinished else { return }
    localFinished = true
    session?.sendData(id, [], fin: true)
    if remoteDone { session?.forget(id) }
  }

  public func reset() {
    localFinished = true
    session?.reset(id)
  }

  func remoteFinished() {
    guard !remoteDone else { return }
    remoteDone = true
    let end = onEnd
    onData = nil
    onEnd = nil
    end?()
    if localFinished { session?.forget(id) }
  }
}
