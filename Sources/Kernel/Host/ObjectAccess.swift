// Object access for plugins: JSON documents addressed by resource, namespace and name. The kernel
// knows no kinds; the control plane installs its store behind this protocol, and until it does,
// an in-memory table serves (edge boxes without a control plane, and tests).

public struct StoredObject: Sendable, Equatable {
  public let json: String
  public let revision: UInt64
}

public enum ObjectChange: String, Sendable {
  case added = "ADDED", modified = "MODIFIED", deleted = "DELETED"
}

public enum ObjectAccessError: Error, Equatable, Sendable {
  case notFound
  case conflict(currentRevision: UInt64)
}

public protocol ObjectAccess: AnyObject {
  func get(_ resource: String, namespace: String, name: String) -> StoredObject?
  /// Creates or replaces. A nonzero `expectedRevision` must equal the stored object's revision
  /// (0 for "must not exist" is not expressible: use get first). Returns the new revision.
  func put(_ resource: String, namespace: String, name: String, json: String,
           expectedRevision: UInt64) -> Result<UInt64, ObjectAccessError>
  func delete(_ resource: String, namespace: String, name: String) -> Result<UInt64, ObjectAccessError>
  /// `namespace` nil lists every namespace; ordered by namespace, then name.
  func list(_ resource: String, namespace: String?) -> [StoredObject]
  /// Changes after this call, delivered on the loop.
  func watch(_ resource: String, _ handler: @escaping (ObjectChange, StoredObject) -> Void) -> AnyObject
  func cancelWatch(_ token: AnyObject)
}

/// The kernel's own object table: revisioned like the store, kept in memory. Loop only.
public final class InMemoryObjects: ObjectAccess, @unchecked Sendable {
  private struct Key: Hashable, Comparable {
    let namespace: String, name: String
    static func < (a: Key, b: Key) -> Bool { (a.namespace, a.name) < (b.namespace, b.name) }
  }
  private final class Watcher {
    let resource: String
    let handler: (ObjectChange, StoredObject) -> Void
    var active = true
    init(resource: String, handler: @escaping (ObjectChange, StoredObject) -> Void) {
      self.resource = resource
      self.handler = handler
    }
  }

  private let loop: EventLoop
  private var tables: [String: [Key: StoredObject]] = [:]
  private var watchers: [Watcher] = []
  private var revision: UInt64 = 0

  public init(loop: EventLoop) { self.loop = loop }

  public func get(_ resource: String, namespace: String, name: String) -> StoredObject? {
    loop.preconditionInEventLoop()
    return tables[resource]?[Key(namespace: namespace, name: name)]
  }

  public func put(_ resource: String, namespace: String, name: String, json: String,
                  expectedRevision: UInt64) -> Result<UInt64, ObjectAccessError> {
    loop.preconditionInEventLoop()
    let key = Key(namespace: namespace, name: name)
    let existing = tables[resource]?[key]
    if expectedRevision != 0 {
      guard let existing else { return .failure(.notFound) }
      guard existing.revision == expectedRevision else {
        return .failure(.conflict(currentRevision: existing.revision))
      }
    }
    revision += 1
    let stored = StoredObject(json: json, revision: revision)
    tables[resource, default: [:]][key] = stored
    notify(resource, existing == nil ? .added : .modified, stored)
    return .success(revision)
  }

  public func delete(_ resource: String, namespace: String, name: String) -> Result<UInt64, ObjectAccessError> {
    loop.preconditionInEventLoop()
    guard let removed = tables[resource]?.removeValue(forKey: Key(namespace: namespace, name: name))
    else { return .failure(.notFound) }
    revision += 1
    notify(resource, .deleted, StoredObject(json: removed.json, revision: revision))
    return .success(revision)
  }

  public func list(_ resource: String, namespace: String?) -> [StoredObject] {
    loop.preconditionInEventLoop()
    let table = tables[resource] ?? [:]
    return table.keys.filter { namespace == nil || $0.namespace == namespace }.sorted().map { table[$0]! }
  }

  public func watch(_ resource: String, _ handler: @escaping (ObjectChange, StoredObject) -> Void) -> AnyObject {
    loop.preconditionInEventLoop()
    let watcher = Watcher(resource: resource, handler: handler)
    watchers.append(watcher)
    return watcher
  }

  public func cancelWatch(_ token: AnyObject) {
    loop.preconditionInEventLoop()
    guard let watcher = token as? Watcher else { return }
    watcher.active = false
    watchers.removeAll { $0 === watcher }
  }

  private func notify(_ resource: String, _ change: ObjectChange, _ object: StoredObject) {
    let receivers = watchers.filter { $0.resource == resource }
    guard !receivers.isEmpty else { return }
    loop.execute {
      for receiver in receivers where receiver.active { receiver.handler(change, object) }
    }
  }
}
