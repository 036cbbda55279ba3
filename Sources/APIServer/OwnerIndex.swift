// Which stored objects name which owners (metadata.ownerReferences), kept from the store's watch
// so that a delete finds its dependents without reading every object. Only objects whose bytes
// mention ownerReferences are parsed; most own nothing and cost a byte scan. Loop only.
#if canImport(Glibc)
import Glibc
#endif
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
    let all = store.list(prefix: "/registry/", limit: 0)
    for kv in all.items { update(kv.key, kv.value) }
    watch = try store.watch(prefix: "/registry/", fromRevision: all.revision + 1) { [self] event in
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
    guard let value, Self.mentionsOwners(value), let object = try? JSON.parse(value) else { return }
    let uids = (object[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).compactMap { $0["uid"]?.stringValue }
    guard !uids.isEmpty else { return }
    owners[key] = uids
    for uid in uids { dependents[uid, default: []].insert(key) }
  }

  /// Every stored write is scanned, so the scan hops with memchr between the marker's rarest
  /// byte, its uppercase R, instead of comparing at every quote (JSON's commonest byte).
  static func mentionsOwners(_ bytes: [UInt8]) -> Bool {
    let anchor = 6  // marker[6] == "R"
    return bytes.withUnsafeBytes { haystack in
      marker.withUnsafeBytes { needle in
        guard haystack.count >= needle.count, let base = haystack.baseAddress else { return false }
        var from = anchor
        let last = haystack.count - needle.count + anchor  // the last place the anchor can be
        while from <= last, let hit = memchr(base + from, Int32(needle[anchor]), last - from + 1) {
          let at = base.distance(to: UnsafeRawPointer(hit))
          if memcmp(base + at - anchor, needle.baseAddress!, needle.count) == 0 { return true }
          from = at + 1
        }
        return false
      }
    }
  }
}
