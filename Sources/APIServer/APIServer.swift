// The Kubernetes API server: REST over the kernel's HTTP server, objects in the revisioned store.
// Everything runs on the kernel's loop: reads come from the store's memory, writes complete when
// durable, and each request is answered from the completion.
import FoundationEssentials
import Glibc
import HTTP
import Kernel
import ObjectModel
import Store

public final class APIServer: @unchecked Sendable {
  public let loop: EventLoop
  public let store: KeyValueStore
  public let catalog = ResourceCatalog()
  let log: KernelLog
  private var http: HTTPServer?
  /// What discovery tells clients to use, e.g. "127.0.0.1:6443".
  public private(set) var address = ""
  var watches: [ObjectIdentifier: WatchStream] = [:]
  /// More /metrics text from the control plane's other parts (the scheduler). Loop only.
  public var metricsSources: [() -> String] = []
  /// Answers /debug/scheduler/namespaces/NS/pods/NAME: the scheduler's last decision as JSON.
  public var schedulerExplanation: ((_ namespace: String, _ name: String) -> String?)?
  var clusterIPs = ClusterIPAllocator()
  var nodePorts = NodePortAllocator()
  let owners = OwnerIndex()
  /// Custom resources' field schemas from their CRDs, by "group/version/Kind". Loop only.
  var customSchemas: [String: FieldSchema] = [:]

  /// The Kubernetes version reported: its minor decides which kubectl the dispatcher runs.
  public static let kubernetesVersion = (major: 1, minor: 32, patch: 0)
  static let maxBodyBytes = 3 << 20

  public init(loop: EventLoop, store: KeyValueStore, log: KernelLog = KernelLog()) {
    self.loop = loop
    self.store = store
    self.log = log
  }

  // MARK: Lifecycle

  /// Creates the namespaces every cluster has, then listens. `ready` gets the bound port. Loop only.
  public func start(host: String, port: Int, ready: @escaping (Result<Int, any Error>) -> Void) {
    loop.preconditionInEventLoop()
    clusterIPs.load(from: store)
    nodePorts.load(from: store)
    loadCustomResources()
    do {
      try owners.start(store)
    } catch {
      return ready(.failure(error))
    }
    ensureNamespaces(["default", "kube-system", "kube-public", "kube-node-lease"]) { [self] failure in
      if let failure { return ready(.failure(failure)) }
      do {
        let server = HTTPServer(loop: loop, limits: HTTPLimits(maxBodyBytes: Self.maxBodyBytes)) { [self] request, responder in
          handle(request, responder)
        }
        let bound = try server.listen(host: host, port: port)
        http = server
        address = host.contains(":") ? "[\(host)]:\(bound)" : "\(host):\(bound)"
        ready(.success(bound))
      } catch {
        ready(.failure(error))
      }
    }
  }

  /// Stops listening and ends every watch. Loop only.
  public func stop() {
    for stream in watches.values { stream.end() }
    watches.removeAll()
    owners.stop(store)
    http?.close()
    http = nil
  }

  private func ensureNamespaces(_ names: [String], done: @escaping ((any Error)?) -> Void) {
    guard let name = names.first else { return done(nil) }
    let type = catalog.lookup(group: "", version: "v1", resource: "namespaces")!
    let key = type.key(namespace: nil, name: name)
    guard store.get(key) == nil else { return ensureNamespaces(Array(names.dropFirst()), done: done) }
    var namespace: JSON = ["apiVersion": "v1", "kind": "Namespace",
                           "metadata": ["name": .string(name), "uid": .string(StoredObject.newUID()),
                                        "creationTimestamp": .string(Age.now())]]
    _ = Admission.admit(type, &namespace, creating: true)
    store.create(key, value: StoredObject.encode(namespace)) { [self] result in
      if case .failure(let error) = result, error != .alreadyExists { return done(error) }
      ensureNamespaces(Array(names.dropFirst()), done: done)
    }
  }

  // MARK: Requests

  func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
    do throws(APIError) {
      switch try catalog.route(request.path) {
      case .version:
        let v = Self.kubernetesVersion
        send(responder, 200, ["major": .string("\(v.major)"), "minor": .string("\(v.minor)"),
                              "gitVersion": .string("v\(v.major).\(v.minor).\(v.patch)+skiff"),
                              "gitCommit": "", "gitTreeState": "clean", "buildDate": "1970-01-01T00:00:00Z",
                              "goVersion": "swift6", "compiler": "swift", "platform": "linux/amd64"])
      case .health:
        responder.respond(status: 200, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array("ok".utf8))
      case .schedulerExplanation(let namespace, let name):
        guard let text = schedulerExplanation?(namespace, name) else {
          throw APIError(404, "NotFound", "the scheduler has no decision about pod \(namespace)/\(name) (is it scheduled by default-scheduler, and does the profile load scheduler plugins?)")
        }
        responder.respond(status: 200, headers: [("Content-Type", "application/json")], body: Array(text.utf8))
      case .metrics:
        responder.respond(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")],
                          body: Array(metricsText().utf8))
      case .coreGroup:
        try discovery(request, responder, core: true)
      case .groups:
        try discovery(request, responder, core: false)
      case .group(let name):
        guard let group = catalog.groups.first(where: { $0.name == name && !name.isEmpty }) else {
          throw APIError.pathNotFound()
        }
        send(responder, 200, Discovery.group(name: group.name, versions: group.versions))
      case .groupVersion(let group, let version):
        guard let list = Discovery.resourceList(catalog, group: group, version: version) else {
          throw APIError.pathNotFound()
        }
        send(responder, 200, list)
      case .openAPIV2:
        if request.headers["Accept"]?.contains("protobuf") ?? false {
          responder.respond(status: 200, headers: [("Content-Type", OpenAPI.v2ProtobufContentType)],
                            body: OpenAPI.v2Protobuf)
        } else {
          send(responder, 200, OpenAPI.v2JSON)
        }
      case .openAPIIndex:
        send(responder, 200, OpenAPI.index(catalog))
      case .openAPIDocument(let groupVersion):
        guard let document = OpenAPI.document(catalog, groupVersion: groupVersion) else { throw APIError.pathNotFound() }
        send(responder, 200, document)
      case .resource(let target):
        try handleResource(request, target, responder)
      }
    } catch {
      fail(responder, error)
    }
  }

  private func discovery(_ request: HTTPRequest, _ responder: HTTPResponder, core: Bool) throws(APIError) {
    if let version = Discovery.aggregatedVersion(accept: request.headers["Accept"]) {
      send(responder, 200, Discovery.aggregated(catalog, core: core, version: version),
           contentType: Discovery.contentType(aggregated: version))
    } else {
      send(responder, 200, core ? Discovery.apiVersions(serverAddress: address) : Discovery.groupList(catalog))
    }
  }

  private func handleResource(_ request: HTTPRequest, _ target: ResourceRequest, _ responder: HTTPResponder)
    throws(APIError) {
    switch (request.method, target.name, target.subresource) {
    case ("GET", nil, _):
      let watching = ["true", "1"].contains(request.queryValue("watch") ?? "")
      if watching { try watch(request, target, responder) } else { try list(request, target, responder) }
    case ("GET", .some, nil), ("GET", .some, "status"):
      try get(request, target, responder)
    case ("GET", .some, "scale"):
      try getScale(target, responder)
    case ("GET", .some, "log"):
      try podLog(request, target, responder)
    case ("GET", .some, "exec"), ("POST", .some, "exec"):
      try podExec(request, target, responder)
    case ("GET", .some, "portforward"), ("POST", .some, "portforward"):
      try podPortForward(request, target, responder)
    case ("POST", nil, nil):
      try create(request, target, responder)
    case ("POST", .some, "binding"):
      try bind(request, target, responder)
    case ("POST", .some, "eviction"):
      try evict(request, target, responder)
    case ("PUT", .some, nil), ("PUT", .some, "status"), ("PUT", .some, "finalize"):
      try update(request, target, responder)
    case ("PUT", .some, "scale"), ("PATCH", .some, "scale"):
      try updateScale(request, target, responder)
    case ("PATCH", .some, nil), ("PATCH", .some, "status"):
      try patch(request, target, responder)
    case ("DELETE", .some, nil):
      try delete(request, target, responder)
    case ("DELETE", nil, nil):
      try deleteCollection(request, target, responder)
    default:
      throw APIError.methodNotAllowed("the server does not allow this method on the requested resource")
    }
  }

  // MARK: Responses

  func send(_ responder: HTTPResponder, _ code: Int, _ body: JSON, contentType: String = "application/json",
            headers: [(String, String)] = []) {
    responder.respond(status: code, headers: [("Content-Type", contentType)] + headers, body: body.serialized())
  }

  func fail(_ responder: HTTPResponder, _ error: APIError) {
    send(responder, error.code, error.status)
  }

  /// One object, or a one-row Table when the client asked for Tables.
  /// `headers` carries fieldValidation's warnings.
  func sendObject(_ responder: HTTPResponder, _ code: Int, _ object: JSON, _ type: ResourceType,
                  _ request: HTTPRequest, headers: [(String, String)] = []) {
    if Tables.wantsTable(accept: request.headers["Accept"]) {
      send(responder, code, Tables.table(type, [object], resourceVersion: object[path: ["metadata", "resourceVersion"]]?.stringValue),
           headers: headers)
    } else {
      send(responder, code, Conversion.present(object, as: type), headers: headers)
    }
  }

  /// `object` as stored in `kv`: its stored bytes with the resourceVersion spliced in when the
  /// client sees the object as stored, rather than printing it again.
  func sendStored(_ responder: HTTPResponder, _ code: Int, _ kv: KeyValue, _ object: JSON, _ type: ResourceType,
                  _ request: HTTPRequest, headers: [(String, String)] = []) {
    if !Tables.wantsTable(accept: request.headers["Accept"]), !Conversion.isV1Autoscaler(type),
       let bytes = StoredObject.withVersion(kv) {
      return responder.respond(status: code, headers: [("Content-Type", "application/json")] + headers, body: bytes)
    }
    sendObject(responder, code, StoredObject.stored(object, revision: kv.modRevision), type, request, headers: headers)
  }

  private func metricsText() -> String {
    var text = "# TYPE skiff_store_revision gauge\nskiff_store_revision \(store.currentRevision)\n"
    text += "# TYPE skiff_apiserver_watches gauge\nskiff_apiserver_watches \(watches.count)\n"
    for source in metricsSources { text += source() }
    return text
  }
}
