// How many replicas each metric asks for, and which wins: Kubernetes' replica_calculator.go and
// computeReplicasForMetrics, over numbers the caller measured instead of pod lists.
import FoundationEssentials
import Glibc

enum ReplicaCalculator {
  typealias Metric = HPARequest.Metric

  /// The metrics' verdict: the largest proposal and its metric (the first on a tie), or nil
  /// when Kubernetes would not scale at all: every metric lacks data, or some do and the rest
  /// would scale down (a missing metric might have asked for more).
  static func desiredReplicas(for metrics: [Metric], currentReplicas: Int, tolerance: Double)
    -> (replicas: Int, metric: String)?
  {
    var best: (replicas: Int, metric: String)?
    var missing = 0
    for metric in metrics {
      guard let proposal = proposal(for: metric, currentReplicas: currentReplicas,
                                    tolerance: tolerance) else {
        missing += 1
        continue
      }
      // As Kubernetes does: a proposal of 0 is replaced by any later one, even an equal one.
      if best == nil || best!.replicas == 0 || proposal > best!.replicas {
        best = (proposal, metric.name)
      }
    }
    guard let best, missing == 0 || best.replicas >= currentReplicas else { return nil }
    return best
  }

  /// One metric's proposal; nil when no pod reports it.
  static func proposal(for metric: Metric, currentReplicas: Int, tolerance: Double) -> Int? {
    switch (metric.type, metric.targetType) {
    case (.object, .value), (.external, .value):
      return usageRatioReplicas(ratio: metric.current / metric.target,
                                readyPods: metric.readyPods ?? currentReplicas,
                                currentReplicas: currentReplicas, tolerance: tolerance)
    case (.object, .averageValue), (.external, .averageValue):
      // GetObjectPerPodMetricReplicas / GetExternalPerPodMetricReplicas: `current` is the total.
      let ratio = metric.current / (metric.target * Double(currentReplicas))
      guard abs(1 - ratio) > tolerance else { return currentReplicas }
      return Int((metric.current / metric.target).rounded(.up))
    default:
      return podAverageReplicas(metric, currentReplicas: currentReplicas, tolerance: tolerance)
    }
  }

  /// getUsageRatioReplicaCount: a Value target scales the ready pods by the ratio; from zero
  /// replicas (minReplicas 0) the ratio alone is the count.
  private static func usageRatioReplicas(ratio: Double, readyPods: Int, currentReplicas: Int,
                                         tolerance: Double) -> Int {
    guard currentReplicas != 0 else { return Int(ratio.rounded(.up)) }
    guard abs(1 - ratio) > tolerance else { return currentReplicas }
    return Int((ratio * Double(readyPods)).rounded(.up))
  }

  /// GetResourceReplicas / calcPlainMetricReplicas for pod averages. Pods that do not report
  /// (currentReplicas − readyPods of them) count as Kubernetes counts pods with missing metrics:
  /// as using nothing on a scale-up, and on a scale-down as using the target (for Utilization,
  /// max(100%, target)); and a change that this reverses or that lands in the tolerance is none.
  private static func podAverageReplicas(_ metric: Metric, currentReplicas: Int,
                                         tolerance: Double) -> Int? {
    let reporting = min(metric.readyPods ?? currentReplicas, currentReplicas)
    guard reporting > 0 else { return nil }
    let ratio = metric.current / metric.target
    let silent = currentReplicas - reporting
    if silent == 0 {
      guard abs(1 - ratio) > tolerance else { return currentReplicas }
      return Int((ratio * Double(reporting)).rounded(.up))
    }

    let fill: Double?
    if ratio < 1 {
      fill = metric.targetType == .utilization ? max(100, metric.target) : metric.target
    } else if ratio > 1 || metric.targetType != .utilization {
      fill = 0
    } else {
      fill = nil  // GetResourceReplicas fills nothing at exactly the target
    }
    let counted = fill == nil ? reporting : currentReplicas
    let total = metric.current * Double(reporting) + (fill ?? 0) * Double(silent)
    let newRatio = total / Double(counted) / metric.target
    if abs(1 - newRatio) <= tolerance || (ratio < 1 && newRatio > 1) || (ratio > 1 && newRatio < 1) {
      return currentReplicas
    }
    let replicas = Int((newRatio * Double(counted)).rounded(.up))
    if (newRatio < 1 && replicas > currentReplicas) || (newRatio > 1 && replicas < currentReplicas) {
      return currentReplicas
    }
    return replicas
  }
}
