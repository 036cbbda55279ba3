// What a handler is given: method, target, decoded path and query, headers and bodies in both
// framings, whatever the method.
import HTTP
import XCTest

final class RequestTests: XCTestCase {
  func testGETDecodesPathAndQueryKeepingOrderAndRepeatedKeys() throws {
    let seen = Shared<HTTPRequest?>(nil)
    let server = try TestServer { request, responder in
      seen.update { $0 = request }
      responder.respond(status: 200)
    }
    defer { server.stop() }
    let client = try server.client()
    try client.send("GET /api/v1/namespaces/my%20ns/pods/web-0/exec?command=ls&command=-la&label=app%3Dweb&q=a+b&flag&empty= HTTP/1.1\r\n"
      + "Host: example\r\nX-Trace: one\r\nx-trace: two\r\nACCEPT: application/json\r\n\r\n")
    XCTAssertEqual(try client.readResponse().status, 200)

    let request = try XCTUnwrap(seen.get)
    XCTAssertEqual(request.method, "GET")
    XCTAssertEqual(request.target, "/api/v1/namespaces/my%20ns/pods/web-0/exec?command=ls&command=-la&label=app%3Dweb&q=a+b&flag&empty=")
    XCTAssertEqual(request.path, "/api/v1/namespaces/my ns/pods/web-0/exec")
    XCTAssertEqual(request.query.map { "\($0.0)=\($0.1)" },
                   ["command=ls", "command=-la", "label=app=web", "q=a b", "flag=", "empty="])
    XCTAssertEqual(request.queryValue("label"), "app=web")
    XCTAssertEqual(request.headers["accept"], "application/json")
    XCTAssertEqual(request.headers["X-TRACE"], "one")
    XCTAssertEqual(request.headers.values("X-Trace"), ["one", "two"])
    XCTAssertNil(request.headers["missing"])
    XCTAssertEqual(request.httpVersion, .http1_1)
    XCTAssertTrue(request.keepAlive)
    XCTAssertEqual(request.body, [])
  }

  func testPOSTBodyWithContentLength() throws {
    let server = try TestServer(handler: echo)
    defer { server.stop() }
    let client = try server.client()
    let body = String(repeating: "0123456789", count: 20_000)  // arrives over many reads
    try client.send("POST /things HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
    let response = try client.readResponse()
    XCTAssertEqual(response.status, 200)
    XCTAssertEqual(response.text, "POST /things ? \(body)")
  }

  func testPOSTBodyWithChunkedTransferEncoding() throws {
    let server = try TestServer(handler: echo)
    defer { server.stop() }
    let client = try server.client()
    try client.send("POST /things HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n")
    try client.send("5;ext=1\r\nworld\r\n0\r\nX-Trailer: ignored\r\n\r\n")
    let response = try client.readResponse()
    XCTAssertEqual(response.text, "POST /things ? hello world")
    XCTAssertEqual(response.header("content-length"), "26")
  }

  func testMethodsTheParserDoesNotKnowStillReachTheHandler() throws {
    let server = try TestServer(handler: echo)
    defer { server.stop() }
    let client = try server.client()
    // Split mid-method, then a known method behind it, to show the parser keeps its footing.
    try client.send("BR")
    try client.send("EW /pot?sugar=2 HTTP/1.1\r\nContent-Length: 3\r\n\r\ntea")
    XCTAssertEqual(try client.readResponse().text, "BREW /pot ?sugar=2 tea")
    try client.send("\r\nPROPFIND /dav HTTP/1.1\r\n\r\nDELETE /x HTTP/1.1\r\n\r\n")
    XCTAssertEqual(try client.readResponse().text, "PROPFIND /dav ? ")
    XCTAssertEqual(try client.readResponse().text, "DELETE /x ? ")
  }

  func testHEADGetsTheHeadersOfAGETWithoutTheBody() throws {
    let server = try TestServer { request, responder in
      responder.respond(status: 200, body: Array("twelve bytes".utf8))
    }
    defer { server.stop() }
    let client = try server.client()
    try client.send("HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n")
    let head = try client.readResponse(toHEAD: true)
    XCTAssertEqual(head.header("Content-Length"), "12")
    let get = try client.readResponse()
    XCTAssertEqual(get.text, "twelve bytes")
  }

  func testResponsesCarryDateAndReasonAndSanitiseHeaderValues() throws {
    let server = try TestServer { _, responder in
      responder.respond(status: 404, headers: [("X-Echo", "a\r\nSet-Cookie: evil"), ("Content-Length", "999")],
                        body: Array("none".utf8))
    }
    defer { server.stop() }
    let client = try server.client()
    try client.send("GET / HTTP/1.1\r\n\r\n")
    let head = try client.readLine()
    XCTAssertEqual(head, "HTTP/1.1 404 Not Found")
    var lines: [String] = []
    while case let line = try client.readLine(), !line.isEmpty { lines.append(line) }
    XCTAssertTrue(lines.contains("X-Echo: a  Set-Cookie: evil"), "\(lines)")
    XCTAssertFalse(lines.contains { $0.hasPrefix("Set-Cookie") })
    XCTAssertEqual(lines.filter { $0.lowercased().hasPrefix("content-length") }, ["Content-Length: 4"])
    let date = try XCTUnwrap(lines.first { $0.hasPrefix("Date: ") })
    XCTAssertNotNil(date.range(of: #"^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d [A-Z][a-z][a-z] \d{4} \d\d:\d\d:\d\d GMT$"#,
                               options: .regularExpression), date)
  }

  func testRequestTargetForms() throws {
    let absolute = try HTTPRequest(method: "GET", target: "http://host:8080/a%2Fb/c?x=1#frag")
    XCTAssertEqual(absolute.path, "/a/b/c")
    XCTAssertEqual(absolute.query.map(\.0), ["x"])
    XCTAssertEqual(try HTTPRequest(method: "GET", target: "http://host").path, "/")
    XCTAssertEqual(try HTTPRequest(method: "OPTIONS", target: "*").path, "*")
    XCTAssertEqual(try HTTPRequest(method: "CONNECT", target: "host:443").path, "host:443")
    // A broken escape in the query is kept as sent; in the path it is an error.
    XCTAssertEqual(try HTTPRequest(method: "GET", target: "/p?v=100%&w=%zz").query.map(\.1), ["100%", "%zz"])
    XCTAssertThrowsError(try HTTPRequest(method: "GET", target: "/bad%2"))
    XCTAssertThrowsError(try HTTPRequest(method: "GET", target: "/bad%g0"))
  }

  func testBrokenEscapeInThePathIsABadRequest() throws {
    let server = try TestServer(handler: echo)
    defer { server.stop() }
    let client = try server.client()
    try client.send("GET /bad%zz HTTP/1.1\r\n\r\n")
    let response = try client.readResponse()
    XCTAssertEqual(response.status, 400)
    XCTAssertTrue(try client.closedByServer())
  }
}
