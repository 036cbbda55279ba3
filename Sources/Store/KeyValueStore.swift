// The store's contract, in etcd v3's shape: keys with revisions, conditional writes, paged
// prefix lists and resumable watches. SQLiteStore implements it; an etcd backend can follow.

/// One key's state. `modRevision` is the Kubernetes resourceVersion.
public struct KeyValue: Sendable, Equatable {
  public var key: String
  /// The object's bytes (its JSON), stored as given.
  public var value: [UInt8]
  /// The revision of the write that created the key.
  public var createRevision: Int64
  /// The revision of the latest write to the key.
  public var modRevision: Int64
  /// Writes since creation: 1 after the create.
  public var version: Int64

  public init(key: String, value: [UInt8], createRevision: Int64, modRevision: Int64, version: Int64) {
    self.key = key
    self.value = value
    self.createRevision = createRevision
    self.modRevision = modRevision
    self.version = version
  }
}

public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
  /// A create found the key present.
  case alreadyExists
  /// An update or delete found the key absent.
  case notFound
  /// The key's modRevision was not the expected one; `current` is what is there.
  case conflict(current: KeyValue)
  /// The revisions asked for are gone; the store keeps history after this revision only.
  case compacted(Int64)
  /// The database failed or is closed; the message names the file and the cause.
  case io(String)

  public var description: String {
    switch self {
    case .alreadyExists: "key already exists"
    case .notFound: "key not found"
    case .conflict(let current): "conflict: \(current.key) is at revision \(current.modRevision)"
    case .compacted(let revision): "history up to revision \(revision) has been compacted"
    case .io(let message): message
    }
  }
}

/// A committed change, as a watch delivers it.
public struct WatchEvent: Sendable, Equatable {
  public enum Kind: Sendable { case put, delete }

  public var kind: Kind
  /// The new state; for a delete, the deleted value with the delete's revision as modRevision.
  public var kv: KeyValue
  /// The state before this change; nil when a put created the key.
  public var prev: KeyValue?

  public init(kind: Kind, kv: KeyValue, prev: KeyValue?) {
    self.kind = kind
    self.kv = kv
    self.prev = prev
  }

  public var revision: Int64 { kv.modRevision }
}

/// One page of a list: `more` says keys remain after the last item (pass its key as `after`).
public struct KeyValuePage: Sendable, Equatable {
  public var items: [KeyValue]
  /// The revision the page was read at.
  public var revision: Int64
  public var more: Bool
}

/// Names a watch so it can be cancelled.
public struct WatchHandle: Hashable, Sendable {
  let id: Int
}

/// A write's outcome, delivered on the store's event loop once the write is durable.
public typealias WriteCompletion = (Result<KeyValue, StoreError>) -> Void

public protocol KeyValueStore: AnyObject, Sendable {
  /// The revision of the latest committed write (0 for an empty store).
  var currentRevision: Int64 { get }
  /// History at or below this revision is gone; watches must start after it.
  var compactedRevision: Int64 { get }

  /// The committed state of `key`. Any thread.
  func get(_ key: String) -> KeyValue?
  /// Committed keys starting with `prefix`, in key order, after the key `after` (the continue
  /// token), at most `limit` of them (0: all). Any thread.
  func list(prefix: String, limit: Int, after: String?) -> KeyValuePage
  /// Calls `body` with each committed key starting with `prefix`, in key order, from one snapshot,
  /// and returns that snapshot's revision: `list` without building the array, for an index over
  /// every object at start-up. Any thread.
  func forEach(prefix: String, _ body: (KeyValue) -> Void) -> Int64

  /// Writes. Any thread; the completion runs on the event loop, in revision order, after the
  /// write is durable. Preconditions are checked against the latest state, pending writes
  /// included, so two writers expecting the same revision cannot both succeed.
  func create(_ key: String, value: [UInt8], completion: @escaping WriteCompletion)
  /// `expectedModRevision` nil: unconditional.
  func update(_ key: String, value: [UInt8], expectedModRevision: Int64?,
              completion: @escaping WriteCompletion)
  /// Completes with the deleted value, its modRevision set to the delete's revision.
  func delete(_ key: String, expectedModRevision: Int64?, completion: @escaping WriteCompletion)

  /// Delivers every committed change under `prefix` with revision ≥ `fromRevision` (0: from now)
  /// on the event loop, in revision order, without gaps or duplicates. Event loop only.
  /// Throws `.compacted` when `fromRevision` is at or below the compacted revision.
  func watch(prefix: String, fromRevision: Int64,
             handler: @escaping (WatchEvent) -> Void) throws(StoreError) -> WatchHandle
  /// Stops a watch; its handler is not called again. Event loop only.
  func cancel(_ watch: WatchHandle)

  /// Drops history at or below `revision` (clamped to the current revision); completes on the
  /// event loop with the compacted revision.
  func compact(keepingRevisionsAfter revision: Int64,
               completion: @escaping (Result<Int64, StoreError>) -> Void)

  /// Finishes queued writes and releases the backend; later writes fail. Any thread.
  func close()
}

extension KeyValueStore {
  public func list(prefix: String, limit: Int = 0) -> KeyValuePage {
    list(prefix: prefix, limit: limit, after: nil)
  }

  public func compact(keepingRevisionsAfter revision: Int64) {
    compact(keepingRevisionsAfter: revision) { _ in }
  }
}
