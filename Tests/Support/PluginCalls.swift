// Calling a plugin's cold-path slots the way the kernel (and later the node agent) does: borrowed
// bytes copied out of a skiff_bytes_cb, and a skiff_done whose one completion a test waits for.
import Foundation
import Kernel
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
      recorder.lock.withLock {
        precondition(recorder.results.isEmpty, "done was called twice; skiff.h allows exactly once")
        recorder.results.append((status, text))
      }
      recorder.arrived.signal()
    }, token: Unmanaged.passUnretained(self).toOpaque())
  }

  /// The completion, or nil when none came within `seconds`.
  public func wait(seconds: Double = 5) -> (status: skiff_status, json: String)? {
    guard arrived.wait(timeout: .now() + seconds) == .success else { return nil }
    return lock.withLock { results.first }
  }

  /// How many times the plugin completed (0 or 1: a second completion traps).
  public var count: Int { lock.withLock { results.count } }
}

/// A JSON object from a plugin's answer, for assertions; empty when it is not one.
public func jsonObject(_ text: String?) -> [String: Any] {
  guard let text, let value = try? JSONSerialization.jsonObject(with: Data(text.utf8)) else { return [:] }
  return value as? [String: Any] ?? [:]
}

/// What a slot reported: its status and JSON, `{"reason", "message"}` when it failed.
public struct SlotResult: Sendable {
  public let status: skiff_status
  public let json: String

  /// The JSON object as Foundation values, for assertions; empty when it is not an object.
  public var object: [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:]
  }
  public var reason: String? { object["reason"] as? String }
  public var message: String? { object["message"] as? String }
}

extension RunningKernel {
  /// Runs `slot` on the loop with a fresh `done` and waits up to `seconds` for its completion. A
  /// slot returning anything but SKIFF_OK has not taken `done`: its status comes back, no JSON.
  public func call(within seconds: Double = 30,
                   _ slot: @escaping (skiff_done) -> skiff_status) throws -> SlotResult {
    // Never released: a second completion, which the ABI forbids, must find it to be caught.
    let recorder = Unmanaged.passRetained(CompletionRecorder()).takeUnretainedValue()
    let done = recorder.done
    let status = try loop.submit { slot(done) }
    guard status == SKIFF_OK else { return SlotResult(status: status, json: "") }
    guard let (completed, json) = recorder.wait(seconds: seconds) else {
      throw Fixtures.FixtureError(message: "the slot took done but did not complete within \(seconds) s")
    }
    return SlotResult(status: completed, json: json)
  }
}
