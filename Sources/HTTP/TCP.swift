// Plain TCP on the kernel's libuv loop: a listener that accepts clients and the Connection each
// one becomes. Handles follow libuv's rule: their memory is released only in the close callback.
import CLibUV
import Glibc
import Kernel

/// Why a listener could not start, in words a user can act on.
public struct ListenError: Error, CustomStringConvertible {
  public let description: String
}

/// A listening TCP socket that hands each accepted client to `accept`. Loop only.
public final class TCPListener {
  /// The port actually bound (the one the system picked when asked for port 0).
  public private(set) var port = 0
  private let loop: EventLoop
  private let tcp: UnsafeMutablePointer<uv_tcp_t>
  private let accept: (TCPConnection) -> Void
  /// Where every connection of this listener reads into: a read is consumed before the next one.
  private let readBuffer = ReadBuffer()
  private var closed = false

  /// Listens on an IPv4 or IPv6 literal (`0.0.0.0`, `::`, `[::1]`); port 0 picks a free port.
  public init(loop: EventLoop, host: String, port: Int,
              accept: @escaping (TCPConnection) -> Void) throws {
    loop.preconditionInEventLoop()
    // A write to a client that has gone must be an error to handle, not a signal that kills us.
    signal(SIGPIPE, SIG_IGN)
    self.loop = loop
    self.accept = accept
    tcp = .allocate(capacity: 1)
    uv_tcp_init(loop.uv, tcp)
    tcp.pointee.data = Unmanaged.passRetained(self).toOpaque()
    do {
      var address = try Self.socketAddress(host: host, port: port)
      try check(withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_bind(tcp, $0, 0) }
      }, "cannot bind \(host):\(port)")
      try check(uv_listen(tcp.stream, 1024) { server, status in
        let listener: TCPListener = owner(of: server)
        guard status == 0, !listener.closed else { return }
        listener.acceptOne(from: server!)
      }, "cannot listen on \(host):\(port)")
      self.port = boundPort()
    } catch {
      close()
      throw error
    }
  }

  /// Stops accepting; connections already accepted stay open. Idempotent.
  public func close() {
    loop.preconditionInEventLoop()
    guard !closed else { return }
    closed = true
    guard uv_is_closing(tcp.handle) == 0 else { return }  // the loop is stopping and closes it
    uv_close(tcp.handle) { handle in
      let listener = Unmanaged<TCPListener>.fromOpaque(handle!.pointee.data).takeRetainedValue()
      listener.tcp.deallocate()
    }
  }

  private func acceptOne(from server: UnsafeMutablePointer<uv_stream_t>) {
    let connection = TCPConnection(loop: loop, readBuffer: readBuffer)
    guard uv_accept(server, connection.tcp.stream) == 0 else {
      connection.discard()
      return
    }
    // Responses go out in one write each; waiting to coalesce them only adds latency.
    uv_tcp_nodelay(connection.tcp, 1)
    accept(connection)
  }

  private func boundPort() -> Int {
    var address = sockaddr_storage()
    var length = Int32(MemoryLayout<sockaddr_storage>.size)
    withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = uv_tcp_getsockname(tcp, $0, &length) }
    }
    let family = Int32(address.ss_family)
    return withUnsafeBytes(of: &address) { raw in
      if family == AF_INET6 {
        return Int(UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port))
      }
      return Int(UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port))
    }
  }

  private static func socketAddress(host: String, port: Int) throws -> sockaddr_storage {
    guard (0...65535).contains(port) else { throw ListenError(description: "port \(port) is out of range") }
    var storage = sockaddr_storage()
    let literal = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    let parsed = withUnsafeMutableBytes(of: &storage) { raw in
      uv_ip4_addr(literal, Int32(port), raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)) == 0
        || uv_ip6_addr(literal, Int32(port), raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)) == 0
    }
    guard parsed else {
      throw ListenError(description: "cannot listen on '\(host)': not an IPv4 or IPv6 address literal")
    }
    return storage
  }
}

/// One accepted TCP client as a Connection.
public final class TCPConnection: Connection {
  /// How long `close()` waits for queued bytes to reach a slow client.
  static let drainLimitMs: UInt64 = 10_000
  /// How long, once they have, it waits for the client to close its side too.
  static let lingerLimitMs: UInt64 = 1_000

  private enum State { case open, closing, closed }

  let tcp: UnsafeMutablePointer<uv_tcp_t>
  private let loop: EventLoop
  private let readBuffer: ReadBuffer
  private var state = State.open
  private var reading = false
  private var onBytes: ((UnsafeRawBufferPointer) -> Void)?
  private var onEnd: (() -> Void)?
  /// nil once the handle has closed and they have run.
  private var closeCallbacks: [() -> Void]? = []
  private var drained = false
  private var peerFinished = false
  private var closeTimer: LoopTimer?

  init(loop: EventLoop, readBuffer: ReadBuffer) {
    self.loop = loop
    self.readBuffer = readBuffer
    tcp = .allocate(capacity: 1)
    uv_tcp_init(loop.uv, tcp)
    // The handle keeps its connection alive until libuv has closed it.
    tcp.pointee.data = Unmanaged.passRetained(self).toOpaque()
  }

  public var isOpen: Bool { state == .open }

  public var queuedBytes: Int { Int(uv_stream_get_write_queue_size(tcp.stream)) }

  public func startReading(onBytes: @escaping (UnsafeRawBufferPointer) -> Void,
                           onEnd: @escaping () -> Void) {
    guard state == .open else { return }
    self.onBytes = onBytes
    self.onEnd = onEnd
    read()
  }

  public func stopReading() {
    guard state == .open, reading else { return }
    reading = false
    uv_read_stop(tcp.stream)
  }

  public func write(_ bytes: UnsafeRawBufferPointer, completion: ((Bool) -> Void)?) {
    guard state == .open else {
      if let completion { loop.execute { completion(false) } }
      return
    }
    guard let source = bytes.baseAddress, !bytes.isEmpty else {
      if let completion { loop.execute { completion(true) } }
      return
    }
    // Most writes fit in the socket buffer at once: no copy, no request. A completion needs a
    // request so that it runs later, never inside this call.
    var sent = 0
    if completion == nil {
      var buffer = uv_buf_init(UnsafeMutableRawPointer(mutating: source).assumingMemoryBound(to: CChar.self),
                               UInt32(bytes.count))
      let result = Int(uv_try_write(tcp.stream, &buffer, 1))
      if result == bytes.count { return }
      if result >= 0 {
        sent = result
      } else if result != Int(UV_EAGAIN.rawValue) {
        loop.execute { [self] in failed() }  // the owner hears of it later, never inside write
        return
      }
    }
    let remaining = bytes.count - sent
    let headerSize = MemoryLayout<uv_write_t>.stride
    let memory = UnsafeMutableRawPointer.allocate(byteCount: headerSize + remaining, alignment: 16)
    (memory + headerSize).copyMemory(from: source + sent, byteCount: remaining)
    let request = memory.bindMemory(to: uv_write_t.self, capacity: 1)
    request.pointee.data = completion.map { Unmanaged.passRetained(WriteCompletion($0)).toOpaque() }
    var buffer = uv_buf_init((memory + headerSize).assumingMemoryBound(to: CChar.self), UInt32(remaining))
    let status = uv_write(request, tcp.stream, &buffer, 1) { request, status in
      let request = request!
      let completion = request.pointee.data.map { Unmanaged<WriteCompletion>.fromOpaque($0).takeRetainedValue() }
      let connection: TCPConnection = owner(of: request.pointee.handle)
      UnsafeMutableRawPointer(request).deallocate()
      if status < 0 { connection.failed() }
      completion?.body(status == 0)
    }
    if status != 0 {
      if let box = request.pointee.data { Unmanaged<WriteCompletion>.fromOpaque(box).release() }
      memory.deallocate()
      loop.execute { [self] in
        completion?(false)
        failed()
      }
    }
  }

  public func close() {
    loop.preconditionInEventLoop()
    guard state == .open else { return }
    state = .closing
    onBytes = nil
    onEnd = nil
    // Keep reading and discarding: closing a socket with unread input resets the connection,
    // and the reset can destroy the response the client has not read yet (a 413 mid-upload).
    read()
    let request = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
    let status = uv_shutdown(request, tcp.stream) { request, status in
      let connection: TCPConnection = owner(of: request!.pointee.handle)
      request!.deallocate()
      connection.drained(status: status)
    }
    guard status == 0 else {
      request.deallocate()
      finishClose()
      return
    }
    closeTimer = loop.scheduleTimer(after: Self.drainLimitMs) { [self] _ in finishClose() }
  }

  /// Half-closes: the peer reads end of stream once what is queued has gone, and may still send
  /// (port-forward's client has finished its request but waits for the answer).
  public func finishWriting() {
    loop.preconditionInEventLoop()
    guard state == .open else { return }
    let request = UnsafeMutablePointer<uv_shutdown_t>.allocate(capacity: 1)
    if uv_shutdown(request, tcp.stream, { request, _ in request!.deallocate() }) != 0 { request.deallocate() }
  }

  public func onClose(_ callback: @escaping () -> Void) {
    if closeCallbacks == nil { callback() } else { closeCallbacks!.append(callback) }
  }

  /// Closes a handle that never became a client (accept failed).
  func discard() { finishClose() }

  private func read() {
    guard !reading else { return }
    reading = true
    let status = uv_read_start(tcp.stream, { handle, _, buffer in
      let connection: TCPConnection = owner(of: handle)
      buffer!.pointee = uv_buf_init(connection.readBuffer.bytes, UInt32(connection.readBuffer.size))
    }, { stream, count, buffer in
      let connection: TCPConnection = owner(of: stream)
      connection.received(count: count, bytes: buffer!.pointee.base)
    })
    if status != 0 {
      reading = false
      loop.execute { [self] in failed() }
    }
  }

  private func received(count: Int, bytes: UnsafeMutablePointer<CChar>?) {
    if count > 0 {
      // While closing, input is read only to be dropped.
      if state == .open { onBytes?(UnsafeRawBufferPointer(start: bytes, count: count)) }
    } else if count < 0 {
      reading = false
      uv_read_stop(tcp.stream)
      if count == Int(UV_EOF.rawValue) { peerFinished = true }
      failed()
    }
  }

  /// The peer stopped sending, or the stream broke: the owner hears of it once and decides.
  private func failed() {
    switch state {
    case .open:
      let end = onEnd
      onEnd = nil
      end?()
    case .closing:
      // Half-closed peers may still read what we drain; anything else ends the wait.
      if !peerFinished || drained { finishClose() }
    case .closed:
      break
    }
  }

  private func drained(status: Int32) {
    drained = true
    guard state == .closing else { return }
    if status < 0 || peerFinished {
      finishClose()
      return
    }
    closeTimer?.close()
    closeTimer = loop.scheduleTimer(after: Self.lingerLimitMs) { [self] _ in finishClose() }
  }

  private func finishClose() {
    guard state != .closed else { return }
    state = .closed
    onBytes = nil
    onEnd = nil
    closeTimer?.close()
    closeTimer = nil
    guard uv_is_closing(tcp.handle) == 0 else { return }  // the loop is stopping and closes it
    uv_close(tcp.handle) { handle in
      let connection = Unmanaged<TCPConnection>.fromOpaque(handle!.pointee.data).takeRetainedValue()
      connection.tcp.deallocate()
      let callbacks = connection.closeCallbacks ?? []
      connection.closeCallbacks = nil
      for callback in callbacks { callback() }
    }
  }
}

/// One read buffer shared by a listener's connections: each read is consumed before the next.
final class ReadBuffer {
  let size = 64 * 1024
  let bytes: UnsafeMutablePointer<CChar>

  init() { bytes = .allocate(capacity: size) }
  deinit { bytes.deallocate() }
}

private final class WriteCompletion {
  let body: (Bool) -> Void
  init(_ body: @escaping (Bool) -> Void) { self.body = body }
}

/// The Swift object a libuv handle or request belongs to, through the handle's `data`.
private func owner<Owner: AnyObject, Handle>(of handle: UnsafeMutablePointer<Handle>?) -> Owner {
  let raw = UnsafeMutableRawPointer(handle!).assumingMemoryBound(to: uv_handle_t.self)
  return Unmanaged<Owner>.fromOpaque(raw.pointee.data).takeUnretainedValue()
}

private func check(_ status: Int32, _ what: @autoclosure () -> String) throws {
  guard status != 0 else { return }
  throw ListenError(description: "\(what()): \(String(cString: uv_strerror(status)))")
}

extension UnsafeMutablePointer where Pointee == uv_tcp_t {
  var stream: UnsafeMutablePointer<uv_stream_t> {
    UnsafeMutableRawPointer(self).assumingMemoryBound(to: uv_stream_t.self)
  }
  var handle: UnsafeMutablePointer<uv_handle_t> {
    UnsafeMutableRawPointer(self).assumingMemoryBound(to: uv_handle_t.self)
  }
}

/// Why an outgoing connection could not be made or adopted.
public struct SocketError: Error, CustomStringConvertible {
  public let description: String
}

extension TCPConnection {
  /// Connects to `host` (an IPv4 or IPv6 literal) and `port`; `completion` runs on the loop with
  /// the connection, or with why there is none.
  public static func connect(loop: EventLoop, host: String, port: Int,
                             completion: @escaping (Result<TCPConnection, SocketError>) -> Void) {
    loop.preconditionInEventLoop()
    signal(SIGPIPE, SIG_IGN)
    var address = sockaddr_storage()
    let literal = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    let parsed = (0...65535).contains(port) && withUnsafeMutableBytes(of: &address) { raw in
      uv_ip4_addr(literal, Int32(port), raw.baseAddress!.assumingMemoryBound(to: sockaddr_in.self)) == 0
        || uv_ip6_addr(literal, Int32(port), raw.baseAddress!.assumingMemoryBound(to: sockaddr_in6.self)) == 0
    }
    guard parsed else {
      return loop.execute { completion(.failure(SocketError(description: "cannot connect to \(host):\(port): not an IP address and port"))) }
    }
    let connection = TCPConnection(loop: loop, readBuffer: ReadBuffer())
    let request = UnsafeMutablePointer<uv_connect_t>.allocate(capacity: 1)
    request.pointee.data = Unmanaged.passRetained(ConnectCompletion { status in
      guard status == 0 else {
        connection.discard()
        return completion(.failure(SocketError(description: "cannot connect to \(host):\(port): \(String(cString: uv_strerror(status)))")))
      }
      uv_tcp_nodelay(connection.tcp, 1)
      completion(.success(connection))
    }).toOpaque()
    let status = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
        uv_tcp_connect(request, connection.tcp, address) { request, status in
          let completion = Unmanaged<ConnectCompletion>.fromOpaque(request!.pointee.data).takeRetainedValue()
          request!.deallocate()
          completion.body(status)
        }
      }
    }
    if status != 0 {
      Unmanaged<ConnectCompletion>.fromOpaque(request.pointee.data).release()
      request.deallocate()
      connection.discard()
      loop.execute { completion(.failure(SocketError(description: "cannot connect to \(host):\(port): \(String(cString: uv_strerror(status)))"))) }
    }
  }

  /// Takes over a connected stream socket, TCP or AF_UNIX (a runtime's exec stream): libuv's
  /// stream operations are the same for both, and uv_tcp_open checks no address family. The
  /// connection owns the descriptor from then on.
  public static func adopting(socket fd: Int32, loop: EventLoop) throws(SocketError) -> TCPConnection {
    loop.preconditionInEventLoop()
    signal(SIGPIPE, SIG_IGN)
    let connection = TCPConnection(loop: loop, readBuffer: ReadBuffer())
    let status = uv_tcp_open(connection.tcp, fd)
    guard status == 0 else {
      connection.discard()
      Glibc.close(fd)
      throw SocketError(description: "cannot use socket \(fd): \(String(cString: uv_strerror(status)))")
    }
    return connection
  }
}

private final class ConnectCompletion {
  let body: (Int32) -> Void
  init(_ body: @escaping (Int32) -> Void) { self.body = body }
}
