// Pods waiting to be scheduled: an active heap in queue-sort order (the profile's queue_sort
// plugin, PrioritySort by default), an unschedulable pool that cluster events move back, and an
// exponential back-off per pod (1 s doubling to 10 s, as kube-scheduler) so a pod that keeps
// failing does not spin. As in kube-scheduler, a parked pod is retried after a cluster event (once
// its back-off is over) or after five minutes; an idle cluster costs nothing. Loop only.
import FoundationEssentials
import Glibc
import Kernel
import SkiffABI
import SystemKit

final class SchedulingQueue {
  private struct Entry {
    let pod: PodInfo
    let enqueued: Int64
  }

  private let less: skiff_scheduler_plugin?
  private var heap: [Entry] = []
  private var queued: Set<String> = []
  /// Pods that fitted nowhere: how often they failed, when their back-off ends, and whether a
  /// cluster event since then asks for a retry as soon as it does.
  private var unschedulable: [String: (pod: PodInfo, attempts: Int, notBefore: UInt64, woken: Bool)] = [:]
  /// kube-scheduler's podMaxInUnschedulablePodsDuration.
  static let flushAfter: UInt64 = 300_000_000_000
  private var backoffTimer: LoopTimer?
  private var backoffDeadline: UInt64 = 0

  init(less: skiff_scheduler_plugin?) { self.less = less }

  var hasActive: Bool { !heap.isEmpty }

  func add(_ pod: PodInfo) {
    unschedulable[pod.key] = nil
    guard queued.insert(pod.key).inserted else { return }
    push(Entry(pod: pod, enqueued: Int64(monotonicNanoseconds())))
  }

  func remove(_ key: String) {
    unschedulable[key] = nil
    queued.remove(key)  // a stale heap entry is skipped when popped
  }

  func popActive() -> PodInfo? {
    while let entry = pop() {
      if queued.remove(entry.pod.key) != nil { return entry.pod }
    }
    return nil
  }

  func parkUnschedulable(_ pod: PodInfo) {
    let attempts = (unschedulable[pod.key]?.attempts ?? 0) + 1
    let backoff = min(10, 1 << min(attempts - 1, 4))  // seconds: 1, 2, 4, 8, 10
    unschedulable[pod.key] = (pod, attempts, monotonicNanoseconds() + UInt64(backoff) * 1_000_000_000, false)
  }

  /// A cluster event that may make pods schedulable: those whose back-off has passed go back to
  /// the active queue now, the others as soon as it passes.
  func moveAllToActive() {
    let now = monotonicNanoseconds()
    for (key, parked) in unschedulable {
      if parked.notBefore <= now {
        unschedulable[key] = nil
        if queued.insert(key).inserted { push(Entry(pod: parked.pod, enqueued: Int64(now))) }
      } else {
        unschedulable[key]?.woken = true
      }
    }
  }

  /// Wakes `retry` when the earliest woken back-off ends, or for the five-minute flush; nothing
  /// is armed while nothing waits.
  func armBackoff(loop: EventLoop, retry: @escaping () -> Void) {
    guard !unschedulable.isEmpty else { return }
    let now = monotonicNanoseconds()
    let next = unschedulable.values.map { $0.woken ? $0.notBefore : $0.notBefore + Self.flushAfter }.min()!
    // An event may have woken a pod whose retry is due before the armed flush: re-arm earlier.
    if let armed = backoffTimer {
      guard next < backoffDeadline else { return }
      armed.close()
    }
    backoffDeadline = next
    let delay = next > now ? (next - now) / 1_000_000 + 1 : 1
    backoffTimer = loop.scheduleTimer(after: delay) { [weak self] _ in
      guard let self else { return }
      self.backoffTimer = nil
      self.flush()
      retry()
      if !self.hasActive { self.armBackoff(loop: loop, retry: retry) }
    }
  }

  /// Back to the active queue: woken pods whose back-off is over, and any parked for five minutes.
  private func flush() {
    let now = monotonicNanoseconds()
    for (key, parked) in unschedulable
    where (parked.woken && parked.notBefore <= now) || parked.notBefore + Self.flushAfter <= now {
      unschedulable[key] = nil
      if queued.insert(key).inserted { push(Entry(pod: parked.pod, enqueued: Int64(now))) }
    }
  }

  // MARK: Heap

  private func before(_ a: Entry, _ b: Entry) -> Bool {
    if let sort = less?.queue_sort_less {
      return sort(less!.`self`, a.pod.pod, a.enqueued, b.pod.pod, b.enqueued) != 0
    }
    let pa = a.pod.pod.pointee.priority, pb = b.pod.pod.pointee.priority
    return pa != pb ? pa > pb : a.enqueued < b.enqueued
  }

  private func push(_ entry: Entry) {
    heap.append(entry)
    var child = heap.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard before(heap[child], heap[parent]) else { break }
      heap.swapAt(child, parent)
      child = parent
    }
  }

  private func pop() -> Entry? {
    guard !heap.isEmpty else { return nil }
    heap.swapAt(0, heap.count - 1)
    let top = heap.removeLast()
    var parent = 0
    while true {
      let left = 2 * parent + 1, right = left + 1
      var first = parent
      if left < heap.count && before(heap[left], heap[first]) { first = left }
      if right < heap.count && before(heap[right], heap[first]) { first = right }
      if first == parent { break }
      heap.swapAt(parent, first)
      parent = first
    }
    return top
  }
}
