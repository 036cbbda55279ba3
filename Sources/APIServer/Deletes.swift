// DELETE: DeleteOptions (preconditions, grace period, propagation policy), finalizers and
// deletionTimestamp, cascading to dependents through ownerReferences, and namespaces that empty
// themselves before they go.
import HTTP
import ObjectModel
import Store

extension APIServer {
  struct DeleteOptions {
    var propagation = "Background"
    var gracePeriodSeconds: Int64?
    var preconditionUID: String?
    var preconditionResourceVersion: String?

    init(_ request: HTTPRequest) throws(APIError) {
      if !request.body.isEmpty {
        let body = try RequestBody.json(request)
        propagation = body["propagationPolicy"]?.stringValue ?? (body["orphanDependents"]?.boolValue == true ? "Orphan" : propagation)
        gracePeriodSeconds = body["gracePeriodSeconds"]?.intValue
        preconditionUID = body[path: ["preconditions", "uid"]]?.stringValue
        preconditionResourceVersion = body[path: ["preconditions", "resourceVersion"]]?.stringValue
      }
      if let policy = request.queryValue("propagationPolicy") { propagation = policy }
      if let grace = request.queryValue("gracePeriodSeconds").flatMap({ Int64($0) }) { gracePeriodSeconds = grace }
      guard ["Background", "Foreground", "Orphan"].contains(propagation) else {
        throw APIError.badRequest("propagationPolicy: Unsupported value: \"\(propagation)\": supported values: "
          + "\"Background\", \"Foreground\", \"Orphan\"")
      }
    }
  }

  func delete(_ request: HTTPRequest, _ target: ResourceRequest, _ responder: HTTPResponder) throws(APIError) {
    let options = try DeleteOptions(request)
    let (kv, object) = try current(target)
    if let uid = options.preconditionUID, uid != object.uid {
      throw APIError(409, "Conflict", "Precondition failed: UID in precondition: \(uid), UID in object meta: \(object.uid ?? "")")
    }
    if let version = options.preconditionResourceVersion, version != String(kv.modRevision) {
      throw APIError(409, "Conflict", "Precondition failed: ResourceVersion in precondition: \(version), "
        + "ResourceVersion in object meta: \(kv.modRevision)")
    }
    if isDryRun(request) { return sendObject(responder, 200, object, target.type, request) }
    if target.type.kind == "Pod" && target.type.group.isEmpty,
       let grace = Self.gracefulPodDeletion(object, requested: options.gracePeriodSeconds) {
      return markPodTerminating(kv: kv, object: object, grace: grace) { [self] result in
        switch result {
        case .success(let marked): sendObject(responder, 200, marked, target.type, request)
        case .failure(let error): fail(responder, error)
        }
      }
    }
    deleteObject(target.type, kv: kv, object: object, propagation: options.propagation) { [self] result in
      switch result {
      case .success(let final): sendObject(responder, 200, final, target.type, request)
      case .failure(let error): fail(responder, error)
      }
    }
  }

  /// Deletes one object: marks it (deletionTimestamp) while finalizers remain, empties a
  /// namespace first, and takes its dependents along as the propagation policy says.
  func deleteObject(_ type: ResourceType, kv: KeyValue, object: JSON, propagation: String,
                    completion: @escaping (Result<JSON, APIError>) -> Void) {
    if type.kind == "Namespace" && type.group.isEmpty { return terminateNamespace(kv: kv, object: object, completion: completion) }
    guard let uid = object.uid else { return completion(.failure(APIError.internalError("object has no uid"))) }
    let dependents = self.dependents(of: uid)
    if propagation == "Orphan" {
      orphan(dependents, owner: uid)
    }
    if !object.finalizers.isEmpty {
      guard !object.isTerminating else { return completion(.success(object)) }
      var marked = object
      marked[path: ["metadata", "resourceVersion"]] = nil
      marked[path: ["metadata", "deletionTimestamp"]] = .string(Age.now())
      marked[path: ["metadata", "deletionGracePeriodSeconds"]] = 0
      return store.update(kv.key, value: StoredObject.encode(marked), expectedModRevision: kv.modRevision) { result in
        completion(result.map(StoredObject.decode).mapError { APIError.internalError($0.description) })
      }
    }
    let removeOwner = { [self] in
      store.delete(kv.key, expectedModRevision: nil) { result in
        switch result {
        case .success(let deleted):
          if propagation == "Background" { self.deleteDependents(dependents) {} }
          if type.kind == "CustomResourceDefinition" { self.stopServingCustomResource(object) }
          if type.kind == "Service" && type.group.isEmpty {
            self.clusterIPs.release(object)
            self.nodePorts.release(object)
          }
          completion(.success(StoredObject.decode(deleted)))
        case .failure(.notFound): completion(.failure(APIError.notFound(type, object.name)))
        case .failure(let error): completion(.failure(APIError.internalError(error.description)))
        }
      }
    }
    // Foreground: dependents go first, then the owner.
    if propagation == "Foreground" && !dependents.isEmpty {
      deleteDependents(dependents, then: removeOwner)
    } else {
      removeOwner()
    }
  }

  /// The grace period a pod gets before it goes, as Kubernetes' pod strategy decides; nil when it
  /// goes at once: not bound to a node (no agent would finish it), already Succeeded or Failed,
  /// or asked for with gracePeriodSeconds=0.
  static func gracefulPodDeletion(_ pod: JSON, requested: Int64?) -> Int64? {
    guard pod[path: ["spec", "nodeName"]]?.stringValue?.isEmpty == false else { return nil }
    let phase = pod[path: ["status", "phase"]]?.stringValue
    guard phase != "Succeeded" && phase != "Failed" else { return nil }
    let grace = requested ?? pod[path: ["spec", "terminationGracePeriodSeconds"]]?.intValue ?? 30
    return grace > 0 ? grace : nil
  }

  /// Marks a pod Terminating for its node's agent, which stops its containers and then deletes it
  /// with gracePeriodSeconds=0. A second delete may shorten the grace, never lengthen it.
  private func markPodTerminating(kv: KeyValue, object: JSON, grace: Int64,
                                  completion: @escaping (Result<JSON, APIError>) -> Void) {
    if object.isTerminating, let current = object[path: ["metadata", "deletionGracePeriodSeconds"]]?.intValue,
       current <= grace {
      return completion(.success(object))
    }
    var marked = object
    marked[path: ["metadata", "resourceVersion"]] = nil
    if !object.isTerminating { marked[path: ["metadata", "deletionTimestamp"]] = .string(Age.now()) }
    marked[path: ["metadata", "deletionGracePeriodSeconds"]] = .int(grace)
    store.update(kv.key, value: StoredObject.encode(marked), expectedModRevision: kv.modRevision) { result in
      switch result {
      case .success(let kv): completion(.success(StoredObject.decode(kv)))
      case .failure(.conflict(_)): completion(.failure(APIError(409, "Conflict", "the pod changed while it was being deleted; try again")))
      case .failure(let error): completion(.failure(APIError.internalError(error.description)))
      }
    }
  }

  /// Objects that name `uid` among their ownerReferences, from the owner index.
  func dependents(of uid: String) -> [(ResourceType, KeyValue)] {
    owners.keys(ownedBy: uid).sorted().compactMap { key in
      guard let kv = store.get(key), let type = catalog.storedType(forKey: key) else { return nil }
      return (type, kv)
    }
  }

  private func deleteDependents(_ dependents: [(ResourceType, KeyValue)], then done: @escaping () -> Void) {
    guard let (type, kv) = dependents.first else { return done() }
    let object = StoredObject.decode(kv)
    deleteObject(type, kv: kv, object: object, propagation: "Background") { [self] _ in
      deleteDependents(Array(dependents.dropFirst()), then: done)
    }
  }

  private func orphan(_ dependents: [(ResourceType, KeyValue)], owner uid: String) {
    for (_, kv) in dependents {
      var object = StoredObject.decode(kv)
      let owners = (object[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).filter { $0["uid"]?.stringValue != uid }
      object[path: ["metadata", "ownerReferences"]] = owners.isEmpty ? nil : .array(owners)
      store.update(kv.key, value: StoredObject.encode(object), expectedModRevision: nil) { _ in }
    }
  }

  /// A namespace goes Terminating, its contents are deleted, then it goes.
  private func terminateNamespace(kv: KeyValue, object: JSON, completion: @escaping (Result<JSON, APIError>) -> Void) {
    var terminating = object
    terminating[path: ["metadata", "resourceVersion"]] = nil
    if !object.isTerminating { terminating[path: ["metadata", "deletionTimestamp"]] = .string(Age.now()) }
    terminating[path: ["status", "phase"]] = "Terminating"
    store.update(kv.key, value: StoredObject.encode(terminating), expectedModRevision: nil) { [self] result in
      switch result {
      case .success(let marked):
        completion(.success(StoredObject.decode(marked)))
        emptyNamespace(object.name) {
          self.store.delete(kv.key, expectedModRevision: nil) { _ in }
        }
      case .failure(let error): completion(.failure(APIError.internalError(error.description)))
      }
    }
  }

  private func emptyNamespace(_ namespace: String, then done: @escaping () -> Void) {
    var contents: [(ResourceType, KeyValue)] = []
    for type in catalog.types where type.namespaced {
      contents += store.list(prefix: "\(type.keyPrefix)\(namespace)/", limit: 0).items.map { (type, $0) }
    }
    deleteDependents(contents, then: done)
  }

  func deleteCollection(_ request: HTTPRequest, _ target: ResourceRequest, _ responder: HTTPResponder) throws(APIError) {
    let filter = try ObjectFilter(request)
    let options = try DeleteOptions(request)
    let prefix = target.type.keyPrefix + (target.namespace.map { "\($0)/" } ?? "")
    let matching = store.list(prefix: prefix, limit: 0).items.filter { filter.matches(StoredObject.decode($0)) }
    var deleted: [JSON] = []
    func next(_ rest: ArraySlice<KeyValue>) {
      guard let kv = rest.first else {
        return send(responder, 200, ["kind": .string(target.type.listKind), "apiVersion": .string(target.type.groupVersion),
                                     "metadata": ["resourceVersion": .string(String(store.currentRevision))],
                                     "items": .array(deleted)])
      }
      deleteObject(target.type, kv: kv, object: StoredObject.decode(kv), propagation: options.propagation) { result in
        if case .success(let object) = result { deleted.append(object) }
        next(rest.dropFirst())
      }
    }
    next(matching[...])
  }
}
