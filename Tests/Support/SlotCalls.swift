// Calls the asynchronous slots of runtime, network, storage and device plugins as the node agent
// will: on the loop, handing over a skiff_done, then waiting for the one completion it gets.
import Foundation
import Kernel
import SkiffABI

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
    let waiter = CompletionWaiter()
    let done = skiff_done(fn: { token, status, json, length in
      let text = json.map {
        String(decoding: UnsafeRawBufferPointer(start: $0, count: length), as: UTF8.self)
      } ?? ""
      Unmanaged<CompletionWaiter>.fromOpaque(token!).takeUnretainedValue()
        .complete(SlotResult(status: status, json: text))
    }, token: Unmanaged.passRetained(waiter).toOpaque())
    let status = try loop.submit { slot(done) }
    guard status == SKIFF_OK else { return SlotResult(status: status, json: "") }
    guard waiter.arrived.wait(timeout: .now() + seconds) == .success, let result = waiter.result else {
      throw Fixtures.FixtureError(message: "the slot took done but did not complete within \(seconds) s")
    }
    return result
  }
}

private final class CompletionWaiter: @unchecked Sendable {
  let arrived = DispatchSemaphore(value: 0)
  private let lock = NSLock()
  private var first: SlotResult?

  var result: SlotResult? { lock.withLock { first } }

  func complete(_ result: SlotResult) {
    lock.withLock {
      precondition(first == nil, "done was called twice; skiff.h allows exactly once")
      first = result
    }
    arrived.signal()
  }
}
