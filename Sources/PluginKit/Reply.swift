// How asynchronous slots answer: the request copied off the loop, the work done on the kernel's
// thread pool, and its result or failure reported through `done` exactly once.
import FoundationEssentials
import Glibc
import SkiffABI

/// A failure as the ABI reports it: a status and `{"reason", "message"}` for the caller.
public struct PluginFailure: Error {
  public let status: skiff_status
  public let reason: String
  public let message: String

  public init(_ status: skiff_status = SKIFF_ERROR, reason: String, _ message: String) {
    self.status = status
    self.reason = reason
    self.message = message
  }
}

/// `done` may be called from any thread (skiff.h), so it may travel to the thread pool.
extension skiff_done: @unchecked @retroactive Sendable {}

public enum Reply {
  /// Runs `body` on the thread pool and reports what it returns or throws. Returns the slot's
  /// status: SKIFF_OK once `done` is taken.
  public static func later<Result: Encodable & Sendable>(
    _ done: skiff_done, _ body: @escaping @Sendable () throws -> Result
  ) -> skiff_status {
    PluginHost.queueWork {
      do {
        done.complete(SKIFF_OK, json: encode(try body()))
      } catch let failure as PluginFailure {
        done.fail(failure.status, reason: failure.reason, message: failure.message)
      } catch {
        done.fail(reason: "InternalError", message: "\(error)")
      }
    }
  }

  /// The same for a JSON request: borrowed, so copied here on the loop, and decoded off it.
  public static func later<Request: Decodable & Sendable, Result: Encodable & Sendable>(
    _ request: UnsafePointer<CChar>?, _ length: Int, _ done: skiff_done,
    _ body: @escaping @Sendable (Request) throws -> Result
  ) -> skiff_status {
    let bytes = request.map { Data(bytes: $0, count: length) } ?? Data()
    return later(done) { try body(decode(Request.self, from: bytes)) }
  }

  public static func encode(_ value: some Encodable) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
  }

  /// Decodes a request (or, with `root: "config"`, the plugin's configuration), turning Codable's
  /// errors into ones that name the offending field.
  public static func decode<T: Decodable>(_ type: T.Type, from data: Data,
                                   root: String = "request") throws(PluginFailure) -> T {
    let reason = root == "config" ? "InvalidConfig" : "InvalidRequest"
    func invalid(_ keys: [any CodingKey], _ problem: String) -> PluginFailure {
      let path = ([root] + keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue })
        .joined(separator: ".")
      return PluginFailure(SKIFF_INVALID, reason: reason, "\(path) \(problem)")
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
