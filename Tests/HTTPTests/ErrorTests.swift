// Requests the server refuses before a handler sees them (400, 413, 431), and Expect:
// 100-continue, which lets a client learn that before sending its body.
import HTTP
import XCTest

final class ErrorTests: XCTestCase {
  func testGarbageGetsABadRequestAndTheConnectionCloses() throws {
    let called = Shared(false)
    let server = try TestServer { request, responder in
      called.update { $0 = true }
      echo(request, responder)
    }
    defer { server.stop() }
    for garbage in ["\u{16}\u{03}\u{01}\u{02}\0hello\r\n\r\n",  // a TLS client hello, say
                    "GET /x HTTP/1.1\r\nthis is not a header\r\n\r\n",
                    "GET /x HTTP/9.9.9\r\n\r\n",
                    "POST /x HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"] {
      let client = try server.client()
      try client.send(garbage)
      let response = try client.readResponse()
      XCTAssertEqual(response.status, 400, garbage)
      XCTAssertTrue(response.text.hasPrefix("400 "), response.text)
      XCTAssertEqual(response.header("Connection"), "close")
      XCTAssertTrue(try client.closedByServer())
    }
    XCTAssertFalse(called.get)
  }

  func testGarbageAfterAGoodRequestIsRefusedAfterItsAnswer() throws {
    let server = try TestServer(handler: echo)
    defer { server.stop() }
    let client = try server.client()
    try client.send("GET /good HTTP/1.1\r\n\r\nNOT HTTP\r\n\r\n")
    XCTAssertEqual(try client.readResponse().text, "GET /good ? ")
    XCTAssertEqual(try client.readResponse().status, 400)
    XCTAssertTrue(try client.closedByServer())
  }

  func testTooLargeBodyGets413BeforeItIsSent() throws {
    let server = try TestServer(limits: HTTPLimits(maxBodyBytes: 1024), handler: echo)
    defer { server.stop() }
    let client = try server.client()
    // Only the head goes out: the answer must not wait for a body of 10 MB.
    try client.send("PUT /big HTTP/1.1\r\nContent-Length: 10000000\r\n\r\n")
    let response = try client.readResponse()
    XCTAssertEqual(response.status, 413)
    XCTAssertTrue(try client.closedByServer())

    let exact = try server.client()
    try exact.send("PUT /fits HTTP/1.1\r\nContent-Length: 1024\r\n\r\n" + String(repeating: "a", count: 1024))
    XCTAssertEqual(try exact.readResponse().status, 200)
  }

  func testTooLargeChunkedBodyGets413() throws {
    let server = try TestServer(limits: HTTPLimits(maxBodyBytes: 1024), handler: echo)
    defer { server.stop() }
    let client = try server.client()
    try client.send("PUT /big HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in 0..<3 { try client.send("200\r\n" + String(repeating: "b", count: 512) + "\r\n") }
    XCTAssertEqual(try client.readResponse().status, 413)
    XCTAssertTrue(try client.closedByServer())
  }

  func testHugeHeadersGet431() throws {
    let server = try TestServer(limits: HTTPLimits(maxHeaderBytes: 8 * 1024), handler: echo)
    defer { server.stop() }
    let client = try server.client()
    try client.send("GET / HTTP/1.1\r\nX-Big: " + String(repeating: "h", count: 16 * 1024) + "\r\n\r\n")
    XCTAssertEqual(try client.readResponse().status, 431)
    XCTAssertTrue(try client.closedByServer())

    let longTarget = try server.client()
    try longTarget.send("GET /" + String(repeating: "p", count: 16 * 1024) + " HTTP/1.1\r\n\r\n")
    XCTAssertEqual(try longTarget.readResponse().status, 431)

    // Past http-parser's own 80 KiB default, the server's limit still decides.
    let roomy = try TestServer(limits: HTTPLimits(maxHeaderBytes: 256 * 1024), handler: echo)
    defer { roomy.stop() }
    let big = try roomy.client()
    try big.send("GET /roomy HTTP/1.1\r\nX-Big: " + String(repeating: "h", count: 128 * 1024) + "\r\n\r\n")
    XCTAssertEqual(try big.readResponse().status, 200)
  }

  func testExpectContinueIsAnsweredBeforeTheBodyIsSent() throws {
    let server = try TestServer(limits: HTTPLimits(maxBodyBytes: 1024), handler: echo)
    defer { server.stop() }
    let client = try server.client()
    try client.send("POST /upload HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    XCTAssertEqual(try client.readHead().status, 100)
    try client.send("hello")
    XCTAssertEqual(try client.readResponse().text, "POST /upload ? hello")

    // Too large: the final answer comes instead of the invitation.
    let refused = try server.client()
    try refused.send("POST /upload HTTP/1.1\r\nContent-Length: 4096\r\nExpect: 100-continue\r\n\r\n")
    XCTAssertEqual(try refused.readHead().status, 413)
  }
}
