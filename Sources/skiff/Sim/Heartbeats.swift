// The hollow nodes' only periodic work: renewing each node's Lease once per interval, from one
// thread that spreads the renewals evenly over the interval so that they never arrive as a burst.
import FoundationEssentials
import Glibc
import HTTP
import ObjectModel
import SystemKit

extension HollowNodes {
  /// Starts the renewal thread; it runs until the process ends.
  func startHeartbeats(every interval: Double, on workers: APIWorkers) {
    startThread(stackSize: 256 << 10) { renewLeases(every: interval, on: workers) }
  }

  /// Node i's renewals fall at i × interval / count into each interval. Sleeping at least a tick
  /// between rounds keeps wake-ups few when the nodes are many; each round renews whatever fell due.
  private func renewLeases(every interval: Double, on workers: APIWorkers) {
    let spacing = interval / Double(count)
    let tick = max(spacing, 0.02)
    var next = 0
    var due = Date().addingTimeInterval(spacing)
    while true {
      let now = Date()
      while due <= now {
        let index = next % count
        workers.submit { connection in try renewLease(index, on: connection) }
        next += 1
        due = due.addingTimeInterval(spacing)
      }
      usleep(useconds_t(max(due.timeIntervalSince(Date()), tick) * 1_000_000))
    }
  }

  private func renewLease(_ index: Int, on connection: BlockingHTTPConnection) throws {
    let name = name(index)
    let patch: JSON = ["spec": ["renewTime": .string(Timestamp.microseconds(Date()))]]
    let renewed = try connection.request("PATCH", Self.leasePath(name), body: patch.serialized(),
                                         contentType: "application/merge-patch+json")
    switch renewed.status {
    case 200: return
    case 404:
      // Someone deleted the Lease (or the namespace's contents): make it again, as a kubelet does.
      let node = try connection.request("GET", "/api/v1/nodes/\(name)")
      let uid = node.status == 200 ? try JSON.parse(node.body)[path: ["metadata", "uid"]]?.stringValue : nil
      let lease = lease(index, nodeUID: uid, now: Date())
      let created = try connection.request("POST", "/apis/coordination.k8s.io/v1/namespaces/\(Self.leaseNamespace)/leases",
                                           body: lease.serialized())
      guard created.status == 201 || created.status == 409 else {
        throw UnexpectedAnswer("recreating Lease \(name) answered \(created.status): \(created.text.prefix(300))")
      }
    default:
      throw UnexpectedAnswer("renewing Lease \(name) answered \(renewed.status): \(renewed.text.prefix(300))")
    }
  }
}
