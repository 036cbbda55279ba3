// kill -9 of the real server under a steady stream of creates: every create it acknowledged
// (201) is there, with its data, after the restarts.
import Foundation
import SkiffTestSupport
import Synchronization
import XCTest

final class APIServerCrashTests: XCTestCase {
  var dir: URL!

  override func setUpWithError() throws { dir = try Fixtures.temporaryDirectory() }
  override func tearDown() { try? FileManager.default.removeItem(at: dir) }

  /// What kill -9 tests is that the answer comes after the commit reached the file: the page
  /// cache survives a killed process, so fsync itself would need a power cut to test.
  func testEveryAcknowledgedCreateSurvivesKillNine() throws {
    let server = try SkiffServer(dataDir: dir.appendingPathComponent("data"))
    defer { server.stop() }
    let address = ServerAddress(port: server.port)
    // Also when the test fails early: the writers must not wait for a server forever.
    defer { address.finish() }
    let outcomes = CreateOutcomes()
    let writers = 4
    let finished = DispatchGroup()
    for writer in 0..<writers {
      finished.enter()
      Thread {
        defer { finished.leave() }
        var client: APIClient?
        var sequence = 0
        while let port = address.waitForPort() {
          // Names only ever increase: a create that was lost with its answer is never retried.
          let name = "w\(writer)-\(sequence)"
          let payload = "writer \(writer), create \(sequence): " + String(repeating: "x", count: 64)
          sequence += 1
          do {
            if client == nil { client = try APIClient(port: port) }
            let response = try client!.request(
              "POST", "/api/v1/namespaces/default/configmaps",
              json: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"\#(name)"},"data":{"payload":"\#(payload)"}}"#)
            if response.status == 201 {
              outcomes.acknowledged.withLock { $0[name] = payload }
            } else {
              outcomes.unexpected.withLock { $0.append("\(name): \(response.status) \(response.text)") }
            }
          } catch {
            client = nil  // the server went down mid-request: reconnect once it is back
          }
        }
      }.start()
    }

    // Each round lets the writers run, then kills the server at whatever point it has reached.
    var acknowledgedBeforeRound: [Int] = []
    for seconds in [0.3, 0.8, 0.45, 0.6, 0.35, 0.7, 0.5, 0.4] {
      usleep(UInt32(seconds * 1_000_000))
      acknowledgedBeforeRound.append(outcomes.acknowledged.withLock { $0.count })
      address.set(nil)
      server.kill(SIGKILL)
      try server.start()
      address.set(server.port)
    }
    usleep(300_000)
    address.finish()
    XCTAssertEqual(finished.wait(timeout: .now() + 30), .success, "the writers did not stop")

    let all = outcomes.acknowledged.withLock { $0 }
    let counts = [0] + acknowledgedBeforeRound + [all.count]
    // Every server generation acknowledged writes, else the test would prove little.
    XCTAssertTrue(zip(counts, counts.dropFirst()).allSatisfy { $0 < $1 }, "acknowledged creates per round: \(counts)")
    XCTAssertEqual(outcomes.unexpected.withLock { $0 }, [], server.serverLog)

    let list = try APIClient(port: server.port).request("GET", "/api/v1/namespaces/default/configmaps").json()
    let items = try XCTUnwrap(list["items"] as? [[String: Any]])
    var stored: [String: String] = [:]
    for item in items {
      let name = (item["metadata"] as? [String: Any])?["name"] as? String ?? ""
      stored[name] = (item["data"] as? [String: Any])?["payload"] as? String
    }
    let missing = all.filter { stored[$0.key] != $0.value }.map(\.key).sorted()
    XCTAssertEqual(missing, [], "\(missing.count) of \(all.count) acknowledged creates are missing or changed")
    XCTAssertGreaterThanOrEqual(items.count, all.count)
  }
}

/// What the writers saw: creates answered 201 (name → payload), and any other answer.
private final class CreateOutcomes: Sendable {
  let acknowledged = Mutex<[String: String]>([:])
  let unexpected = Mutex<[String]>([])
}

/// Where writers reach the server: its port while it is up; they wait while it restarts, and
/// stop once the test finishes.
private final class ServerAddress: @unchecked Sendable {
  private let condition = NSCondition()
  private var port: Int?
  private var finished = false

  init(port: Int) { self.port = port }

  func set(_ port: Int?) {
    condition.lock()
    self.port = port
    condition.broadcast()
    condition.unlock()
  }

  func finish() {
    condition.lock()
    finished = true
    condition.broadcast()
    condition.unlock()
  }

  /// The port once the server is up; nil when the test is done.
  func waitForPort() -> Int? {
    condition.lock()
    defer { condition.unlock() }
    while port == nil && !finished { condition.wait() }
    return finished ? nil : port
  }
}
