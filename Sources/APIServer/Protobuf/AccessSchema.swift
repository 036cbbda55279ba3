// k8s.io.api.rbac.v1 (`kubectl create role|clusterrole|rolebinding|clusterrolebinding`) and the
// self reviews of k8s.io.api.authorization.v1 (`kubectl auth can-i`, with and without --list).

extension ProtobufSchema {
  static let access: [ProtobufMessage] = [
    message("rbac.v1.Role", [
      1: .metadata,
      2: .list("rules", .message("PolicyRule")),
    ]),
    message("rbac.v1.ClusterRole", [
      1: .metadata,
      2: .list("rules", .message("PolicyRule")),
      3: .field("aggregationRule", .message("AggregationRule")),
    ]),
    message("rbac.v1.PolicyRule", [
      1: .list("verbs", .string),
      2: .list("apiGroups", .string),
      3: .list("resources", .string),
      4: .list("resourceNames", .string),
      5: .list("nonResourceURLs", .string),
    ]),
    message("rbac.v1.AggregationRule", [
      1: .list("clusterRoleSelectors", .message("meta.v1.LabelSelector")),
    ]),
    message("rbac.v1.RoleBinding", [
      1: .metadata,
      2: .list("subjects", .message("Subject")),
      3: .field("roleRef", .message("RoleRef")),
    ]),
    message("rbac.v1.ClusterRoleBinding", [
      1: .metadata,
      2: .list("subjects", .message("Subject")),
      3: .field("roleRef", .message("RoleRef")),
    ]),
    message("rbac.v1.Subject", [
      1: .field("kind", .string),
      2: .field("apiGroup", .string),
      3: .field("name", .string),
      4: .field("namespace", .string),
    ]),
    message("rbac.v1.RoleRef", [
      1: .field("apiGroup", .string),
      2: .field("kind", .string),
      3: .field("name", .string),
    ]),

    message("authorization.v1.SelfSubjectAccessReview", [
      1: .metadata,
      2: .field("spec", .message("SelfSubjectAccessReviewSpec")),
      3: .field("status", .message("SubjectAccessReviewStatus")),
    ]),
    message("authorization.v1.SelfSubjectAccessReviewSpec", [
      1: .field("resourceAttributes", .message("ResourceAttributes")),
      2: .field("nonResourceAttributes", .message("NonResourceAttributes")),
    ]),
    message("authorization.v1.ResourceAttributes", [
      1: .field("namespace", .string),
      2: .field("verb", .string),
      3: .field("group", .string),
      4: .field("version", .string),
      5: .field("resource", .string),
      6: .field("subresource", .string),
      7: .field("name", .string),
      8: .field("fieldSelector", .message("FieldSelectorAttributes")),
      9: .field("labelSelector", .message("LabelSelectorAttributes")),
    ]),
    message("authorization.v1.FieldSelectorAttributes", [
      1: .field("rawSelector", .string),
      2: .list("requirements", .message("FieldSelectorRequirement")),
    ]),
    message("authorization.v1.FieldSelectorRequirement", [
      1: .field("key", .string),
      2: .field("operator", .string),
      3: .list("values", .string),
    ]),
    message("authorization.v1.LabelSelectorAttributes", [
      1: .field("rawSelector", .string),
      2: .list("requirements", .message("meta.v1.LabelSelectorRequirement")),
    ]),
    message("authorization.v1.NonResourceAttributes", [
      1: .field("path", .string),
      2: .field("verb", .string),
    ]),
    message("authorization.v1.SubjectAccessReviewStatus", [
      1: .pointer("allowed", .bool),
      4: .field("denied", .bool),
      2: .field("reason", .string),
      3: .field("evaluationError", .string),
    ]),
    message("authorization.v1.SelfSubjectRulesReview", [
      1: .metadata,
      2: .field("spec", .message("SelfSubjectRulesReviewSpec")),
      3: .field("status", .message("SubjectRulesReviewStatus")),
    ]),
    message("authorization.v1.SelfSubjectRulesReviewSpec", [
      1: .field("namespace", .string),
    ]),
    message("authorization.v1.SubjectRulesReviewStatus", [
      1: .list("resourceRules", .message("ResourceRule")),
      2: .list("nonResourceRules", .message("NonResourceRule")),
      3: .pointer("incomplete", .bool),
      4: .field("evaluationError", .string),
    ]),
    message("authorization.v1.ResourceRule", [
      1: .list("verbs", .string),
      2: .list("apiGroups", .string),
      3: .list("resources", .string),
      4: .list("resourceNames", .string),
    ]),
    message("authorization.v1.NonResourceRule", [
      1: .list("verbs", .string),
      2: .list("nonResourceURLs", .string),
    ]),
  ]
}
