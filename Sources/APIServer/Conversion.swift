// Versions of one kind that share storage: objects are stored in one version and converted at
// the edge. autoscaling/v1 HorizontalPodAutoscalers (what kubectl 1.32's `autoscale` sends) are
// stored as autoscaling/v2; what v1 cannot express travels in annotations, as Kubernetes does.
import ObjectModel

enum Conversion {
  private static let metricsAnnotation = "autoscaling.alpha.kubernetes.io/metrics"
  private static let currentMetricsAnnotation = "autoscaling.alpha.kubernetes.io/current-metrics"

  static func isV1Autoscaler(_ type: ResourceType) -> Bool {
    type.group == "autoscaling" && type.version == "v1" && type.kind == "HorizontalPodAutoscaler"
  }

  /// A client's object in the version it was sent in, turned into the stored version.
  static func toStorage(_ object: JSON, from type: ResourceType) -> JSON {
    guard isV1Autoscaler(type) else { return object }
    var stored = object
    stored["apiVersion"] = "autoscaling/v2"
    var metrics: [JSON] = []
    if let percent = object[path: ["spec", "targetCPUUtilizationPercentage"]] {
      metrics.append(cpuMetric(target: ["type": "Utilization", "averageUtilization": percent]))
    }
    metrics += annotation(object, metricsAnnotation)
    stored[path: ["spec", "targetCPUUtilizationPercentage"]] = nil
    stored[path: ["spec", "metrics"]] = metrics.isEmpty ? nil : .array(metrics)
    var current: [JSON] = []
    if let percent = object[path: ["status", "currentCPUUtilizationPercentage"]] {
      current.append(["type": "Resource", "resource": ["name": "cpu", "current": ["averageUtilization": percent]]])
    }
    current += annotation(object, currentMetricsAnnotation)
    stored[path: ["status", "currentCPUUtilizationPercentage"]] = nil
    if !current.isEmpty { stored[path: ["status", "currentMetrics"]] = .array(current) }
    for key in [metricsAnnotation, currentMetricsAnnotation] {
      stored[path: ["metadata", "annotations", key]] = nil
    }
    if stored[path: ["metadata", "annotations"]]?.objectValue?.isEmpty == true {
      stored[path: ["metadata", "annotations"]] = nil
    }
    return stored
  }

  /// A stored object as a client of `type`'s version sees it.
  static func present(_ object: JSON, as type: ResourceType) -> JSON {
    guard isV1Autoscaler(type) else { return object }
    var shown = object
    shown["apiVersion"] = "autoscaling/v1"
    var others: [JSON] = []
    for metric in object[path: ["spec", "metrics"]]?.arrayValue ?? [] {
      if isCPUUtilization(metric), let percent = metric[path: ["resource", "target", "averageUtilization"]] {
        shown[path: ["spec", "targetCPUUtilizationPercentage"]] = percent
      } else {
        others.append(metric)
      }
    }
    shown[path: ["spec", "metrics"]] = nil
    shown[path: ["spec", "behavior"]] = nil
    var otherCurrent: [JSON] = []
    for metric in object[path: ["status", "currentMetrics"]]?.arrayValue ?? [] {
      if metric["type"]?.stringValue == "Resource", metric[path: ["resource", "name"]]?.stringValue == "cpu",
         let percent = metric[path: ["resource", "current", "averageUtilization"]] {
        shown[path: ["status", "currentCPUUtilizationPercentage"]] = percent
      } else {
        otherCurrent.append(metric)
      }
    }
    shown[path: ["status", "currentMetrics"]] = nil
    shown[path: ["status", "conditions"]] = nil
    if !others.isEmpty { shown[path: ["metadata", "annotations", metricsAnnotation]] = .string(JSON.array(others).description) }
    if !otherCurrent.isEmpty {
      shown[path: ["metadata", "annotations", currentMetricsAnnotation]] = .string(JSON.array(otherCurrent).description)
    }
    return shown
  }

  private static func cpuMetric(target: JSON) -> JSON {
    ["type": "Resource", "resource": ["name": "cpu", "target": target]]
  }

  private static func isCPUUtilization(_ metric: JSON) -> Bool {
    metric["type"]?.stringValue == "Resource" && metric[path: ["resource", "name"]]?.stringValue == "cpu"
      && metric[path: ["resource", "target", "type"]]?.stringValue == "Utilization"
  }

  private static func annotation(_ object: JSON, _ key: String) -> [JSON] {
    guard let text = object[path: ["metadata", "annotations", key]]?.stringValue,
          let value = try? JSON.parse(text) else { return [] }
    return value.arrayValue ?? []
  }
}
