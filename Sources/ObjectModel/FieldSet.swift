// Sets of field paths, as server-side apply records who owns what (`metadata.managedFields`).
// The encoding is Kubernetes' FieldsV1: `f:name` for a field, `k:{"name":"x"}` for an item of a
// list keyed by its merge keys, `v:"a"` for an item of a set, `i:3` for an item of a keyed list
// that lacks its key, and `.` for the item (or map) itself. Which lists are keyed comes from the
// same tags strategic merge patch uses (PatchSchema), with server-side apply's extra key fields.

/// A tree of path elements, each spelled as in FieldsV1; `isMember` marks the path leading to
/// a node as one of the set's fields (a leaf, a list item, or an added map).
public struct FieldSet: Sendable, Equatable {
  public var isMember = false
  public var children: [String: FieldSet] = [:]

  public init() {}

  public var isEmpty: Bool { !isMember && children.isEmpty }

  /// Decodes FieldsV1 (`{"f:spec":{"f:replicas":{}}}`); anything else is an empty set.
  public init(fieldsV1: JSON) {
    guard case .object(let object) = fieldsV1 else { return }
    for (key, value) in object {
      if key == "." {
        isMember = true
      } else {
        var child = FieldSet(fieldsV1: value)
        if child.children.isEmpty { child.isMember = true }
        children[key] = child
      }
    }
  }

  /// FieldsV1 with members sorted, as Kubernetes writes it.
  public var fieldsV1: JSON {
    var object = JSONObject()
    if isMember && !children.isEmpty { object["."] = .object(JSONObject()) }
    for key in children.keys.sorted() { object[key] = children[key]!.fieldsV1 }
    return .object(object)
  }

  public func union(_ other: FieldSet) -> FieldSet {
    var result = self
    result.formUnion(other)
    return result
  }

  public mutating func formUnion(_ other: FieldSet) {
    isMember = isMember || other.isMember
    for (key, child) in other.children {
      children[key, default: FieldSet()].formUnion(child)
    }
  }

  /// Members of self that are not members of `other`.
  public func subtracting(_ other: FieldSet) -> FieldSet {
    var result = FieldSet()
    result.isMember = isMember && !other.isMember
    for (key, child) in children {
      let remaining = other.children[key].map { child.subtracting($0) } ?? child
      if !remaining.isEmpty { result.children[key] = remaining }
    }
    return result
  }

  /// Self without any path at or below a member of `other`: what is left when `other`'s fields
  /// are removed from an object.
  public func removingSubtrees(_ other: FieldSet) -> FieldSet {
    if other.isMember { return FieldSet() }
    var result = FieldSet()
    result.isMember = isMember
    for (key, child) in children {
      let remaining = other.children[key].map { child.removingSubtrees($0) } ?? child
      if !remaining.isEmpty { result.children[key] = remaining }
    }
    return result
  }

  public func intersection(_ other: FieldSet) -> FieldSet {
    var result = FieldSet()
    result.isMember = isMember && other.isMember
    for (key, child) in children {
      guard let theirs = other.children[key] else { continue }
      let common = child.intersection(theirs)
      if !common.isEmpty { result.children[key] = common }
    }
    return result
  }

  /// Whether any member lies at or below this node.
  public var hasMembers: Bool { isMember || children.values.contains { $0.hasMembers } }

  /// Every member as its path of elements, in sorted order.
  public var members: [[String]] {
    var paths: [[String]] = []
    collect(into: &paths, prefix: [])
    return paths
  }

  private func collect(into paths: inout [[String]], prefix: [String]) {
    if isMember && !prefix.isEmpty { paths.append(prefix) }
    for key in children.keys.sorted() { children[key]!.collect(into: &paths, prefix: prefix + [key]) }
  }

  /// A member path as Kubernetes prints it in conflicts: `.spec.containers[name="app"].image`.
  public static func describe(_ path: [String]) -> String {
    var text = ""
    for element in path {
      let body = element.dropFirst(2)
      switch element.prefix(2) {
      case "f:": text += "." + body
      case "i:": text += "[\(body)]"
      case "v:": text += "[=\(body)]"
      case "k:":
        if case .object(let keys)? = try? JSON.parse(String(body)) {
          text += "[" + keys.map { "\($0.key)=\($0.value.description)" }.joined(separator: ",") + "]"
        } else {
          text += "[\(body)]"
        }
      default: text += element
      }
    }
    return text
  }
}

/// How an object's fields map to path elements: which lists are keyed, by what.
public struct FieldLayout: Sendable {
  let schema: PatchSchema?

  /// The layout of a built-in kind; a custom resource's lists are all atomic, as Kubernetes
  /// treats a CRD without list-type markers.
  public init(kind: String) { schema = PatchSchema.forKind(kind) }

  typealias Node = PatchSchema.Node

  var root: Node? { schema?.root }

  enum ListKind { case atomic, set, keyed([(name: String, defaultValue: JSON?)]) }

  func listKind(_ node: Node?) -> ListKind {
    guard let rule = node?.rule, rule.strategy.contains(.merge) else { return .atomic }
    guard let key = rule.mergeKey else { return .set }
    // Server-side apply keys ports by protocol as well, which defaults to TCP.
    switch key {
    case "containerPort", "port": return .keyed([(key, nil), ("protocol", "TCP")])
    case "topologyKey": return .keyed([("topologyKey", nil), ("whenUnsatisfiable", nil)])
    default: return .keyed([(key, nil)])
    }
  }

  /// The path element of one list item; nil when a keyed item lacks its key (then by index).
  func element(of item: JSON, in list: ListKind, at index: Int) -> String {
    switch list {
    case .atomic: return "i:\(index)"
    case .set: return "v:" + item.description
    case .keyed(let keys):
      guard case .object(let object) = item else { return "i:\(index)" }
      var key = JSONObject()
      for (name, defaultValue) in keys.sorted(by: { $0.name < $1.name }) {
        guard let value = object[name] ?? defaultValue else {
          if keys.count > 1 && defaultValue == nil && name != keys[0].name { continue }
          return "i:\(index)"
        }
        key[name] = value
      }
      return "k:" + JSON.object(key).description
    }
  }

  /// Label selectors are atomic structs in Kubernetes (`x-kubernetes-map-type: atomic`): owned
  /// and replaced whole. Recognised by shape, since a Service's plain `selector` map is not one.
  static func isAtomic(_ value: JSON) -> Bool {
    guard case .object(let object) = value, !object.isEmpty else { return false }
    return object.allSatisfy { $0.key == "matchLabels" || $0.key == "matchExpressions" }
  }

  // MARK: Sets of an object

  /// The fields an applied configuration sets, as Kubernetes' ToFieldSet: every leaf and every
  /// list item; maps only through their members; atomic lists as leaves.
  public func applied(_ object: JSON) -> FieldSet {
    var set = FieldSet()
    addApplied(object, node: root, to: &set)
    return set
  }

  private func addApplied(_ value: JSON, node: Node?, to set: inout FieldSet) {
    switch value {
    case .object where Self.isAtomic(value):
      set.isMember = true
    case .object(let object):
      for (key, child) in object {
        var childSet = FieldSet()
        addApplied(child, node: node?.fields[key], to: &childSet)
        if !childSet.isEmpty { set.children["f:" + key, default: FieldSet()].formUnion(childSet) }
      }
    case .array(let items):
      let kind = listKind(node)
      if case .atomic = kind {
        set.isMember = true
        return
      }
      for (index, item) in items.enumerated() {
        var itemSet = FieldSet()
        if case .keyed = kind { addApplied(item, node: node, to: &itemSet) }
        itemSet.isMember = true
        set.children[element(of: item, in: kind, at: index), default: FieldSet()].formUnion(itemSet)
      }
    default:
      set.isMember = true
    }
  }

  /// Every field of `value` as newly added: maps, lists and items are members themselves, as
  /// Kubernetes records an update that creates them.
  private func added(_ value: JSON, node: Node?) -> FieldSet {
    var set = FieldSet()
    set.isMember = true
    switch value {
    case .object where Self.isAtomic(value):
      break
    case .object(let object):
      for (key, child) in object { set.children["f:" + key] = added(child, node: node?.fields[key]) }
    case .array(let items):
      let kind = listKind(node)
      if case .atomic = kind { return set }
      for (index, item) in items.enumerated() {
        let element = element(of: item, in: kind, at: index)
        if case .keyed = kind {
          set.children[element] = added(item, node: node)
        } else {
          var leaf = FieldSet()
          leaf.isMember = true
          set.children[element] = leaf
        }
      }
    default:
      break
    }
    return set
  }

  // MARK: A created object, straight to FieldsV1

  /// FieldsV1 of what a create adds over `zeroValue` (the structs and lists Go's zero value of
  /// the kind already has): the same as `compare(zeroValue, object).changed.fieldsV1`, written
  /// directly because every create pays for it.
  public func createdFieldsV1(_ object: JSON, zeroValue: JSON) -> JSON {
    encodeCreated(object, zero: zeroValue, node: root) ?? .object(JSONObject())
  }

  /// nil when nothing under `value` is new.
  private func encodeCreated(_ value: JSON, zero: JSON?, node: Node?) -> JSON? {
    guard let zero else { return encodeAdded(value, node: node) }
    switch (value, zero) {
    case (.object(let object), .object) where !Self.isAtomic(value):
      var members: [(String, JSON)] = []
      for (key, child) in object {
        if let encoded = encodeCreated(child, zero: zero[key], node: node?.fields[key]) { members.append(("f:" + key, encoded)) }
      }
      if members.isEmpty { return Optional.none }
      return Self.sortedObject(members)
    case (.array(let items), .array(let zeroItems)) where zeroItems.isEmpty:
      let kind = listKind(node)
      if case .atomic = kind {
        if items.isEmpty { return Optional.none }
        return .object(JSONObject())
      }
      var members: [(String, JSON)] = []
      for (index, item) in items.enumerated() {
        members.append((element(of: item, in: kind, at: index), itemEncoding(item, kind, node)))
      }
      if members.isEmpty { return Optional.none }
      return Self.sortedObject(members)
    default:
      if value == zero { return Optional.none }
      return encodeAdded(value, node: node)
    }
  }

  /// A field that is new, with everything under it: members themselves, as `added` makes them.
  private func encodeAdded(_ value: JSON, node: Node?) -> JSON {
    var members: [(String, JSON)] = []
    switch value {
    case .object(let object) where !Self.isAtomic(value):
      for (key, child) in object { members.append(("f:" + key, encodeAdded(child, node: node?.fields[key]))) }
    case .array(let items):
      let kind = listKind(node)
      if case .atomic = kind { break }
      for (index, item) in items.enumerated() {
        members.append((element(of: item, in: kind, at: index), itemEncoding(item, kind, node)))
      }
    default:
      break
    }
    if members.isEmpty { return .object(JSONObject()) }
    members.append((".", .object(JSONObject())))
    return Self.sortedObject(members)
  }

  private func itemEncoding(_ item: JSON, _ kind: ListKind, _ node: Node?) -> JSON {
    if case .keyed = kind { return encodeAdded(item, node: node) }
    return .object(JSONObject())
  }

  private static func sortedObject(_ members: [(String, JSON)]) -> JSON {
    .object(JSONObject(members.sorted { $0.0 < $1.0 }))
  }

  // MARK: Differences

  /// What an update changed: fields added or given a new value, and fields removed.
  public struct Comparison: Sendable {
    public var changed = FieldSet()
    public var removed = FieldSet()
  }

  public func compare(_ old: JSON, _ new: JSON) -> Comparison {
    var comparison = Comparison()
    compare(old, new, node: root, into: &comparison.changed, removed: &comparison.removed)
    return comparison
  }

  private func compare(_ old: JSON, _ new: JSON, node: Node?, into changed: inout FieldSet,
                       removed: inout FieldSet) {
    switch (old, new) {
    case (.object(let before), .object(let after)) where !Self.isAtomic(old) && !Self.isAtomic(new):
      for (key, value) in after {
        let element = "f:" + key
        guard let previous = before[key] else {
          changed.children[element] = added(value, node: node?.fields[key])
          continue
        }
        var childChanged = FieldSet(), childRemoved = FieldSet()
        compare(previous, value, node: node?.fields[key], into: &childChanged, removed: &childRemoved)
        if !childChanged.isEmpty { changed.children[element] = childChanged }
        if !childRemoved.isEmpty { removed.children[element] = childRemoved }
      }
      for (key, _) in before where after[key] == nil {
        var gone = FieldSet()
        gone.isMember = true
        removed.children["f:" + key] = gone
      }
    case (.array(let before), .array(let after)):
      let kind = listKind(node)
      if case .atomic = kind {
        if before != after { changed.isMember = true }
        return
      }
      var previous: [String: JSON] = [:]
      for (index, item) in before.enumerated() { previous[element(of: item, in: kind, at: index)] = item }
      var seen = Set<String>()
      for (index, item) in after.enumerated() {
        let element = element(of: item, in: kind, at: index)
        seen.insert(element)
        guard let old = previous[element] else {
          changed.children[element] = added(item, node: node)
          continue
        }
        guard case .keyed = kind else { continue }
        var itemChanged = FieldSet(), itemRemoved = FieldSet()
        compare(old, item, node: node, into: &itemChanged, removed: &itemRemoved)
        if !itemChanged.isEmpty { changed.children[element] = itemChanged }
        if !itemRemoved.isEmpty { removed.children[element] = itemRemoved }
      }
      for element in previous.keys where !seen.contains(element) {
        var gone = FieldSet()
        gone.isMember = true
        removed.children[element] = gone
      }
    default:
      if old != new {
        // A value of another type: the old one's fields are gone, the new one is added.
        if old.objectValue != nil || old.arrayValue != nil { removed.isMember = true }
        changed = added(new, node: node)
      }
    }
  }

  // MARK: Removal

  /// `object` without the fields that are members of `set`; a list item or map some of whose
  /// fields are outside `set` keeps those.
  public func removing(_ set: FieldSet, from object: JSON) -> JSON {
    remove(set, from: object, node: root) ?? object
  }

  /// nil when `value` itself goes.
  private func remove(_ set: FieldSet, from value: JSON, node: Node?) -> JSON? {
    switch value {
    case .object(var object):
      for (element, childSet) in set.children where element.hasPrefix("f:") {
        let key = String(element.dropFirst(2))
        guard let child = object[key] else { continue }
        let remaining = childSet.children.isEmpty ? nil : remove(childSet, from: child, node: node?.fields[key])
        if childSet.children.isEmpty || remaining == nil {
          object[key] = nil
        } else {
          object[key] = remaining
        }
      }
      // A map that was itself a member goes once nothing of it is left.
      if set.isMember && object.isEmpty { return Optional.none }
      return .object(object)
    case .array(let items):
      let kind = listKind(node)
      var kept: [JSON] = []
      for (index, item) in items.enumerated() {
        guard let itemSet = set.children[element(of: item, in: kind, at: index)] else {
          kept.append(item)
          continue
        }
        if itemSet.children.isEmpty { continue }
        guard case .keyed(let keys) = kind else {
          if let remaining = remove(itemSet, from: item, node: node) { kept.append(remaining) }
          continue
        }
        // The key fields stay while the item does; an item left with nothing but its keys goes.
        var fieldsSet = itemSet
        fieldsSet.isMember = false
        for key in keys { fieldsSet.children["f:" + key.name] = nil }
        guard let remaining = remove(fieldsSet, from: item, node: node) else { continue }
        if itemSet.isMember, let object = remaining.objectValue,
           object.allSatisfy({ member in keys.contains { $0.name == member.key } }) {
          continue
        }
        kept.append(remaining)
      }
      if set.isMember && kept.isEmpty { return Optional.none }
      return .array(kept)
    default:
      if set.isMember { return Optional.none }
      return value
    }
  }
}
