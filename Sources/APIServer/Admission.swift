// What the API server does to an object before storing it, as Kubernetes does: default the fields
// Skiff acts on and validate them, so that every stored object is one the controllers, scheduler
// and node agent can trust. Problems come back as field causes for a 422.
import ObjectModel

enum Admission {
  typealias Cause = APIError.Cause

  // MARK: Names

  /// DNS-1123 subdomain (most kinds) or label (namespaces, services: they become DNS names).
  static func nameCauses(_ type: ResourceType, _ name: String) -> [Cause] {
    let label = ["Namespace", "Service"].contains(type.kind)
    let problem = label ? dnsLabelProblem(name) : dnsSubdomainProblem(name)
    return problem.map { [Cause(reason: "FieldValueInvalid", field: "metadata.name",
                                message: "Invalid value: \"\(name)\": \($0)")] } ?? []
  }

  static func dnsLabelProblem(_ text: String) -> String? {
    if text.count > 63 { return "must be no more than 63 characters" }
    if !isDNS(text, dots: false) {
      return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
        + "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
        + "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    }
    return nil
  }

  static func dnsSubdomainProblem(_ text: String) -> String? {
    if text.count > 253 { return "must be no more than 253 characters" }
    if !isDNS(text, dots: true) {
      return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
        + "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
        + "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    }
    return nil
  }

  private static func isDNS(_ text: String, dots: Bool) -> Bool {
    let bytes = Array(text.utf8)
    guard let first = bytes.first, let last = bytes.last else { return false }
    func alnum(_ c: UInt8) -> Bool { (c >= 97 && c <= 122) || (c >= 48 && c <= 57) }
    guard alnum(first), alnum(last) else { return false }
    for (i, c) in bytes.enumerated() {
      if alnum(c) || c == 45 { continue }
      if dots && c == 46 && alnum(bytes[i - 1]) && alnum(bytes[i + 1]) { continue }
      return false
    }
    return true
  }

  // MARK: Kinds

  /// Defaults then validates `object` in place; `creating` marks a create (status may be set).
  static func admit(_ type: ResourceType, _ object: inout JSON, creating: Bool) -> [Cause] {
    switch (type.group, type.kind) {
    case ("", "Pod"):
      if object["spec"] == nil { object["spec"] = [:] }
      defaultPodSpec(&object, at: ["spec"])
      if creating {
        if object[path: ["status", "phase"]] == nil { object[path: ["status", "phase"]] = "Pending" }
        object[path: ["status", "qosClass"]] = .string(qosClass(object["spec"]!))
      }
      return validatePodSpec(object["spec"]!, at: "spec", restartPolicies: ["Always", "OnFailure", "Never"])
    case ("apps", "Deployment"), ("apps", "ReplicaSet"), ("apps", "StatefulSet"), ("apps", "DaemonSet"):
      return admitWorkload(type.kind, &object)
    case ("batch", "Job"):
      return admitJob(&object, at: ["spec"])
    case ("batch", "CronJob"):
      if object[path: ["spec", "concurrencyPolicy"]] == nil { object[path: ["spec", "concurrencyPolicy"]] = "Allow" }
      if object[path: ["spec", "suspend"]] == nil { object[path: ["spec", "suspend"]] = false }
      if object[path: ["spec", "successfulJobsHistoryLimit"]] == nil { object[path: ["spec", "successfulJobsHistoryLimit"]] = 3 }
      if object[path: ["spec", "failedJobsHistoryLimit"]] == nil { object[path: ["spec", "failedJobsHistoryLimit"]] = 1 }
      var causes: [Cause] = []
      if object[path: ["spec", "schedule"]]?.stringValue?.isEmpty ?? true {
        causes.append(Cause(reason: "FieldValueRequired", field: "spec.schedule", message: "Required value"))
      }
      return causes + admitJob(&object, at: ["spec", "jobTemplate", "spec"])
    case ("", "Service"):
      return admitService(&object)
    case ("", "Namespace"):
      if object[path: ["spec", "finalizers"]] == nil { object[path: ["spec", "finalizers"]] = ["kubernetes"] }
      if creating { object[path: ["status", "phase"]] = "Active" }
      if let name = object[path: ["metadata", "name"]] {
        object[path: ["metadata", "labels", "kubernetes.io/metadata.name"]] = name
      }
      return []
    case ("", "Secret"):
      if object["type"] == nil { object["type"] = "Opaque" }
      return []
    default:
      return []
    }
  }

  private static func admitWorkload(_ kind: String, _ object: inout JSON) -> [Cause] {
    var causes: [Cause] = []
    if kind != "DaemonSet", object[path: ["spec", "replicas"]] == nil { object[path: ["spec", "replicas"]] = 1 }
    if object[path: ["spec", "revisionHistoryLimit"]] == nil, kind != "ReplicaSet" {
      object[path: ["spec", "revisionHistoryLimit"]] = 10
    }
    if kind == "Deployment" {
      if object[path: ["spec", "progressDeadlineSeconds"]] == nil { object[path: ["spec", "progressDeadlineSeconds"]] = 600 }
      if object[path: ["spec", "strategy"]] == nil {
        object[path: ["spec", "strategy"]] = ["type": "RollingUpdate",
                                              "rollingUpdate": ["maxUnavailable": "25%", "maxSurge": "25%"]]
      }
    }
    if kind == "StatefulSet" {
      if object[path: ["spec", "podManagementPolicy"]] == nil { object[path: ["spec", "podManagementPolicy"]] = "OrderedReady" }
      if object[path: ["spec", "updateStrategy"]] == nil {
        object[path: ["spec", "updateStrategy"]] = ["type": "RollingUpdate", "rollingUpdate": ["partition": 0]]
      }
    }
    if kind == "DaemonSet", object[path: ["spec", "updateStrategy"]] == nil {
      object[path: ["spec", "updateStrategy"]] = ["type": "RollingUpdate",
                                                  "rollingUpdate": ["maxUnavailable": 1, "maxSurge": 0]]
    }
    if let replicas = object[path: ["spec", "replicas"]], (replicas.intValue ?? -1) < 0 {
      causes.append(Cause(reason: "FieldValueInvalid", field: "spec.replicas",
                          message: "Invalid value: \(replicas): must be greater than or equal to 0"))
    }
    causes += selectorCauses(object, selector: ["spec", "selector"], template: ["spec", "template"])
    defaultPodSpec(&object, at: ["spec", "template", "spec"])
    if let spec = object[path: ["spec", "template", "spec"]] {
      causes += validatePodSpec(spec, at: "spec.template.spec", restartPolicies: ["Always"])
    } else {
      causes.append(Cause(reason: "FieldValueRequired", field: "spec.template.spec.containers", message: "Required value"))
    }
    return causes
  }

  /// A workload's selector must be non-empty and select its own template's labels.
  private static func selectorCauses(_ object: JSON, selector path: [String], template: [String]) -> [Cause] {
    let field = path.joined(separator: ".")
    guard let selectorObject = object[path: path], selectorObject.objectValue.map({ !$0.isEmpty }) ?? false else {
      return [Cause(reason: "FieldValueRequired", field: field, message: "Required value")]
    }
    guard let selector = try? LabelSelector(object: selectorObject), !selector.isEmpty else {
      return [Cause(reason: "FieldValueInvalid", field: field, message: "Invalid value: empty selector is invalid for deployment")]
    }
    let labels = object[path: template + ["metadata", "labels"]]?.objectValue
    guard selector.matches(labels) else {
      let shown = (labels ?? [:]).map { "\"\($0.key)\":\"\($0.value.stringValue ?? "")\"" }.joined(separator: ", ")
      return [Cause(reason: "FieldValueInvalid", field: (template + ["metadata", "labels"]).joined(separator: "."),
                    message: "Invalid value: map[string]string{\(shown)}: `selector` does not match template `labels`")]
    }
    return []
  }

  private static func admitJob(_ object: inout JSON, at spec: [String]) -> [Cause] {
    for (field, value) in [("completions", JSON.int(1)), ("parallelism", .int(1)), ("backoffLimit", .int(6)),
                           ("completionMode", .string("NonIndexed")), ("suspend", .bool(false))]
    where object[path: spec + [field]] == nil {
      object[path: spec + [field]] = value
    }
    defaultPodSpec(&object, at: spec + ["template", "spec"])
    guard let podSpec = object[path: spec + ["template", "spec"]] else {
      return [Cause(reason: "FieldValueRequired", field: (spec + ["template", "spec", "containers"]).joined(separator: "."),
                    message: "Required value")]
    }
    return validatePodSpec(podSpec, at: (spec + ["template", "spec"]).joined(separator: "."),
                           restartPolicies: ["OnFailure", "Never"])
  }

  private static func admitService(_ object: inout JSON) -> [Cause] {
    if object["spec"] == nil { object["spec"] = [:] }
    let type = object[path: ["spec", "type"]]?.stringValue ?? "ClusterIP"
    object[path: ["spec", "type"]] = .string(type)
    if object[path: ["spec", "sessionAffinity"]] == nil { object[path: ["spec", "sessionAffinity"]] = "None" }
    if object[path: ["spec", "internalTrafficPolicy"]] == nil { object[path: ["spec", "internalTrafficPolicy"]] = "Cluster" }
    if object[path: ["spec", "ipFamilies"]] == nil { object[path: ["spec", "ipFamilies"]] = ["IPv4"] }
    if object[path: ["spec", "ipFamilyPolicy"]] == nil { object[path: ["spec", "ipFamilyPolicy"]] = "SingleStack" }
    if type == "LoadBalancer" || type == "NodePort" {
      if object[path: ["spec", "externalTrafficPolicy"]] == nil { object[path: ["spec", "externalTrafficPolicy"]] = "Cluster" }
    }
    if type == "LoadBalancer", object[path: ["spec", "allocateLoadBalancerNodePorts"]] == nil {
      object[path: ["spec", "allocateLoadBalancerNodePorts"]] = true
    }
    var causes: [Cause] = []
    if !["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].contains(type) {
      causes.append(Cause(reason: "FieldValueNotSupported", field: "spec.type",
                          message: "Unsupported value: \"\(type)\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""))
    }
    var ports = object[path: ["spec", "ports"]]?.arrayValue ?? []
    if ports.isEmpty && type != "ExternalName" {
      causes.append(Cause(reason: "FieldValueRequired", field: "spec.ports", message: "Required value"))
    }
    for i in ports.indices {
      if ports[i]["protocol"] == nil { ports[i]["protocol"] = "TCP" }
      if ports[i]["targetPort"] == nil, let port = ports[i]["port"] { ports[i]["targetPort"] = port }
      let port = ports[i]["port"]?.intValue ?? 0
      if !(1...65535).contains(port) {
        causes.append(Cause(reason: "FieldValueInvalid", field: "spec.ports[\(i)].port",
                            message: "Invalid value: \(port): must be between 1 and 65535, inclusive"))
      }
      if ports.count > 1, ports[i]["name"]?.stringValue?.isEmpty ?? true {
        causes.append(Cause(reason: "FieldValueRequired", field: "spec.ports[\(i)].name", message: "Required value"))
      }
    }
    if !ports.isEmpty { object[path: ["spec", "ports"]] = .array(ports) }
    return causes
  }

  // MARK: Pods

  static func defaultPodSpec(_ object: inout JSON, at path: [String]) {
    guard var spec = object[path: path], spec.objectValue != nil else { return }
    for (field, value) in [("restartPolicy", JSON.string("Always")), ("dnsPolicy", .string("ClusterFirst")),
                           ("schedulerName", .string("default-scheduler")),
                           ("terminationGracePeriodSeconds", .int(30)), ("securityContext", .object([:])),
                           ("enableServiceLinks", .bool(true))]
    where spec[field] == nil {
      spec[field] = value
    }
    if spec["priority"] == nil, spec["priorityClassName"] == nil { spec["priority"] = 0 }
    for list in ["initContainers", "containers"] {
      guard var containers = spec[list]?.arrayValue else { continue }
      for i in containers.indices where containers[i].objectValue != nil {
        defaultContainer(&containers[i])
      }
      spec[list] = .array(containers)
    }
    object[path: path] = spec
  }

  private static func defaultContainer(_ container: inout JSON) {
    if container["imagePullPolicy"] == nil, let image = container["image"]?.stringValue {
      // Kubernetes: Always for :latest or an untagged image, IfNotPresent otherwise.
      let tag = image.split(separator: "/").last.flatMap { part in part.split(separator: ":").dropFirst().last }
      // On the UTF-8 bytes: String.contains(String) resolves to Foundation's NSString search,
      // which cost a quarter of a pod's admission.
      let digest = image.utf8.contains(UInt8(ascii: "@"))
      container["imagePullPolicy"] = .string(!digest && (tag == nil || tag == "latest") ? "Always" : "IfNotPresent")
    }
    if container["terminationMessagePath"] == nil { container["terminationMessagePath"] = "/dev/termination-log" }
    if container["terminationMessagePolicy"] == nil { container["terminationMessagePolicy"] = "File" }
    if container["resources"] == nil { container["resources"] = [:] }
    if var ports = container["ports"]?.arrayValue {
      for i in ports.indices where ports[i]["protocol"] == nil { ports[i]["protocol"] = "TCP" }
      container["ports"] = .array(ports)
    }
  }

  static func validatePodSpec(_ spec: JSON, at prefix: String, restartPolicies: [String]) -> [Cause] {
    var causes: [Cause] = []
    let containers = spec["containers"]?.arrayValue ?? []
    if containers.isEmpty {
      causes.append(Cause(reason: "FieldValueRequired", field: "\(prefix).containers", message: "Required value"))
    }
    var seen: Set<String> = []
    for (list, items) in [("initContainers", spec["initContainers"]?.arrayValue ?? []), ("containers", containers)] {
      for (i, container) in items.enumerated() {
        let field = "\(prefix).\(list)[\(i)]"
        let name = container["name"]?.stringValue ?? ""
        if name.isEmpty {
          causes.append(Cause(reason: "FieldValueRequired", field: "\(field).name", message: "Required value"))
        } else if let problem = dnsLabelProblem(name) {
          causes.append(Cause(reason: "FieldValueInvalid", field: "\(field).name", message: "Invalid value: \"\(name)\": \(problem)"))
        } else if !seen.insert(name).inserted {
          causes.append(Cause(reason: "FieldValueDuplicate", field: "\(field).name", message: "Duplicate value: \"\(name)\""))
        }
        if container["image"]?.stringValue?.isEmpty ?? true {
          causes.append(Cause(reason: "FieldValueRequired", field: "\(field).image", message: "Required value"))
        }
        for (p, port) in (container["ports"]?.arrayValue ?? []).enumerated() {
          let proto = port["protocol"]?.stringValue ?? "TCP"
          if !["TCP", "UDP", "SCTP"].contains(proto) {
            causes.append(Cause(reason: "FieldValueNotSupported", field: "\(field).ports[\(p)].protocol",
                                message: "Unsupported value: \"\(proto)\": supported values: \"SCTP\", \"TCP\", \"UDP\""))
          }
        }
      }
    }
    let policy = spec["restartPolicy"]?.stringValue ?? "Always"
    if !restartPolicies.contains(policy) {
      causes.append(Cause(reason: "FieldValueNotSupported", field: "\(prefix).restartPolicy",
                          message: "Unsupported value: \"\(policy)\": supported values: "
                            + restartPolicies.map { "\"\($0)\"" }.joined(separator: ", ")))
    }
    return causes
  }

  /// Guaranteed when every container sets equal cpu and memory requests and limits, BestEffort when
  /// none sets any, Burstable otherwise.
  static func qosClass(_ spec: JSON) -> String {
    let containers = (spec["containers"]?.arrayValue ?? []) + (spec["initContainers"]?.arrayValue ?? [])
    var any = false, guaranteed = true
    for container in containers {
      let requests = container[path: ["resources", "requests"]]?.objectValue ?? [:]
      let limits = container[path: ["resources", "limits"]]?.objectValue ?? [:]
      if !requests.isEmpty || !limits.isEmpty { any = true }
      for resource in ["cpu", "memory"] {
        guard let limit = limits[resource] else { guaranteed = false; continue }
        if let request = requests[resource], request != limit { guaranteed = false }
      }
    }
    if !any { return "BestEffort" }
    return guaranteed ? "Guaranteed" : "Burstable"
  }
}
