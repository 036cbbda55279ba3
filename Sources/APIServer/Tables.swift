// `kubectl get` output: objects as meta.k8s.io/v1 Tables with the columns the real API server
// sends for each kind (priority 1 columns appear only with -o wide).
import FoundationEssentials
import Glibc
import Synchronization
import ObjectModel

enum Tables {
  struct Column: Sendable {
    let name: String
    let type: String
    let format: String
    let priority: Int
    let cell: @Sendable (JSON, Date) -> JSON
  }

  /// Searched as UTF-8 bytes: every response asks, and String.contains(String) resolves to
  /// Foundation's NSString search.
  static func wantsTable(accept: String?) -> Bool { accept?.utf8.firstRange(of: "as=Table".utf8) != nil }

  /// A Table of `objects`; `columnDefinitions` is null when `withColumns` is false (watch events
  /// after the first, as the real server sends them).
  static func table(_ type: ResourceType, _ objects: [JSON], resourceVersion: String?, continueToken: String? = nil,
                    withColumns: Bool = true, now: Date = Date()) -> JSON {
    let columns = self.columns(for: type)
    var metadata: JSON = [:]
    if let resourceVersion { metadata["resourceVersion"] = .string(resourceVersion) }
    if let continueToken { metadata["continue"] = .string(continueToken) }
    let definitions: JSON = withColumns ? .array(columns.map {
      ["name": .string($0.name), "type": .string($0.type), "format": .string($0.format),
       "description": "", "priority": .int(Int64($0.priority))]
    }) : .null
    let rows: [JSON] = objects.map { object in
      var partial: JSON = ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                           "metadata": object["metadata"] ?? [:]]
      partial[path: ["metadata", "managedFields"]] = nil
      return ["cells": .array(columns.map { $0.cell(object, now) }), "object": partial]
    }
    return ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
            "columnDefinitions": definitions, "rows": .array(rows)]
  }

  private static func column(_ name: String, priority: Int = 0, type: String = "string", format: String = "",
                             _ cell: @escaping @Sendable (JSON, Date) -> JSON) -> Column {
    Column(name: name, type: type, format: format, priority: priority, cell: cell)
  }

  private static let name = column("Name", format: "name") { object, _ in
    object[path: ["metadata", "name"]] ?? ""
  }
  private static let age = column("Age") { object, now in
    .string(Age.since(object[path: ["metadata", "creationTimestamp"]]?.stringValue, now: now))
  }

  private static func text(_ value: JSON?) -> JSON { .string(value?.stringValue ?? "<none>") }

  static func columns(for type: ResourceType) -> [Column] {
    switch (type.group, type.kind) {
    case ("", "Pod"): return podColumns
    case ("", "Node"):
      return [name, column("Status") { node, _ in .string(nodeStatus(node)) },
              column("Roles") { node, _ in .string(nodeRoles(node)) }, age,
              column("Version") { node, _ in text(node[path: ["status", "nodeInfo", "kubeletVersion"]]) },
              column("Internal-IP", priority: 1) { node, _ in .string(address(node, "InternalIP")) },
              column("External-IP", priority: 1) { node, _ in .string(address(node, "ExternalIP")) }]
    case ("", "Namespace"):
      return [name, column("Status") { ns, _ in text(ns[path: ["status", "phase"]]) }, age]
    case ("", "Service"):
      return [name, column("Type") { svc, _ in text(svc[path: ["spec", "type"]]) },
              column("Cluster-IP") { svc, _ in text(svc[path: ["spec", "clusterIP"]]) },
              column("External-IP") { svc, _ in .string(externalIPs(svc)) },
              column("Port(s)") { svc, _ in .string(servicePorts(svc)) }, age,
              column("Selector", priority: 1) { svc, _ in .string(pairs(svc[path: ["spec", "selector"]])) }]
    case ("", "ConfigMap"):
      return [name, column("Data", type: "integer") { cm, _ in
        .int(Int64((cm["data"]?.objectValue?.count ?? 0) + (cm["binaryData"]?.objectValue?.count ?? 0)))
      }, age]
    case ("", "Secret"):
      return [name, column("Type") { s, _ in text(s["type"]) },
              column("Data", type: "integer") { s, _ in .int(Int64(s["data"]?.objectValue?.count ?? 0)) }, age]
    case ("", "Event"):
      return [column("Last Seen") { ev, now in
                .string(Age.since((ev["lastTimestamp"] ?? ev["eventTime"])?.stringValue, now: now)) },
              column("Type") { ev, _ in text(ev["type"]) }, column("Reason") { ev, _ in text(ev["reason"]) },
              column("Object") { ev, _ in
                .string("\((ev[path: ["involvedObject", "kind"]]?.stringValue ?? "").lowercased())/"
                  + (ev[path: ["involvedObject", "name"]]?.stringValue ?? "")) },
              column("Message") { ev, _ in text(ev["message"]) }]
    case ("apps", "Deployment"):
      return [name, column("Ready") { d, _ in
                .string("\(int(d, "status", "readyReplicas"))/\(int(d, "spec", "replicas"))") },
              column("Up-to-date", type: "integer") { d, _ in .int(int(d, "status", "updatedReplicas")) },
              column("Available", type: "integer") { d, _ in .int(int(d, "status", "availableReplicas")) }, age]
        + templateColumns + [column("Selector", priority: 1) { d, _ in .string(selector(d)) }]
    case ("apps", "ReplicaSet"):
      return [name, column("Desired", type: "integer") { r, _ in .int(int(r, "spec", "replicas")) },
              column("Current", type: "integer") { r, _ in .int(int(r, "status", "replicas")) },
              column("Ready", type: "integer") { r, _ in .int(int(r, "status", "readyReplicas")) }, age]
        + templateColumns + [column("Selector", priority: 1) { r, _ in .string(selector(r)) }]
    case ("apps", "StatefulSet"):
      return [name, column("Ready") { s, _ in
                .string("\(int(s, "status", "readyReplicas"))/\(int(s, "spec", "replicas"))") }, age]
        + templateColumns
    case ("apps", "DaemonSet"):
      return [name, column("Desired", type: "integer") { d, _ in .int(int(d, "status", "desiredNumberScheduled")) },
              column("Current", type: "integer") { d, _ in .int(int(d, "status", "currentNumberScheduled")) },
              column("Ready", type: "integer") { d, _ in .int(int(d, "status", "numberReady")) },
              column("Up-to-date", type: "integer") { d, _ in .int(int(d, "status", "updatedNumberScheduled")) },
              column("Available", type: "integer") { d, _ in .int(int(d, "status", "numberAvailable")) },
              column("Node Selector") { d, _ in
                .string(pairs(d[path: ["spec", "template", "spec", "nodeSelector"]])) }, age] + templateColumns
    case ("batch", "Job"):
      return [name, column("Status") { j, _ in .string(jobStatus(j)) },
              column("Completions") { j, _ in
                .string("\(int(j, "status", "succeeded"))/\(j[path: ["spec", "completions"]]?.intValue ?? 1)") },
              column("Duration") { j, now in .string(jobDuration(j, now)) }, age] + templateColumns
    case ("batch", "CronJob"):
      return [name, column("Schedule") { c, _ in text(c[path: ["spec", "schedule"]]) },
              column("Timezone") { c, _ in text(c[path: ["spec", "timeZone"]]) },
              column("Suspend") { c, _ in .string((c[path: ["spec", "suspend"]]?.boolValue ?? false) ? "True" : "False") },
              column("Active", type: "integer") { c, _ in .int(Int64(c[path: ["status", "active"]]?.arrayValue?.count ?? 0)) },
              column("Last Schedule") { c, now in
                .string(c[path: ["status", "lastScheduleTime"]].map { Age.since($0.stringValue, now: now) } ?? "<none>") },
              age]
    case ("autoscaling", "HorizontalPodAutoscaler"):
      return [name, column("Reference") { h, _ in
                .string("\(h[path: ["spec", "scaleTargetRef", "kind"]]?.stringValue ?? "")/"
                  + (h[path: ["spec", "scaleTargetRef", "name"]]?.stringValue ?? "")) },
              column("Targets") { h, _ in .string(hpaTargets(h)) },
              column("MinPods", type: "integer") { h, _ in .int(h[path: ["spec", "minReplicas"]]?.intValue ?? 1) },
              column("MaxPods", type: "integer") { h, _ in .int(int(h, "spec", "maxReplicas")) },
              column("Replicas", type: "integer") { h, _ in .int(int(h, "status", "currentReplicas")) }, age]
    case ("", "PersistentVolumeClaim"):
      return [name, column("Status") { p, _ in text(p[path: ["status", "phase"]]) },
              column("Volume") { p, _ in .string(p[path: ["spec", "volumeName"]]?.stringValue ?? "") },
              column("Capacity") { p, _ in .string(p[path: ["status", "capacity", "storage"]]?.stringValue ?? "") },
              column("Access Modes") { p, _ in .string(accessModes(p[path: ["status", "accessModes"]])) },
              column("StorageClass") { p, _ in text(p[path: ["spec", "storageClassName"]]) }, age]
    default:
      return [name, age]
    }
  }

  private static let podColumns: [Column] = [
    name,
    column("Ready") { pod, _ in
      let statuses = pod[path: ["status", "containerStatuses"]]?.arrayValue ?? []
      let total = pod[path: ["spec", "containers"]]?.arrayValue?.count ?? 0
      return .string("\(statuses.filter { $0["ready"]?.boolValue == true }.count)/\(total)")
    },
    column("Status") { pod, _ in .string(podStatus(pod)) },
    column("Restarts", type: "string") { pod, _ in
      .string(String((pod[path: ["status", "containerStatuses"]]?.arrayValue ?? [])
        .reduce(Int64(0)) { $0 + ($1["restartCount"]?.intValue ?? 0) }))
    },
    age,
    column("IP", priority: 1) { pod, _ in text(pod[path: ["status", "podIP"]]) },
    column("Node", priority: 1) { pod, _ in text(pod[path: ["spec", "nodeName"]]) },
    column("Nominated Node", priority: 1) { pod, _ in text(pod[path: ["status", "nominatedNodeName"]]) },
    column("Readiness Gates", priority: 1) { pod, _ in
      let gates = pod[path: ["spec", "readinessGates"]]?.arrayValue ?? []
      return .string(gates.isEmpty ? "<none>" : "0/\(gates.count)")
    },
  ]

  private static let templateColumns: [Column] = [
    column("Containers", priority: 1) { object, _ in
      .string(containers(object).compactMap { $0["name"]?.stringValue }.joined(separator: ","))
    },
    column("Images", priority: 1) { object, _ in
      .string(containers(object).compactMap { $0["image"]?.stringValue }.joined(separator: ","))
    },
  ]

  private static func containers(_ object: JSON) -> [JSON] {
    (object[path: ["spec", "template", "spec", "containers"]]
      ?? object[path: ["spec", "jobTemplate", "spec", "template", "spec", "containers"]])?.arrayValue ?? []
  }

  private static func int(_ object: JSON, _ section: String, _ field: String) -> Int64 {
    object[path: [section, field]]?.intValue ?? 0
  }

  /// The Status column kubectl shows: a waiting or terminated container's reason, else the phase.
  static func podStatus(_ pod: JSON) -> String {
    if pod[path: ["metadata", "deletionTimestamp"]] != nil { return "Terminating" }
    if let reason = pod[path: ["status", "reason"]]?.stringValue { return reason }
    for status in pod[path: ["status", "initContainerStatuses"]]?.arrayValue ?? [] {
      if let reason = status[path: ["state", "waiting", "reason"]]?.stringValue, reason != "PodInitializing" {
        return "Init:\(reason)"
      }
    }
    for status in pod[path: ["status", "containerStatuses"]]?.arrayValue ?? [] {
      if let reason = status[path: ["state", "waiting", "reason"]]?.stringValue { return reason }
      if let reason = status[path: ["state", "terminated", "reason"]]?.stringValue { return reason }
    }
    return pod[path: ["status", "phase"]]?.stringValue ?? "Pending"
  }

  private static func nodeStatus(_ node: JSON) -> String {
    let ready = (node[path: ["status", "conditions"]]?.arrayValue ?? []).first { $0["type"]?.stringValue == "Ready" }
    var status = ready?["status"]?.stringValue == "True" ? "Ready" : "NotReady"
    if node[path: ["spec", "unschedulable"]]?.boolValue == true { status += ",SchedulingDisabled" }
    return status
  }

  private static func nodeRoles(_ node: JSON) -> String {
    let roles = (node[path: ["metadata", "labels"]]?.objectValue?.keys ?? [])
      .filter { $0.hasPrefix("node-role.kubernetes.io/") }
      .map { String($0.dropFirst("node-role.kubernetes.io/".count)) }
    return roles.isEmpty ? "<none>" : roles.sorted().joined(separator: ",")
  }

  private static func address(_ node: JSON, _ type: String) -> String {
    (node[path: ["status", "addresses"]]?.arrayValue ?? [])
      .first { $0["type"]?.stringValue == type }?["address"]?.stringValue ?? "<none>"
  }

  private static func externalIPs(_ service: JSON) -> String {
    var ips = (service[path: ["spec", "externalIPs"]]?.arrayValue ?? []).compactMap(\.stringValue)
    ips += (service[path: ["status", "loadBalancer", "ingress"]]?.arrayValue ?? []).compactMap {
      ($0["ip"] ?? $0["hostname"])?.stringValue
    }
    if !ips.isEmpty { return ips.joined(separator: ",") }
    return service[path: ["spec", "type"]]?.stringValue == "LoadBalancer" ? "<pending>" : "<none>"
  }

  private static func servicePorts(_ service: JSON) -> String {
    let ports = (service[path: ["spec", "ports"]]?.arrayValue ?? []).map { port -> String in
      let number = port["port"]?.intValue ?? 0
      let node = port["nodePort"]?.intValue.map { ":\($0)" } ?? ""
      return "\(number)\(node)/\(port["protocol"]?.stringValue ?? "TCP")"
    }
    return ports.isEmpty ? "<none>" : ports.joined(separator: ",")
  }

  private static func pairs(_ value: JSON?) -> String {
    guard let object = value?.objectValue, !object.isEmpty else { return "<none>" }
    return object.map { "\($0.key)=\($0.value.stringValue ?? "")" }.joined(separator: ",")
  }

  private static func selector(_ object: JSON) -> String {
    guard let selector = object[path: ["spec", "selector"]] else { return "<none>" }
    var terms = (selector["matchLabels"]?.objectValue ?? [:]).map { "\($0.key)=\($0.value.stringValue ?? "")" }
    for expression in selector["matchExpressions"]?.arrayValue ?? [] {
      let key = expression["key"]?.stringValue ?? ""
      let values = (expression["values"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ",")
      switch expression["operator"]?.stringValue {
      case "In": terms.append("\(key) in (\(values))")
      case "NotIn": terms.append("\(key) notin (\(values))")
      case "Exists": terms.append(key)
      case "DoesNotExist": terms.append("!\(key)")
      default: break
      }
    }
    return terms.isEmpty ? "<none>" : terms.joined(separator: ",")
  }

  private static func jobStatus(_ job: JSON) -> String {
    for condition in job[path: ["status", "conditions"]]?.arrayValue ?? []
    where condition["status"]?.stringValue == "True" {
      switch condition["type"]?.stringValue {
      case "Complete": return "Complete"
      case "Failed": return "Failed"
      case "Suspended": return "Suspended"
      default: continue
      }
    }
    return "Running"
  }

  private static func jobDuration(_ job: JSON, _ now: Date) -> String {
    guard let start = Age.parse(job[path: ["status", "startTime"]]?.stringValue) else { return "" }
    let end = Age.parse(job[path: ["status", "completionTime"]]?.stringValue) ?? now
    return Age.format(end.timeIntervalSince(start))
  }

  private static func hpaTargets(_ hpa: JSON) -> String {
    let metrics = hpa[path: ["spec", "metrics"]]?.arrayValue ?? []
    guard !metrics.isEmpty else { return "<none>" }
    return metrics.map { metric -> String in
      let type = metric["type"]?.stringValue ?? ""
      let target = metric[path: [type.prefix(1).lowercased() + type.dropFirst(), "target"]]
      let value = target?["averageUtilization"].map { "\($0.intValue ?? 0)%" }
        ?? target?["averageValue"]?.stringValue ?? target?["value"]?.stringValue ?? "?"
      let name = metric[path: [type.prefix(1).lowercased() + type.dropFirst(), "name"]]?.stringValue
        ?? metric[path: [type.prefix(1).lowercased() + type.dropFirst(), "metric", "name"]]?.stringValue ?? ""
      return "\(name): <unknown>/\(value)"
    }.joined(separator: ", ")
  }

  private static func accessModes(_ value: JSON?) -> String {
    let short = ["ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"]
    return (value?.arrayValue ?? []).compactMap { $0.stringValue.flatMap { short[$0] } }.joined(separator: ",")
  }
}

/// Kubernetes' age format: 45s, 5m, 3h12m, 2d5h, 400d; and its timestamps, RFC 3339 in UTC to the
/// second ("2026-11-29T10:58:57Z"), read and written with libc rather than a Foundation date
/// formatter, whose ICU data alone would add a quarter to the idle server's memory.
enum Age {
  static func parse(_ text: String?) -> Date? {
    guard let text else { return nil }
    let bytes = Array(text.utf8)
    guard bytes.count == 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
          bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
          bytes[19] == UInt8(ascii: "Z") else { return nil }
    func number(_ range: Range<Int>) -> Int32? {
      var value: Int32 = 0
      for byte in bytes[range] {
        guard byte >= 48, byte <= 57 else { return nil }
        value = value * 10 + Int32(byte - 48)
      }
      return value
    }
    guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
          let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19) else { return nil }
    var parts = tm()
    parts.tm_year = year - 1900
    parts.tm_mon = month - 1
    parts.tm_mday = day
    parts.tm_hour = hour
    parts.tm_min = minute
    parts.tm_sec = second
    return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
  }

  static func since(_ timestamp: String?, now: Date) -> String {
    guard let date = parse(timestamp) else { return "<unknown>" }
    return format(now.timeIntervalSince(date))
  }

  static func format(_ interval: TimeInterval) -> String {
    let seconds = max(0, Int(interval))
    if seconds < 120 { return "\(seconds)s" }
    let minutes = seconds / 60
    if minutes < 10 { return "\(minutes)m\(seconds % 60 == 0 ? "" : "\(seconds % 60)s")" }
    if minutes < 180 { return "\(minutes)m" }
    let hours = minutes / 60
    if hours < 8 { return "\(hours)h\(minutes % 60 == 0 ? "" : "\(minutes % 60)m")" }
    if hours < 48 { return "\(hours)h" }
    let days = hours / 24
    if days < 8 { return "\(days)d\(hours % 24 == 0 ? "" : "\(hours % 24)h")" }
    return "\(days)d"
  }

  /// Every write stamps the time, several per pod: the text is made once per second.
  static func now() -> String {
    let seconds = time(nil)
    return lastStamp.withLock { last in
      if last.seconds != seconds { last = (seconds, stamp(seconds)) }
      return last.text
    }
  }
  private static let lastStamp = Mutex<(seconds: time_t, text: String)>((0, ""))

  private static func stamp(_ seconds: time_t) -> String {
    var seconds = seconds
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))"
      + "T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
  }
}
