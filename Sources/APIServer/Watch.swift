// Watches: a chunked stream of newline-delimited {"type","object"} events. With no
// resourceVersion (or "0") the current state is replayed as ADDED first; otherwise the stream
// resumes after that revision, or reports 410 Expired when it was compacted away. Selectors are
// applied to both sides of a change, so objects leaving a selection arrive as DELETED.
import FoundationEssentials
import Glibc
import HTTP
import Kernel
import ObjectModel
import Store
import SystemKit

final class WatchStream {
  let responder: HTTPResponder
  private let loop: EventLoop
  var handle: WatchHandle?
  var timer: LoopTimer?
  private(set) var ended = false
  private let onEnd: () -> Void
  /// Events written since the loop last came round, sent as one chunk: the store delivers a
  /// commit batch's events at once, and a write per event cost a system call and a TCP segment.
  private var pending: [UInt8] = []
  private var flushScheduled = false

  init(responder: HTTPResponder, loop: EventLoop, onEnd: @escaping () -> Void) {
    self.responder = responder
    self.loop = loop
    self.onEnd = onEnd
  }

  /// What the client has yet to read, sent or not.
  var queuedBytes: Int { pending.count + responder.queuedBytes }

  func write(_ event: JSON) {
    guard !ended else { return }
    event.serialize(into: &pending)
    pending.append(10)
    scheduleFlush()
  }

  private func scheduleFlush() {
    guard !flushScheduled else { return }
    flushScheduled = true
    loop.execute { [self] in
      flushScheduled = false
      flush()
    }
  }

  private func flush() {
    guard !pending.isEmpty, responder.isOpen else { return pending.removeAll() }
    responder.write(chunk: pending)
    pending.removeAll(keepingCapacity: pending.capacity <= 64 * 1024)
  }

  /// An event whose object is already JSON text.
  func write(_ kind: String, objectBytes: [UInt8]) {
    guard !ended else { return }
    pending.append(contentsOf: "{\"type\":\"\(kind)\",\"object\":".utf8)
    pending.append(contentsOf: objectBytes)
    pending.append(UInt8(ascii: "}"))
    pending.append(10)
    scheduleFlush()
  }

  func end() {
    guard !ended else { return }
    ended = true
    timer?.close()
    onEnd()
    flush()
    if responder.isOpen { responder.end() }
  }
}

extension APIServer {
  /// A slow client that lets this much pile up is cut off rather than grow the server.
  static let maxQueuedWatchBytes = 64 << 20

  func watch(_ request: HTTPRequest, _ target: ResourceRequest, _ responder: HTTPResponder) throws(APIError) {
    let filter = try ObjectFilter(request)
    let type = target.type
    let table = Tables.wantsTable(accept: request.headers["Accept"])
    let bookmarks = request.queryValue("allowWatchBookmarks") == "true"
    let prefix = type.keyPrefix + (target.namespace.map { "\($0)/" } ?? "")
    let requested = request.queryValue("resourceVersion") ?? ""
    guard requested.isEmpty || (Int64(requested) ?? -1) >= 0 else {
      throw APIError.badRequest("invalid resourceVersion \"\(requested)\"")
    }

    responder.beginStream(status: 200, headers: [("Content-Type", "application/json")])
    let id = ObjectIdentifier(responder)
    let stream = WatchStream(responder: responder, loop: loop) { [weak self] in
      guard let self, let stream = self.watches.removeValue(forKey: id) else { return }
      if let handle = stream.handle { self.store.cancel(handle) }
    }
    watches[id] = stream
    responder.onClose { stream.end() }

    var columnsSent = false
    func emit(_ kind: String, _ object: JSON) {
      if table {
        let rows = Tables.table(type, [object], resourceVersion: object[path: ["metadata", "resourceVersion"]]?.stringValue,
                                withColumns: !columnsSent)
        columnsSent = true
        stream.write(["type": .string(kind), "object": rows])
      } else {
        stream.write(["type": .string(kind), "object": Conversion.present(object, as: type)])
      }
      if stream.queuedBytes > Self.maxQueuedWatchBytes { stream.end() }
    }

    var from = (Int64(requested) ?? 0) + 1
    if requested.isEmpty || requested == "0" {
      let snapshot = store.list(prefix: prefix, limit: 0)
      for kv in snapshot.items {
        let object = StoredObject.decode(kv)
        if filter.matches(object) { emit("ADDED", object) }
      }
      from = snapshot.revision + 1
    }
    do {
      // Selectors read labels and a few fields, never field ownership, and an object goes out as
      // its stored bytes with the resourceVersion spliced in: a watched change costs a partial
      // parse per side a selector must see, instead of two whole parses and a print.
      let selective = !filter.labels.isEmpty || filter.fields != nil
      let verbatim = !table && !Conversion.isV1Autoscaler(type)
      func selected(_ kv: KeyValue) -> Bool { !selective || filter.matches(StoredObject.decodeForSelection(kv, of: type)) }
      func emitStored(_ kind: String, _ kv: KeyValue) {
        if verbatim, let bytes = StoredObject.withVersion(kv) {
          stream.write(kind, objectBytes: bytes)
          if stream.queuedBytes > Self.maxQueuedWatchBytes { stream.end() }
        } else {
          emit(kind, StoredObject.decode(kv))
        }
      }
      stream.handle = try store.watch(prefix: prefix, fromRevision: from) { event in
        guard !stream.ended else { return }
        let matchesBefore = event.prev.map(selected) ?? false
        switch event.kind {
        case .put:
          if selected(event.kv) {
            emitStored(matchesBefore ? "MODIFIED" : "ADDED", event.kv)
          } else if matchesBefore {
            emitStored("DELETED", event.kv)
          }
        case .delete:
          if matchesBefore || selected(event.kv) { emitStored("DELETED", event.kv) }
        }
      }
    } catch {
      let compacted: Int64 = if case .compacted(let revision) = error { revision } else { 0 }
      stream.write(["type": "ERROR", "object": APIError.gone("too old resource version: \(from - 1) (\(compacted))").status])
      return stream.end()
    }

    // Bookmarks tell a reflector how far it has read; timeoutSeconds ends the stream.
    let timeout = request.queryValue("timeoutSeconds").flatMap { UInt64($0) }
    let bookmarkEvery: UInt64 = 60_000
    if bookmarks || timeout != nil {
      let started = monotonicNanoseconds()
      stream.timer = loop.scheduleTimer(after: min(bookmarkEvery, (timeout ?? 60) * 1000),
                                        repeating: min(bookmarkEvery, (timeout ?? 60) * 1000)) { [self] _ in
        let elapsed = (monotonicNanoseconds() - started) / 1_000_000_000
        if let timeout, elapsed >= timeout { return stream.end() }
        if bookmarks {
          stream.write(["type": "BOOKMARK",
                        "object": ["kind": .string(type.kind), "apiVersion": .string(type.groupVersion),
                                   "metadata": ["resourceVersion": .string(String(store.currentRevision))]]])
        }
      }
    }
  }
}
