// The live keys in key order, for point reads and paged prefix lists. Sorted chunks: an insert
// moves at most one chunk, and a reader's snapshot is one retain (copy-on-write does the rest).

struct OrderedKeyValues {
  private static let chunkCapacity = 512
  /// Sorted, non-empty chunks; every key in a chunk precedes every key in the next.
  private var chunks: [[KeyValue]] = []
  private(set) var count = 0

  init() {}

  /// Adds a key that is not held yet. One that sorts after every key held (a load in key order)
  /// is appended without a search, filling chunks halfway to leave room for later inserts; any
  /// other goes through `put`.
  mutating func append(_ kv: KeyValue) {
    let last = chunks.count - 1
    guard last >= 0, chunks[last][chunks[last].count - 1].key < kv.key else { return put(kv) }
    if chunks[last].count >= Self.chunkCapacity / 2 {
      chunks.append([kv])
    } else {
      chunks[last].append(kv)
    }
    count += 1
  }

  subscript(key: String) -> KeyValue? {
    let (chunk, index) = position(of: key)
    guard chunk < chunks.count, index < chunks[chunk].count, chunks[chunk][index].key == key else { return nil }
    return chunks[chunk][index]
  }

  mutating func put(_ kv: KeyValue) {
    guard !chunks.isEmpty else {
      chunks = [[kv]]
      count = 1
      return
    }
    let chunk = chunkIndex(for: kv.key)
    let index = Self.firstKeyIndex(in: chunks[chunk]) { $0 >= kv.key }
    if index < chunks[chunk].count, chunks[chunk][index].key == kv.key {
      chunks[chunk][index] = kv
      return
    }
    chunks[chunk].insert(kv, at: index)
    count += 1
    if chunks[chunk].count > Self.chunkCapacity {
      let half = chunks[chunk].count / 2
      let upper = Array(chunks[chunk][half...])
      chunks[chunk].removeSubrange(half...)
      chunks.insert(upper, at: chunk + 1)
    }
  }

  mutating func remove(_ key: String) {
    let (chunk, index) = position(of: key)
    guard chunk < chunks.count, index < chunks[chunk].count, chunks[chunk][index].key == key else { return }
    chunks[chunk].remove(at: index)
    count -= 1
    if chunks[chunk].isEmpty {
      chunks.remove(at: chunk)
    } else if chunk + 1 < chunks.count,
              chunks[chunk].count + chunks[chunk + 1].count <= Self.chunkCapacity / 2 {
      // Merge small neighbours so that deletes do not leave a long list of tiny chunks.
      chunks[chunk] += chunks[chunk + 1]
      chunks.remove(at: chunk + 1)
    }
  }

  /// Keys starting with `prefix` and after `after`, at most `limit` (0: all); `more` says whether
  /// another such key follows the last one returned.
  func page(prefix: String, after: String?, limit: Int) -> (items: [KeyValue], more: Bool) {
    var (chunk, index) = position(of: prefix)
    if let after, after >= prefix {
      (chunk, index) = position(of: after)
      if chunk < chunks.count, index < chunks[chunk].count, chunks[chunk][index].key == after { index += 1 }
    }
    var items: [KeyValue] = []
    while chunk < chunks.count {
      let keys = chunks[chunk]
      while index < keys.count {
        guard keys[index].key.hasPrefix(prefix) else { return (items, false) }
        if limit > 0, items.count == limit { return (items, true) }
        items.append(keys[index])
        index += 1
      }
      chunk += 1
      index = 0
    }
    return (items, false)
  }

  /// Calls `body` with each key starting with `prefix`, in order, where `page` would copy them.
  func forEach(prefix: String, _ body: (KeyValue) -> Void) {
    var (chunk, index) = position(of: prefix)
    while chunk < chunks.count {
      let keys = chunks[chunk]
      while index < keys.count {
        guard keys[index].key.hasPrefix(prefix) else { return }
        body(keys[index])
        index += 1
      }
      chunk += 1
      index = 0
    }
  }

  /// Where `key` is or would be inserted: the chunk that covers it and the first index in it
  /// whose key is not before `key` (which may be that chunk's end).
  private func position(of key: String) -> (chunk: Int, index: Int) {
    guard !chunks.isEmpty else { return (0, 0) }
    let chunk = chunkIndex(for: key)
    return (chunk, Self.firstKeyIndex(in: chunks[chunk]) { $0 >= key })
  }

  /// The last chunk whose first key is not after `key`, or the first chunk.
  private func chunkIndex(for key: String) -> Int {
    let following = Self.firstIndex(in: chunks) { $0[0].key > key }
    return max(following - 1, 0)
  }

  /// Binary search: the first index where `isAtOrPast` holds, given it holds for a suffix.
  private static func firstIndex<Element>(in elements: [Element], where isAtOrPast: (Element) -> Bool) -> Int {
    var low = 0, high = elements.count
    while low < high {
      let middle = (low + high) / 2
      if isAtOrPast(elements[middle]) { high = middle } else { low = middle + 1 }
    }
    return low
  }

  private static func firstKeyIndex(in chunk: [KeyValue], where isAtOrPast: (String) -> Bool) -> Int {
    firstIndex(in: chunk) { (kv: KeyValue) in isAtOrPast(kv.key) }
  }
}
