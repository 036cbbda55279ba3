// A pod's container as the runtime's ContainerConfig: command and args with $(VAR) expansion,
// the environment from values, ConfigMaps, Secrets and the downward API, and cgroup limits from
// requests and limits.
import FoundationEssentials
import ObjectModel

/// Reads the ConfigMaps and Secrets a container's environment names (nil: no such object).
protocol EnvironmentSources {
  func configMap(_ namespace: String, _ name: String) throws -> JSON?
  func secret(_ namespace: String, _ name: String) throws -> JSON?
}

/// Why a container cannot be created yet (CreateContainerConfigError in Kubernetes).
struct ContainerConfigError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

enum ContainerConfig {
  static let podUIDLabel = "skiff.dev/pod-uid"
  static let podNameLabel = "skiff.dev/pod-name"
  static let podNamespaceLabel = "skiff.dev/pod-namespace"
  static let containerLabel = "skiff.dev/container"

  /// The ContainerConfig JSON for `container` of `pod`, attempt `attempt`.
  static func make(_ container: JSON, of pod: JSON, attempt: Int, node: NodeFacts,
                   sources: EnvironmentSources) throws -> JSON {
    let name = container["name"]?.stringValue ?? ""
    let environment = try self.environment(container, of: pod, node: node, sources: sources)
    let variables = Dictionary(environment.map { ($0.0, $0.1) }, uniquingKeysWith: { $1 })
    let expand = { (items: JSON?) -> JSON in
      .array((items?.arrayValue ?? []).map { .string(Expansion.expand($0.stringValue ?? "", variables)) })
    }
    var config: JSON = [
      "metadata": ["name": .string(name), "attempt": .int(Int64(attempt))],
      // Runtimes that run images need it; the process runtime ignores it.
      "image": ["image": container["image"] ?? ""],
      "command": expand(container["command"]),
      "args": expand(container["args"]),
      "envs": .array(environment.map { ["key": .string($0.0), "value": .string($0.1)] }),
      "labels": [podUIDLabel: .string(pod.uid), podNameLabel: .string(pod.name),
                 podNamespaceLabel: .string(pod.namespace), containerLabel: .string(name)],
      "linux": ["resources": resources(container)],
    ]
    if let workingDir = container["workingDir"]?.stringValue { config["workingDir"] = .string(workingDir) }
    return config
  }

  // MARK: Environment

  /// envFrom first, then env, each `$(VAR)`-expanded against what came before, as the kubelet does.
  static func environment(_ container: JSON, of pod: JSON, node: NodeFacts,
                          sources: EnvironmentSources) throws -> [(String, String)] {
    var result: [(String, String)] = []
    var defined: [String: String] = [:]
    func define(_ key: String, _ value: String) {
      if defined[key] != nil { result.removeAll { $0.0 == key } }
      defined[key] = value
      result.append((key, value))
    }
    let namespace = pod.namespace
    for source in container["envFrom"]?.arrayValue ?? [] {
      let prefix = source["prefix"]?.stringValue ?? ""
      if let ref = source["configMapRef"] {
        let name = ref["name"]?.stringValue ?? ""
        guard let map = try sources.configMap(namespace, name) else {
          if ref["optional"]?.boolValue == true { continue }
          throw ContainerConfigError("configmap \"\(name)\" not found")
        }
        for (key, value) in (map["data"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
          define(prefix + key, value.stringValue ?? "")
        }
      } else if let ref = source["secretRef"] {
        let name = ref["name"]?.stringValue ?? ""
        guard let secret = try sources.secret(namespace, name) else {
          if ref["optional"]?.boolValue == true { continue }
          throw ContainerConfigError("secret \"\(name)\" not found")
        }
        for (key, value) in (secret["data"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
          define(prefix + key, decodeSecret(value))
        }
      }
    }
    for variable in container["env"]?.arrayValue ?? [] {
      let key = variable["name"]?.stringValue ?? ""
      if let value = variable["value"]?.stringValue {
        define(key, Expansion.expand(value, defined))
        continue
      }
      guard let from = variable["valueFrom"] else {
        define(key, "")
        continue
      }
      if let ref = from["configMapKeyRef"] {
        let name = ref["name"]?.stringValue ?? "", item = ref["key"]?.stringValue ?? ""
        let optional = ref["optional"]?.boolValue == true
        guard let map = try sources.configMap(namespace, name) else {
          if optional { continue }
          throw ContainerConfigError("configmap \"\(name)\" not found")
        }
        guard let value = map[path: ["data", item]]?.stringValue else {
          if optional { continue }
          throw ContainerConfigError("couldn't find key \(item) in ConfigMap \(namespace)/\(name)")
        }
        define(key, value)
      } else if let ref = from["secretKeyRef"] {
        let name = ref["name"]?.stringValue ?? "", item = ref["key"]?.stringValue ?? ""
        let optional = ref["optional"]?.boolValue == true
        guard let secret = try sources.secret(namespace, name) else {
          if optional { continue }
          throw ContainerConfigError("secret \"\(name)\" not found")
        }
        guard let value = secret[path: ["data", item]] else {
          if optional { continue }
          throw ContainerConfigError("couldn't find key \(item) in Secret \(namespace)/\(name)")
        }
        define(key, decodeSecret(value))
      } else if let ref = from["fieldRef"] {
        define(key, try fieldValue(ref["fieldPath"]?.stringValue ?? "", pod: pod, node: node))
      } else if let ref = from["resourceFieldRef"] {
        define(key, try resourceValue(ref, pod: pod, default: container, node: node))
      }
    }
    return result
  }

  private static func decodeSecret(_ value: JSON) -> String {
    guard let text = value.stringValue, let data = Data(base64Encoded: text) else { return "" }
    return String(decoding: data, as: UTF8.self)
  }

  /// The downward API's fields (`metadata.labels['key']` included).
  static func fieldValue(_ path: String, pod: JSON, node: NodeFacts) throws -> String {
    switch path {
    case "metadata.name": return pod.name
    case "metadata.namespace": return pod.namespace
    case "metadata.uid": return pod.uid
    case "spec.nodeName": return pod[path: ["spec", "nodeName"]]?.stringValue ?? node.name
    case "spec.serviceAccountName": return pod[path: ["spec", "serviceAccountName"]]?.stringValue ?? "default"
    case "status.podIP", "status.hostIP": return node.internalIP
    case "metadata.labels", "metadata.annotations":
      let members = pod[path: ["metadata", String(path.dropFirst(9))]]?.objectValue ?? [:]
      return members.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value.stringValue ?? "")\"" }.joined(separator: "\n")
    default:
      for map in ["labels", "annotations"] where path.hasPrefix("metadata.\(map)['") && path.hasSuffix("']") {
        let key = String(path.dropFirst("metadata.\(map)['".count).dropLast(2))
        return pod[path: ["metadata", map, key]]?.stringValue ?? ""
      }
      throw ContainerConfigError("unsupported fieldRef fieldPath \"\(path)\"")
    }
  }

  /// limits.cpu, requests.memory, ... of the named container, in units of the divisor, rounded up.
  /// An unset limit is the node's allocatable, as in Kubernetes.
  static func resourceValue(_ ref: JSON, pod: JSON, default container: JSON, node: NodeFacts) throws -> String {
    let resource = ref["resource"]?.stringValue ?? ""
    let target = ref["containerName"]?.stringValue.flatMap { name in
      pod[path: ["spec", "containers"]]?.arrayValue?.first { $0["name"]?.stringValue == name }
    } ?? container
    let parts = resource.split(separator: ".", maxSplits: 1).map(String.init)
    guard parts.count == 2, ["limits", "requests"].contains(parts[0]) else {
      throw ContainerConfigError("unsupported resourceFieldRef resource \"\(resource)\"")
    }
    var value = target[path: ["resources", parts[0], parts[1]]]?.stringValue.flatMap(Quantity.value)
    if value == nil, parts[0] == "requests" { value = target[path: ["resources", "limits", parts[1]]]?.stringValue.flatMap(Quantity.value) }
    if value == nil {
      value = parts[1] == "cpu" ? (parts[0] == "limits" ? Double(node.cpus) : 0)
        : parts[1] == "memory" ? (parts[0] == "limits" ? Double(node.memoryBytes) : 0) : 0
    }
    let divisor = ref["divisor"]?.stringValue.flatMap(Quantity.value) ?? 1
    let units = (value! / (divisor == 0 ? 1 : divisor)).rounded(.up)
    return String(Int64(units))
  }

  // MARK: Resources

  /// cgroup settings from requests and limits: memory and cpu quota from limits, cpu shares from
  /// the request (the limit when no request is given), as the kubelet computes them.
  static func resources(_ container: JSON) -> JSON {
    var resources: JSONObject = [:]
    let limits = container[path: ["resources", "limits"]]
    let requests = container[path: ["resources", "requests"]]
    if let memory = limits?["memory"]?.stringValue.flatMap(Quantity.value) {
      resources["memoryLimitInBytes"] = .int(Int64(memory.rounded(.up)))
    }
    if let cpu = limits?["cpu"]?.stringValue.flatMap(Quantity.value) {
      resources["cpuPeriod"] = 100_000
      resources["cpuQuota"] = .int(max(1000, Int64((cpu * 100_000).rounded(.up))))
    }
    let request = (requests?["cpu"] ?? limits?["cpu"])?.stringValue.flatMap(Quantity.value) ?? 0
    resources["cpuShares"] = .int(max(2, Int64((request * 1024).rounded(.up))))
    return .object(resources)
  }

  /// Guaranteed, Burstable or BestEffort, by Kubernetes' rules over every container.
  static func qosClass(_ pod: JSON) -> String {
    let containers = (pod[path: ["spec", "containers"]]?.arrayValue ?? []) + (pod[path: ["spec", "initContainers"]]?.arrayValue ?? [])
    var anySet = false
    var guaranteed = true
    for container in containers {
      let limits = container[path: ["resources", "limits"]]?.objectValue ?? [:]
      let requests = container[path: ["resources", "requests"]]?.objectValue ?? [:]
      if !limits.isEmpty || !requests.isEmpty { anySet = true }
      for resource in ["cpu", "memory"] {
        guard let limit = limits[resource]?.stringValue.flatMap(Quantity.value) else {
          guaranteed = false
          continue
        }
        if let request = requests[resource]?.stringValue.flatMap(Quantity.value), request != limit { guaranteed = false }
      }
    }
    return !anySet ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable"
  }
}

/// Kubernetes' `$(VAR)` expansion: defined names are replaced, `$$` is a literal `$`, anything
/// else stays as written.
enum Expansion {
  static func expand(_ text: String, _ variables: [String: String]) -> String {
    guard text.contains("$") else { return text }
    var output = ""
    var rest = Substring(text)
    while let dollar = rest.firstIndex(of: "$") {
      output += rest[..<dollar]
      let after = rest[rest.index(after: dollar)...]
      if after.first == "$" {
        output += "$"
        rest = after.dropFirst()
      } else if after.first == "(", let close = after.firstIndex(of: ")") {
        let name = String(after[after.index(after: after.startIndex)..<close])
        output += variables[name] ?? "$(\(name))"
        rest = after[after.index(after: close)...]
      } else {
        output += "$"
        rest = after
      }
    }
    return output + rest
  }
}

/// Kubernetes quantities ("500m", "64Mi", "1e3") in base units.
enum Quantity {
  static func value(_ text: String) -> Double? {
    let suffixes: [(String, Double)] = [
      ("Ki", 1024), ("Mi", 1_048_576), ("Gi", 1_073_741_824), ("Ti", 1_099_511_627_776),
      ("Pi", 1_125_899_906_842_624), ("Ei", 1_152_921_504_606_846_976),
      ("n", 1e-9), ("u", 1e-6), ("m", 1e-3), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18),
    ]
    for (suffix, factor) in suffixes where text.hasSuffix(suffix) {
      return Double(text.dropLast(suffix.count)).map { $0 * factor }
    }
    return Double(text)
  }
}

extension JSON {
  var name: String { self[path: ["metadata", "name"]]?.stringValue ?? "" }
  var namespace: String { self[path: ["metadata", "namespace"]]?.stringValue ?? "default" }
  var uid: String { self[path: ["metadata", "uid"]]?.stringValue ?? "" }
}
