// Real clients against the server: curl, and many concurrent keep-alive clients on threads.
import Foundation
import HTTP
import SkiffTestSupport
import XCTest

final class ClientTests: XCTestCase {
  func testManyConcurrentKeepAliveClientsAreAllAnsweredCorrectly() throws {
    let server = try TestServer(handler: echo)
    defer { server.stop() }
    let clients = 200, requestsEach = 20, port = server.port
    let failures = Shared<[String]>([])
    let answered = Shared(0)
    let threads = (0..<clients).map { id in
      Thread {
        do {
          let client = try RawClient(port: port)
          for n in 0..<requestsEach {
            let body = "client \(id) request \(n)"
            try client.send("POST /c/\(id)?n=\(n) HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
            let response = try client.readResponse()
            let expected = "POST /c/\(id) ?n=\(n) \(body)"
            guard response.status == 200, response.text == expected else {
              throw ClientError(description: "client \(id) got \(response.status) '\(response.text)', wanted '\(expected)'")
            }
            answered.update { $0 += 1 }
          }
        } catch {
          failures.update { $0.append("\(error)") }
        }
      }
    }
    threads.forEach { $0.stackSize = 256 * 1024 }
    threads.forEach { $0.start() }
    XCTAssertTrue(eventually { threads.allSatisfy(\.isFinished) })
    XCTAssertEqual(failures.get, [])
    XCTAssertEqual(answered.get, clients * requestsEach)
  }

  func testCurlTalksToTheServer() throws {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") else {
      throw XCTSkip("curl is not installed")
    }
    let server = try TestServer(handler: echo)
    defer { server.stop() }
    let base = "http://127.0.0.1:\(server.port)"

    let get = try Fixtures.run(["curl", "-sS", "--fail", "\(base)/api/v1/pods?labelSelector=app%3Dweb&limit=5"])
    XCTAssertEqual(get.status, 0, get.output)
    XCTAssertEqual(get.output, "GET /api/v1/pods ?labelSelector=app=web&limit=5 ")

    // Expect: 100-continue makes curl wait for the interim response before sending the body.
    let post = try Fixtures.run(["curl", "-sS", "--fail", "-H", "Expect: 100-continue", "-H", "Content-Type: application/json",
                                 "--data-binary", #"{"kind":"Pod"}"#, "\(base)/api/v1/namespaces/default/pods"])
    XCTAssertEqual(post.status, 0, post.output)
    XCTAssertEqual(post.output, #"POST /api/v1/namespaces/default/pods ? {"kind":"Pod"}"#)

    let chunked = try Fixtures.run(["curl", "-sS", "--fail", "-H", "Transfer-Encoding: chunked",
                                    "--data-binary", "streamed body", "\(base)/upload"])
    XCTAssertEqual(chunked.output, "POST /upload ? streamed body")

    // Two URLs on one curl: the second reuses the kept-alive connection.
    let reuse = try Fixtures.run(["curl", "-sS", "-v", "\(base)/one", "\(base)/two"])
    XCTAssertTrue(reuse.output.contains("GET /one ? ") && reuse.output.contains("GET /two ? "), reuse.output)
    XCTAssertTrue(reuse.output.contains("Re-using existing connection"), reuse.output)
  }
}
