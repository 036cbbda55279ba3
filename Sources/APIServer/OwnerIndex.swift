// Which stored objects name which owners (metadata.ownerReferences), kept from the store's watch
// so that a delete finds its dependents without reading every object. Only objects whose bytes
// mention ownerReferences are read (OwnerReferenceScanner); most own nothing and cost a memchr.
// Loop only.
import Glibc
import ObjectModel
import Store

final class OwnerIndex {
  /// Owner uid → keys of the objects that name it.
  private var dependents: [String: Set<String>] = [:]
  /// Key → the owner uids it names, to undo on change or delete.
  private var owners: [String: [String]] = [:]
  private var watch: WatchHandle?
  private static let marker = Array(#""ownerReferences""#.utf8)

  /// Indexes what is stored, then follows every change after it.
  func start(_ store: KeyValueStore) throws(StoreError) {
    // Nothing is indexed yet, so there is nothing to undo first.
    let revision = store.forEach(prefix: "/registry/") { add($0.key, $0.value) }
    watch = try store.watch(prefix: "/registry/", fromRevision: revision + 1) { [self] event in
      update(event.kv.key, event.kind == .delete ? nil : event.kv.value)
    }
  }

  func stop(_ store: KeyValueStore) {
    if let watch { store.cancel(watch) }
    watch = nil
  }

  func keys(ownedBy uid: String) -> Set<String> { dependents[uid] ?? [] }

  private func update(_ key: String, _ value: [UInt8]?) {
    for uid in owners.removeValue(forKey: key) ?? [] {
      dependents[uid]?.remove(key)
      if dependents[uid]?.isEmpty == true { dependents[uid] = nil }
    }
    if let value { add(key, value) }
  }

  private func add(_ key: String, _ value: [UInt8]) {
    guard Self.mentionsOwners(value), let uids = OwnerReferenceScanner.ownerUIDs(in: value) ?? Self.parsedOwnerUIDs(value),
          !uids.isEmpty else { return }
    owners[key] = uids
    for uid in uids { dependents[uid, default: []].insert(key) }
  }

  /// The owner uids by a full parse, for what the scanner does not read (escaped keys or uids).
  private static func parsedOwnerUIDs(_ value: [UInt8]) -> [String]? {
    guard let object = try? JSON.parse(value) else { return nil }
    return (object[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).compactMap { $0["uid"]?.stringValue }
  }

  /// Where the marker's capital R sits: R is rare in JSON, so libc's vectorised memchr finds the
  /// few candidates and only those are compared whole (a byte loop cost ~20 ms per 65,000 objects).
  private static let anchor = marker.firstIndex(of: UInt8(ascii: "R"))!

  static func mentionsOwners(_ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBufferPointer { haystack in
      marker.withUnsafeBufferPointer { needle in
        guard haystack.count >= needle.count, let base = haystack.baseAddress, let marker = needle.baseAddress else {
          return false
        }
        // Positions of R that leave room for the whole marker around it: [anchor, end).
        let end = haystack.count - needle.count + anchor + 1
        var from = anchor
        while from < end, let hit = memchr(base + from, Int32(needle[anchor]), end - from) {
          let at = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(hit))
          if memcmp(base + at - anchor, marker, needle.count) == 0 { return true }
          from = at + 1
        }
        return false
      }
    }
  }
}
