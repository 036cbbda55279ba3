// The hollow kubelet: one watch on the pods bound to any node, and for those on the simulated
// nodes, the status a real kubelet would report once their containers run. No process is started,
// so a pod being deleted is finished off at once.
import FoundationEssentials
import Glibc
import ObjectModel
import SystemKit

final class HollowKubelet: @unchecked Sendable {
  private let nodes: HollowNodes
  private let workers: APIWorkers
  private let server: ServerAddress
  /// Pods whose Running status was sent or is on its way, so that the events in between do not
  /// send it again; a failed patch takes its pod out so that the next event retries. The watch
  /// thread reads and adds, workers remove.
  private let lock = Lock()
  private var started: Set<String> = []
  private var deleting: Set<String> = []
  /// How many pod addresses each node has handed out (watch thread only).
  private var podSerials: [Int]

  init(nodes: HollowNodes, workers: APIWorkers, server: ServerAddress) {
    self.nodes = nodes
    self.workers = workers
    self.server = server
    podSerials = Array(repeating: 0, count: nodes.count)
  }

  /// Starts the watch thread; it runs until the process ends.
  func start() {
    startThread(stackSize: 512 << 10) { [self] in watchPods() }
  }

  // MARK: The watch

  private static let boundPods = "fieldSelector=spec.nodeName%21%3D"

  /// List, then watch from the list's revision; after an error resume from the last revision
  /// seen, and after 410 Gone (that revision was compacted away) list again.
  private func watchPods() {
    var resourceVersion: String?
    var failures = 0
    while true {
      do {
        // Watches can be quiet for long; the server ends each within the timeout, so a silent
        // socket past it means a dead server.
        let connection = try server.connect(receiveTimeoutSeconds: 360)
        if resourceVersion == nil {
          let list = try HollowNodes.expect(200, connection.request("GET", "/api/v1/pods?\(Self.boundPods)"))
          for pod in list["items"]?.arrayValue ?? [] { handle("ADDED", pod) }
          resourceVersion = list[path: ["metadata", "resourceVersion"]]?.stringValue ?? "0"
        }
        try connection.send("GET", "/api/v1/pods?watch=true&\(Self.boundPods)&allowWatchBookmarks=true"
                              + "&timeoutSeconds=300&resourceVersion=\(resourceVersion!)")
        let head = try connection.readHead()
        if head.status == 410 {
          resourceVersion = nil
          continue
        }
        guard head.status == 200, head.chunked else {
          throw UnexpectedAnswer("the pod watch answered \(head.status)")
        }
        failures = 0
        var pending: [UInt8] = []
        while case let chunk = try connection.readChunk(), !chunk.isEmpty {
          pending += chunk
          // Events are newline-terminated; a chunk may hold several, or part of one.
          while let end = pending.firstIndex(of: 10) {
            let line = pending[..<end]
            defer { pending.removeFirst(end + 1) }
            guard !line.isEmpty else { continue }
            let event = try JSON.parse(line)
            let type = event["type"]?.stringValue ?? ""
            let object = event["object"] ?? [:]
            if type == "ERROR" {
              if object["code"]?.intValue == 410 { resourceVersion = nil }
              throw UnexpectedAnswer("the pod watch reported: \(object["message"]?.stringValue ?? "an error")")
            }
            if let version = object[path: ["metadata", "resourceVersion"]]?.stringValue { resourceVersion = version }
            if type != "BOOKMARK" { handle(type, object) }
          }
        }
      } catch {
        failures += 1
        // The first error is often a watch the server ended; say so only when it repeats.
        if failures > 1 { warn("sim: pod watch: \(error); reconnecting") }
        usleep(useconds_t(min(0.1 * Double(failures * failures), 5) * 1_000_000))
      }
    }
  }

  // MARK: Pods

  private func handle(_ type: String, _ pod: JSON) {
    guard let nodeName = pod[path: ["spec", "nodeName"]]?.stringValue, let node = nodes.index(of: nodeName),
          let uid = pod[path: ["metadata", "uid"]]?.stringValue,
          let name = pod[path: ["metadata", "name"]]?.stringValue,
          let namespace = pod[path: ["metadata", "namespace"]]?.stringValue else { return }
    let path = "/api/v1/namespaces/\(namespace)/pods/\(name)"
    if type == "DELETED" {
      lock.withLock {
        started.remove(uid)
        deleting.remove(uid)
      }
      return
    }
    if pod[path: ["metadata", "deletionTimestamp"]] != nil {
      guard lock.withLock({ deleting.insert(uid).inserted }) else { return }
      // No container holds the pod, so it goes at once; the precondition spares a namesake.
      let options: JSON = ["kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                           "preconditions": ["uid": .string(uid)]]
      workers.submit({ connection in
        let answer = try connection.request("DELETE", path + "?gracePeriodSeconds=0", body: options.serialized())
        guard [200, 202, 404, 409].contains(answer.status) else {
          throw UnexpectedAnswer("deleting pod \(namespace)/\(name) answered \(answer.status): \(answer.text.prefix(300))")
        }
      }, failed: { [self] error in
        lock.withLock { _ = deleting.remove(uid) }
        warn("sim: \(error)")
      })
      return
    }
    let phase = pod[path: ["status", "phase"]]?.stringValue ?? "Pending"
    if phase == "Running", let address = pod[path: ["status", "podIP"]]?.stringValue,
       address.hasPrefix(nodes.podRange(node)), let last = Int(address.dropFirst(nodes.podRange(node).count)) {
      // A pod an earlier run started: hand out the addresses after its own, not the same again.
      podSerials[node] = max(podSerials[node], last)
    }
    guard phase == "Pending", lock.withLock({ started.insert(uid).inserted }) else { return }
    let podIP = nodes.podIP(node, serial: podSerials[node])
    podSerials[node] += 1
    let patch = runningStatus(pod, uid: uid, podIP: podIP, hostIP: nodes.internalIP(node))
    workers.submit({ connection in
      let answer = try connection.request("PATCH", path + "/status", body: patch.serialized(),
                                          contentType: "application/merge-patch+json")
      // 404: the pod went before it could run, which is no failure.
      guard answer.status == 200 || answer.status == 404 else {
        throw UnexpectedAnswer("starting pod \(namespace)/\(name) answered \(answer.status): \(answer.text.prefix(300))")
      }
    }, failed: { [self] error in
      lock.withLock { _ = started.remove(uid) }
      warn("sim: \(error)")
    })
  }

  /// A merge patch of the status a kubelet reports for a pod whose containers all started now.
  private func runningStatus(_ pod: JSON, uid: String, podIP: String, hostIP: String) -> JSON {
    let now = JSON.string(Timestamp.seconds(Date()))
    func condition(_ type: String) -> JSON {
      ["type": .string(type), "status": "True", "lastProbeTime": .null, "lastTransitionTime": now]
    }
    func statuses(_ key: String, _ state: JSON, ready: Bool) -> JSON {
      .array((pod[path: ["spec", key]]?.arrayValue ?? []).map { container in
        let name = container["name"]?.stringValue ?? ""
        let image = container["image"] ?? ""
        return ["name": .string(name), "state": state, "ready": .bool(ready), "restartCount": 0, "started": .bool(ready),
                "image": image, "imageID": .string("sim://\(uid)/\(name)"), "containerID": .string("sim://\(uid)/\(name)")]
      })
    }
    var status: JSON = [
      "phase": "Running",
      "conditions": [condition("PodReadyToStartContainers"), condition("Initialized"), condition("ContainersReady"),
                     condition("Ready"), condition("PodScheduled")],
      "podIP": .string(podIP), "podIPs": [["ip": .string(podIP)]],
      "hostIP": .string(hostIP), "hostIPs": [["ip": .string(hostIP)]],
      "startTime": now,
      "containerStatuses": statuses("containers", ["running": ["startedAt": now]], ready: true)]
    if pod[path: ["spec", "initContainers"]] != nil {
      // Init containers ran to completion before the others started.
      status["initContainerStatuses"] = statuses("initContainers", ["terminated": [
        "exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now]], ready: false)
    }
    return ["status": status]
  }
}
