// Pods and nodes as the kernel-owned C structs scheduler plugins read (skiff.h): built once from
// the stored JSON when an object changes, never per scheduling cycle. Each entry owns an arena
// holding every array its struct points into, freed with the entry.
import Kernel
import ObjectModel
import SkiffABI

/// Memory for one struct's arrays; everything is released when the arena goes.
final class Arena {
  private var blocks: [UnsafeMutableRawPointer] = []

  func array<T>(_ values: [T]) -> UnsafeMutablePointer<T>? {
    guard !values.isEmpty else { return nil }
    let memory = UnsafeMutablePointer<T>.allocate(capacity: values.count)
    memory.initialize(from: values, count: values.count)
    blocks.append(UnsafeMutableRawPointer(memory))
    return memory
  }

  func value<T>(_ value: T) -> UnsafeMutablePointer<T> {
    let memory = UnsafeMutablePointer<T>.allocate(capacity: 1)
    memory.initialize(to: value)
    blocks.append(UnsafeMutableRawPointer(memory))
    return memory
  }

  deinit { for block in blocks { block.deallocate() } }
}

/// Interns through the kernel's table, so plugins' ids and the framework's agree.
struct Interner {
  let strings: StringTable
  func callAsFunction(_ text: String?) -> skiff_str { text.map { strings.intern($0) } ?? 0 }
}

/// The effective requests of a pod: the larger of its containers' sum and any one init
/// container, plus overhead (Kubernetes' PodRequests).
struct ResourceVector {
  var milliCPU: Int64 = 0
  var memory: Int64 = 0
  var ephemeralStorage: Int64 = 0
  var pods: Int64 = 0
  var scalars: [skiff_str: Int64] = [:]

  mutating func add(_ other: ResourceVector) {
    milliCPU += other.milliCPU
    memory += other.memory
    ephemeralStorage += other.ephemeralStorage
    pods += other.pods
    for (name, value) in other.scalars { scalars[name, default: 0] += value }
  }

  mutating func subtract(_ other: ResourceVector) {
    milliCPU -= other.milliCPU
    memory -= other.memory
    ephemeralStorage -= other.ephemeralStorage
    pods -= other.pods
    for (name, value) in other.scalars { scalars[name, default: 0] -= value }
  }

  mutating func raise(to other: ResourceVector) {
    milliCPU = max(milliCPU, other.milliCPU)
    memory = max(memory, other.memory)
    ephemeralStorage = max(ephemeralStorage, other.ephemeralStorage)
    for (name, value) in other.scalars { scalars[name] = max(scalars[name] ?? 0, value) }
  }

  /// A resource list such as `{"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"}`.
  init(_ list: JSONObject?, intern: Interner) {
    for (name, quantity) in list ?? [:] {
      let text = quantity.stringValue ?? quantity.intValue.map(String.init) ?? quantity.doubleValue.map { "\($0)" }
      switch name {
      case "cpu": milliCPU = Quantity.milli(text)
      case "memory": memory = Quantity.units(text)
      case "ephemeral-storage": ephemeralStorage = Quantity.units(text)
      case "pods": pods = Quantity.units(text)
      default: scalars[intern(name)] = Quantity.units(text)
      }
    }
  }

  init() {}

  func cStruct(in arena: Arena) -> skiff_resources {
    let sorted = scalars.filter { $0.value != 0 }.sorted { $0.key < $1.key }
      .map { skiff_scalar(name: $0.key, reserved0: 0, value: $0.value) }
    return skiff_resources(milli_cpu: milliCPU, memory: memory, ephemeral_storage: ephemeralStorage, pods: pods,
                           scalars: arena.array(sorted).map { UnsafePointer($0) }, n_scalars: UInt32(sorted.count),
                           reserved0: 0)
  }
}

enum PodStruct {
  static func requests(_ spec: JSON?, intern: Interner) -> ResourceVector {
    var total = ResourceVector()
    for container in spec?["containers"]?.arrayValue ?? [] {
      total.add(ResourceVector(container[path: ["resources", "requests"]]?.objectValue, intern: intern))
    }
    for container in spec?["initContainers"]?.arrayValue ?? [] {
      total.raise(to: ResourceVector(container[path: ["resources", "requests"]]?.objectValue, intern: intern))
    }
    total.add(ResourceVector(spec?["overhead"]?.objectValue, intern: intern))
    total.pods = 1
    return total
  }

  /// The label naming a pod's gang, as the scheduler-plugins Coscheduling plugin uses it.
  static let groupLabel = "scheduling.x-k8s.io/pod-group"

  /// Fills `pod` from the Pod's JSON, allocating its arrays in `arena`. `minMember` is its gang's
  /// size (from the PodGroup object) when it has one.
  static func build(_ object: JSON, id: UInt64, requests: ResourceVector, intern: Interner, arena: Arena,
                    minMember: Int32 = 0) -> skiff_pod {
    let spec = object["spec"]
    var pod = skiff_pod()
    pod.abi_version = SKIFF_ABI_VERSION
    pod.struct_size = UInt32(MemoryLayout<skiff_pod>.size)
    pod.id = id
    pod.namespace_ = intern(object[path: ["metadata", "namespace"]]?.stringValue)
    pod.name = intern(object[path: ["metadata", "name"]]?.stringValue)
    pod.uid = intern(object[path: ["metadata", "uid"]]?.stringValue)
    pod.node_name = intern(spec?["nodeName"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 })
    pod.scheduler_name = intern(spec?["schedulerName"]?.stringValue ?? "default-scheduler")
    pod.priority_class = intern(spec?["priorityClassName"]?.stringValue)
    pod.priority = Int32(truncatingIfNeeded: spec?["priority"]?.intValue ?? 0)
    if object[path: ["metadata", "deletionTimestamp"]] != nil { pod.flags |= SKIFF_POD_TERMINATING }
    if object[path: ["status", "nominatedNodeName"]] != nil { pod.flags |= SKIFF_POD_NOMINATED }
    if spec?["preemptionPolicy"]?.stringValue == "Never" { pod.flags |= SKIFF_POD_PREEMPT_NEVER }
    pod.requests = requests.cStruct(in: arena)

    let labels = pairs(object[path: ["metadata", "labels"]], intern: intern)
    pod.labels = arena.array(labels).map { UnsafePointer($0) }
    pod.n_labels = UInt32(labels.count)
    let selector = pairs(spec?["nodeSelector"], intern: intern)
    pod.node_selector = arena.array(selector).map { UnsafePointer($0) }
    pod.n_node_selector = UInt32(selector.count)

    let tolerations = (spec?["tolerations"]?.arrayValue ?? []).map { toleration in
      skiff_toleration(key: intern(toleration["key"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }),
                       value: intern(toleration["value"]?.stringValue),
                       op: toleration["operator"]?.stringValue == "Exists" ? SKIFF_TOLERATION_EXISTS : SKIFF_TOLERATION_EQUAL,
                       effect: effect(toleration["effect"]?.stringValue),
                       toleration_seconds: toleration["tolerationSeconds"]?.intValue ?? -1)
    }
    pod.tolerations = arena.array(tolerations).map { UnsafePointer($0) }
    pod.n_tolerations = UInt32(tolerations.count)

    let affinity = spec?[path: ["affinity", "nodeAffinity"]]
    let required = (affinity?[path: ["requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms"]]?
      .arrayValue ?? []).map { nodeTerm($0, intern: intern, arena: arena) }
    pod.required_node_terms = arena.array(required).map { UnsafePointer($0) }
    pod.n_required_node_terms = UInt32(required.count)
    let preferred = (affinity?["preferredDuringSchedulingIgnoredDuringExecution"]?.arrayValue ?? []).map { entry in
      skiff_preferred_node_term(weight: Int32(truncatingIfNeeded: entry["weight"]?.intValue ?? 1), reserved0: 0,
                                term: nodeTerm(entry["preference"] ?? [:], intern: intern, arena: arena))
    }
    pod.preferred_node_terms = arena.array(preferred).map { UnsafePointer($0) }
    pod.n_preferred_node_terms = UInt32(preferred.count)

    let podAffinity = spec?[path: ["affinity", "podAffinity"]]
    let podAntiAffinity = spec?[path: ["affinity", "podAntiAffinity"]]
    let namespace = object[path: ["metadata", "namespace"]]?.stringValue
    func requiredTerms(_ section: JSON?) -> [skiff_pod_term] {
      (section?["requiredDuringSchedulingIgnoredDuringExecution"]?.arrayValue ?? [])
        .map { podTerm($0, weight: 0, namespace: namespace, intern: intern, arena: arena) }
    }
    func preferredTerms(_ section: JSON?) -> [skiff_pod_term] {
      (section?["preferredDuringSchedulingIgnoredDuringExecution"]?.arrayValue ?? []).map {
        podTerm($0["podAffinityTerm"] ?? [:], weight: Int32(truncatingIfNeeded: $0["weight"]?.intValue ?? 1),
                namespace: namespace, intern: intern, arena: arena)
      }
    }
    let affinityTerms = requiredTerms(podAffinity), preferredAffinity = preferredTerms(podAffinity)
    let antiTerms = requiredTerms(podAntiAffinity), preferredAnti = preferredTerms(podAntiAffinity)
    pod.affinity = arena.array(affinityTerms).map { UnsafePointer($0) }
    pod.n_affinity = UInt32(affinityTerms.count)
    pod.preferred_affinity = arena.array(preferredAffinity).map { UnsafePointer($0) }
    pod.n_preferred_affinity = UInt32(preferredAffinity.count)
    pod.anti_affinity = arena.array(antiTerms).map { UnsafePointer($0) }
    pod.n_anti_affinity = UInt32(antiTerms.count)
    pod.preferred_anti_affinity = arena.array(preferredAnti).map { UnsafePointer($0) }
    pod.n_preferred_anti_affinity = UInt32(preferredAnti.count)

    let spread = (spec?["topologySpreadConstraints"]?.arrayValue ?? []).map { constraint in
      skiff_spread_constraint(
        max_skew: Int32(truncatingIfNeeded: constraint["maxSkew"]?.intValue ?? 1),
        min_domains: Int32(truncatingIfNeeded: constraint["minDomains"]?.intValue ?? 0),
        topology_key: intern(constraint["topologyKey"]?.stringValue),
        when_unsatisfiable: constraint["whenUnsatisfiable"]?.stringValue == "ScheduleAnyway"
          ? SKIFF_SPREAD_SCHEDULE_ANYWAY : SKIFF_SPREAD_DO_NOT_SCHEDULE,
        selector: labelSelector(constraint["labelSelector"], intern: intern, arena: arena))
    }
    pod.spread = arena.array(spread).map { UnsafePointer($0) }
    pod.n_spread = UInt32(spread.count)

    var ports: [skiff_port] = []
    for container in spec?["containers"]?.arrayValue ?? [] {
      for port in container["ports"]?.arrayValue ?? [] {
        guard let hostPort = port["hostPort"]?.intValue, hostPort > 0 else { continue }
        ports.append(skiff_port(port: Int32(truncatingIfNeeded: hostPort),
                                protocol: intern(port["protocol"]?.stringValue ?? "TCP"),
                                host_ip: intern(port["hostIP"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }),
                                reserved0: 0))
      }
    }
    pod.host_ports = arena.array(ports).map { UnsafePointer($0) }
    pod.n_host_ports = UInt32(ports.count)
    if let group = object[path: ["metadata", "labels", groupLabel]]?.stringValue, !group.isEmpty {
      pod.group = intern(group)
      pod.group_min_member = minMember
    }
    return pod
  }

  private static func nodeTerm(_ term: JSON, intern: Interner, arena: Arena) -> skiff_node_term {
    func selector(_ expressions: [JSON]) -> skiff_selector {
      let requirements = expressions.map { expression -> skiff_requirement in
        let values = (expression["values"]?.arrayValue ?? []).map { intern($0.stringValue) }
        return skiff_requirement(key: intern(expression["key"]?.stringValue), op: selectorOp(expression["operator"]?.stringValue),
                                 values: arena.array(values).map { UnsafePointer($0) }, n_values: UInt32(values.count),
                                 reserved0: 0)
      }
      return skiff_selector(requirements: arena.array(requirements).map { UnsafePointer($0) },
                            n_requirements: UInt32(requirements.count), reserved0: 0)
    }
    return skiff_node_term(match_labels: selector(term["matchExpressions"]?.arrayValue ?? []),
                           match_fields: selector(term["matchFields"]?.arrayValue ?? []))
  }

  /// A pod (anti-)affinity term; no namespaces means the pod's own.
  private static func podTerm(_ term: JSON, weight: Int32, namespace: String?, intern: Interner, arena: Arena)
    -> skiff_pod_term {
    var namespaces = (term["namespaces"]?.arrayValue ?? []).map { intern($0.stringValue) }
    if namespaces.isEmpty, let namespace { namespaces = [intern(namespace)] }
    return skiff_pod_term(selector: labelSelector(term["labelSelector"], intern: intern, arena: arena),
                          namespaces: arena.array(namespaces).map { UnsafePointer($0) },
                          n_namespaces: UInt32(namespaces.count), topology_key: intern(term["topologyKey"]?.stringValue),
                          weight: weight, reserved0: 0)
  }

  /// A PodDisruptionBudget as preemption reads it; its arrays live in `arena`.
  static func disruptionBudget(_ object: JSON, intern: Interner, arena: Arena) -> skiff_disruption_budget {
    skiff_disruption_budget(namespace_: intern(object[path: ["metadata", "namespace"]]?.stringValue),
                            disruptions_allowed: Int32(truncatingIfNeeded: object[path: ["status", "disruptionsAllowed"]]?.intValue ?? 0),
                            selector: labelSelector(object[path: ["spec", "selector"]], intern: intern, arena: arena))
  }

  /// matchLabels become IN requirements with one value; matchExpressions keep their operator.
  static func labelSelector(_ selector: JSON?, intern: Interner, arena: Arena) -> skiff_selector {
    var requirements: [skiff_requirement] = []
    for (key, value) in selector?["matchLabels"]?.objectValue ?? [:] {
      requirements.append(skiff_requirement(key: intern(key), op: SKIFF_SELECTOR_IN,
                                            values: arena.array([intern(value.stringValue)]).map { UnsafePointer($0) },
                                            n_values: 1, reserved0: 0))
    }
    for expression in selector?["matchExpressions"]?.arrayValue ?? [] {
      let values = (expression["values"]?.arrayValue ?? []).map { intern($0.stringValue) }
      requirements.append(skiff_requirement(key: intern(expression["key"]?.stringValue),
                                            op: selectorOp(expression["operator"]?.stringValue),
                                            values: arena.array(values).map { UnsafePointer($0) },
                                            n_values: UInt32(values.count), reserved0: 0))
    }
    return skiff_selector(requirements: arena.array(requirements).map { UnsafePointer($0) },
                          n_requirements: UInt32(requirements.count), reserved0: 0)
  }

  private static func selectorOp(_ text: String?) -> skiff_selector_op {
    switch text {
    case "NotIn": SKIFF_SELECTOR_NOT_IN
    case "Exists": SKIFF_SELECTOR_EXISTS
    case "DoesNotExist": SKIFF_SELECTOR_DOES_NOT_EXIST
    case "Gt": SKIFF_SELECTOR_GT
    case "Lt": SKIFF_SELECTOR_LT
    default: SKIFF_SELECTOR_IN
    }
  }

  static func effect(_ text: String?) -> skiff_taint_effect {
    switch text {
    case "NoSchedule": SKIFF_EFFECT_NO_SCHEDULE
    case "PreferNoSchedule": SKIFF_EFFECT_PREFER_NO_SCHEDULE
    case "NoExecute": SKIFF_EFFECT_NO_EXECUTE
    default: SKIFF_EFFECT_ANY
    }
  }

  static func pairs(_ object: JSON?, intern: Interner) -> [skiff_label] {
    (object?.objectValue ?? [:]).map { skiff_label(key: intern($0.key), value: intern($0.value.stringValue)) }
  }
}
