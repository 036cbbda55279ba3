// The node agent (kubelet's role): registers its Node, keeps its Lease, watches the pods bound to
// it and runs them through the profile's runtime plugin, reporting their status back. It talks to
// the API server only over HTTP, so it runs the same in `skiff server` and as `skiff agent`.
import Glibc
import HTTP
import Kernel
import ObjectModel
import Synchronization
import SystemKit

public final class NodeAgent: @unchecked Sendable {
  public let settings: AgentSettings
  let kernel: Kernel
  let address: APIAddress
  /// The profile's runtime, for pods that name no RuntimeClass.
  let runtime: RuntimeCalls
  /// Every runtime the profile's plugins register, by the handler name a RuntimeClass gives.
  let runtimes: [String: RuntimeCalls]
  private(set) var facts: NodeFacts!
  /// The port the kubelet endpoints are served on, once started.
  public private(set) var port = 0
  private var logServer: HTTPServer?

  /// Pod events from the watch thread, applied by the sync thread in order.
  enum PodEvent { case changed(JSON), deleted(String), listed([JSON]) }
  let inbox = Mutex<[PodEvent]>([])
  let wake = WakeSignal()
  /// What the log endpoint needs to know of each container, published by the sync thread.
  let logIndex = Mutex<[String: ContainerLogs.Entry]>([:])
  /// Why a probe stopped a container, by container id, for its terminated state.
  let probeKills = Mutex<[String: String]>([:])

  // The sync thread's own state.
  var pods: [String: PodState] = [:]
  /// True once a list of the node's pods arrived: only then are unknown adopted pods orphans.
  var listed = false
  var nodeRegistered = false
  var leaseDue = 0.0
  /// Shared by the sync workers, each request on a connection of its own.
  let api: APIClient
  let journal: PodJournal
  let syncWorkers: SyncWorkers
  let leaseSeconds = 10.0

  public init(settings: AgentSettings, kernel: Kernel, server: APIAddress) throws(AgentSettingsError) {
    guard let runtime = kernel.extensions.runtime(named: settings.runtime) else {
      let known = kernel.extensions.runtimes.map(\.name)
      throw AgentSettingsError(description: "the agent needs runtime \"\(settings.runtime)\", which the profile's plugins do not "
        + "register (registered: \(known.isEmpty ? "none" : known.joined(separator: ", ")); add `- name: runtime` to plugins)")
    }
    self.settings = settings
    self.kernel = kernel
    self.address = server
    api = APIClient(server, timeoutSeconds: 5)
    journal = PodJournal(dataDir: settings.dataDir)
    syncWorkers = SyncWorkers(count: settings.podWorkers)
    runtimes = Dictionary(kernel.extensions.runtimes.map { ($0.name, RuntimeCalls(loop: kernel.loop, runtime: $0)) },
                          uniquingKeysWith: { first, _ in first })
    self.runtime = runtimes[runtime.name]!
  }

  /// Serves the kubelet endpoints and starts the agent's threads. Loop only.
  public func start() throws {
    kernel.loop.preconditionInEventLoop()
    let server = HTTPServer(loop: kernel.loop) { [self] request, responder in
      if request.path.hasPrefix("/exec/") {
        ContainerExec.serve(request, responder, agent: self)
      } else if request.path.hasPrefix("/portForward/") {
        PortForward.serve(request, responder, agent: self)
      } else {
        ContainerLogs.serve(request, responder, agent: self)
      }
    }
    port = try server.listen(host: settings.listenHost, port: settings.listenPort)
    logServer = server
    let internalIP = ["0.0.0.0", "::", ""].contains(settings.listenHost) ? NodeFacts.primaryIPv4() : settings.listenHost
    facts = NodeFacts(name: settings.nodeName, internalIP: internalIP, kubeletPort: port, dataDir: settings.dataDir)
    kernel.log.write(.info, "agent", "node \(settings.nodeName): kubelet endpoints on \(settings.listenHost):\(port)")
    startThread { [self] in syncLoop() }
    startThread { [self] in watchPods() }
  }

  /// Stops serving and calling the runtimes; containers keep running (a restarted agent
  /// re-adopts them). Loop only.
  public func stop() {
    runtimes.values.forEach { $0.close() }
    logServer?.close()
    logServer = nil
  }

  func warn(_ message: String) {
    kernel.log.write(.warn, "agent", message)
  }

  /// The runtime a pod asks for: its RuntimeClass's handler, or the profile's runtime.
  func runtime(for pod: JSON) throws -> RuntimeCalls {
    guard let className = pod[path: ["spec", "runtimeClassName"]]?.stringValue, !className.isEmpty else { return runtime }
    let answer = try api.get("/apis/node.k8s.io/v1/runtimeclasses/\(className)")
    guard answer.status == 200 else {
      throw ConnectionError("RuntimeClass \"\(className)\": \(answer.status == 404 ? "not found" : answer.message)")
    }
    let handler = answer.body["handler"]?.stringValue ?? ""
    guard let chosen = runtimes[handler] else {
      throw ConnectionError("RuntimeClass \"\(className)\" names handler \"\(handler)\", which no runtime plugin of this node registers "
        + "(registered: \(runtimes.keys.sorted().joined(separator: ", ")))")
    }
    return chosen
  }

  // MARK: Registration and heartbeat (sync thread)

  /// Creates the Node, or updates the status of one that exists (a restarted agent).
  func registerNode() {
    do {
      let node = facts.node(runtime: runtime.name)
      var answer = try api.request("POST", "/api/v1/nodes", body: node)
      if answer.status == 409 {
        answer = try api.mergePatch("/api/v1/nodes/\(facts.name)/status", ["status": node["status"]!])
      }
      guard answer.status == 200 || answer.status == 201 else {
        return warn("registering node \(facts.name): \(answer.message)")
      }
      nodeRegistered = true
    } catch {
      warn("registering node \(facts.name): \(error)")
    }
  }

  /// Renews the node's Lease in kube-node-lease, creating it the first time.
  func renewLease() {
    let path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/\(facts.name)"
    let spec: JSON = ["holderIdentity": .string(facts.name), "leaseDurationSeconds": 40,
                      "renewTime": .string(Clock.rfc3339(Clock.now(), fraction: true))]
    do {
      var answer = try api.mergePatch(path, ["spec": spec])
      if answer.status == 404 {
        answer = try api.request("POST", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", body: [
          "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
          "metadata": ["name": .string(facts.name), "namespace": "kube-node-lease"], "spec": spec])
      }
      if answer.status >= 300 { warn("renewing lease: \(answer.message)") }
    } catch {
      // The API server is away; pods keep running and the next renewal tries again.
    }
  }

  // MARK: The pod watch (its own thread)

  /// List, then watch from the list's revision; after an error resume, and after 410 list again.
  private func watchPods() {
    let selector = "fieldSelector=spec.nodeName%3D\(facts.name)"
    let client = APIClient(address)
    var resourceVersion: String?
    var failures = 0
    while true {
      do {
        if resourceVersion == nil {
          let list = try client.get("/api/v1/pods?\(selector)")
          guard list.status == 200 else { throw ConnectionError("listing pods: \(list.message)") }
          deliver(.listed(list.body["items"]?.arrayValue ?? []))
          resourceVersion = list.body[path: ["metadata", "resourceVersion"]]?.stringValue ?? "0"
        }
        // Watches are quiet for long; the server ends each within its timeout.
        let connection = try client.connect(timeoutSeconds: 360)
        try connection.send("GET", "/api/v1/pods?watch=true&\(selector)&allowWatchBookmarks=true"
                              + "&timeoutSeconds=300&resourceVersion=\(resourceVersion!)")
        let head = try connection.readHead()
        if head.status == 410 {
          resourceVersion = nil
          continue
        }
        guard head.status == 200, head.chunked else { throw ConnectionError("the pod watch answered \(head.status)") }
        failures = 0
        var pending: [UInt8] = []
        while case let chunk = try connection.readChunk(), !chunk.isEmpty {
          pending += chunk
          while let end = pending.firstIndex(of: 10) {
            let line = pending[..<end]
            defer { pending.removeFirst(end + 1) }
            guard !line.isEmpty, let event = try? JSON.parse(line) else { continue }
            let type = event["type"]?.stringValue ?? ""
            let object = event["object"] ?? [:]
            if type == "ERROR" {
              if object["code"]?.intValue == 410 { resourceVersion = nil }
              throw ConnectionError("the pod watch reported: \(object["message"]?.stringValue ?? "an error")")
            }
            if let version = object[path: ["metadata", "resourceVersion"]]?.stringValue { resourceVersion = version }
            switch type {
            case "ADDED", "MODIFIED": deliver(.changed(object))
            case "DELETED": deliver(.deleted(object.uid))
            default: break
            }
          }
        }
      } catch {
        failures += 1
        if failures > 1 && failures % 10 == 2 { warn("pod watch: \(error); retrying") }
        usleep(UInt32(min(100_000 * failures * failures, 2_000_000)))
      }
    }
  }

  private func deliver(_ event: PodEvent) {
    inbox.withLock { $0.append(event) }
    wake.raise()
  }
}
