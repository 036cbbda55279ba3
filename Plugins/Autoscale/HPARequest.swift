// What `recommend` receives: an autoscaling/v2 HorizontalPodAutoscaler's spec reduced to numbers,
// the metrics as measured, and the history the caller keeps (the plugin keeps none).
import FoundationEssentials
import Glibc

struct HPARequest: Decodable {
  var currentReplicas: Int
  /// Kubernetes defaults minReplicas to 1.
  var minReplicas: Int = 1
  var maxReplicas: Int
  var metrics: [Metric]
  /// Absent: the controller's built-in limits (see `LegacyLimits`). Present: its missing parts
  /// are filled with Kubernetes' defaults.
  var behavior: Behavior?
  /// The controller's --horizontal-pod-autoscaler-tolerance.
  var tolerance = 0.1
  /// Earlier results' `recommendation`s, for the stabilization windows.
  var recommendations: [TimedRecommendation] = []
  /// Scalings the caller carried out, for the rate policies' periods.
  var scaleEvents: [ScaleEvent] = []
  /// Seconds on the same clock as the timestamps above.
  var now: Double?

  struct Metric: Decodable {
    var type: MetricType
    var name: String
    /// Resource and Pods: the average over the pods that report it (Utilization in percent of
    /// requests). Object and External: the value as read, i.e. the total for AverageValue.
    var current: Double
    var target: Double
    var targetType: TargetType
    /// How many pods `current` covers (Resource, Pods) or are ready (Value targets); defaults to
    /// currentReplicas.
    var readyPods: Int?
  }

  enum MetricType: String, Decodable { case resource = "Resource", pods = "Pods", object = "Object", external = "External" }
  enum TargetType: String, Decodable { case utilization = "Utilization", averageValue = "AverageValue", value = "Value" }

  struct Behavior: Decodable {
    var scaleUp: Rules?
    var scaleDown: Rules?
  }

  struct Rules: Decodable {
    var stabilizationWindowSeconds: Int?
    var selectPolicy: SelectPolicy?
    var policies: [Policy]?
  }

  enum SelectPolicy: String, Decodable { case max = "Max", min = "Min", disabled = "Disabled" }

  struct Policy: Decodable {
    var type: PolicyType
    var value: Int
    var periodSeconds: Int
  }

  enum PolicyType: String, Decodable { case pods = "Pods", percent = "Percent" }

  struct TimedRecommendation: Decodable {
    var timestamp: Double
    var replicas: Int
  }

  struct ScaleEvent: Decodable {
    var timestamp: Double
    /// Positive for a scale-up, negative for a scale-down.
    var replicaChange: Int
  }

  enum CodingKeys: String, CodingKey {
    case currentReplicas, minReplicas, maxReplicas, metrics, behavior, tolerance, recommendations
    case scaleEvents, now
  }

  init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    currentReplicas = try c.decode(Int.self, forKey: .currentReplicas)
    minReplicas = try c.decodeIfPresent(Int.self, forKey: .minReplicas) ?? minReplicas
    maxReplicas = try c.decode(Int.self, forKey: .maxReplicas)
    metrics = try c.decode([Metric].self, forKey: .metrics)
    behavior = try c.decodeIfPresent(Behavior.self, forKey: .behavior)
    tolerance = try c.decodeIfPresent(Double.self, forKey: .tolerance) ?? tolerance
    recommendations = try c.decodeIfPresent([TimedRecommendation].self, forKey: .recommendations) ?? []
    scaleEvents = try c.decodeIfPresent([ScaleEvent].self, forKey: .scaleEvents) ?? []
    now = try c.decodeIfPresent(Double.self, forKey: .now)
  }

  /// The checks the API server's validation makes, plus the ones a pure function needs (a clock
  /// when there is history).
  func validate() throws(HPAError) {
    guard currentReplicas >= 0 else { throw HPAError("currentReplicas must not be negative") }
    guard minReplicas >= 0 else { throw HPAError("minReplicas must not be negative") }
    guard maxReplicas >= 1, maxReplicas >= minReplicas else {
      throw HPAError("maxReplicas must be at least 1 and at least minReplicas (\(minReplicas))")
    }
    guard !metrics.isEmpty else { throw HPAError("metrics must list at least one metric") }
    guard tolerance >= 0 else { throw HPAError("tolerance must not be negative") }
    for (index, metric) in metrics.enumerated() {
      let path = "metrics[\(index)]"
      guard metric.target > 0, metric.target.isFinite else { throw HPAError("\(path).target must be positive") }
      guard metric.current >= 0, metric.current.isFinite else {
        throw HPAError("\(path).current must not be negative")
      }
      if let ready = metric.readyPods, ready < 0 { throw HPAError("\(path).readyPods must not be negative") }
      switch (metric.type, metric.targetType) {
      case (.resource, .utilization), (.resource, .averageValue), (.pods, .averageValue),
           (.object, .value), (.object, .averageValue), (.external, .value), (.external, .averageValue):
        break
      default:
        throw HPAError("\(path): a \(metric.type.rawValue) metric cannot have a "
          + "\(metric.targetType.rawValue) target")
      }
    }
    for (name, rules) in [("scaleUp", behavior?.scaleUp), ("scaleDown", behavior?.scaleDown)] {
      guard let rules else { continue }
      let path = "behavior.\(name)"
      if let window = rules.stabilizationWindowSeconds, !(0...3600).contains(window) {
        throw HPAError("\(path).stabilizationWindowSeconds must be 0…3600, not \(window)")
      }
      if let policies = rules.policies {
        guard !policies.isEmpty else { throw HPAError("\(path).policies must list at least one policy") }
        for (index, policy) in policies.enumerated() {
          guard policy.value > 0 else { throw HPAError("\(path).policies[\(index)].value must be positive") }
          guard (1...1800).contains(policy.periodSeconds) else {
            throw HPAError("\(path).policies[\(index)].periodSeconds must be 1…1800")
          }
        }
      }
    }
    if now == nil && !(recommendations.isEmpty && scaleEvents.isEmpty) {
      throw HPAError("now is required when recommendations or scaleEvents are given")
    }
  }
}

struct HPAError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
