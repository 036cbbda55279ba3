// The most recent committed changes, kept on the event loop so that a watch resuming from a
// recent revision (the common case: a client reconnecting) needs no SQLite read.

struct RecentHistory {
  /// How many events to keep.
  let capacity: Int
  /// Events in revision order; those before `start` are dropped and removed in bulk now and then.
  private var events: [WatchEvent] = []
  private var start = 0

  init(capacity: Int) {
    self.capacity = max(capacity, 0)
  }

  /// The oldest revision held, nil when nothing is.
  var oldestRevision: Int64? {
    start < events.count ? events[start].revision : nil
  }

  mutating func append(_ new: [WatchEvent]) {
    events += new
    start = max(start, events.count - capacity)
    if start >= max(capacity, 1024) {
      events.removeFirst(start)
      start = 0
    }
  }

  /// Held events at or after `revision`, oldest first.
  func events(from revision: Int64) -> ArraySlice<WatchEvent> {
    var low = start, high = events.count
    while low < high {
      let middle = (low + high) / 2
      if events[middle].revision >= revision { high = middle } else { low = middle + 1 }
    }
    return events[low...]
  }
}
