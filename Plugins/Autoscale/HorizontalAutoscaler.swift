// One HPA sync as a pure function: Kubernetes' reconcileAutoscaler (horizontal.go) from the
// metrics' proposal through stabilization and rate limits to a replica count and conditions.
import FoundationEssentials
import Glibc

struct HPACondition {
  var type: String
  var status: Bool
  var reason: String
  var message: String

  var json: [String: Any] {
    ["type": type, "status": status ? "True" : "False", "reason": reason, "message": message]
  }
}

struct HPARecommendation {
  var desiredReplicas: Int
  /// The metric that decided, when metrics decided.
  var metric: String?
  /// What the metrics asked for before stabilization and limits: the value a caller appends to
  /// `recommendations` (with `now`) for the next call, as the controller records it.
  var recommendation: Int?
  /// ScalingActive, AbleToScale, ScalingLimited — those this sync sets.
  var conditions: [HPACondition]

  /// The condition that best says why the count is what it is: a limit that bit, else a
  /// stabilization that held, else the first condition.
  var summary: HPACondition {
    conditions.first { $0.type == "ScalingLimited" && $0.status }
      ?? conditions.first { $0.type == "AbleToScale" && $0.reason != "ReadyForNewScale" }
      ?? conditions.first { $0.type == "ScalingLimited" }
      ?? conditions[0]
  }

  var json: [String: Any] {
    var result: [String: Any] = [
      "desiredReplicas": desiredReplicas, "reason": summary.reason, "message": summary.message,
      "conditions": conditions.map(\.json),
    ]
    if let metric { result["metric"] = metric }
    if let recommendation { result["recommendation"] = recommendation }
    return result
  }
}

enum HorizontalAutoscaler {
  typealias Rules = HPARequest.Rules

  /// The controller's --horizontal-pod-autoscaler-downscale-stabilization default, which also
  /// stands in for an unset behavior.scaleDown.stabilizationWindowSeconds.
  static let downscaleStabilizationSeconds = 300

  static func recommend(_ request: HPARequest) -> HPARecommendation {
    let current = request.currentReplicas
    if current == 0 && request.minReplicas != 0 {
      return HPARecommendation(desiredReplicas: 0, conditions: [HPACondition(
        type: "ScalingActive", status: false, reason: "ScalingDisabled",
        message: "scaling is disabled since the replica count of the target is zero")])
    }
    if current > request.maxReplicas {
      return HPARecommendation(desiredReplicas: request.maxReplicas, conditions: [HPACondition(
        type: "ScalingLimited", status: true, reason: "TooManyReplicas",
        message: "Current number of replicas above Spec.MaxReplicas")])
    }
    if current < request.minReplicas {
      return HPARecommendation(desiredReplicas: request.minReplicas, conditions: [HPACondition(
        type: "ScalingLimited", status: true, reason: "TooFewReplicas",
        message: "Current number of replicas below Spec.MinReplicas")])
    }
    guard let (proposal, metric) = ReplicaCalculator.desiredReplicas(
      for: request.metrics, currentReplicas: current, tolerance: request.tolerance) else {
      let silent = request.metrics.first {
        ReplicaCalculator.proposal(for: $0, currentReplicas: current, tolerance: request.tolerance) == nil
      }!
      return HPARecommendation(desiredReplicas: current, conditions: [HPACondition(
        type: "ScalingActive", status: false, reason: "FailedGet\(silent.type.rawValue)Metric",
        message: "the HPA was unable to compute the replica count: no ready pod reports "
          + "\(silent.name)")])
    }
    let active = HPACondition(
      type: "ScalingActive", status: true, reason: "ValidMetricFound",
      message: "the HPA was able to successfully calculate a replica count from \(metric)")
    let (desired, conditions) = request.behavior == nil
      ? legacyNormalize(request, proposal: proposal)
      : behaviorNormalize(request, proposal: proposal)
    return HPARecommendation(desiredReplicas: desired, metric: metric, recommendation: proposal,
                             conditions: [active] + conditions)
  }

  // MARK: Without behavior

  /// normalizeDesiredReplicas: the highest recommendation of the downscale window, then
  /// convertDesiredReplicasWithRules — min/max, and at most max(2 × current, 4) in one step.
  private static func legacyNormalize(_ request: HPARequest, proposal: Int) -> (Int, [HPACondition]) {
    let cutoff = (request.now ?? 0) - Double(downscaleStabilizationSeconds)
    let stabilized = request.recommendations.filter { !($0.timestamp < cutoff) }
      .reduce(proposal) { max($0, $1.replicas) }
    let able = stabilized != proposal ? stabilizedDown : readyForNewScale

    let scaleUpLimit = max(2 * request.currentReplicas, 4)
    let (maximum, ceiling) = request.maxReplicas > scaleUpLimit
      ? (scaleUpLimit, limited("ScaleUpLimit", increasingTooFast))
      : (request.maxReplicas, limited("TooManyReplicas", aboveMaximum))
    var (desired, limit) = (stabilized, withinRange)
    if stabilized < request.minReplicas {
      (desired, limit) = (request.minReplicas, limited("TooFewReplicas", belowMinimum))
    } else if stabilized > maximum {
      (desired, limit) = (maximum, ceiling)
    }
    limit.status = desired != stabilized
    return (desired, [able, limit])
  }

  // MARK: With behavior

  struct ScalingRules {
    var stabilizationWindowSeconds: Int
    var selectPolicy: HPARequest.SelectPolicy
    var policies: [HPARequest.Policy]

    /// GenerateHPAScaleUpRules / GenerateHPAScaleDownRules: each unset field from the default.
    func filling(_ rules: Rules?) -> ScalingRules {
      ScalingRules(stabilizationWindowSeconds: rules?.stabilizationWindowSeconds ?? stabilizationWindowSeconds,
                   selectPolicy: rules?.selectPolicy ?? selectPolicy,
                   policies: rules?.policies ?? policies)
    }
  }

  /// Up: the larger of 4 pods and 100% per 15 s, at once. Down: 100% per 15 s, after 300 s.
  static let defaultScaleUp = ScalingRules(
    stabilizationWindowSeconds: 0, selectPolicy: .max,
    policies: [.init(type: .pods, value: 4, periodSeconds: 15),
               .init(type: .percent, value: 100, periodSeconds: 15)])
  static let defaultScaleDown = ScalingRules(
    stabilizationWindowSeconds: downscaleStabilizationSeconds, selectPolicy: .max,
    policies: [.init(type: .percent, value: 100, periodSeconds: 15)])

  /// normalizeDesiredReplicasWithBehaviors: stabilizeRecommendationWithBehaviors, then
  /// convertDesiredReplicasWithBehaviorRate.
  private static func behaviorNormalize(_ request: HPARequest, proposal: Int) -> (Int, [HPACondition]) {
    let up = defaultScaleUp.filling(request.behavior?.scaleUp)
    let down = defaultScaleDown.filling(request.behavior?.scaleDown)
    let now = request.now ?? 0
    let current = request.currentReplicas

    // Up: the lowest recommendation of the up window; down: the highest of the down window; the
    // current count moves only as far as both allow.
    let upCutoff = now - Double(up.stabilizationWindowSeconds)
    let downCutoff = now - Double(down.stabilizationWindowSeconds)
    var upRecommendation = proposal
    var downRecommendation = proposal
    for past in request.recommendations {
      if past.timestamp > upCutoff { upRecommendation = min(upRecommendation, past.replicas) }
      if past.timestamp > downCutoff { downRecommendation = max(downRecommendation, past.replicas) }
    }
    let stabilized = min(max(current, upRecommendation), downRecommendation)
    let able = stabilized == proposal ? readyForNewScale
      : proposal >= current ? stabilizedUp : stabilizedDown

    var desired = stabilized
    var limit = withinRange
    if stabilized > current {
      let rate = max(scaleUpLimit(current, request.scaleEvents, up, now: now), current)
      let maximum = min(request.maxReplicas, rate)
      let candidate = request.maxReplicas > rate
        ? limited("ScaleUpLimit", increasingTooFast) : limited("TooManyReplicas", aboveMaximum)
      if stabilized > maximum { (desired, limit) = (maximum, candidate) }
    } else if stabilized < current {
      let rate = min(scaleDownLimit(current, request.scaleEvents, down, now: now), current)
      let minimum = max(request.minReplicas, rate)
      let candidate = request.minReplicas < rate
        ? limited("ScaleDownLimit", decreasingTooFast) : limited("TooFewReplicas", belowMinimum)
      if stabilized < minimum { (desired, limit) = (minimum, candidate) }
    }
    limit.status = desired != stabilized
    return (desired, [able, limit])
  }

  /// calculateScaleUpLimitWithScalingRules: each policy allows growth from the count at the start
  /// of its period; Max takes the most generous policy, Min the strictest.
  private static func scaleUpLimit(_ current: Int, _ events: [HPARequest.ScaleEvent],
                                   _ rules: ScalingRules, now: Double) -> Int {
    guard rules.selectPolicy != .disabled else { return current }
    let proposals = rules.policies.map { policy -> Int in
      let start = periodStart(current, events, policy.periodSeconds, now: now)
      switch policy.type {
      case .pods: return start + policy.value
      // Rounded up, or a small deployment could never grow by a percentage.
      case .percent: return Int((Double(start) * (1 + Double(policy.value) / 100)).rounded(.up))
      }
    }
    return rules.selectPolicy == .min ? proposals.min()! : proposals.max()!
  }

  /// calculateScaleDownLimitWithBehaviors: the mirror image; Max allows the biggest drop.
  private static func scaleDownLimit(_ current: Int, _ events: [HPARequest.ScaleEvent],
                                     _ rules: ScalingRules, now: Double) -> Int {
    guard rules.selectPolicy != .disabled else { return current }
    let proposals = rules.policies.map { policy -> Int in
      let start = periodStart(current, events, policy.periodSeconds, now: now)
      switch policy.type {
      case .pods: return start - policy.value
      // Truncated toward zero, as Go's int32() conversion does.
      case .percent: return Int(Double(start) * (1 - Double(policy.value) / 100))
      }
    }
    return rules.selectPolicy == .min ? proposals.max()! : proposals.min()!
  }

  /// The replica count at the start of a policy's period: now's count with the period's
  /// scalings undone.
  private static func periodStart(_ current: Int, _ events: [HPARequest.ScaleEvent], _ seconds: Int,
                                  now: Double) -> Int {
    let cutoff = now - Double(seconds)
    return current - events.filter { $0.timestamp > cutoff }.reduce(0) { $0 + $1.replicaChange }
  }

  // MARK: Kubernetes' condition texts

  private static let readyForNewScale = HPACondition(
    type: "AbleToScale", status: true, reason: "ReadyForNewScale",
    message: "recommended size matches current size")
  private static let stabilizedUp = HPACondition(
    type: "AbleToScale", status: true, reason: "ScaleUpStabilized",
    message: "recent recommendations were lower than current one, applying the lowest recent "
      + "recommendation")
  private static let stabilizedDown = HPACondition(
    type: "AbleToScale", status: true, reason: "ScaleDownStabilized",
    message: "recent recommendations were higher than current one, applying the highest recent "
      + "recommendation")
  private static let withinRange = limited("DesiredWithinRange",
                                           "the desired count is within the acceptable range")
  private static let aboveMaximum = "the desired replica count is more than the maximum replica count"
  private static let belowMinimum = "the desired replica count is less than the minimum replica count"
  private static let increasingTooFast =
    "the desired replica count is increasing faster than the maximum scale rate"
  private static let decreasingTooFast =
    "the desired replica count is decreasing faster than the maximum scale rate"

  /// A ScalingLimited condition; its status is set once the outcome is known.
  private static func limited(_ reason: String, _ message: String) -> HPACondition {
    HPACondition(type: "ScalingLimited", status: true, reason: reason, message: message)
  }
}
