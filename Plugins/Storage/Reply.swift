// How this plugin's slots answer: the request copied off the loop, the work done on the kernel's
// thread pool, and its result or failure reported through `done` exactly once.
import Foundation
import PluginKit
import SkiffABI

/// A failure as the ABI reports it: a status and `{"reason", "message"}` for the caller.
struct StorageFailure: Error {
  let status: skiff_status
  let reason: String
  let message: String

  init(_ status: skiff_status = SKIFF_ERROR, reason: String, _ message: String) {
    self.status = status
    self.reason = reason
    self.message = message
  }
}

/// `done` may be called from any thread (skiff.h), so it may travel to the thread pool.
private struct Completion: @unchecked Sendable {
  let done: skiff_done
}

enum Reply {
  /// Runs `body` on the thread pool and reports what it returns or throws. Returns the slot's
  /// status: SKIFF_OK once `done` is taken.
  static func later<Result: Encodable & Sendable>(
    _ done: skiff_done, _ body: @escaping @Sendable () throws -> Result
  ) -> skiff_status {
    let completion = Completion(done: done)
    return PluginHost.queueWork {
      do {
        completion.done.complete(SKIFF_OK, json: encode(try body()))
      } catch let failure as StorageFailure {
        completion.done.fail(failure.status, reason: failure.reason, message: failure.message)
      } catch {
        completion.done.fail(reason: "InternalError", message: "\(error)")
      }
    }
  }

  /// The same for a JSON request: borrowed, so copied here on the loop, and decoded off it.
  static func later<Request: Decodable & Sendable, Result: Encodable & Sendable>(
    _ request: UnsafePointer<CChar>?, _ length: Int, _ done: skiff_done,
    _ body: @escaping @Sendable (Request) throws -> Result
  ) -> skiff_status {
    let bytes = request.map { Data(bytes: $0, count: length) } ?? Data()
    return later(done) { try body(decode(Request.self, from: bytes)) }
  }

  static func encode(_ value: some Encodable) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
  }

  /// Decodes a request (or, with `root: "config"`, the plugin's configuration), turning Codable's
  /// errors into ones that name the offending field.
  static func decode<T: Decodable>(_ type: T.Type, from data: Data,
                                   root: String = "request") throws(StorageFailure) -> T {
    let reason = root == "config" ? "InvalidConfig" : "InvalidRequest"
    func invalid(_ keys: [any CodingKey], _ problem: String) -> StorageFailure {
      let path = ([root] + keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue })
        .joined(separator: ".")
      return StorageFailure(SKIFF_INVALID, reason: reason, "\(path) \(problem)")
    }
    do {
      return try JSONDecoder().decode(type, from: data)
    } catch DecodingError.keyNotFound(let key, let context) {
      throw invalid(context.codingPath + [key], "is required")
    } catch DecodingError.typeMismatch(let expected, let context) {
      throw invalid(context.codingPath, "must be \(expected)")
    } catch DecodingError.valueNotFound(let expected, let context) {
      throw invalid(context.codingPath, "must be \(expected), not null")
    } catch {
      throw invalid([], "is not a JSON object")
    }
  }
}
