// Counters and gauges that plugins and the kernel report, by name.
import Synchronization

public final class Metrics: Sendable {
  public enum Kind: Sendable { case counter, gauge }
  private let values = Mutex<[String: (kind: Kind, value: Double)]>([:])

  public init() {}

  public func add(_ name: String, _ delta: Double) {
    guard delta >= 0, delta.isFinite else { return }  // counters only go up
    values.withLock { $0[name, default: (.counter, 0)].value += delta }
  }

  public func set(_ name: String, _ value: Double) {
    values.withLock { $0[name] = (.gauge, value) }
  }

  public func value(_ name: String) -> Double? {
    values.withLock { $0[name]?.value }
  }

  /// Prometheus text exposition, sorted by name.
  public func exposition() -> String {
    values.withLock { values in
      values.keys.sorted().map { name in
        let entry = values[name]!
        return "# TYPE \(name) \(entry.kind == .counter ? "counter" : "gauge")\n\(name) \(entry.value)\n"
      }.joined()
    }
  }
}
