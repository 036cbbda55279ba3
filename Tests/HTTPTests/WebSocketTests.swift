// WebSocket (RFC 6455) on a taken-over connection: against Python's `websockets` client (a real,
// independent implementation) and against raw frames for what a well-behaved client never sends.
import Foundation
import HTTP
import SkiffTestSupport
import XCTest

final class WebSocketTests: XCTestCase {
  /// A server that accepts `protocols` and echoes every message back, prefixed by its kind.
  private func echoServer(closeCodes: Shared<[UInt16?]>) throws -> TestServer {
    try TestServer { request, responder in
      do throws(WebSocketHandshakeError) {
        let socket = try WebSocket.accept(request, responder, protocols: ["v5.channel.k8s.io", "v4.channel.k8s.io"])
        socket.start(onMessage: { message in
          switch message {
          case .text(let text): socket.send(.text("text:" + text))
          case .binary(let bytes): socket.send(.binary(Array("binary:".utf8) + bytes))
          }
        }, onClose: { code in closeCodes.update { $0.append(code) } })
      } catch {
        responder.respond(status: error.status, body: Array(error.message.utf8))
      }
    }
  }

  func testPythonWebsocketsClientTalksToTheServer() throws {
    guard (try? Fixtures.run(["python3", "-c", "import websockets"]))?.status == 0 else {
      throw XCTSkip("Python's websockets is not installed (pip install websockets)")
    }
    let closeCodes = Shared<[UInt16?]>([])
    let server = try echoServer(closeCodes: closeCodes)
    defer { server.stop() }
    let script = """
      import asyncio, sys
      from websockets.sync.client import connect
      with connect("ws://127.0.0.1:\(server.port)/exec", subprotocols=["v3.channel.k8s.io", "v4.channel.k8s.io"],
                   max_size=None) as ws:
          print("protocol", ws.subprotocol)
          ws.send("héllo"); print(ws.recv())
          ws.send(b"\\x01\\x02"); print(ws.recv())
          ws.send(["frag", "mented"]); print(ws.recv())        # one message in three frames
          ws.send(b"x" * 200000); print(len(ws.recv()))        # 64-bit length
          ws.ping(b"p").wait(10); print("pong")
          ws.close(code=1000)
      """
    let run = try Fixtures.run(["python3", "-c", script])
    XCTAssertEqual(run.status, 0, run.output)
    XCTAssertEqual(run.output.split(separator: "\n").map(String.init),
                   ["protocol v4.channel.k8s.io", "text:héllo", "b'binary:\\x01\\x02'", "text:fragmented", "200007", "pong"])
    XCTAssertTrue(eventually { closeCodes.get == [1000] }, "\(closeCodes.get)")
  }

  func testHandshakeAnswersTheRFCsAcceptValue() throws {
    let server = try echoServer(closeCodes: Shared([]))
    defer { server.stop() }
    let client = try server.client()
    try client.send("GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    let head = try client.readHead()
    XCTAssertEqual(head.status, 101)
    XCTAssertEqual(head.header("Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")  // RFC 6455 section 1.3
    XCTAssertNil(head.header("Sec-WebSocket-Protocol"), "none was offered")
    // A masked text frame "Hello", from the RFC's examples (section 5.7).
    try client.send([0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58])
    XCTAssertEqual(try client.read(count: 12), [0x81, 10] + Array("text:Hello".utf8))
  }

  func testUnmaskedClientFrameClosesWithProtocolError() throws {
    let closeCodes = Shared<[UInt16?]>([])
    let server = try echoServer(closeCodes: closeCodes)
    defer { server.stop() }
    let client = try server.client()
    try client.send("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
      + "Sec-WebSocket-Key: a2V5a2V5a2V5a2V5a2V5a2V5\r\nSec-WebSocket-Version: 13\r\n\r\n")
    XCTAssertEqual(try client.readHead().status, 101)
    try client.send([0x82, 0x01, 0x00])
    // A close frame with 1002 and the reason; then the server closes the connection.
    let close = try client.readToEnd()
    XCTAssertEqual(Array(close.prefix(4)), [0x88, UInt8(close.count - 2), 0x03, 0xEA])
    XCTAssertEqual(String(decoding: close.dropFirst(4), as: UTF8.self), "client frames must be masked")
  }

  func testHandshakeRefusals() throws {
    let server = try echoServer(closeCodes: Shared([]))
    defer { server.stop() }
    func attempt(_ headers: String) throws -> RawResponse {
      let client = try server.client()
      try client.send("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\(headers)\r\n")
      return try client.readResponse()
    }
    let key = "Sec-WebSocket-Key: a2V5a2V5a2V5a2V5a2V5a2V5\r\n"
    let wrongProtocol = try attempt(key + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io\r\n")
    XCTAssertEqual(wrongProtocol.status, 400)
    XCTAssertTrue(String(decoding: wrongProtocol.body, as: UTF8.self).contains("not supported"))
    XCTAssertEqual(try attempt(key + "Sec-WebSocket-Version: 8\r\n").status, 426)
    XCTAssertEqual(try attempt("Sec-WebSocket-Version: 13\r\n").status, 400)
  }
}
