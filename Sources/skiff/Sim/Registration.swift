// Registering the hollow nodes as a kubelet does: POST the Node with its status; a node that is
// already there is adopted (labels, taints and status brought up to date), then its Lease is made.
import FoundationEssentials
import Glibc
import HTTP
import ObjectModel
import SystemKit

/// What registering found, counted across the worker threads.
final class RegistrationTally: @unchecked Sendable {
  private let lock = Lock()
  private(set) var created = 0
  private(set) var adopted = 0
  private(set) var failures: [String] = []

  fileprivate func record(created: Bool) { lock.withLock { if created { self.created += 1 } else { adopted += 1 } } }
  fileprivate func record(failure: String) { lock.withLock { failures.append(failure) } }
}

extension HollowNodes {
  /// Registers every node and its Lease, `workers` running them concurrently; returns once all
  /// have answered.
  func register(on workers: APIWorkers) -> RegistrationTally {
    let tally = RegistrationTally()
    for index in 0..<count {
      workers.submit({ connection in try register(index, on: connection, tally: tally) },
                     failed: { tally.record(failure: "registering node \(name(index)): \($0)") })
    }
    workers.waitUntilIdle()
    return tally
  }

  private func register(_ index: Int, on connection: BlockingHTTPConnection, tally: RegistrationTally) throws {
    let name = name(index)
    let node = node(index, now: Date())
    let created = try connection.request("POST", "/api/v1/nodes", body: node.serialized())
    var stored: JSON
    switch created.status {
    case 201:
      stored = try JSON.parse(created.body)
      tally.record(created: true)
    case 409:
      let patch: JSON = ["metadata": ["labels": node[path: ["metadata", "labels"]]!],
                         "spec": ["taints": node[path: ["spec", "taints"]]!]]
      stored = try Self.expect(200, connection.request("PATCH", "/api/v1/nodes/\(name)", body: patch.serialized(),
                                                       contentType: "application/merge-patch+json"))
      tally.record(created: false)
    default:
      throw UnexpectedAnswer("POST /api/v1/nodes answered \(created.status): \(created.text.prefix(300))")
    }
    // A server that drops status on create, and an adopted node, get theirs through the subresource.
    if stored[path: ["status", "nodeInfo", "kubeletVersion"]]?.stringValue != Self.kubeletVersion
        || created.status == 409 {
      let patch: JSON = ["status": node["status"]!]
      stored = try Self.expect(200, connection.request("PATCH", "/api/v1/nodes/\(name)/status", body: patch.serialized(),
                                                       contentType: "application/merge-patch+json"))
    }
    let lease = lease(index, nodeUID: stored[path: ["metadata", "uid"]]?.stringValue, now: Date())
    let leaseCreated = try connection.request("POST", "/apis/coordination.k8s.io/v1/namespaces/\(Self.leaseNamespace)/leases",
                                              body: lease.serialized())
    // An adopted node's Lease is renewed by the heartbeats from now on.
    guard leaseCreated.status == 201 || leaseCreated.status == 409 else {
      throw UnexpectedAnswer("creating Lease \(name) answered \(leaseCreated.status): \(leaseCreated.text.prefix(300))")
    }
  }

  /// The response's object, when its status is `status`.
  static func expect(_ status: Int, _ response: BlockingHTTPConnection.Response) throws -> JSON {
    guard response.status == status else {
      throw UnexpectedAnswer("the server answered \(response.status): \(response.text.prefix(300))")
    }
    return try JSON.parse(response.body)
  }
}
