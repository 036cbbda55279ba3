// metadata.managedFields: which manager owns which fields. Every write records its manager's
// entry; server-side apply owns exactly its applied configuration, refuses to change fields
// other managers own (409 with one cause per field) unless forced, and removes the fields its
// manager stopped applying. Semantics follow Kubernetes' fieldmanager and structured-merge-diff.
import HTTP
import ObjectModel

struct FieldManager {
  let type: ResourceType
  /// nil for the main resource, else "status" or "scale".
  let subresource: String?
  let layout: FieldLayout

  init(_ type: ResourceType, subresource: String?) {
    self.type = type
    self.subresource = subresource
    layout = FieldLayout(kind: type.kind)
  }

  /// `?fieldManager=`, or else the User-Agent's product as Kubernetes derives it
  /// ("kubectl/v1.32.0 (linux/amd64)" → "kubectl"). Apply requires the parameter.
  static func manager(_ request: HTTPRequest, applying: Bool) throws(APIError) -> String {
    if let manager = request.queryValue("fieldManager"), !manager.isEmpty {
      guard manager.utf8.count <= 128, manager.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 }) else {
        throw APIError.badRequest("fieldManager: Invalid value: \"\(manager)\": must be at most 128 printable characters")
      }
      return manager
    }
    if applying { throw APIError.badRequest("PATCH requests with apply-patch+yaml content type must specify fieldManager") }
    let agent = request.headers["User-Agent"] ?? ""
    let product = agent.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
    let printable = String(product.unicodeScalars.filter { $0.isASCII && $0.value >= 0x20 }.prefix(128))
    return printable.isEmpty ? "unknown" : printable
  }

  // MARK: Entries

  struct Entry: Equatable {
    var manager: String
    var operation: String
    var apiVersion: String
    var time: String
    var fields: FieldSet
    var subresource: String?

    init(manager: String, operation: String, apiVersion: String, time: String, fields: FieldSet, subresource: String?) {
      (self.manager, self.operation, self.apiVersion, self.time, self.fields, self.subresource) =
        (manager, operation, apiVersion, time, fields, subresource)
    }

    init?(_ json: JSON) {
      guard let manager = json["manager"]?.stringValue else { return nil }
      self.manager = manager
      operation = json["operation"]?.stringValue ?? "Update"
      apiVersion = json["apiVersion"]?.stringValue ?? ""
      time = json["time"]?.stringValue ?? ""
      fields = FieldSet(fieldsV1: json["fieldsV1"] ?? [:])
      subresource = json["subresource"]?.stringValue
    }

    /// In ManagedFieldsEntry's field order.
    var json: JSON {
      var entry: JSON = ["manager": .string(manager), "operation": .string(operation),
                         "apiVersion": .string(apiVersion), "time": .string(time),
                         "fieldsType": "FieldsV1", "fieldsV1": fields.fieldsV1]
      if let subresource { entry["subresource"] = .string(subresource) }
      return entry
    }

    func isSame(_ manager: String, _ operation: String, _ subresource: String?) -> Bool {
      self.manager == manager && self.operation == operation && self.subresource == subresource
    }
  }

  /// A write that sets managedFields to one empty entry strips them all, as Kubernetes documents
  /// for clearing ownership; an empty list does not.
  static func clearsEntries(_ object: JSON) -> Bool {
    guard let entries = object[path: ["metadata", "managedFields"]]?.arrayValue, entries.count == 1 else { return false }
    return entries[0].objectValue?.isEmpty == true
  }

  static func entries(of object: JSON) -> [Entry] {
    (object[path: ["metadata", "managedFields"]]?.arrayValue ?? []).compactMap(Entry.init)
  }

  private static func store(_ entries: [Entry], in object: inout JSON) {
    let kept = entries.filter { $0.fields.hasMembers }
    object[path: ["metadata", "managedFields"]] = kept.isEmpty ? nil : .array(kept.map(\.json))
  }

  // MARK: What is tracked

  /// Fields no manager owns: identity and bookkeeping, and the half of the object that the
  /// other endpoint (main resource or status) writes.
  func tracked(_ object: JSON) -> JSON {
    var object = object
    object["apiVersion"] = nil
    object["kind"] = nil
    for field in ["name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "selfLink",
                  "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds"] {
      object[path: ["metadata", field]] = nil
    }
    switch subresource {
    case "status": return ["status": object["status"] ?? [:]]
    case "scale": return ["spec": ["replicas": object[path: ["spec", "replicas"]] ?? .null]]
    default:
      if type.subresources.contains("status") { object["status"] = nil }
      return object
    }
  }

  /// The object a create compares against: Go's zero value of the kind has these structs and
  /// lists already, so Kubernetes does not record them as members of the creator's fields.
  private func zeroValue(like object: JSON) -> JSON {
    var zero: JSON = ["metadata": [:]]
    guard PatchSchema.forKind(type.kind) != nil else { return zero }
    for path in Self.zeroValuePaths {
      switch object[path: path] {
      case .object?: zero[path: path] = [:]
      case .array?: zero[path: path] = []
      default: continue
      }
    }
    return zero
  }

  private static let zeroValuePaths: [[String]] = {
    let podSpec = ["containers"]
    let template = [["metadata"], ["spec"]] + [["spec"] + podSpec]
    let workload = [["spec"], ["spec", "strategy"], ["spec", "updateStrategy"], ["spec", "template"], ["status"]]
      + template.map { ["spec", "template"] + $0 }
    let cronJob = [["spec", "jobTemplate"], ["spec", "jobTemplate", "metadata"], ["spec", "jobTemplate", "spec"],
                   ["spec", "jobTemplate", "spec", "template"]]
      + template.map { ["spec", "jobTemplate", "spec", "template"] + $0 }
    return workload + cronJob + [["spec"] + podSpec]
  }()

  // MARK: Update

  /// Records a create, replace or patch by `manager`: it owns what it added or changed; fields it
  /// changed leave their previous owners; removed fields leave everyone.
  func recordUpdate(old: JSON?, new: inout JSON, manager: String, time: String) {
    guard let old else {
      let fields = layout.createdFieldsV1(tracked(new), zeroValue: zeroValue(like: new))
      guard fields.objectValue?.isEmpty == false else { return }
      let entry: JSON = ["manager": .string(manager), "operation": "Update", "apiVersion": .string(type.groupVersion),
                         "time": .string(time), "fieldsType": "FieldsV1", "fieldsV1": fields]
      new[path: ["metadata", "managedFields"]] = [entry]
      return
    }
    let comparison = layout.compare(tracked(old), tracked(new))
    var entries = Self.entries(of: old)
    if comparison.changed.isEmpty && comparison.removed.isEmpty { return Self.store(entries, in: &new) }
    for index in entries.indices {
      entries[index].fields = entries[index].fields.removingSubtrees(comparison.removed)
        .subtracting(comparison.changed)
    }
    let mine = comparison.changed
    if let index = entries.firstIndex(where: { $0.isSame(manager, "Update", subresource) }) {
      entries[index].fields = entries[index].fields.union(mine)
      entries[index].apiVersion = type.groupVersion
      entries[index].time = time
    } else {
      entries.append(Entry(manager: manager, operation: "Update", apiVersion: type.groupVersion, time: time,
                           fields: mine, subresource: subresource))
    }
    Self.store(entries, in: &new)
  }

  // MARK: Apply

  /// The fields an applied configuration sets, as this endpoint tracks them.
  func appliedFields(_ configuration: JSON) -> FieldSet {
    layout.applied(tracked(configuration))
  }

  /// The merged object without the fields `manager` applied before, applies no longer, and no
  /// other manager owns.
  func pruning(_ merged: JSON, live: JSON, applied: FieldSet, manager: String) -> JSON {
    let entries = Self.entries(of: live)
    guard let previous = entries.first(where: { $0.isSame(manager, "Apply", subresource) }) else { return merged }
    var others = FieldSet()
    for entry in entries where !entry.isSame(manager, "Apply", subresource) { others.formUnion(entry.fields) }
    let dropped = previous.fields.subtracting(applied).subtracting(others)
    return dropped.isEmpty ? merged : layout.removing(dropped, from: merged)
  }

  /// Records an apply of `applied` by `manager` that turned `old` (nil: a create) into `new`.
  /// Without `force`, a field another manager owns that the apply changes is a conflict.
  func recordApply(old: JSON?, new: inout JSON, applied: FieldSet, manager: String, force: Bool,
                   time: String) throws(APIError) {
    let before = old.map(tracked) ?? zeroValue(like: new)
    let comparison = layout.compare(before, tracked(new))
    var entries = old.map(Self.entries) ?? []
    let contested = comparison.changed.intersection(applied)
    var conflicts: [(manager: Entry, fields: [[String]])] = []
    for entry in entries where !entry.isSame(manager, "Apply", subresource) {
      let fields = contested.intersection(entry.fields).members
      if !fields.isEmpty { conflicts.append((entry, fields)) }
    }
    if !conflicts.isEmpty && !force { throw conflictError(conflicts) }
    if let index = entries.firstIndex(where: { $0.isSame(manager, "Apply", subresource) }),
       entries[index].fields == applied, comparison.changed.isEmpty, comparison.removed.isEmpty {
      return Self.store(entries, in: &new)
    }
    for index in entries.indices where !entries[index].isSame(manager, "Apply", subresource) {
      entries[index].fields = entries[index].fields.removingSubtrees(comparison.removed)
        .subtracting(comparison.changed)
    }
    if let index = entries.firstIndex(where: { $0.isSame(manager, "Apply", subresource) }) {
      entries[index].fields = applied
      entries[index].apiVersion = type.groupVersion
      entries[index].time = time
    } else {
      // Kubernetes lists appliers before updaters.
      let position = entries.firstIndex { $0.operation != "Apply" } ?? entries.endIndex
      entries.insert(Entry(manager: manager, operation: "Apply", apiVersion: type.groupVersion, time: time,
                           fields: applied, subresource: subresource), at: position)
    }
    Self.store(entries, in: &new)
  }

  /// 409 Conflict as Kubernetes words it, with one FieldManagerConflict cause per field.
  private func conflictError(_ conflicts: [(manager: Entry, fields: [[String]])]) -> APIError {
    var causes: [JSON] = []
    var lines: [String] = []
    for (entry, fields) in conflicts {
      let who = "\"\(entry.manager)\"" + (entry.apiVersion.isEmpty ? "" : " using \(entry.apiVersion)")
      lines.append(fields.count == 1 ? "conflict with \(who): \(FieldSet.describe(fields[0]))"
        : "conflicts with \(who):\n" + fields.map { "- " + FieldSet.describe($0) }.joined(separator: "\n"))
      for field in fields {
        causes.append(["reason": "FieldManagerConflict", "message": .string("conflict with \(who)"),
                       "field": .string(FieldSet.describe(field))])
      }
    }
    let count = causes.count
    let summary = "Apply failed with \(count) conflict\(count == 1 ? "" : "s"): " + lines.joined(separator: "\n")
    return APIError(409, "Conflict", summary, details: ["causes": .array(causes)])
  }
}
