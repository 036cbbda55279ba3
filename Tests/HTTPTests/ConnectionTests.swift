// Connection lifetime: keep-alive, pipelining in order, Connection: close, HTTP/1.0, idle timeout,
// and clients that go away while their handler is still thinking.
import HTTP
import Kernel
import XCTest

final class ConnectionTests: XCTestCase {
  func testKeepAliveCarriesManyRequestsOnOneConnection() throws {
    let server = try TestServer(handler: echo)
    defer { server.stop() }
    let client = try server.client()
    for i in 0..<5 {
      try client.send("GET /n/\(i) HTTP/1.1\r\nHost: x\r\n\r\n")
      let response = try client.readResponse()
      XCTAssertEqual(response.text, "GET /n/\(i) ? ")
      XCTAssertNil(response.header("Connection"))
    }
    XCTAssertEqual(server.connectionCount, 1)
  }

  func testPipelinedRequestsAreAnsweredInOrderEvenWhenTheFirstAnswersLater() throws {
    let dispatched = Shared<[String]>([])
    let loop = EventLoop()
    let server = try TestServer(loop: loop) { request, responder in
      dispatched.update { $0.append(request.path) }
      if request.path == "/slow" {
        // Answered on a later turn of the loop, after the fast one could have been.
        loop.execute { loop.execute { echo(request, responder) } }
      } else {
        echo(request, responder)
      }
    }
    defer { server.stop() }
    let client = try server.client()
    try client.send("GET /slow HTTP/1.1\r\n\r\nGET /fast HTTP/1.1\r\n\r\nPOST /last HTTP/1.1\r\nContent-Length: 2\r\n\r\nok")
    XCTAssertEqual(try client.readResponse().text, "GET /slow ? ")
    XCTAssertEqual(try client.readResponse().text, "GET /fast ? ")
    XCTAssertEqual(try client.readResponse().text, "POST /last ? ok")
    XCTAssertEqual(dispatched.get, ["/slow", "/fast", "/last"])
  }

  func testConnectionCloseIsHonoured() throws {
    let server = try TestServer(handler: echo)
    defer { server.stop() }
    let client = try server.client()
    // The request after a closing one is never answered.
    try client.send("GET /a HTTP/1.1\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
    let response = try client.readResponse()
    XCTAssertEqual(response.text, "GET /a ? ")
    XCTAssertEqual(response.header("Connection"), "close")
    XCTAssertTrue(try client.closedByServer())
    XCTAssertTrue(eventually { server.connectionCount == 0 })
  }

  func testHandlerCanAskToCloseTheConnection() throws {
    let server = try TestServer { _, responder in
      responder.respond(status: 503, headers: [("Connection", "close")], body: Array("going away".utf8))
    }
    defer { server.stop() }
    let client = try server.client()
    try client.send("GET / HTTP/1.1\r\n\r\n")
    XCTAssertEqual(try client.readResponse().status, 503)
    XCTAssertTrue(try client.closedByServer())
  }

  func testHTTP10ClosesUnlessAskedToKeepAlive() throws {
    let server = try TestServer(handler: echo)
    defer { server.stop() }
    let kept = try server.client()
    try kept.send("GET /one HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    let first = try kept.readResponse()
    XCTAssertEqual(first.header("Connection"), "keep-alive")
    try kept.send("GET /two HTTP/1.0\r\n\r\n")
    XCTAssertEqual(try kept.readResponse().text, "GET /two ? ")
    XCTAssertTrue(try kept.closedByServer())
  }

  func testIdleConnectionsAreClosed() throws {
    let server = try TestServer(limits: HTTPLimits(idleTimeout: .milliseconds(50)), handler: echo)
    defer { server.stop() }
    let silent = try server.client()
    let served = try server.client()
    try served.send("GET / HTTP/1.1\r\n\r\n")
    XCTAssertEqual(try served.readResponse().status, 200)
    XCTAssertTrue(try silent.closedByServer())
    XCTAssertTrue(try served.closedByServer())
    XCTAssertTrue(eventually { server.connectionCount == 0 })
  }

  func testAHandlerThatNeverRespondsDoesNotHoldTheConnectionOnceTheClientLeaves() throws {
    let called = Shared(false)
    let abandoned = Shared(false)
    let server = try TestServer { _, responder in
      called.update { $0 = true }
      responder.onClose { abandoned.update { $0 = true } }
    }
    defer { server.stop() }
    let client = try server.client()
    try client.send("GET /never HTTP/1.1\r\n\r\n")
    XCTAssertTrue(eventually { called.get })
    client.disconnect()
    XCTAssertTrue(eventually { abandoned.get })
    XCTAssertTrue(eventually { server.connectionCount == 0 })
  }

  func testServerCloseStopsListeningAndClosesConnections() throws {
    let server = try TestServer(handler: echo)
    defer { server.stop() }
    let client = try server.client()
    try client.send("GET / HTTP/1.1\r\n\r\n")
    XCTAssertEqual(try client.readResponse().status, 200)
    server.onLoop { [server = server.server] in server.close() }
    XCTAssertTrue(try client.closedByServer())
    XCTAssertThrowsError(try server.client())
  }

  func testListensOnIPv6AndRefusesWhatItCannotBind() throws {
    let server = try TestServer(handler: echo)
    defer { server.stop() }
    guard let port = try? server.onLoop({ [server = server.server] in Result { try server.listen(host: "::1", port: 0) } }).get() else {
      throw XCTSkip("this machine has no IPv6 loopback")
    }
    let client = try RawClient(port: port, host: "::1")
    try client.send("GET /six HTTP/1.1\r\n\r\n")
    XCTAssertEqual(try client.readResponse().text, "GET /six ? ")

    let taken = server.port
    let errors = server.onLoop { [server = server.server] in
      [("localhost", 0), ("127.0.0.1", taken), ("127.0.0.1", 70_000)].map { host, port in
        Result { try server.listen(host: host, port: port) }
      }
    }
    let messages = errors.map { result in
      switch result {
      case .success(let port): "listened on \(port)"
      case .failure(let error): "\(error is ListenError ? "" : "unexpected error type: ")\(error)"
      }
    }
    XCTAssertTrue(messages[0].contains("'localhost': not an IPv4 or IPv6 address literal"), messages[0])
    XCTAssertTrue(messages[1].contains("address already in use"), messages[1])
    XCTAssertTrue(messages[2].contains("port 70000 is out of range"), messages[2])
  }
}
