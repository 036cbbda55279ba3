// Calling a plugin's cold-path slots the way the kernel does: borrowed bytes copied out of a
// skiff_bytes_cb, and a skiff_done whose one completion a test can wait for.
import Foundation
import SkiffABI

/// Collects everything a plugin hands to a skiff_bytes_cb, from any thread.
public final class BytesSink: @unchecked Sendable {
  private let lock = NSLock()
  private var received: [String] = []

  public init() {}

  /// The callback and argument to pass together; the sink must outlive the calls.
  public var callback: skiff_bytes_cb {
    { arg, data, length in
      let sink = Unmanaged<BytesSink>.fromOpaque(arg!).takeUnretainedValue()
      let text = data.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: length), as: UTF8.self) } ?? ""
      sink.lock.withLock { sink.received.append(text) }
    }
  }
  public var arg: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

  public var all: [String] { lock.withLock { received } }
  public var last: String? { all.last }
}

/// A skiff_done that records the plugin's completion; `wait` blocks the test until it comes.
public final class CompletionRecorder: @unchecked Sendable {
  private let arrived = DispatchSemaphore(value: 0)
  private let lock = NSLock()
  private var results: [(skiff_status, String)] = []

  public init() {}

  /// Pass this to exactly one slot call; the recorder must outlive it.
  public var done: skiff_done {
    skiff_done(fn: { token, status, json, length in
      let recorder = Unmanaged<CompletionRecorder>.fromOpaque(token!).takeUnretainedValue()
      let text = json.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: length), as: UTF8.self) } ?? ""
      recorder.lock.withLock { recorder.results.append((status, text)) }
      recorder.arrived.signal()
    }, token: Unmanaged.passUnretained(self).toOpaque())
  }

  /// The completion, or nil when none came within `seconds`.
  public func wait(seconds: Double = 5) -> (status: skiff_status, json: String)? {
    guard arrived.wait(timeout: .now() + seconds) == .success else { return nil }
    return lock.withLock { results.first }
  }

  /// How many times the plugin completed; the ABI says exactly once.
  public var count: Int { lock.withLock { results.count } }
}

/// A JSON object from a plugin's answer, for assertions; empty when it is not one.
public func jsonObject(_ text: String?) -> [String: Any] {
  guard let text, let value = try? JSONSerialization.jsonObject(with: Data(text.utf8)) else { return [:] }
  return value as? [String: Any] ?? [:]
}
