// Strategic merge patch, `application/strategic-merge-patch+json`: what `kubectl apply` and
// `kubectl patch` send by default. A merge patch whose lists can merge by key, with directives.
// Behaviour follows apimachinery's strategicpatch package as the API server runs it (merging
// parallel lists, dropping nulls that match nothing), including its order of list items.

public enum StrategicMergePatchError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The kind has no Go type to take patch rules from: a custom resource. Kubernetes answers
  /// 415 Unsupported Media Type and lists the patch types it does take.
  case unsupportedKind(String)
  /// The patch is malformed at `path` (dotted field names); Kubernetes answers 422.
  case invalidPatch(path: String, message: String)

  public var description: String {
    switch self {
    case .unsupportedKind(let kind):
      "strategic merge patch is not supported for \(kind) (custom resources take "
        + "application/json-patch+json, application/merge-patch+json or "
        + "application/apply-patch+yaml)"
    case .invalidPatch(let path, let message):
      path.isEmpty ? message : "\(path): \(message)"
    }
  }
}

public enum StrategicMergePatch {
  /// Applies `patch` to an object of a built-in `kind` (`Pod`, `Deployment`, ...).
  public static func apply(_ patch: JSON, to original: JSON, kind: String)
    throws(StrategicMergePatchError) -> JSON
  {
    guard let schema = PatchSchema.forKind(kind) else { throw .unsupportedKind(kind) }
    return try apply(patch, to: original, schema: schema)
  }

  public static func apply(_ patch: JSON, to original: JSON, schema: PatchSchema)
    throws(StrategicMergePatchError) -> JSON
  {
    guard case .object(let patchObject) = patch else {
      throw .invalidPatch(
        path: "", message: "a strategic merge patch must be an object, not \(patch.kindDescription)")
    }
    var result = original.objectValue ?? [:]
    try mergeObject(&result, with: patchObject, node: schema.root, path: "")
    return .object(result)
  }
}

// MARK: - Objects

private typealias Node = PatchSchema.Node

private enum Directive {
  static let patch = "$patch"
  static let retainKeys = "$retainKeys"
  static let setElementOrder = "$setElementOrder/"
  static let deleteFromPrimitiveList = "$deleteFromPrimitiveList/"
}

private func invalid(_ path: String, _ message: String) -> StrategicMergePatchError {
  .invalidPatch(path: path, message: message)
}

private func join(_ path: String, _ key: String) -> String {
  path.isEmpty ? key : path + "." + key
}

private func mergeObject(
  _ result: inout JSONObject, with patch: JSONObject, node: Node?, path: String
) throws(StrategicMergePatchError) {
  if let directive = patch[Directive.patch] {
    switch directive.stringValue {
    case "replace":
      var replacement = patch
      replacement.removeValue(forKey: Directive.patch)
      result = [:]
      try mergeObject(&result, with: replacement, node: node, path: path)
    case "delete":
      result = [:]
    default:
      // Kubernetes has no "$patch: merge" for maps either: merging is what a map does anyway.
      throw invalid(path, "unknown patch type \(directive) in map (expected replace or delete)")
    }
    return
  }

  if let retained = patch[Directive.retainKeys] {
    try retainKeys(retained, in: &result, patch: patch, path: path)
  }

  // Lists named by $setElementOrder merge first, then take the order it gives. A list the
  // original lacks waits to be added where the patch first names it, so that a new object's
  // keys come in the patch's order.
  var ordered: Set<String> = []
  var unplaced: [String: JSON] = [:]
  for (key, order) in patch where key.hasPrefix(Directive.setElementOrder) {
    let field = String(key.dropFirst(Directive.setElementOrder.count))
    ordered.insert(field)
    let list = try orderedList(
      order, of: field, in: result, patch: patch, node: node?.fields[field], path: join(path, field))
    guard let list else { continue }
    if result.contains(key: field) { result[field] = list } else { unplaced[field] = list }
  }
  func place(_ field: String) {
    if let list = unplaced.removeValue(forKey: field) { result[field] = list }
  }

  for (key, value) in patch {
    if key == Directive.retainKeys { continue }
    if key.hasPrefix(Directive.setElementOrder) {
      place(String(key.dropFirst(Directive.setElementOrder.count)))
      continue
    }
    if ordered.contains(key) {
      place(key)
      continue
    }
    if key.hasPrefix(Directive.deleteFromPrimitiveList) {
      let field = String(key.dropFirst(Directive.deleteFromPrimitiveList.count))
      place(field)
      try deleteFromList(field, value, in: &result, node: node?.fields[field], path: path)
      continue
    }
    if value.isNull {
      result.removeValue(forKey: key)
      continue
    }
    let child = node?.fields[key]
    let childPath = join(path, key)
    switch (result[key], value) {
    case (.object?, .object(let patchObject)):
      try result.modifyValue(forKey: key) { member throws(StrategicMergePatchError) in
        var object = member.takeObject()
        try mergeObject(&object, with: patchObject, node: child, path: childPath)
        member = .object(object)
      }
    case (.array(let list)?, .array(let patchList)):
      result[key] = .array(try mergeList(list, patchList, node: child, path: childPath))
    default:
      // Absent, of another type, or a scalar: the patch's value, directives and nulls resolved.
      result[key] = try fresh(value, node: child, path: childPath)
    }
  }
}

/// A patch value that meets nothing in the original: merged into nothing, so that its own
/// directives apply and its nulls drop out.
private func fresh(_ value: JSON, node: Node?, path: String) throws(StrategicMergePatchError)
  -> JSON
{
  switch value {
  case .object(let patchObject):
    var object = JSONObject()
    try mergeObject(&object, with: patchObject, node: node, path: path)
    return .object(object)
  case .array(let patchList):
    return .array(try mergeList([], patchList, node: node, path: path))
  default:
    return value
  }
}

/// `$retainKeys: [...]` clears every field of the original not listed; the patch itself may
/// only set listed fields.
private func retainKeys(
  _ retained: JSON, in result: inout JSONObject, patch: JSONObject, path: String
) throws(StrategicMergePatchError) {
  guard case .array(let list) = retained else {
    throw invalid(path, "$retainKeys must be a list of field names, not \(retained.kindDescription)")
  }
  let keep = Set(list.compactMap(\.stringValue))
  for (key, value) in patch
  where !value.isNull && key != Directive.retainKeys && !key.hasPrefix(Directive.setElementOrder)
    && !key.hasPrefix(Directive.deleteFromPrimitiveList) && !keep.contains(key)
  {
    throw invalid(path, "invalid patch format of retainKeys: '\(key)' is set but not retained")
  }
  result.removeAll { !keep.contains($0.key) }
}

/// `$deleteFromPrimitiveList/<field>: [...]` removes those values from a primitive list.
private func deleteFromList(
  _ field: String, _ value: JSON, in result: inout JSONObject, node: Node?, path: String
) throws(StrategicMergePatchError) {
  // As in Go, a null here removes the field itself, and a list missing from the original or of
  // another type is left alone.
  if value.isNull {
    result.removeValue(forKey: field)
    return
  }
  guard case .array(let list)? = result[field], case .array(let toDelete) = value else { return }
  result[field] = .array(
    try mergeList(list, toDelete, node: node, path: join(path, field), deleting: true))
}

/// `$setElementOrder/<field>: [...]` gives the order of the merged list: items it names come in
/// its order, and items only the original has keep their places relative to those. Returns the
/// merged, ordered list, or nil where neither the original nor the patch has the list.
private func orderedList(
  _ order: JSON, of field: String, in result: JSONObject, patch: JSONObject, node: Node?,
  path: String
) throws(StrategicMergePatchError) -> JSON? {
  guard case .array(let orderList) = order else {
    throw invalid(path, "invalid patch format of setElementOrder list: not a list")
  }
  let identity = ListIdentity(mergeKey: node?.rule?.mergeKey)
  var original: [JSON]?
  if let value = result[field] {
    guard case .array(let list) = value else {
      throw invalid(path, "$setElementOrder names \(value.kindDescription), not a list")
    }
    original = list
  }
  var patchList: [JSON]?
  if let value = patch[field] {
    guard case .array(let list) = value else {
      throw invalid(path, "$setElementOrder comes with \(value.kindDescription), not a list")
    }
    patchList = list
  }
  if let patchList { try checkOrder(patchList, against: orderList, identity: identity, path: path) }

  let merged: [JSON]
  switch (original, patchList) {
  case (let original?, nil): merged = original
  case (nil, let patchList?): merged = try mergeList([], patchList, node: node, path: path)
  case (let original?, let patchList?):
    merged = try mergeList(original, patchList, node: node, path: path)
  case (nil, nil): return nil
  }
  return .array(
    orderElements(merged, patchOrder: orderList, serverOrder: original ?? [], identity: identity))
}

/// Every item the patch list sets must appear in the order list, in the same relative order.
private func checkOrder(
  _ patchList: [JSON], against orderList: [JSON], identity: ListIdentity, path: String
) throws(StrategicMergePatchError) {
  let settings = patchList.filter { $0.objectValue?[Directive.patch]?.stringValue != "delete" }
  var next = settings.startIndex
  for item in orderList where next < settings.endIndex {
    if identity.of(item) == identity.of(settings[next]) { next += 1 }
  }
  guard next == settings.endIndex else {
    throw invalid(
      path, "the order in the patch list \(JSON.array(patchList)) doesn't match "
        + "$setElementOrder list \(JSON.array(orderList))")
  }
}

// MARK: - Lists

/// What makes two list items "the same item": the merge key's value for lists of objects, the
/// value itself for lists of primitives.
private struct ListIdentity {
  let mergeKey: String?

  func of(_ item: JSON) -> JSON? {
    guard let mergeKey else { return item }
    return item.objectValue?[mergeKey]
  }
}

private func mergeList(
  _ original: [JSON], _ patch: [JSON], node: Node?, path: String, deleting: Bool = false
) throws(StrategicMergePatchError) -> [JSON] {
  let rule = node?.rule
  guard deleting || rule?.strategy.contains(.merge) == true else {
    // Kubernetes' default for lists: the patch's list replaces the original's.
    return try patch.map { item throws(StrategicMergePatchError) in
      try fresh(item, node: node, path: path)
    }
  }
  if original.isEmpty && patch.isEmpty { return original }

  let objectCount = try elementKinds(original, patch, path: path)
  if objectCount == 0 {
    return mergePrimitives(original, patch, deleting: deleting)
  }
  guard let mergeKey = rule?.mergeKey else {
    throw invalid(path, "cannot merge lists of objects without a merge key")
  }
  return try mergeObjects(original, patch, mergeKey: mergeKey, node: node, path: path)
}

/// The number of objects among the elements, after checking they are all objects or all
/// primitives: mixed lists and lists of lists have no merge semantics.
private func elementKinds(_ original: [JSON], _ patch: [JSON], path: String)
  throws(StrategicMergePatchError) -> Int
{
  var objects = 0
  var others = 0
  for element in original + patch {
    switch element {
    case .array: throw invalid(path, "lists of lists cannot be merged")
    case .object: objects += 1
    default: others += 1
    }
  }
  if objects > 0 && others > 0 {
    throw invalid(path, "list element types are not identical: objects and primitives are mixed")
  }
  return objects
}

private func mergePrimitives(_ original: [JSON], _ patch: [JSON], deleting: Bool) -> [JSON] {
  if deleting { return original.filter { !patch.contains($0) } }
  var merged: [JSON] = []
  for element in original + patch where !merged.contains(element) { merged.append(element) }
  return orderElements(
    merged, patchOrder: patch, serverOrder: original, identity: ListIdentity(mergeKey: nil))
}

private func mergeObjects(
  _ original: [JSON], _ patch: [JSON], mergeKey: String, node: Node?, path: String
) throws(StrategicMergePatchError) -> [JSON] {
  // First the items that are directives: `$patch: delete` removes the items with its key,
  // `$patch: replace` makes the rest of the patch list the whole list.
  var base = original
  var settings: [JSON] = []
  var replacing = false
  for item in patch {
    guard case .object(let object) = item, let directive = object[Directive.patch] else {
      settings.append(item)
      continue
    }
    switch directive.stringValue {
    case "delete":
      guard let key = object[mergeKey] else {
        throw invalid(path, "$patch: delete item \(item) has no merge key '\(mergeKey)'")
      }
      base.removeAll { $0.objectValue?[mergeKey] == key }
    case "replace":
      replacing = true
    case "merge":
      throw invalid(path, "merging lists cannot yet be specified in the patch")
    default:
      throw invalid(path, "unknown patch type \(directive) in list")
    }
  }
  if replacing {
    base = []
  }

  var merged = base
  for item in settings {
    guard case .object(let patchObject) = item, let key = patchObject[mergeKey] else {
      throw invalid(path, "list item \(item) does not contain declared merge key '\(mergeKey)'")
    }
    if let index = merged.firstIndex(where: { $0.objectValue?[mergeKey] == key }) {
      var object = merged[index].takeObject()
      try mergeObject(&object, with: patchObject, node: node, path: path)
      merged[index] = .object(object)
    } else {
      var object = JSONObject()
      try mergeObject(&object, with: patchObject, node: node, path: path)
      merged.append(.object(object))
    }
  }
  if replacing { return merged }
  return orderElements(
    merged, patchOrder: settings, serverOrder: base, identity: ListIdentity(mergeKey: mergeKey))
}

/// The order Go's strategicpatch gives a merged list: the items the patch names, in the patch's
/// order, interleaved with the items only the server has, in the server's order. Walking both,
/// a server item goes first only when it stood before the patch item in the original list; so
/// new items land before the server's (kubectl sends $setElementOrder when the order matters).
private func orderElements(
  _ merged: [JSON], patchOrder: [JSON], serverOrder: [JSON], identity: ListIdentity
) -> [JSON] {
  let patchIdentities = patchOrder.map(identity.of)
  let serverIdentities = serverOrder.map(identity.of)
  func position(_ item: JSON, in identities: [JSON?]) -> Int? {
    let id = identity.of(item)
    return id == nil ? nil : identities.firstIndex(of: id)
  }
  func sorted(_ items: [JSON], by identities: [JSON?]) -> [JSON] {
    items.enumerated()
      .map { (rank: position($0.element, in: identities) ?? Int.max, place: $0.offset, item: $0.element) }
      .sorted { ($0.rank, $0.place) < ($1.rank, $1.place) }
      .map(\.item)
  }
  var patchItems: [JSON] = []
  var serverOnly: [JSON] = []
  for item in merged {
    if position(item, in: patchIdentities) != nil {
      patchItems.append(item)
    } else {
      serverOnly.append(item)
    }
  }
  let left = sorted(serverOnly, by: serverIdentities)
  let right = sorted(patchItems, by: patchIdentities)

  var result: [JSON] = []
  result.reserveCapacity(merged.count)
  var i = 0
  var j = 0
  while i < left.count || j < right.count {
    if j == right.count {
      result.append(left[i])
      i += 1
    } else if i == left.count {
      result.append(right[j])
      j += 1
    } else if let l = position(left[i], in: serverIdentities),
      let r = position(right[j], in: serverIdentities), l < r
    {
      result.append(left[i])
      i += 1
    } else {
      result.append(right[j])
      j += 1
    }
  }
  return result
}
