// Which positions of the scheduler snapshot's node array changed, in order, for
// host->cycle_changed_nodes: plugins that keep counts across cycles read the few nodes a cycle
// changed instead of comparing all the node structs' generations every cycle.
import Synchronization

public final class NodeChangeLog: @unchecked Sendable {  // loop only
  /// Changed positions; entry i has mark `start + i + 1`. A plain buffer, not an Array, because a
  /// plugin holds a pointer into it for the rest of its slot.
  private var positions: UnsafeMutablePointer<UInt32>
  private var capacity = 1_024
  private var count = 0
  /// The mark before the first entry kept. Each log, and each reset, starts at a mark no other
  /// log in the process uses, so a mark from another snapshot is never mistaken for one of ours.
  private var start: UInt64
  private static let marksPerEpoch: UInt64 = 1 << 40
  private static let lastEpoch = Atomic<UInt64>(0)

  public init() {
    positions = .allocate(capacity: capacity)
    start = Self.newEpoch()
  }

  deinit { positions.deallocate() }

  private static func newEpoch() -> UInt64 { lastEpoch.add(1, ordering: .relaxed).newValue * marksPerEpoch }

  /// The mark after the last change.
  public var end: UInt64 { start + UInt64(count) }

  /// The node at `position` changed, or came.
  public func record(_ position: Int) {
    if count == capacity {
      // A plugin that stopped reading long ago recounts everything anyway: drop the older half.
      if capacity >= Self.keptAtMost {
        let dropped = count / 2
        UnsafeMutableRawPointer(positions).copyMemory(from: positions + dropped,
                                                      byteCount: (count - dropped) * MemoryLayout<UInt32>.stride)
        count -= dropped
        start += UInt64(dropped)
      } else {
        let grown = UnsafeMutablePointer<UInt32>.allocate(capacity: capacity * 2)
        grown.moveInitialize(from: positions, count: count)
        positions.deallocate()
        positions = grown
        capacity *= 2
      }
    }
    positions[count] = UInt32(truncatingIfNeeded: position)
    count += 1
  }
  public static let keptAtMost = 1 << 16

  /// Positions moved (a node went): no earlier mark says what changed any more.
  public func reset() {
    count = 0
    start = Self.newEpoch()
  }

  /// The positions changed after `mark`, or nil when the log cannot tell (the mark is older than
  /// what is kept, from before a reset, or another log's); valid until the next `record`.
  public func changes(after mark: UInt64) -> UnsafeBufferPointer<UInt32>? {
    guard mark >= start, mark <= end else { return nil }
    let from = Int(mark - start)
    return UnsafeBufferPointer(start: positions + from, count: count - from)
  }
}
