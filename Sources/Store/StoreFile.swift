// The store's SQLite file: its schema, loading it at open, the writes of one group commit,
// compaction, and the history reads that let a watch resume from an old revision.
import FoundationEssentials
import Glibc
import SystemKit

/// Layout, schema version 1:
/// - `history`: one row per revision. A put stores the new value, a delete none. Each row names
///   the revision it replaced (`prev_revision`), so an event's previous value is a join away and
///   every value is written once.
/// - `live`: each present key and the revision holding its value.
/// - `meta`: schema_version, revision (the latest committed), compacted.
/// Compaction deletes history at or below a revision except rows still needed: current values
/// (named by `live`) and the previous values of rows it keeps (named by `prev_revision`).
enum StoreSchema {
  static let version: Int64 = 1

  static let create = """
    CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS history (
      revision INTEGER PRIMARY KEY,
      key TEXT NOT NULL,
      deleted INTEGER NOT NULL,
      value BLOB,
      create_revision INTEGER NOT NULL,
      version INTEGER NOT NULL,
      prev_revision INTEGER);
    CREATE TABLE IF NOT EXISTS live (key TEXT PRIMARY KEY, revision INTEGER NOT NULL) WITHOUT ROWID;
    INSERT OR IGNORE INTO meta (name, value) VALUES ('schema_version', 1), ('revision', 0), ('compacted', 0);
    """
}

/// What the file holds at open.
struct StoredState {
  var live: OrderedKeyValues
  var revision: Int64
  var compacted: Int64
}

/// The writer's side of the file: only the writer thread touches it after open.
final class StoreFile {
  private let db: SQLiteConnection
  /// Held (flock) while the store is open: a second store on the same file would hand out the
  /// same revisions twice. The kernel drops it if the process dies.
  private var lockDescriptor: Int32
  private let begin, commit, rollback: SQLiteStatement
  private let insertHistory, putLive, deleteLive, setMeta, deleteCompacted: SQLiteStatement

  init(path: String, maximumSize: Int64?) throws(StoreError) {
    lockDescriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard lockDescriptor >= 0 else { throw .io("cannot open \(path): \(String(cString: strerror(errno)))") }
    guard flock(lockDescriptor, LOCK_EX | LOCK_NB) == 0 else {
      Glibc.close(lockDescriptor)
      throw .io("\(path) is already open in another store (one store per database file)")
    }
    do throws(StoreError) {
      db = try SQLiteConnection(path: path)
      var journalMode = ""
      try db.prepare("PRAGMA journal_mode=WAL").query { journalMode = $0.text(0) }
      guard journalMode == "wal" else { throw StoreError.io("\(path): cannot use WAL mode (got \(journalMode))") }
      // FULL: a commit is on disk (WAL fsync'd) before the writer reports it.
      try db.execute("PRAGMA synchronous=FULL")
      if let maximumSize {
        var pageSize: Int64 = 4096
        try db.prepare("PRAGMA page_size").query { pageSize = $0.integer(0) }
        try db.execute("PRAGMA max_page_count=\(max(maximumSize / pageSize, 1))")
      }
      try db.execute("BEGIN IMMEDIATE; \(StoreSchema.create) COMMIT")
      var schemaVersion: Int64 = 0
      try db.prepare("SELECT value FROM meta WHERE name = 'schema_version'").query { schemaVersion = $0.integer(0) }
      guard schemaVersion == StoreSchema.version else {
        throw StoreError.io("\(path) has store schema version \(schemaVersion); this build reads version "
                            + "\(StoreSchema.version)")
      }
      begin = try db.prepare("BEGIN IMMEDIATE")
      commit = try db.prepare("COMMIT")
      rollback = try db.prepare("ROLLBACK")
      insertHistory = try db.prepare("""
        INSERT INTO history (revision, key, deleted, value, create_revision, version, prev_revision)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        """)
      putLive = try db.prepare("""
        INSERT INTO live (key, revision) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET revision = ?2
        """)
      deleteLive = try db.prepare("DELETE FROM live WHERE key = ?")
      setMeta = try db.prepare("UPDATE meta SET value = ? WHERE name = ?")
      deleteCompacted = try db.prepare("""
        DELETE FROM history WHERE revision <= ?1
          AND revision NOT IN (SELECT revision FROM live)
          AND revision NOT IN (SELECT prev_revision FROM history
                               WHERE revision > ?1 AND prev_revision IS NOT NULL)
        """)
    } catch {
      Glibc.close(lockDescriptor)
      throw error
    }
  }

  deinit { close() }

  /// The most of the file mapped while loading: beyond it SQLite reads as usual.
  private static let loadMapBytes: Int64 = 1 << 32

  /// The latest state. Rows come in SQLite's key order (their UTF-8 bytes), which is Swift's for
  /// the ASCII keys Kubernetes names make, so they append without sorting; a key Swift orders
  /// otherwise is inserted where it belongs.
  func load() throws(StoreError) -> StoredState {
    var state = StoredState(live: OrderedKeyValues(), revision: 0, compacted: 0)
    try db.prepare("SELECT name, value FROM meta").query { row in
      switch row.text(0) {
      case "revision": state.revision = row.integer(1)
      case "compacted": state.compacted = row.integer(1)
      default: break
      }
    }
    // Each live row is a random lookup into history: through a memory map SQLite reads the pages
    // in place instead of one pread each into a small cache. Only for the load, so that the
    // mapped file does not stay resident in an idle server (SQLite writes through write(2) either way).
    try db.execute("PRAGMA mmap_size=\(Self.loadMapBytes)")
    defer { try? db.execute("PRAGMA mmap_size=0") }
    try db.prepare("""
      SELECT h.key, h.value, h.create_revision, h.revision, h.version
      FROM live l JOIN history h ON h.revision = l.revision
      ORDER BY l.key
      """).query { row in
      state.live.append(KeyValue(key: row.text(0), value: row.blob(1), createRevision: row.integer(2),
                                 modRevision: row.integer(3), version: row.integer(4)))
    }
    return state
  }

  /// Writes a batch in one transaction, so one fsync covers all of it, then compacts if asked.
  func commit(_ events: [WatchEvent], compactingThrough compaction: Int64?) throws(StoreError) {
    try begin.run()
    do {
      for event in events {
        let kv = event.kv
        let deleted = event.kind == .delete
        try insertHistory.run(.integer(kv.modRevision), .text(kv.key), .integer(deleted ? 1 : 0),
                              deleted ? .null : .blob(kv.value), .integer(kv.createRevision),
                              .integer(kv.version), event.prev.map { .integer($0.modRevision) } ?? .null)
        if deleted {
          try deleteLive.run(.text(kv.key))
        } else {
          try putLive.run(.text(kv.key), .integer(kv.modRevision))
        }
      }
      if let last = events.last { try setMeta.run(.integer(last.revision), .text("revision")) }
      if let compaction {
        try deleteCompacted.run(.integer(compaction))
        try setMeta.run(.integer(compaction), .text("compacted"))
      }
      try commit.run()
    } catch {
      try? rollback.run()  // SQLite may have rolled back already; the first error is the one to report
      throw error
    }
  }

  func close() {
    db.close()
    if lockDescriptor >= 0 {
      // Only now: closing any descriptor of the file drops SQLite's own POSIX locks on it.
      Glibc.close(lockDescriptor)
      lockDescriptor = -1
    }
  }
}

/// Reads history for watches that start before the in-memory window, on its own connection so
/// that it never waits for the writer (WAL readers and the writer proceed side by side).
final class HistoryReader: @unchecked Sendable {
  private let lock = Lock()
  private let db: SQLiteConnection
  private let begin, end, compacted, events: SQLiteStatement

  init(path: String) throws(StoreError) {
    db = try SQLiteConnection(path: path)
    begin = try db.prepare("BEGIN")
    end = try db.prepare("COMMIT")
    compacted = try db.prepare("SELECT value FROM meta WHERE name = 'compacted'")
    events = try db.prepare("""
      SELECT h.revision, h.key, h.deleted, h.value, h.create_revision, h.version, h.prev_revision,
             p.value, p.create_revision, p.version
      FROM history h LEFT JOIN history p ON p.revision = h.prev_revision
      WHERE h.revision >= ?1 AND h.revision <= ?2 AND substr(h.key, 1, length(?3)) = ?3
      ORDER BY h.revision
      """)
  }

  /// Changes under `prefix` from `first` through `last`, read in one snapshot that also says
  /// whether compaction has taken any of them.
  func events(prefix: String, from first: Int64, through last: Int64) throws(StoreError) -> [WatchEvent] {
    lock.lock()
    defer { lock.unlock() }
    try begin.run()
    defer { try? end.run() }
    var compactedRevision: Int64 = 0
    try compacted.query { compactedRevision = $0.integer(0) }
    guard first > compactedRevision else { throw .compacted(compactedRevision) }
    var found: [WatchEvent] = []
    try events.query(.integer(first), .integer(last), .text(prefix)) { row throws(StoreError) in
      found.append(try Self.event(from: row))
    }
    return found
  }

  private static func event(from row: SQLiteRow) throws(StoreError) -> WatchEvent {
    let revision = row.integer(0), key = row.text(1)
    var prev: KeyValue?
    if !row.isNull(6) {
      guard !row.isNull(8) else {
        throw .io("history row \(revision) names revision \(row.integer(6)) as its previous value, which is missing")
      }
      prev = KeyValue(key: key, value: row.blob(7), createRevision: row.integer(8),
                      modRevision: row.integer(6), version: row.integer(9))
    }
    guard row.integer(2) != 0 else {
      let kv = KeyValue(key: key, value: row.blob(3), createRevision: row.integer(4),
                        modRevision: revision, version: row.integer(5))
      return WatchEvent(kind: .put, kv: kv, prev: prev)
    }
    guard var deleted = prev else { throw .io("history row \(revision) deletes \(key) but names no value") }
    deleted.modRevision = revision
    return WatchEvent(kind: .delete, kv: deleted, prev: prev)
  }

  func close() {
    lock.lock()
    db.close()
    lock.unlock()
  }
}
