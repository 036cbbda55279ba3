// k8s.io.apimachinery.pkg.apis.meta.v1: the metadata and selectors every other message uses.
// Time and FieldsV1 are not here: JSON shows them as single values (see ProtobufType).

extension ProtobufSchema {
  static let meta: [ProtobufMessage] = [
    message("meta.v1.ObjectMeta", [
      1: .field("name", .string),
      2: .field("generateName", .string),
      3: .field("namespace", .string),
      4: .field("selfLink", .string),
      5: .field("uid", .string),
      6: .field("resourceVersion", .string),
      7: .field("generation", .int64),
      8: .field("creationTimestamp", .time),
      9: .field("deletionTimestamp", .time),
      10: .pointer("deletionGracePeriodSeconds", .int64),
      11: .map("labels", .string),
      12: .map("annotations", .string),
      13: .list("ownerReferences", .message("OwnerReference")),
      14: .list("finalizers", .string),
      17: .list("managedFields", .message("ManagedFieldsEntry")),
    ]),
    message("meta.v1.OwnerReference", [
      5: .field("apiVersion", .string),
      1: .field("kind", .string),
      3: .field("name", .string),
      4: .field("uid", .string),
      6: .pointer("controller", .bool),
      7: .pointer("blockOwnerDeletion", .bool),
    ]),
    message("meta.v1.ManagedFieldsEntry", [
      1: .field("manager", .string),
      2: .field("operation", .string),
      3: .field("apiVersion", .string),
      4: .field("time", .time),
      6: .field("fieldsType", .string),
      7: .field("fieldsV1", .fieldsV1),
      8: .field("subresource", .string),
    ]),
    message("meta.v1.LabelSelector", [
      1: .map("matchLabels", .string),
      2: .list("matchExpressions", .message("LabelSelectorRequirement")),
    ]),
    message("meta.v1.LabelSelectorRequirement", [
      1: .field("key", .string),
      2: .field("operator", .string),
      3: .list("values", .string),
    ]),
    message("meta.v1.Condition", [
      1: .field("type", .string),
      2: .field("status", .string),
      3: .field("observedGeneration", .int64),
      4: .field("lastTransitionTime", .time),
      5: .field("reason", .string),
      6: .field("message", .string),
    ]),
  ]
}
