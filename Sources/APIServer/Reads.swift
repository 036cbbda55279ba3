// GET of one object, of a collection (selectors, paging, Tables) and of the scale subresource.
import HTTP
import ObjectModel
import Store

extension APIServer {
  func get(_ request: HTTPRequest, _ target: ResourceRequest, _ responder: HTTPResponder) throws(APIError) {
    let object = try current(target).object
    sendObject(responder, 200, object, target.type, request)
  }

  /// The stored object a request names, or the 404 Kubernetes gives.
  func current(_ target: ResourceRequest) throws(APIError) -> (kv: KeyValue, object: JSON) {
    let name = target.name ?? ""
    guard let kv = store.get(target.type.key(namespace: target.namespace, name: name)) else {
      throw APIError.notFound(target.type, name)
    }
    return (kv, StoredObject.decode(kv))
  }

  func list(_ request: HTTPRequest, _ target: ResourceRequest, _ responder: HTTPResponder) throws(APIError) {
    let filter = try ObjectFilter(request)
    let limit = Int(request.queryValue("limit") ?? "") ?? 0
    var after = try request.queryValue("continue").map { token throws(APIError) in try ContinueToken.parse(token) }
    let prefix = target.type.keyPrefix + (target.namespace.map { "\($0)/" } ?? "")
    var items: [JSON] = []
    var lastKey: String?
    var more = false
    var revision = store.currentRevision
    // Pages of the store until `limit` objects match: limit counts what the client receives.
    scan: while true {
      let page = store.list(prefix: prefix, limit: 500, after: after)
      revision = page.revision
      for kv in page.items {
        if limit > 0 && items.count == limit { more = true; break scan }
        lastKey = kv.key
        let object = StoredObject.decode(kv)
        if filter.matches(object) { items.append(object) }
      }
      guard page.more, let last = page.items.last?.key else { break }
      after = last
    }
    let token = more ? lastKey.map { ContinueToken.make(after: $0, revision: revision) } : nil
    if Tables.wantsTable(accept: request.headers["Accept"]) {
      send(responder, 200, Tables.table(target.type, items, resourceVersion: String(revision), continueToken: token))
      return
    }
    var metadata: JSON = ["resourceVersion": .string(String(revision))]
    if let token { metadata["continue"] = .string(token) }
    send(responder, 200, ["kind": .string(target.type.listKind), "apiVersion": .string(target.type.groupVersion),
                          "metadata": metadata, "items": .array(items.map { Conversion.present($0, as: target.type) })])
  }

  func getScale(_ target: ResourceRequest, _ responder: HTTPResponder) throws(APIError) {
    send(responder, 200, Self.scale(of: try current(target).object))
  }

  static func scale(of object: JSON) -> JSON {
    var metadata = object["metadata"] ?? [:]
    for field in ["labels", "annotations", "managedFields", "ownerReferences", "finalizers", "generation"] {
      metadata[field] = nil
    }
    let selector = selectorString(object[path: ["spec", "selector"]])
    return ["kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": metadata,
            "spec": ["replicas": object[path: ["spec", "replicas"]] ?? 0],
            "status": ["replicas": object[path: ["status", "replicas"]] ?? 0, "selector": .string(selector)]]
  }

  static func selectorString(_ selector: JSON?) -> String {
    (selector?["matchLabels"]?.objectValue ?? [:]).map { "\($0.key)=\($0.value.stringValue ?? "")" }
      .joined(separator: ",")
  }
}

/// The label and field selectors of a list or watch.
struct ObjectFilter {
  let labels: LabelSelector
  let fields: FieldSelector?

  init(_ request: HTTPRequest) throws(APIError) {
    labels = try LabelSelector(parsing: request.queryValue("labelSelector") ?? "")
    let fieldText = request.queryValue("fieldSelector") ?? ""
    fields = fieldText.isEmpty ? nil : try FieldSelector(parsing: fieldText)
  }

  func matches(_ object: JSON) -> Bool {
    labels.matches(object.labels) && (fields?.matches(object) ?? true)
  }
}
