// Where a tool finds the API server: a plain http://HOST:PORT URL, or the server line of a
// kubeconfig that `skiff server` wrote.
import FoundationEssentials
import Glibc
import HTTP
import SystemKit

/// Where the API server listens, from `--server http://HOST:PORT`.
struct ServerAddress: Sendable {
  let host: String
  let port: Int

  init(_ url: String) throws(ConnectionError) {
    guard url.hasPrefix("http://") else {
      throw ConnectionError("--server \(url): only plain http:// URLs are supported (e.g. http://127.0.0.1:6443)")
    }
    let authority = url.dropFirst(7).prefix { $0 != "/" }
    let parts = authority.split(separator: ":")
    guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port) else {
      throw ConnectionError("--server \(url): expected http://HOST:PORT")
    }
    host = String(parts[0])
    self.port = port
  }

  func connect(receiveTimeoutSeconds: Int = 30) throws(ConnectionError) -> BlockingHTTPConnection {
    try BlockingHTTPConnection(host: host, port: port, receiveTimeoutSeconds: receiveTimeoutSeconds)
  }
}

extension ServerAddress {
  /// The `server:` of the first cluster in a kubeconfig (the one `skiff server` writes).
  static func fromKubeconfig(_ path: String) throws -> ServerAddress {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    guard let line = text.split(separator: "\n").first(where: { $0.trimmingWhitespace().hasPrefix("server:") })
    else { throw ConnectionError("\(path) names no server") }
    let url = line.split(separator: ":", maxSplits: 1)[1].trimmingWhitespace()
    return try ServerAddress(url)
  }
}
