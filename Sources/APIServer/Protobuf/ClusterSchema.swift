// The rest of what kubectl creates: k8s.io.api.scheduling.v1 PriorityClass, k8s.io.api.policy.v1
// PodDisruptionBudget and k8s.io.api.networking.v1 Ingress.

extension ProtobufSchema {
  static let cluster: [ProtobufMessage] = [
    message("scheduling.v1.PriorityClass", [
      1: .metadata,
      2: .pointer("value", .int32),
      3: .field("globalDefault", .bool),
      4: .field("description", .string),
      5: .pointer("preemptionPolicy", .string),
    ]),

    message("policy.v1.PodDisruptionBudget", [
      1: .metadata,
      2: .field("spec", .message("PodDisruptionBudgetSpec")),
      3: .field("status", .message("PodDisruptionBudgetStatus")),
    ]),
    message("policy.v1.PodDisruptionBudgetSpec", [
      1: .pointer("minAvailable", .intOrString),
      2: .field("selector", .message("meta.v1.LabelSelector")),
      3: .pointer("maxUnavailable", .intOrString),
      4: .pointer("unhealthyPodEvictionPolicy", .string),
    ]),
    message("policy.v1.PodDisruptionBudgetStatus", [
      1: .field("observedGeneration", .int64),
      2: .map("disruptedPods", .time),
      3: .pointer("disruptionsAllowed", .int32),
      4: .pointer("currentHealthy", .int32),
      5: .pointer("desiredHealthy", .int32),
      6: .pointer("expectedPods", .int32),
      7: .list("conditions", .message("meta.v1.Condition")),
    ]),

    message("networking.v1.Ingress", [
      1: .metadata,
      2: .field("spec", .message("IngressSpec")),
      3: .field("status", .message("IngressStatus")),
    ]),
    message("networking.v1.IngressSpec", [
      4: .pointer("ingressClassName", .string),
      1: .field("defaultBackend", .message("IngressBackend")),
      2: .list("tls", .message("IngressTLS")),
      3: .list("rules", .message("IngressRule")),
    ]),
    message("networking.v1.IngressBackend", [
      4: .field("service", .message("IngressServiceBackend")),
      3: .field("resource", .message("core.v1.TypedLocalObjectReference")),
    ]),
    message("networking.v1.IngressServiceBackend", [
      1: .field("name", .string),
      2: .field("port", .message("ServiceBackendPort")),
    ]),
    message("networking.v1.ServiceBackendPort", [
      1: .field("name", .string),
      2: .field("number", .int32),
    ]),
    message("networking.v1.IngressTLS", [
      1: .list("hosts", .string),
      2: .field("secretName", .string),
    ]),
    message("networking.v1.IngressRule", [
      1: .field("host", .string),
      2: .inline("IngressRuleValue"),
    ]),
    message("networking.v1.IngressRuleValue", [
      1: .field("http", .message("HTTPIngressRuleValue")),
    ]),
    message("networking.v1.HTTPIngressRuleValue", [
      1: .list("paths", .message("HTTPIngressPath")),
    ]),
    message("networking.v1.HTTPIngressPath", [
      1: .field("path", .string),
      3: .pointer("pathType", .string),
      2: .field("backend", .message("IngressBackend")),
    ]),
    message("networking.v1.IngressStatus", [
      1: .field("loadBalancer", .message("IngressLoadBalancerStatus")),
    ]),
    message("networking.v1.IngressLoadBalancerStatus", [
      1: .list("ingress", .message("IngressLoadBalancerIngress")),
    ]),
    message("networking.v1.IngressLoadBalancerIngress", [
      1: .field("ip", .string),
      2: .field("hostname", .string),
      4: .list("ports", .message("IngressPortStatus")),
    ]),
    message("networking.v1.IngressPortStatus", [
      1: .pointer("port", .int32),
      2: .field("protocol", .string),
      3: .pointer("error", .string),
    ]),
  ]
}
