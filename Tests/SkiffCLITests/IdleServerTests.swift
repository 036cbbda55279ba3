// An idle server does no work: once its last write has settled, no file in its data directory
// changes and its CPU time stands still, even with a watch open.
import Foundation
import SkiffTestSupport
import XCTest

final class IdleServerTests: XCTestCase {
  var dir: URL!

  override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  func testIdleServerWithAWatchWritesNothingAndUsesNoCPU() throws {
    let dataDir = dir.appendingPathComponent("data").path
    let server = try SkiffServer(dataDir: URL(fileURLWithPath: dataDir))
    defer { server.stop() }
    let path = "/api/v1/namespaces/default/configmaps"
    let client = try APIClient(port: server.port)
    var revision = ""
    for index in 0..<5 {
      let response = try client.request("POST", path, json: #"{"metadata":{"name":"idle-\#(index)"},"data":{"k":"v"}}"#)
      XCTAssertEqual(response.status, 201, response.text)
      revision = try XCTUnwrap((response.json()["metadata"] as? [String: Any])?["resourceVersion"] as? String)
    }
    let watch = try APIClient(port: server.port)
    try watch.send("GET", path + "?watch=true&resourceVersion=\(revision)")
    XCTAssertEqual(try watch.readHead().status, 200)

    // Every write was answered after its commit; wait until the files say so too.
    var before = try files(in: dataDir)
    for _ in 0..<25 {
      usleep(200_000)
      let now = try files(in: dataDir)
      if now == before { break }
      before = now
    }
    XCTAssertEqual(Set(before.keys), ["kubeconfig", "store.db", "store.db-shm", "store.db-wal"])
    let cpuBefore = try server.cpuTicks()

    sleep(3)

    XCTAssertEqual(try files(in: dataDir), before, "an idle server changed its data directory")
    // Not a timing assertion: CPU time counts work done, which a busy machine does not inflate.
    // An idle server blocks in epoll; two ticks (20 ms at USER_HZ 100) allow for the HTTP
    // server's once-a-second sweep of idle connections while the watch is open, not a poll loop.
    let used = try server.cpuTicks() - cpuBefore
    XCTAssertLessThanOrEqual(used, 2, "an idle server used \(used) clock ticks of CPU in 3 s")

    // The watch was live all along: the next create arrives on it.
    XCTAssertEqual(try client.request("POST", path, json: #"{"metadata":{"name":"after-idle"}}"#).status, 201)
    let event = String(decoding: try watch.readChunk(), as: UTF8.self)
    XCTAssertTrue(event.contains(#""type":"ADDED""#) && event.contains(#""name":"after-idle""#), event)
  }

  /// Size and modification time (ns) of every file in `directory`, by name.
  private func files(in directory: String) throws -> [String: [Int]] {
    var found: [String: [Int]] = [:]
    for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
      var info = stat()
      XCTAssertEqual(lstat(directory + "/" + name, &info), 0, name)
      found[name] = [Int(info.st_size), info.st_mtim.tv_sec * 1_000_000_000 + info.st_mtim.tv_nsec]
    }
    return found
  }
}
