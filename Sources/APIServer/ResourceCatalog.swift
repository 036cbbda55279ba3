// The resource types the API server serves: the built-in Kubernetes kinds Skiff knows, plus custom
// resources added while their CustomResourceDefinition exists. Discovery, routing, storage keys
// and OpenAPI are all generated from this one table.

public struct ResourceType: Sendable, Equatable {
  public let group: String       // "" for the core group
  public let version: String
  public let resource: String    // plural, as in URLs: "pods"
  public let singular: String
  public let kind: String
  public let namespaced: Bool
  public let shortNames: [String]
  public let categories: [String]
  /// Subresources served beside the main resource: "status", "scale", "log", "binding", ...
  public let subresources: [String]

  public var groupVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
  public var listKind: String { kind + "List" }
  /// "pods" or "deployments.apps", as Kubernetes names a resource in messages.
  public var qualifiedName: String { group.isEmpty ? resource : "\(resource).\(group)" }
  /// Where objects of this type live in the store; namespaced ones add "<namespace>/".
  public var keyPrefix: String { "/registry/\(group.isEmpty ? "core" : group)/\(resource)/" }

  public func key(namespace: String?, name: String) -> String {
    namespaced ? "\(keyPrefix)\(namespace ?? "")/\(name)" : keyPrefix + name
  }

  public static let verbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

  public init(group: String, version: String, resource: String, singular: String, kind: String,
              namespaced: Bool, shortNames: [String] = [], categories: [String] = [],
              subresources: [String] = []) {
    self.group = group
    self.version = version
    self.resource = resource
    self.singular = singular
    self.kind = kind
    self.namespaced = namespaced
    self.shortNames = shortNames
    self.categories = categories
    self.subresources = subresources
  }
}

public final class ResourceCatalog: @unchecked Sendable {
  public private(set) var types: [ResourceType]

  public init(types: [ResourceType] = ResourceCatalog.builtIn) { self.types = types }

  public func lookup(group: String, version: String, resource: String) -> ResourceType? {
    types.first { $0.group == group && $0.version == version && $0.resource == resource }
  }

  public func lookup(apiVersion: String, kind: String) -> ResourceType? {
    types.first { $0.groupVersion == apiVersion && $0.kind == kind }
  }

  /// Groups in the order discovery lists them (core first), each with its versions.
  public var groups: [(name: String, versions: [String])] {
    var order: [String] = []
    var versions: [String: [String]] = [:]
    for type in types {
      if versions[type.group] == nil {
        order.append(type.group)
        versions[type.group] = []
      }
      if !versions[type.group]!.contains(type.version) { versions[type.group]!.append(type.version) }
    }
    return order.map { ($0, versions[$0]!) }
  }

  public func types(group: String, version: String) -> [ResourceType] {
    types.filter { $0.group == group && $0.version == version }
  }

  /// The type whose objects are stored under `key` (the first served version, where several share
  /// storage, as autoscaling/v1 and v2 HorizontalPodAutoscalers do).
  func storedType(forKey key: String) -> ResourceType? {
    types.first { key.hasPrefix($0.keyPrefix) && !key.dropFirst($0.keyPrefix.count).isEmpty }
  }

  /// Serves a custom resource while its CRD exists. Loop only.
  func add(_ type: ResourceType) {
    types.removeAll { $0.group == type.group && $0.version == type.version && $0.resource == type.resource }
    types.append(type)
  }

  func remove(group: String, resource: String) {
    types.removeAll { $0.group == group && $0.resource == resource }
  }

  private static func core(_ resource: String, _ singular: String, _ kind: String, namespaced: Bool = true,
                           short: [String] = [], all: Bool = false, sub: [String] = []) -> ResourceType {
    ResourceType(group: "", version: "v1", resource: resource, singular: singular, kind: kind,
                 namespaced: namespaced, shortNames: short, categories: all ? ["all"] : [], subresources: sub)
  }

  private static func type(_ group: String, _ version: String, _ resource: String, _ singular: String,
                           _ kind: String, namespaced: Bool = true, short: [String] = [], all: Bool = false,
                           sub: [String] = []) -> ResourceType {
    ResourceType(group: group, version: version, resource: resource, singular: singular, kind: kind,
                 namespaced: namespaced, shortNames: short, categories: all ? ["all"] : [], subresources: sub)
  }

  /// The kinds Skiff serves out of the box, with the short names and `all` category kubectl knows.
  public static let builtIn: [ResourceType] = [
    core("pods", "pod", "Pod", short: ["po"], all: true,
         sub: ["status", "binding", "log", "eviction", "exec", "portforward"]),
    core("nodes", "node", "Node", namespaced: false, short: ["no"], sub: ["status"]),
    core("namespaces", "namespace", "Namespace", namespaced: false, short: ["ns"], sub: ["status", "finalize"]),
    core("services", "service", "Service", short: ["svc"], all: true, sub: ["status"]),
    core("endpoints", "endpoints", "Endpoints", short: ["ep"]),
    core("configmaps", "configmap", "ConfigMap", short: ["cm"]),
    core("secrets", "secret", "Secret"),
    core("events", "event", "Event", short: ["ev"]),
    core("persistentvolumes", "persistentvolume", "PersistentVolume", namespaced: false, short: ["pv"], sub: ["status"]),
    core("persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", short: ["pvc"], sub: ["status"]),
    core("serviceaccounts", "serviceaccount", "ServiceAccount", short: ["sa"]),
    core("resourcequotas", "resourcequota", "ResourceQuota", short: ["quota"], sub: ["status"]),
    core("limitranges", "limitrange", "LimitRange", short: ["limits"]),
    type("apps", "v1", "deployments", "deployment", "Deployment", short: ["deploy"], all: true, sub: ["status", "scale"]),
    type("apps", "v1", "replicasets", "replicaset", "ReplicaSet", short: ["rs"], all: true, sub: ["status", "scale"]),
    type("apps", "v1", "statefulsets", "statefulset", "StatefulSet", short: ["sts"], all: true, sub: ["status", "scale"]),
    type("apps", "v1", "daemonsets", "daemonset", "DaemonSet", short: ["ds"], all: true, sub: ["status"]),
    type("batch", "v1", "jobs", "job", "Job", all: true, sub: ["status"]),
    type("batch", "v1", "cronjobs", "cronjob", "CronJob", short: ["cj"], all: true, sub: ["status"]),
    type("autoscaling", "v2", "horizontalpodautoscalers", "horizontalpodautoscaler", "HorizontalPodAutoscaler",
         short: ["hpa"], all: true, sub: ["status"]),
    // Stored as v2 (Conversion.swift); kubectl 1.32's `autoscale` still sends v1.
    type("autoscaling", "v1", "horizontalpodautoscalers", "horizontalpodautoscaler", "HorizontalPodAutoscaler",
         short: ["hpa"], sub: ["status"]),
    type("policy", "v1", "poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", short: ["pdb"],
         sub: ["status"]),
    type("storage.k8s.io", "v1", "storageclasses", "storageclass", "StorageClass", namespaced: false, short: ["sc"]),
    type("networking.k8s.io", "v1", "networkpolicies", "networkpolicy", "NetworkPolicy", short: ["netpol"]),
    type("networking.k8s.io", "v1", "ingresses", "ingress", "Ingress", short: ["ing"], sub: ["status"]),
    type("scheduling.k8s.io", "v1", "priorityclasses", "priorityclass", "PriorityClass", namespaced: false,
         short: ["pc"]),
    type("coordination.k8s.io", "v1", "leases", "lease", "Lease"),
    type("discovery.k8s.io", "v1", "endpointslices", "endpointslice", "EndpointSlice"),
    type("node.k8s.io", "v1", "runtimeclasses", "runtimeclass", "RuntimeClass", namespaced: false),
    type("apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
         "CustomResourceDefinition", namespaced: false, short: ["crd", "crds"], sub: ["status"]),
  ]
}
