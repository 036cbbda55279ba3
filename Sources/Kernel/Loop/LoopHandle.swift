// Long-lived libuv handles owned by the loop: init → start → close, memory released only in the
// close callback, as libuv requires.
import CLibUV

/// A libuv handle the loop tracks so that `EventLoop.stop()` can close it.
public class LoopHandle: @unchecked Sendable {
  unowned let loop: EventLoop
  let raw: UnsafeMutablePointer<uv_handle_t>
  private let memory: UnsafeMutableRawPointer
  private(set) var closed = false

  init<Handle>(loop: EventLoop, type: Handle.Type) {
    self.loop = loop
    memory = .allocate(byteCount: MemoryLayout<Handle>.size, alignment: 16)
    raw = memory.assumingMemoryBound(to: uv_handle_t.self)
  }

  /// Stops the handle and releases it once libuv is done with it. Idempotent. Loop only.
  public func close() {
    loop.preconditionInEventLoop()
    guard !closed else { return }
    closed = true
    loop.forget(self)
    // The handle keeps itself alive until libuv has finished with its memory.
    raw.pointee.data = Unmanaged.passRetained(self).toOpaque()
    uv_close(raw) { raw in
      let handle = Unmanaged<LoopHandle>.fromOpaque(raw!.pointee.data).takeRetainedValue()
      handle.memory.deallocate()
    }
  }

  func pointer<Handle>(as: Handle.Type) -> UnsafeMutablePointer<Handle> {
    memory.assumingMemoryBound(to: Handle.self)
  }

  static func owner<Handle, Owner: LoopHandle>(of handle: UnsafeMutablePointer<Handle>?,
                                                as: Owner.Type) -> Owner {
    let raw = UnsafeMutableRawPointer(handle!).assumingMemoryBound(to: uv_handle_t.self)
    return Unmanaged<Owner>.fromOpaque(raw.pointee.data).takeUnretainedValue()
  }
}

/// A one-shot or repeating timer. The body receives the timer so it can close it.
public final class LoopTimer: LoopHandle, @unchecked Sendable {
  private let body: (LoopTimer) -> Void

  init(loop: EventLoop, body: @escaping (LoopTimer) -> Void) {
    self.body = body
    super.init(loop: loop, type: uv_timer_t.self)
    uv_timer_init(loop.uv, pointer(as: uv_timer_t.self))
    raw.pointee.data = Unmanaged.passUnretained(self).toOpaque()
  }

  func start(delay: UInt64, repeating: UInt64) {
    uv_timer_start(pointer(as: uv_timer_t.self), { timer in
      let this = LoopHandle.owner(of: timer, as: LoopTimer.self)
      if uv_timer_get_repeat(timer) == 0 { this.close() }
      this.body(this)
    }, delay, repeating)
  }
}

/// Runs a body on the loop whenever the process receives a signal.
final class SignalHandle: LoopHandle, @unchecked Sendable {
  private let body: () -> Void

  init(loop: EventLoop, signal: Int32, body: @escaping () -> Void) {
    self.body = body
    super.init(loop: loop, type: uv_signal_t.self)
    uv_signal_init(loop.uv, pointer(as: uv_signal_t.self))
    raw.pointee.data = Unmanaged.passUnretained(self).toOpaque()
    uv_signal_start(pointer(as: uv_signal_t.self), { signal, _ in
      LoopHandle.owner(of: signal, as: SignalHandle.self).body()
    }, signal)
  }
}
