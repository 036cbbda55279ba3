// A thin Swift face on one SQLite connection: statements prepared once, values bound by position,
// every failure turned into a StoreError that names the file and SQLite's message.
import CSQLite

/// A value bound to a statement parameter.
enum SQLValue {
  case integer(Int64)
  case text(String)
  case blob([UInt8])
  case null
}

/// One connection, used by one thread at a time (the store arranges that), hence NOMUTEX.
final class SQLiteConnection {
  let path: String
  private var handle: OpaquePointer?
  private var statements: [SQLiteStatement] = []

  init(path: String) throws(StoreError) {
    self.path = path
    let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
    let status = sqlite3_open_v2(path, &handle, flags, nil)
    guard status == SQLITE_OK else {
      let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(status))
      sqlite3_close_v2(handle)
      throw .io("cannot open database \(path): \(message)")
    }
    // The writer and a watch resuming from history may meet on the WAL's locks for a moment.
    sqlite3_busy_timeout(handle, 5_000)
  }

  deinit { close() }

  /// Runs one or more statements that return no rows.
  func execute(_ sql: String) throws(StoreError) {
    var message: UnsafeMutablePointer<CChar>?
    let status = sqlite3_exec(handle, sql, nil, nil, &message)
    defer { sqlite3_free(message) }
    guard status == SQLITE_OK else {
      throw .io("\(path): \(message.map { String(cString: $0) } ?? "error \(status)") (in: \(sql))")
    }
  }

  /// A statement kept for the connection's life.
  func prepare(_ sql: String) throws(StoreError) -> SQLiteStatement {
    var statement: OpaquePointer?
    guard sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil) == SQLITE_OK,
          let statement else {
      throw error("preparing \(sql)")
    }
    let prepared = SQLiteStatement(statement, connection: self)
    statements.append(prepared)
    return prepared
  }

  func error(_ doing: String) -> StoreError {
    .io("\(path): \(doing): \(handle.map { String(cString: sqlite3_errmsg($0)) } ?? "connection closed")")
  }

  func close() {
    guard let handle else { return }
    for statement in statements { statement.finalize() }
    statements = []
    sqlite3_close_v2(handle)
    self.handle = nil
  }
}

/// A prepared statement. `run` binds and steps to the end; `query` also hands over each row.
final class SQLiteStatement {
  private var handle: OpaquePointer?
  private unowned let connection: SQLiteConnection

  fileprivate init(_ handle: OpaquePointer, connection: SQLiteConnection) {
    self.handle = handle
    self.connection = connection
  }

  fileprivate func finalize() {
    sqlite3_finalize(handle)
    handle = nil
  }

  func run(_ values: SQLValue...) throws(StoreError) {
    try query(values) { _ in }
  }

  func query(_ values: SQLValue..., row: (SQLiteRow) throws(StoreError) -> Void) throws(StoreError) {
    try query(values, row: row)
  }

  func query(_ values: [SQLValue], row: (SQLiteRow) throws(StoreError) -> Void) throws(StoreError) {
    // Resetting at the end matters: a reading statement left open pins its snapshot of the WAL.
    defer {
      sqlite3_reset(handle)
      sqlite3_clear_bindings(handle)
    }
    for (index, value) in values.enumerated() { try bind(value, at: Int32(index + 1)) }
    while true {
      switch sqlite3_step(handle) {
      case SQLITE_ROW: try row(SQLiteRow(statement: handle))
      case SQLITE_DONE: return
      default: throw connection.error("running \(String(cString: sqlite3_sql(handle)))")
      }
    }
  }

  private func bind(_ value: SQLValue, at index: Int32) throws(StoreError) {
    let status: Int32
    switch value {
    case .integer(let number):
      status = sqlite3_bind_int64(handle, index, number)
    case .text(let text):
      status = sqlite3_bind_text(handle, index, text, -1, skiff_sqlite_transient())
    case .blob(let bytes) where bytes.isEmpty:
      // A zero-length blob, not NULL: an empty array may have no storage to point at.
      status = sqlite3_bind_zeroblob(handle, index, 0)
    case .blob(let bytes):
      status = bytes.withUnsafeBytes {
        sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), skiff_sqlite_transient())
      }
    case .null:
      status = sqlite3_bind_null(handle, index)
    }
    guard status == SQLITE_OK else { throw connection.error("binding parameter \(index)") }
  }
}

/// The current row of a query, valid during the row callback only.
struct SQLiteRow {
  fileprivate let statement: OpaquePointer?

  func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }

  func integer(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

  func text(_ column: Int32) -> String {
    // SQLite's order: fetch the pointer first, then the length (which saves a strlen).
    guard let text = sqlite3_column_text(statement, column) else { return "" }
    return String(decoding: UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(statement, column))),
                  as: UTF8.self)
  }

  func blob(_ column: Int32) -> [UInt8] {
    // SQLite's order: fetch the pointer first, then the length.
    guard let bytes = sqlite3_column_blob(statement, column) else { return [] }
    let count = Int(sqlite3_column_bytes(statement, column))
    return Array(UnsafeRawBufferPointer(start: bytes, count: count))
  }
}
