// Connection: Upgrade: the handler answers 101 and takes the raw connection over, here for a
// tiny echo protocol standing in for the websockets of exec and port-forward.
import HTTP
import XCTest

final class UpgradeTests: XCTestCase {
  func testTakenOverConnectionSpeaksItsOwnProtocol() throws {
    let ended = Shared(false)
    let server = try TestServer { request, responder in
      guard request.headers["Upgrade"] == "echo" else {
        return responder.respond(status: 400, body: Array("upgrade to echo only".utf8))
      }
      responder.respond(status: 101, headers: [("Connection", "Upgrade"), ("Upgrade", "echo")])
      let connection = responder.takeOverConnection()
      connection.onClose { ended.update { $0 = true } }
      connection.startReading(onBytes: { bytes in
        connection.write(Array("echo:".utf8) + Array(bytes))
      }, onEnd: {
        connection.close()
      })
    }
    defer { server.stop() }
    let client = try server.client()
    // The first message rides in the same write as the request: HTTP has read it already and
    // must pass it on.
    try client.send("GET /exec HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly")
    let head = try client.readHead()
    XCTAssertEqual(head.status, 101)
    XCTAssertEqual(head.header("Upgrade"), "echo")
    XCTAssertNil(head.header("Content-Length"))
    XCTAssertEqual(String(decoding: try client.read(count: 10), as: UTF8.self), "echo:early")
    // Bytes that look like HTTP are just bytes now.
    try client.send("GET / HTTP/1.1\r\n\r\n")
    XCTAssertEqual(String(decoding: try client.read(count: 23), as: UTF8.self), "echo:GET / HTTP/1.1\r\n\r\n")
    client.disconnect()
    XCTAssertTrue(eventually { ended.get })
    XCTAssertTrue(eventually { server.connectionCount == 0 })
  }

  func testRefusedUpgradeClosesTheConnection() throws {
    let server = try TestServer { _, responder in
      responder.respond(status: 400, body: Array("no".utf8))
    }
    defer { server.stop() }
    let client = try server.client()
    try client.send("GET /exec HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
    let response = try client.readResponse()
    XCTAssertEqual(response.status, 400)
    XCTAssertEqual(response.header("Connection"), "close")
    XCTAssertTrue(try client.closedByServer())
  }
}
