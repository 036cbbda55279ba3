// The agent's side of the API server: plain HTTP over keep-alive connections, so
// the in-process agent and `skiff agent` on another machine take the same path.
import HTTP
import ObjectModel
import SystemKit

/// Where the API server listens, from `http://HOST:PORT`.
public struct APIAddress: Sendable {
  public let host: String
  public let port: Int
  /// Sent as `Authorization` on every request: the hook for when the API server authenticates.
  public var authorization: String?

  public init(_ url: String) throws(ConnectionError) {
    guard url.hasPrefix("http://") else {
      throw ConnectionError("--server \(url): only plain http:// URLs are supported (e.g. http://127.0.0.1:6443)")
    }
    let authority = url.dropFirst(7).prefix { $0 != "/" }
    let parts = authority.split(separator: ":")
    guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port) else {
      throw ConnectionError("--server \(url): expected http://HOST:PORT")
    }
    host = parts[0] == "localhost" ? "127.0.0.1" : String(parts[0])
    self.port = port
  }
}

/// An answer from the API server: status and JSON body.
struct APIAnswer {
  let status: Int
  let body: JSON
  var message: String { body["message"]?.stringValue ?? "status \(status)" }
}

/// Keep-alive connections to the API server, one per request in flight, so that threads can
/// share it; a connection that failed is dropped and the next request opens a fresh one.
final class APIClient: @unchecked Sendable {
  let address: APIAddress
  private let lock = Lock()
  private var idle: [BlockingHTTPConnection] = []
  private let timeoutSeconds: Int

  init(_ address: APIAddress, timeoutSeconds: Int = 10) {
    self.address = address
    self.timeoutSeconds = timeoutSeconds
  }

  func connect(timeoutSeconds: Int) throws(ConnectionError) -> BlockingHTTPConnection {
    let connection = try BlockingHTTPConnection(host: address.host, port: address.port, receiveTimeoutSeconds: timeoutSeconds)
    if let authorization = address.authorization { connection.extraHeaders = [("Authorization", authorization)] }
    return connection
  }

  func request(_ method: String, _ path: String, body: JSON? = nil,
               contentType: String = "application/json") throws(ConnectionError) -> APIAnswer {
    // A keep-alive connection the server closed fails the first try; a fresh one gets a second.
    for attempt in 1...2 {
      do throws(ConnectionError) {
        var connection = lock.withLock { idle.popLast() }
        if connection == nil { connection = try connect(timeoutSeconds: timeoutSeconds) }
        let response = try connection!.request(method, path, body: body?.serialized() ?? [], contentType: contentType)
        lock.withLock { idle.append(connection!) }
        return APIAnswer(status: response.status, body: (try? JSON.parse(response.body)) ?? [:])
      } catch {
        if attempt == 2 { throw error }
      }
    }
    fatalError("unreachable")
  }

  func get(_ path: String) throws(ConnectionError) -> APIAnswer { try request("GET", path) }

  func mergePatch(_ path: String, _ body: JSON) throws(ConnectionError) -> APIAnswer {
    try request("PATCH", path, body: body, contentType: "application/merge-patch+json")
  }
}
