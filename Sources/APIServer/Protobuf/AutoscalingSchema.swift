// k8s.io.api.autoscaling v1 and v2: the HorizontalPodAutoscaler `kubectl autoscale` creates (v1
// from kubectl 1.32, v2 from 1.33), v2 with every metric source and status and the behavior.

extension ProtobufSchema {
  static let autoscaling: [ProtobufMessage] = autoscalingV1 + autoscalingV2

  /// k8s.io.api.autoscaling.v1, what kubectl 1.32's `autoscale` sends: a CPU target only.
  static let autoscalingV1: [ProtobufMessage] = [
    message("autoscaling.v1.HorizontalPodAutoscaler", [
      1: .metadata,
      2: .field("spec", .message("HorizontalPodAutoscalerSpec")),
      3: .field("status", .message("HorizontalPodAutoscalerStatus")),
    ]),
    message("autoscaling.v1.HorizontalPodAutoscalerSpec", [
      1: .field("scaleTargetRef", .message("CrossVersionObjectReference")),
      2: .pointer("minReplicas", .int32),
      3: .pointer("maxReplicas", .int32),
      4: .pointer("targetCPUUtilizationPercentage", .int32),
    ]),
    message("autoscaling.v1.CrossVersionObjectReference", [
      1: .field("kind", .string),
      2: .field("name", .string),
      3: .field("apiVersion", .string),
    ]),
    message("autoscaling.v1.HorizontalPodAutoscalerStatus", [
      1: .pointer("observedGeneration", .int64),
      2: .field("lastScaleTime", .time),
      3: .pointer("currentReplicas", .int32),
      4: .pointer("desiredReplicas", .int32),
      5: .pointer("currentCPUUtilizationPercentage", .int32),
    ]),
  ]

  static let autoscalingV2: [ProtobufMessage] = [
    message("autoscaling.v2.HorizontalPodAutoscaler", [
      1: .metadata,
      2: .field("spec", .message("HorizontalPodAutoscalerSpec")),
      3: .field("status", .message("HorizontalPodAutoscalerStatus")),
    ]),
    message("autoscaling.v2.HorizontalPodAutoscalerSpec", [
      1: .field("scaleTargetRef", .message("CrossVersionObjectReference")),
      2: .pointer("minReplicas", .int32),
      3: .pointer("maxReplicas", .int32),
      4: .list("metrics", .message("MetricSpec")),
      5: .field("behavior", .message("HorizontalPodAutoscalerBehavior")),
    ]),
    message("autoscaling.v2.CrossVersionObjectReference", [
      1: .field("kind", .string),
      2: .field("name", .string),
      3: .field("apiVersion", .string),
    ]),
    message("autoscaling.v2.MetricSpec", [
      1: .field("type", .string),
      2: .field("object", .message("ObjectMetricSource")),
      3: .field("pods", .message("PodsMetricSource")),
      4: .field("resource", .message("ResourceMetricSource")),
      7: .field("containerResource", .message("ContainerResourceMetricSource")),
      5: .field("external", .message("ExternalMetricSource")),
    ]),
    message("autoscaling.v2.ObjectMetricSource", [
      1: .field("describedObject", .message("CrossVersionObjectReference")),
      2: .field("target", .message("MetricTarget")),
      3: .field("metric", .message("MetricIdentifier")),
    ]),
    message("autoscaling.v2.PodsMetricSource", [
      1: .field("metric", .message("MetricIdentifier")),
      2: .field("target", .message("MetricTarget")),
    ]),
    message("autoscaling.v2.ResourceMetricSource", [
      1: .field("name", .string),
      2: .field("target", .message("MetricTarget")),
    ]),
    message("autoscaling.v2.ContainerResourceMetricSource", [
      1: .field("name", .string),
      2: .field("target", .message("MetricTarget")),
      3: .field("container", .string),
    ]),
    message("autoscaling.v2.ExternalMetricSource", [
      1: .field("metric", .message("MetricIdentifier")),
      2: .field("target", .message("MetricTarget")),
    ]),
    message("autoscaling.v2.MetricIdentifier", [
      1: .field("name", .string),
      2: .field("selector", .message("meta.v1.LabelSelector")),
    ]),
    message("autoscaling.v2.MetricTarget", [
      1: .field("type", .string),
      2: .pointer("value", .quantity),
      3: .pointer("averageValue", .quantity),
      4: .pointer("averageUtilization", .int32),
    ]),
    message("autoscaling.v2.HorizontalPodAutoscalerBehavior", [
      1: .field("scaleUp", .message("HPAScalingRules")),
      2: .field("scaleDown", .message("HPAScalingRules")),
    ]),
    message("autoscaling.v2.HPAScalingRules", [
      3: .pointer("stabilizationWindowSeconds", .int32),
      1: .pointer("selectPolicy", .string),
      2: .list("policies", .message("HPAScalingPolicy")),
      4: .pointer("tolerance", .quantity),
    ]),
    message("autoscaling.v2.HPAScalingPolicy", [
      1: .field("type", .string),
      2: .pointer("value", .int32),
      3: .pointer("periodSeconds", .int32),
    ]),
    message("autoscaling.v2.HorizontalPodAutoscalerStatus", [
      1: .pointer("observedGeneration", .int64),
      2: .field("lastScaleTime", .time),
      3: .field("currentReplicas", .int32),
      4: .pointer("desiredReplicas", .int32),
      5: .list("currentMetrics", .message("MetricStatus")),
      6: .list("conditions", .message("HorizontalPodAutoscalerCondition")),
    ]),
    message("autoscaling.v2.MetricStatus", [
      1: .field("type", .string),
      2: .field("object", .message("ObjectMetricStatus")),
      3: .field("pods", .message("PodsMetricStatus")),
      4: .field("resource", .message("ResourceMetricStatus")),
      7: .field("containerResource", .message("ContainerResourceMetricStatus")),
      5: .field("external", .message("ExternalMetricStatus")),
    ]),
    message("autoscaling.v2.ObjectMetricStatus", [
      1: .field("metric", .message("MetricIdentifier")),
      2: .field("current", .message("MetricValueStatus")),
      3: .field("describedObject", .message("CrossVersionObjectReference")),
    ]),
    message("autoscaling.v2.PodsMetricStatus", [
      1: .field("metric", .message("MetricIdentifier")),
      2: .field("current", .message("MetricValueStatus")),
    ]),
    message("autoscaling.v2.ResourceMetricStatus", [
      1: .field("name", .string),
      2: .field("current", .message("MetricValueStatus")),
    ]),
    message("autoscaling.v2.ContainerResourceMetricStatus", [
      1: .field("name", .string),
      2: .field("current", .message("MetricValueStatus")),
      3: .field("container", .string),
    ]),
    message("autoscaling.v2.ExternalMetricStatus", [
      1: .field("metric", .message("MetricIdentifier")),
      2: .field("current", .message("MetricValueStatus")),
    ]),
    message("autoscaling.v2.MetricValueStatus", [
      1: .pointer("value", .quantity),
      2: .pointer("averageValue", .quantity),
      3: .pointer("averageUtilization", .int32),
    ]),
    message("autoscaling.v2.HorizontalPodAutoscalerCondition", [
      1: .field("type", .string),
      2: .field("status", .string),
      3: .field("lastTransitionTime", .time),
      4: .field("reason", .string),
      5: .field("message", .string),
    ]),
  ]
}
