// What a strategic merge patch must know about a kind: which lists merge, and by which key.
// Kubernetes keeps these facts in its Go struct tags (`patchStrategy`, `patchMergeKey` in
// k8s.io/api); this is the same table for the built-in kinds, transcribed from those tags.

/// How a field merges. An empty strategy is Kubernetes' default: objects merge, lists replace.
public struct PatchStrategy: OptionSet, Sendable, Hashable {
  public let rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }

  /// A list merges with the live one: items with a merge key by that key, primitives as a set.
  public static let merge = PatchStrategy(rawValue: 1)
  /// An object (or each item of a list) may carry `$retainKeys` to clear its other fields, for
  /// one-of unions such as a volume's source or a deployment's strategy. The tag only tells
  /// clients where to send it; the server honours `$retainKeys` wherever it appears, as here.
  public static let retainKeys = PatchStrategy(rawValue: 2)
}

public struct PatchRule: Sendable, Hashable {
  public var strategy: PatchStrategy
  /// The field that identifies an item of a merging list of objects; nil for primitives.
  public var mergeKey: String?

  public init(strategy: PatchStrategy, mergeKey: String? = nil) {
    self.strategy = strategy
    self.mergeKey = mergeKey
  }

  public static func merge(by key: String) -> PatchRule { PatchRule(strategy: .merge, mergeKey: key) }
  public static func mergeRetainingKeys(by key: String) -> PatchRule {
    PatchRule(strategy: [.merge, .retainKeys], mergeKey: key)
  }
  /// A list of strings kept as a set, such as `metadata.finalizers`.
  public static let mergePrimitives = PatchRule(strategy: .merge)
  public static let retainKeys = PatchRule(strategy: .retainKeys)
}

/// The patch rules of one kind, by field path: object keys joined with dots, where a list's
/// items add no step (`spec.template.spec.containers.ports` is each container's ports).
public struct PatchSchema: Sendable {
  /// One field, and the fields below it (of its object, or of its list's items).
  struct Node: Sendable {
    var rule: PatchRule?
    var fields: [String: Node] = [:]
  }

  let root: Node

  public init(rules: [String: PatchRule]) {
    var root = Node()
    for (path, rule) in rules {
      root.insert(rule, along: path.split(separator: ".").map(String.init)[...])
    }
    self.root = root
  }

  public func rule(at path: String) -> PatchRule? {
    var node = root
    for key in path.split(separator: ".") {
      guard let next = node.fields[String(key)] else { return nil }
      node = next
    }
    return node.rule
  }

  /// The schema of a built-in kind, or nil for a kind with no Go type behind it (a custom
  /// resource), which Kubernetes refuses strategic merge patches for.
  public static func forKind(_ kind: String) -> PatchSchema? { byKind[kind] }

  public static var kinds: [String] { byKind.keys.sorted() }

  private static let byKind: [String: PatchSchema] = BuiltInKinds.rules.mapValues(PatchSchema.init)
}

extension PatchSchema.Node {
  fileprivate mutating func insert(_ rule: PatchRule, along path: ArraySlice<String>) {
    guard let key = path.first else {
      self.rule = rule
      return
    }
    fields[key, default: PatchSchema.Node()].insert(rule, along: path.dropFirst())
  }
}

/// The tags, one Go type at a time, so that a type used in several places (a pod template sits
/// in six kinds) is written once. Fields without a tag are left out: they take the default.
private enum BuiltInKinds {
  typealias Rules = [String: PatchRule]

  static func under(_ prefix: String, _ rules: Rules) -> Rules {
    Dictionary(uniqueKeysWithValues: rules.map { ("\(prefix).\($0.key)", $0.value) })
  }

  static func combine(_ parts: Rules...) -> Rules {
    parts.reduce(into: [:]) { all, part in all.merge(part) { _, new in new } }
  }

  /// apimachinery ObjectMeta.
  static let objectMeta: Rules = [
    "finalizers": .mergePrimitives,
    "ownerReferences": .merge(by: "uid"),
  ]

  /// core/v1 Container; EphemeralContainerCommon carries the same tags. `resizePolicy`,
  /// `envFrom`, `args` and `command` are untagged (atomic): they replace.
  static let container: Rules = [
    "ports": .merge(by: "containerPort"),
    "env": .merge(by: "name"),
    "volumeMounts": .merge(by: "mountPath"),
    "volumeDevices": .merge(by: "devicePath"),
  ]

  /// core/v1 PodSpec. `tolerations` and `readinessGates` are untagged: they replace.
  static let podSpec = combine(
    [
      "volumes": .mergeRetainingKeys(by: "name"),
      "containers": .merge(by: "name"),
      "initContainers": .merge(by: "name"),
      "ephemeralContainers": .merge(by: "name"),
      "imagePullSecrets": .merge(by: "name"),
      "hostAliases": .merge(by: "ip"),
      "topologySpreadConstraints": .merge(by: "topologyKey"),
      "schedulingGates": .merge(by: "name"),
      "resourceClaims": .mergeRetainingKeys(by: "name"),
    ],
    under("containers", container),
    under("initContainers", container),
    under("ephemeralContainers", container))

  static let podStatus: Rules = [
    "conditions": .merge(by: "type"),
    "podIPs": .merge(by: "ip"),
    "hostIPs": .merge(by: "ip"),
    "resourceClaimStatuses": .mergeRetainingKeys(by: "name"),
  ]

  static let podTemplateSpec = combine(under("metadata", objectMeta), under("spec", podSpec))

  /// The `conditions` of most statuses (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
  /// ReplicationController, Namespace, PersistentVolumeClaim, Service, PodDisruptionBudget,
  /// HorizontalPodAutoscaler in autoscaling/v2).
  static let conditions: Rules = ["conditions": .merge(by: "type")]

  /// A kind laid out as metadata, spec and status.
  static func object(spec: Rules = [:], status: Rules = [:], top: Rules = [:]) -> Rules {
    combine(under("metadata", objectMeta), under("spec", spec), under("status", status), top)
  }

  static let workload = under("template", podTemplateSpec)

  static let rules: [String: Rules] = [
    "Pod": object(spec: podSpec, status: podStatus),
    "PodTemplate": object(top: under("template", podTemplateSpec)),
    "ReplicationController": object(spec: workload, status: conditions),
    "Deployment": object(
      spec: combine(workload, ["strategy": .retainKeys]), status: conditions),
    "ReplicaSet": object(spec: workload, status: conditions),
    "StatefulSet": object(spec: workload, status: conditions),
    "DaemonSet": object(spec: workload, status: conditions),
    "Job": object(spec: workload, status: conditions),
    "CronJob": object(
      spec: under("jobTemplate", combine(under("metadata", objectMeta), under("spec", workload)))),
    "Service": object(spec: ["ports": .merge(by: "port")], status: conditions),
    "Node": object(
      spec: ["podCIDRs": .mergePrimitives],
      status: ["conditions": .merge(by: "type"), "addresses": .merge(by: "type")]),
    "Namespace": object(status: conditions),
    "PersistentVolumeClaim": object(status: conditions),
    "ServiceAccount": object(top: ["secrets": .merge(by: "name")]),
    "ComponentStatus": object(top: conditions),
    "PodDisruptionBudget": object(status: conditions),
    "HorizontalPodAutoscaler": object(status: conditions),
  ].merging(
    // Built-in kinds whose only tagged fields are in their metadata.
    [
      "APIService", "Binding", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding",
      "ConfigMap", "ControllerRevision", "CSIDriver", "CSINode", "CustomResourceDefinition",
      "EndpointSlice", "Endpoints", "Event", "Ingress", "IngressClass", "Lease", "LimitRange",
      "MutatingWebhookConfiguration", "NetworkPolicy", "PersistentVolume", "PriorityClass",
      "ResourceQuota", "Role", "RoleBinding", "RuntimeClass", "Scale", "Secret", "StorageClass",
      "ValidatingWebhookConfiguration", "VolumeAttachment",
    ].map { ($0, object()) },
    uniquingKeysWith: { tagged, _ in tagged })
}
