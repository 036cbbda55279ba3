// Streamed (chunked) responses as watches use them: chunks reach the client as written, later
// requests wait for the stream, and the handler learns when the client leaves.
import HTTP
import Kernel
import XCTest

final class StreamingTests: XCTestCase {
  func testChunksArriveBeforeTheStreamEndsAndLaterRequestsWaitForIt() throws {
    let stream = Shared<HTTPResponder?>(nil)
    let dispatched = Shared<[String]>([])
    let server = try TestServer { request, responder in
      dispatched.update { $0.append(request.path) }
      guard request.path == "/watch" else { return echo(request, responder) }
      stream.update { $0 = responder }
      responder.beginStream(status: 200, headers: [("Content-Type", "application/json")])
      responder.write(chunk: Array(#"{"type":"ADDED"}"#.utf8))
    }
    defer { server.stop() }
    let client = try server.client()
    try client.send("GET /watch?watch=1 HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n")
    let head = try client.readHead()
    XCTAssertEqual(head.status, 200)
    XCTAssertEqual(head.header("Transfer-Encoding"), "chunked")
    XCTAssertNil(head.header("Content-Length"))
    XCTAssertEqual(String(decoding: try client.readChunk(), as: UTF8.self), #"{"type":"ADDED"}"#)
    XCTAssertEqual(dispatched.get, ["/watch"], "the pipelined request must wait for the stream")

    // Only now, with the first chunk read, does the server write the rest.
    let responder = try XCTUnwrap(stream.get)
    server.onLoop {
      XCTAssertTrue(responder.isOpen)
      responder.write(chunk: Array(#"{"type":"MODIFIED"}"#.utf8))
      responder.write(chunk: [])  // skipped: an empty chunk would end the stream
      responder.end()
      XCTAssertFalse(responder.isOpen)
    }
    XCTAssertEqual(String(decoding: try client.readChunk(), as: UTF8.self), #"{"type":"MODIFIED"}"#)
    XCTAssertEqual(try client.readChunk(), [])
    XCTAssertEqual(try client.readResponse().text, "GET /after ? ")
    XCTAssertEqual(dispatched.get, ["/watch", "/after"])
  }

  func testOnCloseFiresWhenAStreamingClientDisconnects() throws {
    let stream = Shared<HTTPResponder?>(nil)
    let closed = Shared(0)
    let server = try TestServer { _, responder in
      stream.update { $0 = responder }
      responder.beginStream(status: 200)
      responder.onClose { closed.update { $0 += 1 } }
    }
    defer { server.stop() }
    let client = try server.client()
    try client.send("GET /watch HTTP/1.1\r\n\r\n")
    XCTAssertEqual(try client.readHead().status, 200)
    client.disconnect()
    XCTAssertTrue(eventually { closed.get == 1 })
    let responder = try XCTUnwrap(stream.get)
    let late = Shared(0)
    server.onLoop {
      XCTAssertFalse(responder.isOpen)
      responder.write(chunk: Array("nobody is listening".utf8))  // ignored, not a crash
      responder.end()
      responder.onClose { late.update { $0 += 1 } }  // already closed: runs at once
    }
    XCTAssertEqual(closed.get, 1)
    XCTAssertEqual(late.get, 1)
    XCTAssertTrue(eventually { server.connectionCount == 0 })
  }

  func testQueuedBytesGrowWhileTheClientDoesNotRead() throws {
    let stream = Shared<HTTPResponder?>(nil)
    let server = try TestServer { _, responder in
      responder.beginStream(status: 200)
      stream.update { $0 = responder }
    }
    defer { server.stop() }
    let client = try server.client()
    try client.send("GET /watch HTTP/1.1\r\n\r\n")
    XCTAssertTrue(eventually { stream.get != nil })
    let responder = stream.get!
    // Far more than the socket buffers hold, with the client reading none of it.
    let queued = server.onLoop { () -> Int in
      let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
      for _ in 0..<64 { responder.write(chunk: chunk) }
      return responder.queuedBytes
    }
    XCTAssertGreaterThan(queued, 1 << 20)
    XCTAssertLessThanOrEqual(queued, 64 << 20 + 64 * 16)
  }

  func testHTTP10StreamsWithoutChunkingAndEndsByClosing() throws {
    let server = try TestServer { _, responder in
      responder.beginStream(status: 200)
      responder.write(chunk: Array("one ".utf8))
      responder.write(chunk: Array("two".utf8))
      responder.end()
    }
    defer { server.stop() }
    let client = try server.client()
    try client.send("GET /logs HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    let response = try client.readResponse()
    XCTAssertNil(response.header("Transfer-Encoding"))
    XCTAssertEqual(response.header("Connection"), "close")
    XCTAssertEqual(response.text, "one two")
  }

  func testServerCloseEndsStreamsInProgress() throws {
    let closed = Shared(false)
    let server = try TestServer { _, responder in
      responder.beginStream(status: 200)
      responder.onClose { closed.update { $0 = true } }
    }
    defer { server.stop() }
    let client = try server.client()
    try client.send("GET /watch HTTP/1.1\r\n\r\n")
    XCTAssertEqual(try client.readHead().status, 200)
    server.onLoop { [server = server.server] in server.close() }
    XCTAssertTrue(closed.get)
    XCTAssertTrue(try client.closedByServer())
  }
}
