// The embedded store: the latest committed state in memory for reads, one writer thread that
// group-commits every pending write to SQLite, and watches fed on the event loop.
import FoundationEssentials
import Glibc
import Kernel
import Synchronization
import SystemKit

/// Where state lives:
/// - Submitters (any thread) check preconditions against the latest state, pending writes
///   included, take the next revision and queue the write (`queue` lock).
/// - The writer thread takes everything queued, commits it in one transaction (one fsync), then
///   publishes it to `committed`, which readers on any thread see (`committed` lock).
/// - The event loop receives each committed batch in order: completions, the recent-history
///   window, and the watches all live there.
public final class SQLiteStore: KeyValueStore, @unchecked Sendable {
  public let path: String
  private let loop: EventLoop
  private let file: StoreFile
  private let historyReader: HistoryReader
  private let writerFinished = Semaphore()

  // Shared by submitters and the writer, under `queue`.
  private let queue = Condition()
  private var queued: [Operation] = []
  /// The state each key will have once the queued writes commit.
  private var pendingKeys: [String: PendingKey] = [:]
  private var nextRevision: Int64
  private var compaction: CompactionRequest?
  private var closing = false

  /// The latest committed state: what reads see.
  private let committed: Mutex<CommittedState>

  // Event loop only.
  private var watchers: [Int: Watcher] = [:]
  private var nextWatcherID = 0
  private var recent: RecentHistory
  /// The revision of the last batch the loop has seen; watches "from now" start after it.
  private var deliveredRevision: Int64
  private var compactionTimer: LoopTimer?

  /// Opens (creating if absent) the store at `path`. Completions and watch events run on `loop`;
  /// the last `recentEvents` changes are kept in memory for resuming watches. Writes that would
  /// grow the database past `maximumSize` bytes fail (etcd's backend quota). The store runs a
  /// writer thread until `close()`.
  public init(path: String, loop: EventLoop, recentEvents: Int = 10_000,
              maximumSize: Int64? = nil) throws(StoreError) {
    self.path = path
    self.loop = loop
    file = try StoreFile(path: path, maximumSize: maximumSize)
    historyReader = try HistoryReader(path: path)
    let stored = try file.load()
    committed = Mutex(CommittedState(live: stored.live, revision: stored.revision,
                                     compacted: stored.compacted))
    nextRevision = stored.revision + 1
    deliveredRevision = stored.revision
    recent = RecentHistory(capacity: recentEvents)
    startThread(name: "skiff-store-writer") { [self] in
      runWriter()
      writerFinished.signal()
    }
  }

  /// Commits what is queued, stops the writer and closes the file. Watches end; writes submitted
  /// afterwards fail. Any thread.
  public func close() {
    queue.lock()
    let wasClosing = closing
    closing = true
    queue.signal()
    queue.unlock()
    guard !wasClosing else { return }
    writerFinished.wait()
    historyReader.close()
    file.close()
    loop.execute { [self] in
      for watcher in watchers.values { watcher.cancelled = true }
      watchers.removeAll()
      compactionTimer?.close()
    }
  }

  // MARK: Reads

  public var currentRevision: Int64 { committed.withLock { $0.revision } }

  public var compactedRevision: Int64 { committed.withLock { $0.compacted } }

  /// Writes committed and transactions that committed them; under concurrent load the second
  /// grows more slowly than the first.
  public var stats: StoreStats { committed.withLock { $0.stats } }

  public func get(_ key: String) -> KeyValue? {
    committed.withLock { $0.live[key] }
  }

  public func list(prefix: String, limit: Int, after: String?) -> KeyValuePage {
    // Copy out under the lock (one retain), walk outside it: the writer is never held up by a long list.
    let (live, revision) = committed.withLock { ($0.live, $0.revision) }
    let (items, more) = live.page(prefix: prefix, after: after, limit: limit)
    return KeyValuePage(items: items, revision: revision, more: more)
  }

  public func forEach(prefix: String, _ body: (KeyValue) -> Void) -> Int64 {
    let (live, revision) = committed.withLock { ($0.live, $0.revision) }
    live.forEach(prefix: prefix, body)
    return revision
  }

  // MARK: Writes

  public func create(_ key: String, value: [UInt8], completion: @escaping WriteCompletion) {
    submit(key, completion) { current, revision in
      guard current == nil else { return .failure(.alreadyExists) }
      let kv = KeyValue(key: key, value: value, createRevision: revision, modRevision: revision, version: 1)
      return .success(WatchEvent(kind: .put, kv: kv, prev: nil))
    }
  }

  public func update(_ key: String, value: [UInt8], expectedModRevision: Int64?,
                     completion: @escaping WriteCompletion) {
    submit(key, completion) { current, revision in
      guard let current else { return .failure(.notFound) }
      if let expectedModRevision, expectedModRevision != current.modRevision {
        return .failure(.conflict(current: current))
      }
      let kv = KeyValue(key: key, value: value, createRevision: current.createRevision, modRevision: revision,
                        version: current.version + 1)
      return .success(WatchEvent(kind: .put, kv: kv, prev: current))
    }
  }

  public func delete(_ key: String, expectedModRevision: Int64?, completion: @escaping WriteCompletion) {
    submit(key, completion) { current, revision in
      guard let current else { return .failure(.notFound) }
      if let expectedModRevision, expectedModRevision != current.modRevision {
        return .failure(.conflict(current: current))
      }
      var deleted = current
      deleted.modRevision = revision
      return .success(WatchEvent(kind: .delete, kv: deleted, prev: current))
    }
  }

  /// Decides a write against the latest state and queues it, or queues its rejection: a rejection
  /// may rest on a pending write, so it is reported only after that write is durable.
  private func submit(_ key: String, _ completion: @escaping WriteCompletion,
                      _ decide: (KeyValue?, Int64) -> Result<WatchEvent, StoreError>) {
    queue.lock()
    defer { queue.unlock() }
    guard !closing else {
      loop.execute { completion(.failure(.io("\(self.path): the store is closed"))) }
      return
    }
    let current = pendingKeys[key].map(\.latest) ?? committed.withLock { $0.live[key] }
    switch decide(current, nextRevision) {
    case .success(let event):
      pendingKeys[key] = PendingKey(latest: event.kind == .put ? event.kv : nil, revision: nextRevision)
      nextRevision += 1
      queued.append(.write(event, completion))
    case .failure(let error):
      queued.append(.rejection(error, completion))
    }
    queue.signal()
  }

  // MARK: Compaction

  public func compact(keepingRevisionsAfter revision: Int64,
                      completion: @escaping (Result<Int64, StoreError>) -> Void) {
    queue.lock()
    defer { queue.unlock() }
    guard !closing else {
      loop.execute { completion(.failure(.io("\(self.path): the store is closed"))) }
      return
    }
    var request = compaction ?? CompactionRequest(revision: revision, completions: [])
    request.revision = max(request.revision, revision)
    request.completions.append(completion)
    compaction = request
    queue.signal()
  }

  /// Every `interval`, compacts all but the last `retain` revisions. The timer only reads memory
  /// when there is nothing to compact, so an idle store stays idle on disk.
  public func autoCompact(every interval: Duration, retain: Int64) {
    let (seconds, attoseconds) = interval.components
    let milliseconds = UInt64(max(1, seconds * 1_000 + attoseconds / 1_000_000_000_000_000))
    loop.execute { [self] in
      compactionTimer?.close()
      compactionTimer = loop.scheduleTimer(after: milliseconds, repeating: milliseconds) { [weak self] _ in
        guard let self else { return }
        let (revision, compacted) = committed.withLock { ($0.revision, $0.compacted) }
        if revision - retain > compacted { compact(keepingRevisionsAfter: revision - retain) }
      }
    }
  }

  // MARK: The writer thread

  private func runWriter() {
    while let batch = takeQueued() {
      let compactTo = compactionTarget(of: batch)
      do {
        // Rejections alone, or a compaction with nothing to do, touch no disk.
        if !batch.events.isEmpty || compactTo != nil {
          try file.commit(batch.events, compactingThrough: compactTo)
        }
        publish(batch, compactedTo: compactTo)
      } catch {
        abandon(batch, because: error)
      }
    }
  }

  /// Where a batch's compaction request lands: never past the batch's last revision, and nil
  /// when it would not move the mark.
  private func compactionTarget(of batch: Batch) -> Int64? {
    guard let requested = batch.compaction?.revision else { return nil }
    let target = min(requested, batch.events.last?.revision ?? currentRevision)
    return target > compactedRevision ? target : nil
  }

  /// Waits for work; nil once closing and drained.
  private func takeQueued() -> Batch? {
    queue.lock()
    defer { queue.unlock() }
    while queued.isEmpty, compaction == nil, !closing { queue.wait() }
    guard !queued.isEmpty || compaction != nil else { return nil }
    defer {
      queued = []
      compaction = nil
    }
    return Batch(operations: queued, compaction: compaction)
  }

  /// Makes a committed batch visible to readers, then hands it to the loop.
  private func publish(_ batch: Batch, compactedTo compactTo: Int64?) {
    queue.lock()
    committed.withLock { state in
      for event in batch.events {
        if event.kind == .put { state.live.put(event.kv) } else { state.live.remove(event.kv.key) }
      }
      if let last = batch.events.last { state.revision = last.revision }
      if let compactTo { state.compacted = compactTo }
      if !batch.events.isEmpty || compactTo != nil { state.stats.commits += 1 }
      state.stats.writes += batch.events.count
    }
    // A key's pending state is now committed unless a later write to it is still queued.
    for event in batch.events where pendingKeys[event.kv.key]?.revision == event.revision {
      pendingKeys[event.kv.key] = nil
    }
    queue.unlock()
    let compacted = compactedRevision
    loop.execute { [self] in
      for operation in batch.operations {
        switch operation {
        case .write(let event, let completion): completion(.success(event.kv))
        case .rejection(let error, let completion): completion(.failure(error))
        }
      }
      for completion in batch.compaction?.completions ?? [] { completion(.success(compacted)) }
      deliver(batch.events)
    }
  }

  /// A failed commit fails its batch and everything queued behind it: their preconditions were
  /// checked against writes that never happened. Revisions restart after the last committed one.
  private func abandon(_ batch: Batch, because error: StoreError) {
    queue.lock()
    let behind = Batch(operations: queued, compaction: compaction)
    queued = []
    compaction = nil
    pendingKeys = [:]
    nextRevision = currentRevision + 1
    queue.unlock()
    loop.execute {
      for failed in [batch, behind] {
        for operation in failed.operations {
          switch operation {
          case .write(_, let completion), .rejection(_, let completion): completion(.failure(error))
          }
        }
        for completion in failed.compaction?.completions ?? [] { completion(.failure(error)) }
      }
    }
  }

  // MARK: Watches (event loop)

  public func watch(prefix: String, fromRevision: Int64,
                    handler: @escaping (WatchEvent) -> Void) throws(StoreError) -> WatchHandle {
    loop.preconditionInEventLoop()
    let compacted = compactedRevision
    if fromRevision != 0, fromRevision <= compacted { throw .compacted(compacted) }
    let first = fromRevision == 0 ? deliveredRevision + 1 : fromRevision
    let watcher = Watcher(prefix: prefix, firstRevision: first, handler: handler)
    if first <= deliveredRevision {
      // Catch up from the past: SQLite for what precedes the in-memory window, then the window.
      // Batches arriving before the catch-up is delivered queue behind it.
      let oldestInMemory = recent.oldestRevision ?? deliveredRevision + 1
      var backlog: [WatchEvent] = []
      if first < oldestInMemory {
        backlog = try historyReader.events(prefix: prefix, from: first, through: oldestInMemory - 1)
      }
      backlog += recent.events(from: max(first, oldestInMemory)).filter { $0.kv.key.hasPrefix(prefix) }
      watcher.backlog = backlog
      loop.execute { watcher.deliverBacklog() }
    }
    nextWatcherID += 1
    watchers[nextWatcherID] = watcher
    return WatchHandle(id: nextWatcherID)
  }

  public func cancel(_ watch: WatchHandle) {
    loop.preconditionInEventLoop()
    watchers.removeValue(forKey: watch.id)?.cancelled = true
  }

  private func deliver(_ events: [WatchEvent]) {
    guard let last = events.last else { return }
    recent.append(events)
    deliveredRevision = last.revision
    // A snapshot: handlers may add or cancel watches.
    let current = Array(watchers.values)
    for event in events {
      for watcher in current { watcher.offer(event) }
    }
  }
}

/// Counters for what the writer did.
public struct StoreStats: Sendable, Equatable {
  /// Writes committed.
  public var writes = 0
  /// Transactions (each one fsync) that committed them.
  public var commits = 0
}

private struct CommittedState {
  var live: OrderedKeyValues
  var revision: Int64
  var compacted: Int64
  var stats = StoreStats()
}

private struct PendingKey {
  /// nil: a queued delete.
  var latest: KeyValue?
  /// The revision of the latest queued write to the key.
  var revision: Int64
}

private enum Operation {
  case write(WatchEvent, WriteCompletion)
  case rejection(StoreError, WriteCompletion)
}

private struct CompactionRequest {
  var revision: Int64
  var completions: [(Result<Int64, StoreError>) -> Void]
}

/// What the writer takes in one go.
private struct Batch {
  let operations: [Operation]
  let compaction: CompactionRequest?
  /// The writes among the operations, in revision order.
  let events: [WatchEvent]

  init(operations: [Operation], compaction: CompactionRequest?) {
    self.operations = operations
    self.compaction = compaction
    events = operations.compactMap { if case .write(let event, _) = $0 { event } else { nil } }
  }
}

/// One watch, on the loop. While `backlog` is set, the catch-up is not yet delivered and new
/// events join its end; that keeps revision order across the switch to live events.
private final class Watcher {
  let prefix: String
  let firstRevision: Int64
  let handler: (WatchEvent) -> Void
  var backlog: [WatchEvent]?
  var cancelled = false

  init(prefix: String, firstRevision: Int64, handler: @escaping (WatchEvent) -> Void) {
    self.prefix = prefix
    self.firstRevision = firstRevision
    self.handler = handler
  }

  func offer(_ event: WatchEvent) {
    guard !cancelled, event.revision >= firstRevision, event.kv.key.hasPrefix(prefix) else { return }
    if backlog != nil {
      backlog!.append(event)
    } else {
      handler(event)
    }
  }

  func deliverBacklog() {
    guard let events = backlog else { return }
    backlog = nil
    for event in events where !cancelled { handler(event) }
  }
}
