// The Node and Lease objects of `skiff sim nodes`: N nodes named `<prefix><i>` built from a template
// manifest, with fake addresses and pod ranges that nothing ever contacts.
import FoundationEssentials
import Glibc
import Kernel
import ObjectModel

struct HollowNodes: Sendable {
  static let kubeletVersion = "v1.32.0-skiff-sim"
  static let leaseNamespace = "kube-node-lease"
  /// Node i gets the pod range 10.(128 + i / 256).(i % 256).0/24.
  static let maximumCount = 127 * 256

  let prefix: String
  let count: Int
  let labels: JSONObject
  let taints: [JSON]
  let capacity: JSONObject
  let allocatable: JSONObject
  let leaseSeconds: Int
  /// Nonzero: node i is in zone `zone-<i % zones>` (topology.kubernetes.io/zone), for spreading.
  let zones: Int

  /// `template` is a Node manifest in YAML or JSON; only its labels, taints, capacity and
  /// allocatable are used.
  init(prefix: String, count: Int, template: String?, leaseSeconds: Int, zones: Int = 0) throws {
    self.prefix = prefix
    self.count = count
    self.leaseSeconds = leaseSeconds
    self.zones = zones
    var node: JSON = [:]
    if let template {
      let text = try String(contentsOfFile: template, encoding: .utf8)
      node = try JSON.parse(YAMLParser.parse(text, file: template).json())
      if let kind = node["kind"]?.stringValue, kind != "Node" {
        throw TemplateError("\(template): the template must be a Node manifest, not a \(kind)")
      }
    }
    labels = node[path: ["metadata", "labels"]]?.objectValue ?? [:]
    taints = node[path: ["spec", "taints"]]?.arrayValue ?? []
    var capacity = node[path: ["status", "capacity"]]?.objectValue ?? [:]
    for (resource, quantity) in [("cpu", "32"), ("memory", "256Gi"), ("ephemeral-storage", "1Ti"), ("pods", "110")]
    where capacity[resource] == nil {
      capacity[resource] = .string(quantity)
    }
    self.capacity = capacity
    // What the template does not reserve is all allocatable, as on a kubelet without reservations.
    var allocatable = capacity
    for (resource, quantity) in node[path: ["status", "allocatable"]]?.objectValue ?? [:] {
      allocatable[resource] = quantity
    }
    self.allocatable = allocatable
  }

  func name(_ index: Int) -> String { prefix + String(index) }

  /// The index of the node called `name`, if it is one of these.
  func index(of name: String) -> Int? {
    guard name.hasPrefix(prefix) else { return nil }
    let digits = name.dropFirst(prefix.count)
    guard let index = Int(digits), String(index) == digits, index < count else { return nil }
    return index
  }

  func internalIP(_ index: Int) -> String { "10.244.\((index + 1) / 256).\((index + 1) % 256)" }

  /// The first three octets of node `index`'s pod range, with the dot after them.
  func podRange(_ index: Int) -> String { "10.\(128 + index / 256).\(index % 256)." }

  /// The `serial`th address of node `index`'s pod range, skipping .0 and .255.
  func podIP(_ index: Int, serial: Int) -> String { podRange(index) + String(1 + serial % 254) }

  func node(_ index: Int, now: Date) -> JSON {
    let name = name(index)
    var labels = labels
    labels["kubernetes.io/hostname"] = .string(name)
    labels["type"] = "skiff-sim"
    if zones > 0 { labels["topology.kubernetes.io/zone"] = .string("zone-\(index % zones)") }
    if labels["kubernetes.io/os"] == nil { labels["kubernetes.io/os"] = "linux" }
    if labels["kubernetes.io/arch"] == nil { labels["kubernetes.io/arch"] = "amd64" }
    let podCIDR = JSON.string(podRange(index) + "0/24")
    return ["apiVersion": "v1", "kind": "Node",
            "metadata": ["name": .string(name), "labels": .object(labels)],
            "spec": ["taints": .array(taints), "podCIDR": podCIDR, "podCIDRs": [podCIDR]],
            "status": status(index, now: now)]
  }

  func status(_ index: Int, now: Date) -> JSON {
    let time = JSON.string(Timestamp.seconds(now))
    func condition(_ type: String, _ status: String, _ reason: String, _ message: String) -> JSON {
      ["type": .string(type), "status": .string(status), "lastHeartbeatTime": time, "lastTransitionTime": time,
       "reason": .string(reason), "message": .string(message)]
    }
    return ["capacity": .object(capacity), "allocatable": .object(allocatable),
            "conditions": [condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "simulated"),
                           condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "simulated"),
                           condition("PIDPressure", "False", "KubeletHasSufficientPID", "simulated"),
                           condition("Ready", "True", "KubeletReady", "hollow kubelet of skiff sim nodes")],
            "addresses": [["type": "InternalIP", "address": .string(internalIP(index))],
                          ["type": "Hostname", "address": .string(name(index))]],
            "daemonEndpoints": ["kubeletEndpoint": ["Port": 10250]],
            "nodeInfo": ["kubeletVersion": .string(Self.kubeletVersion), "kubeProxyVersion": .string(Self.kubeletVersion),
                         "containerRuntimeVersion": .string("skiff-sim://\(Skiff.version)"), "operatingSystem": "linux",
                         "architecture": "amd64", "osImage": "skiff simulated node", "kernelVersion": "0.0.0-sim",
                         "machineID": .string(name(index)), "systemUUID": .string(name(index)), "bootID": ""]]
  }

  /// The node's heartbeat, owned by the node so that it goes when the node does.
  func lease(_ index: Int, nodeUID: String?, now: Date) -> JSON {
    var lease: JSON = ["apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                       "metadata": ["name": .string(name(index)), "namespace": .string(Self.leaseNamespace)],
                       "spec": ["holderIdentity": .string(name(index)), "leaseDurationSeconds": .int(Int64(leaseSeconds)),
                                "renewTime": .string(Timestamp.microseconds(now))]]
    if let nodeUID {
      lease[path: ["metadata", "ownerReferences"]] = [["apiVersion": "v1", "kind": "Node", "name": .string(name(index)),
                                                        "uid": .string(nodeUID)]]
    }
    return lease
  }

  static func leasePath(_ name: String) -> String {
    "/apis/coordination.k8s.io/v1/namespaces/\(leaseNamespace)/leases/\(name)"
  }
}

struct TemplateError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// Kubernetes' two time formats, in UTC: RFC 3339 seconds (Time) and microseconds (MicroTime).
enum Timestamp {
  static func seconds(_ date: Date) -> String { format(date, fraction: false) }
  static func microseconds(_ date: Date) -> String { format(date, fraction: true) }

  private static func format(_ date: Date, fraction: Bool) -> String {
    let interval = date.timeIntervalSince1970
    var seconds = time_t(interval.rounded(.down))
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    var text = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
      + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    if fraction {
      let micros = String(Int((interval - interval.rounded(.down)) * 1_000_000))
      text += "." + String(repeating: "0", count: 6 - micros.count) + micros
    }
    return text + "Z"
  }
}
