// The byte stream under HTTP: what a listener hands the server for each client. Plain TCP is one
// implementation; TLS can be another without HTTP framing knowing the difference.

/// One client's byte stream. Every member is loop-only.
public protocol Connection: AnyObject {
  /// Delivers received bytes to `onBytes` (borrowed for the call) until `stopReading` or close;
  /// `onEnd` runs once when the peer has stopped sending or the stream failed. Calling it again
  /// replaces both callbacks.
  func startReading(onBytes: @escaping (UnsafeRawBufferPointer) -> Void, onEnd: @escaping () -> Void)

  /// Stops delivering bytes until `startReading` is called again.
  func stopReading()

  /// Sends `bytes` (copied before this returns) after everything written earlier. `completion`,
  /// if any, runs later on the loop with whether the bytes reached the socket.
  func write(_ bytes: UnsafeRawBufferPointer, completion: ((Bool) -> Void)?)

  /// Bytes written but not yet taken by the socket: how far behind a slow reader is.
  var queuedBytes: Int { get }

  /// Whether the stream still accepts writes (not closing, not closed).
  var isOpen: Bool { get }

  /// Sends what is queued, then closes. The peer sees a clean end of stream rather than a
  /// reset, even if it was still sending. Idempotent.
  func close()

  /// Runs `callback` once the stream has closed; at once if it already has.
  func onClose(_ callback: @escaping () -> Void)
}

extension Connection {
  public func write(_ bytes: [UInt8], completion: ((Bool) -> Void)? = nil) {
    bytes.withUnsafeBytes { write($0, completion: completion) }
  }
}

/// A connection handed over after an upgrade that still owes its new owner the bytes the client
/// sent right behind the upgrade request, which HTTP framing had already read.
final class ReplayingConnection: Connection {
  private let base: Connection
  private var early: [UInt8]

  init(_ base: Connection, replaying early: [UInt8]) {
    self.base = base
    self.early = early
  }

  /// The early bytes arrive before this returns, then reading goes on from the stream.
  func startReading(onBytes: @escaping (UnsafeRawBufferPointer) -> Void, onEnd: @escaping () -> Void) {
    if !early.isEmpty {
      let bytes = early
      early = []
      bytes.withUnsafeBytes(onBytes)
    }
    base.startReading(onBytes: onBytes, onEnd: onEnd)
  }

  func stopReading() { base.stopReading() }
  func write(_ bytes: UnsafeRawBufferPointer, completion: ((Bool) -> Void)?) {
    base.write(bytes, completion: completion)
  }
  var queuedBytes: Int { base.queuedBytes }
  var isOpen: Bool { base.isOpen }
  func close() { base.close() }
  func onClose(_ callback: @escaping () -> Void) { base.onClose(callback) }
}
