// An HTTP server on its own background loop for one test, and small helpers for watching what
// the loop thread did from the test thread.
import Foundation
import HTTP
import Kernel
import Synchronization
import XCTest

final class TestServer {
  let loop: EventLoop
  let server: HTTPServer
  private(set) var port = 0

  /// `loop` is for handlers that need it before the server exists.
  init(loop: EventLoop = EventLoop(), limits: HTTPLimits = HTTPLimits(),
       handler: @escaping HTTPServer.Handler) throws {
    self.loop = loop
    loop.runInBackground()
    server = HTTPServer(loop: loop, limits: limits, handler: handler)
    port = try loop.submit { [server] in try server.listen(host: "127.0.0.1", port: 0) }
  }

  func client() throws -> RawClient { try RawClient(port: port) }

  /// Runs `body` on the loop and returns its result.
  func onLoop<T>(_ body: @escaping () -> T) -> T { try! loop.submit(body) }

  var connectionCount: Int { onLoop { [server] in server.connectionCount } }

  func stop() {
    onLoop { [server] in server.close() }
    loop.stop()
  }
}

/// A value the loop thread writes and the test thread reads.
final class Shared<Value>: @unchecked Sendable {
  private let lock = NSLock()
  private var value: Value

  init(_ value: Value) { self.value = value }

  var get: Value { lock.withLock { value } }
  func update(_ body: (inout Value) -> Void) { lock.withLock { body(&value) } }
}

/// Polls until `condition` holds; gives up (returning false) after long enough to mean "never".
func eventually(_ condition: () -> Bool) -> Bool {
  let deadline = Date().addingTimeInterval(20)
  while Date() < deadline {
    if condition() { return true }
    usleep(2_000)
  }
  return condition()
}

/// Responds with a description of the request, so tests can see what the handler was given.
func echo(_ request: HTTPRequest, _ responder: HTTPResponder) {
  let query = request.query.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
  let text = "\(request.method) \(request.path) ?\(query) \(String(decoding: request.body, as: UTF8.self))"
  responder.respond(status: 200, headers: [("Content-Type", "text/plain")], body: Array(text.utf8))
}
