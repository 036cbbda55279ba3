// Create, replace, patch and the subresources that write (status, scale, binding, eviction).
// Each write is admitted (defaulted and validated), then committed with the store's optimistic
// concurrency; the client is answered when the write is durable.
import FoundationEssentials
import Glibc
import HTTP
import Kernel
import ObjectModel
import Store

extension APIServer {
  // MARK: Create

  func create(_ request: HTTPRequest, _ target: ResourceRequest, _ responder: HTTPResponder) throws(APIError) {
    let type = target.type
    let applying = contentType(request) == "application/apply-patch+yaml"
    let manager = try FieldManager.manager(request, applying: applying)
    var repeatedFields: [String] = []
    var body = try RequestBody.object(request, expecting: type, repeatedFields: &repeatedFields)
    let warnings = try validateFields(request, &body, type, repeatedFields: repeatedFields)
    var object = Conversion.toStorage(body, from: type)
    let submitted = object
    let namespace = try namespaceOf(target, object)
    var name = object.name
    if name.isEmpty, let prefix = object[path: ["metadata", "generateName"]]?.stringValue, !prefix.isEmpty {
      name = prefix + StoredObject.randomSuffix()
    }
    guard !name.isEmpty else {
      throw APIError.invalid(type, "", [APIError.Cause(reason: "FieldValueRequired", field: "metadata.name",
                                                       message: "Required value: name or generateName is required")])
    }
    object[path: ["metadata", "name"]] = .string(name)
    if let namespace { object[path: ["metadata", "namespace"]] = .string(namespace) }
    for field in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"] {
      object[path: ["metadata", field]] = nil
    }
    object[path: ["metadata", "uid"]] = .string(StoredObject.newUID())
    object[path: ["metadata", "creationTimestamp"]] = .string(Age.now())
    if object["spec"] != nil { object[path: ["metadata", "generation"]] = 1 }
    var causes = Admission.nameCauses(type, name) + Admission.admit(type, &object, creating: true)
    let service = type.kind == "Service" && type.group.isEmpty
    if service && causes.isEmpty && !isDryRun(request) {
      // Each allocator takes nothing when it refuses; a refused node port gives the IP back.
      if let problem = clusterIPs.assign(&object) {
        causes.append(problem)
      } else if let problem = nodePorts.assign(&object) {
        clusterIPs.release(object)
        causes.append(problem)
      }
    }
    guard causes.isEmpty else { throw APIError.invalid(type, name, causes) }
    let fields = FieldManager(type, subresource: nil)
    if applying {
      try fields.recordApply(old: nil, new: &object, applied: fields.appliedFields(submitted), manager: manager,
                             force: true, time: Age.now())
    } else {
      fields.recordUpdate(old: nil, new: &object, manager: manager, time: Age.now())
    }
    // Addresses taken for a Service that is not stored after all go back.
    let releaseAddresses = { [self] (object: JSON) in
      guard service else { return }
      clusterIPs.release(object)
      nodePorts.release(object)
    }
    if isDryRun(request) { return sendObject(responder, 201, object, type, request, headers: warnings) }

    let created = object
    let bytes = StoredObject.encode(created)
    store.create(type.key(namespace: namespace, name: name), value: bytes) { [self] result in
      switch result {
      case .success(let kv):
        if type.kind == "CustomResourceDefinition" {
          serveCustomResource(StoredObject.stored(created, revision: kv.modRevision))
        }
        sendStored(responder, 201, kv, created, type, request, headers: warnings)
      case .failure(.alreadyExists):
        releaseAddresses(object)
        fail(responder, APIError.alreadyExists(type, name))
      case .failure(let error):
        releaseAddresses(object)
        fail(responder, APIError.internalError(error.description))
      }
    }
  }

  /// The namespace a write goes to: the path's, which the body must not contradict, and which
  /// must exist and not be terminating.
  func namespaceOf(_ target: ResourceRequest, _ object: JSON) throws(APIError) -> String? {
    guard target.type.namespaced else { return nil }
    guard let namespace = target.namespace else {
      throw APIError.badRequest("the server could not find the requested resource: a namespace is required")
    }
    if let declared = object.namespace, !declared.isEmpty, declared != namespace {
      throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
    }
    let namespaces = catalog.lookup(group: "", version: "v1", resource: "namespaces")!
    guard let kv = store.get(namespaces.key(namespace: nil, name: namespace)) else {
      throw APIError.namespaceNotFound(namespace)
    }
    if StoredObject.mayBeTerminating(kv), StoredObject.decode(kv).isTerminating {
      throw APIError(403, "Forbidden", "\(target.type.qualifiedName) \"\(object.name)\" is forbidden: unable to create "
        + "new content in namespace \(namespace) because it is being terminated")
    }
    return namespace
  }

  func isDryRun(_ request: HTTPRequest) -> Bool { request.query.contains { $0.0 == "dryRun" && $0.1 == "All" } }

  func contentType(_ request: HTTPRequest) -> String {
    (request.headers["Content-Type"] ?? "").split(separator: ";").first.map { String($0).trimmingSpaces } ?? ""
  }

  /// What the field manager tracks a write to `target` as: its status, or the main resource.
  func fieldManager(_ target: ResourceRequest) -> FieldManager {
    FieldManager(target.type, subresource: target.subresource == "status" ? "status" : nil)
  }

  // MARK: Replace

  func update(_ request: HTTPRequest, _ target: ResourceRequest, _ responder: HTTPResponder) throws(APIError) {
    var repeatedFields: [String] = []
    var body = try RequestBody.object(request, expecting: target.type, repeatedFields: &repeatedFields)
    let warnings = try validateFields(request, &body, target.type, repeatedFields: repeatedFields)
    let incoming = Conversion.toStorage(body, from: target.type)
    let name = target.name ?? ""
    guard incoming.name == name else {
      throw APIError.badRequest("the name of the object (\(incoming.name)) does not match the name on the URL (\(name))")
    }
    let (kv, old) = try current(target)
    if let version = incoming[path: ["metadata", "resourceVersion"]]?.stringValue, !version.isEmpty,
       version != String(kv.modRevision) {
      throw APIError.conflict(target.type, name)
    }
    let manager = try FieldManager.manager(request, applying: false)
    var updated = try prepareUpdate(target, old: old, new: incoming)
    if FieldManager.clearsEntries(incoming) {
      updated[path: ["metadata", "managedFields"]] = nil
    } else {
      fieldManager(target).recordUpdate(old: old, new: &updated, manager: manager, time: Age.now())
    }
    commit(target, kv: kv, old: old, new: updated, dryRun: isDryRun(request)) { [self] result in
      switch result {
      case .success(let stored): sendObject(responder, 200, stored, target.type, request, headers: warnings)
      // A write between our read and the commit: Kubernetes answers 409 for PUT.
      case .failure(.conflict): fail(responder, APIError.conflict(target.type, name))
      case .failure(.failed(let error)): fail(responder, error)
      }
    }
  }

  /// The object to store when `new` replaces `old` through `target` (the main resource, its
  /// status, or a namespace's finalize): server-owned fields stay, the other half stays.
  func prepareUpdate(_ target: ResourceRequest, old: JSON, new: JSON) throws(APIError) -> JSON {
    let type = target.type
    var updated: JSON
    switch target.subresource {
    case "status":
      updated = old
      updated["status"] = new["status"]
    case "finalize":
      updated = old
      updated[path: ["spec", "finalizers"]] = new[path: ["spec", "finalizers"]]
    default:
      updated = new
      if type.subresources.contains("status") { updated["status"] = old["status"] }
      for field in ["uid", "creationTimestamp", "namespace", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
        updated[path: ["metadata", field]] = old[path: ["metadata", field]]
      }
      if let generation = old[path: ["metadata", "generation"]]?.intValue, old["spec"] != updated["spec"] {
        updated[path: ["metadata", "generation"]] = .int(generation + 1)
      }
    }
    updated[path: ["metadata", "resourceVersion"]] = nil
    if updated["apiVersion"] == nil { updated["apiVersion"] = .string(type.groupVersion) }
    if updated["kind"] == nil { updated["kind"] = .string(type.kind) }
    let causes = Admission.admit(type, &updated, creating: false)
    guard causes.isEmpty else { throw APIError.invalid(type, old.name, causes) }
    return updated
  }

  enum CommitFailure: Error { case conflict, failed(APIError) }

  /// Stores `new` over `old` unless nothing changed (then answers `old` untouched, same
  /// resourceVersion, as kubectl's no-op detection expects); an object whose last finalizer is
  /// gone while it is being deleted is deleted. `.conflict` means `kv` was stale.
  func commit(_ target: ResourceRequest, kv: KeyValue, old: JSON, new: JSON, dryRun: Bool,
              completion: @escaping (Result<JSON, CommitFailure>) -> Void) {
    var unchanged = old
    unchanged[path: ["metadata", "resourceVersion"]] = nil
    if unchanged == new { return completion(.success(old)) }
    if dryRun {
      var preview = new
      preview[path: ["metadata", "resourceVersion"]] = .string(String(kv.modRevision))
      return completion(.success(preview))
    }
    let deleting = new.isTerminating && new.finalizers.isEmpty
    let finish: (Result<KeyValue, StoreError>) -> Void = { result in
      switch result {
      // An update stored `new`; a delete answers with the value it removed.
      case .success(let stored) where deleting: completion(.success(StoredObject.decode(stored)))
      case .success(let stored): completion(.success(StoredObject.stored(new, revision: stored.modRevision)))
      case .failure(.conflict): completion(.failure(.conflict))
      case .failure(.notFound): completion(.failure(.failed(APIError.notFound(target.type, old.name))))
      case .failure(let error): completion(.failure(.failed(APIError.internalError(error.description))))
      }
    }
    if deleting {
      store.delete(kv.key, expectedModRevision: kv.modRevision, completion: finish)
    } else {
      store.update(kv.key, value: StoredObject.encode(new), expectedModRevision: kv.modRevision, completion: finish)
    }
  }

  // MARK: Patch

  func patch(_ request: HTTPRequest, _ target: ResourceRequest, _ responder: HTTPResponder,
             attempt: Int = 0) throws(APIError) {
    let mediaType = contentType(request)
    let applying = mediaType == "application/apply-patch+yaml"
    let manager = try FieldManager.manager(request, applying: applying)
    let force = request.queryValue("force") == "true"
    if force && !applying { throw APIError.badRequest("force: Invalid value: true: may not be specified for non-apply patch") }
    let name = target.name ?? ""
    guard let kv = store.get(target.type.key(namespace: target.namespace, name: name)) else {
      // Server-side apply creates what does not exist yet.
      if applying { return try create(request, target, responder) }
      throw APIError.notFound(target.type, name)
    }
    let old = StoredObject.decode(kv)
    var presented = try Patches.apply(mediaType, body: request.body, to: Conversion.present(old, as: target.type),
                                      type: target.type)
    let warnings = try validateFields(request, &presented, target.type)
    var patched = Conversion.toStorage(presented, from: target.type)
    let fields = fieldManager(target)
    var applied = FieldSet()
    if applying {
      var configuration = try RequestBody.object(request, expecting: target.type)
      if let schema = fieldSchema(target.type) {
        var unknown: [String] = []
        FieldValidation.prune(&configuration, schema, path: "", unknown: &unknown)
      }
      applied = fields.appliedFields(Conversion.toStorage(configuration, from: target.type))
      patched = fields.pruning(patched, live: old, applied: applied, manager: manager)
    }
    if let version = patched[path: ["metadata", "resourceVersion"]]?.stringValue, version != String(kv.modRevision) {
      throw APIError.conflict(target.type, name)
    }
    guard patched.name == name else {
      throw APIError.badRequest("the name of the object (\(patched.name)) does not match the name on the URL (\(name))")
    }
    var updated = try prepareUpdate(target, old: old, new: patched)
    if applying {
      try fields.recordApply(old: old, new: &updated, applied: applied, manager: manager, force: force, time: Age.now())
    } else if FieldManager.clearsEntries(patched) {
      updated[path: ["metadata", "managedFields"]] = nil
    } else {
      fields.recordUpdate(old: old, new: &updated, manager: manager, time: Age.now())
    }
    commit(target, kv: kv, old: old, new: updated, dryRun: isDryRun(request)) { [self] result in
      switch result {
      case .success(let stored): sendObject(responder, 200, stored, target.type, request, headers: warnings)
      case .failure(.conflict):
        // A patch carries no resourceVersion of its own: re-read and re-apply, as Kubernetes does.
        guard attempt < 5 else { return fail(responder, APIError.conflict(target.type, name)) }
        do throws(APIError) { try patch(request, target, responder, attempt: attempt + 1) } catch { fail(responder, error) }
      case .failure(.failed(let error)): fail(responder, error)
      }
    }
  }

  // MARK: Scale

  func updateScale(_ request: HTTPRequest, _ target: ResourceRequest, _ responder: HTTPResponder) throws(APIError) {
    let manager = try FieldManager.manager(request, applying: false)
    let (kv, old) = try current(target)
    let scale = Self.scale(of: old)
    let requested: JSON
    if request.method == "PUT" {
      requested = try RequestBody.json(request)
    } else {
      let contentType = (request.headers["Content-Type"] ?? "").split(separator: ";").first.map(String.init) ?? ""
      requested = try Patches.apply(contentType, body: request.body, to: scale, type: target.type, schemaKind: "Scale")
    }
    guard let replicas = requested[path: ["spec", "replicas"]]?.intValue, replicas >= 0 else {
      throw APIError.invalid(target.type, old.name, [APIError.Cause(reason: "FieldValueInvalid", field: "spec.replicas",
                                                                    message: "Invalid value: must be greater than or equal to 0")])
    }
    var updated = old
    updated[path: ["spec", "replicas"]] = .int(replicas)
    updated = try prepareUpdate(ResourceRequest(type: target.type, namespace: target.namespace, name: target.name,
                                                subresource: nil), old: old, new: updated)
    FieldManager(target.type, subresource: "scale").recordUpdate(old: old, new: &updated, manager: manager, time: Age.now())
    commit(target, kv: kv, old: old, new: updated, dryRun: isDryRun(request)) { [self] result in
      switch result {
      case .success(let stored): send(responder, 200, Self.scale(of: stored))
      case .failure(.conflict): fail(responder, APIError.conflict(target.type, old.name))
      case .failure(.failed(let error)): fail(responder, error)
      }
    }
  }

  // MARK: Pods

  /// pods/binding: the scheduler's way of setting spec.nodeName, once.
  func bind(_ request: HTTPRequest, _ target: ResourceRequest, _ responder: HTTPResponder) throws(APIError) {
    let binding = try RequestBody.json(request)
    guard let node = binding[path: ["target", "name"]]?.stringValue, !node.isEmpty else {
      throw APIError.invalid(target.type, target.name ?? "", [APIError.Cause(reason: "FieldValueRequired",
                                                                             field: "target.name", message: "Required value")])
    }
    bindPod(namespace: target.namespace ?? "", name: target.name ?? "", node: node) { [self] result in
      switch result {
      case .success: send(responder, 201, ["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Success", "code": 201])
      case .failure(let error): fail(responder, error)
      }
    }
  }

  /// Sets spec.nodeName and PodScheduled=True, once: what pods/binding does, for the scheduler
  /// in this process as for clients. Loop only.
  public func bindPod(namespace: String, name: String, node: String,
                      completion: @escaping (Result<Void, APIError>) -> Void) {
    let pods = catalog.lookup(group: "", version: "v1", resource: "pods")!
    guard let kv = store.get(pods.key(namespace: namespace, name: name)) else {
      return completion(.failure(APIError.notFound(pods, name)))
    }
    // Read without field ownership, which binding leaves as it is.
    let old = StoredObject.decodeWithoutFieldOwnership(kv)
    if let bound = old[path: ["spec", "nodeName"]]?.stringValue, !bound.isEmpty {
      return completion(.failure(APIError(409, "Conflict", "Operation cannot be fulfilled on pods/binding \"\(name)\": "
        + "pod \(name) is already assigned to node \"\(bound)\"")))
    }
    var scheduled = JSON.object([:])
    Self.setCondition(&scheduled, type: "PodScheduled", status: "True", reason: nil, message: nil)
    let value: [UInt8]
    // A pod with neither a node nor conditions yet, as the scheduler finds nearly every pod: the
    // two members go into the stored bytes, which are not parsed whole and printed again.
    if old[path: ["spec", "nodeName"]] == nil, old["status"]?.objectValue?["conditions"] == nil,
       let placed = JSON.splicing("nodeName", .string(node), into: "spec", of: kv.value),
       let spliced = JSON.splicing("conditions", scheduled[path: ["status", "conditions"]]!, into: "status", of: placed) {
      value = spliced
    } else {
      var updated = StoredObject.decode(kv)
      updated[path: ["metadata", "resourceVersion"]] = nil
      updated[path: ["spec", "nodeName"]] = .string(node)
      Self.setCondition(&updated, type: "PodScheduled", status: "True", reason: nil, message: nil)
      value = StoredObject.encode(updated)
    }
    store.update(kv.key, value: value, expectedModRevision: kv.modRevision) { [self] result in
      switch result {
      case .success:
        recordEvent(about: old, type: "Normal", reason: "Scheduled",
                    message: "Successfully assigned \(namespace)/\(name) to \(node)", component: "default-scheduler")
        completion(.success(()))
      case .failure(.conflict): completion(.failure(APIError.conflict(pods, name)))
      case .failure(let error): completion(.failure(APIError.internalError(error.description)))
      }
    }
  }

  /// PodScheduled=False (reason Unschedulable) with the scheduler's explanation, and a
  /// FailedScheduling event, as kube-scheduler reports a pod that fits nowhere. Loop only.
  public func reportUnschedulable(namespace: String, name: String, message: String) {
    let pods = catalog.lookup(group: "", version: "v1", resource: "pods")!
    guard let kv = store.get(pods.key(namespace: namespace, name: name)) else { return }
    var pod = StoredObject.decode(kv)
    let original = pod
    pod[path: ["metadata", "resourceVersion"]] = nil
    Self.setCondition(&pod, type: "PodScheduled", status: "False", reason: "Unschedulable", message: message)
    store.update(kv.key, value: StoredObject.encode(pod), expectedModRevision: kv.modRevision) { _ in }
    recordEvent(about: original, type: "Warning", reason: "FailedScheduling", message: message,
                component: "default-scheduler")
  }

  /// Deletes a pod preempted to make room for `preemptor`, with a Preempted event as Kubernetes
  /// records it. Loop only.
  public func preemptPod(namespace: String, name: String, preemptor: String, node: String) {
    let pods = catalog.lookup(group: "", version: "v1", resource: "pods")!
    guard let kv = store.get(pods.key(namespace: namespace, name: name)) else { return }
    let victim = StoredObject.decode(kv)
    recordEvent(about: victim, type: "Normal", reason: "Preempted",
                message: "Preempted by pod \(namespace)/\(preemptor) on node \(node)", component: "default-scheduler")
    deleteObject(pods, kv: kv, object: victim, propagation: "Background") { _ in }
  }

  /// status.nominatedNodeName: where a preempting pod is expected to go once its victims are gone.
  public func nominatePod(namespace: String, name: String, node: String) {
    let pods = catalog.lookup(group: "", version: "v1", resource: "pods")!
    guard let kv = store.get(pods.key(namespace: namespace, name: name)) else { return }
    var pod = StoredObject.decode(kv)
    pod[path: ["metadata", "resourceVersion"]] = nil
    pod[path: ["status", "nominatedNodeName"]] = .string(node)
    store.update(kv.key, value: StoredObject.encode(pod), expectedModRevision: kv.modRevision) { _ in }
  }

  private static func setCondition(_ object: inout JSON, type: String, status: String, reason: String?, message: String?) {
    var conditions = (object[path: ["status", "conditions"]]?.arrayValue ?? []).filter { $0["type"]?.stringValue != type }
    var condition: JSON = ["type": .string(type), "status": .string(status), "lastProbeTime": .null,
                           "lastTransitionTime": .string(Age.now())]
    if let reason { condition["reason"] = .string(reason) }
    if let message { condition["message"] = .string(message) }
    conditions.append(condition)
    object[path: ["status", "conditions"]] = .array(conditions)
  }

  /// A core/v1 Event about `object` in its namespace, as `kubectl describe` lists them.
  public func recordEvent(about object: JSON, type: String, reason: String, message: String, component: String) {
    let events = catalog.lookup(group: "", version: "v1", resource: "events")!
    let namespace = object.namespace ?? "default"
    // Named as Kubernetes names them, by the clock in nanoseconds (hex): no random number to draw.
    var clock = timespec()
    clock_gettime(CLOCK_REALTIME, &clock)
    let name = "\(object.name).\(String(UInt64(clock.tv_sec) &* 1_000_000_000 &+ UInt64(clock.tv_nsec), radix: 16))"
    let now = Age.now()
    let event: JSON = [
      "apiVersion": "v1", "kind": "Event",
      "metadata": ["name": .string(name), "namespace": .string(namespace), "uid": .string(StoredObject.newUID()),
                   "creationTimestamp": .string(now)],
      "involvedObject": ["apiVersion": object["apiVersion"] ?? "v1", "kind": object["kind"] ?? "Pod",
                         "namespace": .string(namespace), "name": .string(object.name), "uid": .string(object.uid ?? "")],
      "type": .string(type), "reason": .string(reason), "message": .string(message),
      "source": ["component": .string(component)], "reportingComponent": .string(component),
      "firstTimestamp": .string(now), "lastTimestamp": .string(now), "count": 1,
    ]
    // Printed as is: it has no resourceVersion to strip (StoredObject.encode would copy it to try).
    store.create(events.key(namespace: namespace, name: name), value: event.serialized()) { _ in }
  }

  /// pods/eviction: a delete that disruption budgets may refuse (they are checked once the
  /// disruption controller exists; until then every eviction is allowed).
  func evict(_ request: HTTPRequest, _ target: ResourceRequest, _ responder: HTTPResponder) throws(APIError) {
    _ = try RequestBody.json(request)
    let (kv, _) = try current(target)
    store.delete(kv.key, expectedModRevision: nil) { [self] result in
      switch result {
      case .success: send(responder, 201, ["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Success", "code": 201])
      case .failure(.notFound): fail(responder, APIError.notFound(target.type, target.name ?? ""))
      case .failure(let error): fail(responder, APIError.internalError(error.description))
      }
    }
  }
}
