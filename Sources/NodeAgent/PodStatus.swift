// A pod's status as the kubelet reports it: phase, conditions, container statuses with state,
// lastState and restartCount, addresses, startTime and QoS class.
import ObjectModel

enum PodStatusReport {
  static func make(_ state: PodState, _ pod: JSON, agent: NodeAgent) -> JSON {
    let policy = pod[path: ["spec", "restartPolicy"]]?.stringValue ?? "Always"
    let initSpecs = pod[path: ["spec", "initContainers"]]?.arrayValue ?? []
    let specs = pod[path: ["spec", "containers"]]?.arrayValue ?? []
    let initialized = initSpecs.allSatisfy { spec in
      state.containers[spec["name"]?.stringValue ?? ""].map { $0.hasExited && $0.exitCode == 0 } ?? false
    }
    let initFailed = policy == "Never" && initSpecs.contains { spec in
      state.containers[spec["name"]?.stringValue ?? ""].map { $0.hasExited && $0.exitCode != 0 } ?? false
    }
    let containers = specs.map { state.containers[$0["name"]?.stringValue ?? ""] }
    let phase: String
    if initFailed {
      phase = "Failed"
    } else if !initialized || containers.allSatisfy({ $0 == nil }) {
      phase = "Pending"
    } else if containers.allSatisfy({ $0?.hasExited ?? false }) && !containers.contains(where: { willRestart($0!, policy) }) {
      phase = containers.allSatisfy { $0!.exitCode == 0 } ? "Succeeded" : "Failed"
    } else if containers.contains(where: { $0?.isRunning ?? false || $0?.hasExited ?? false }) {
      phase = "Running"
    } else {
      phase = "Pending"
    }

    let unready = specs.compactMap { spec -> String? in
      let name = spec["name"]?.stringValue ?? ""
      return state.containers[name]?.isReady == true ? nil : name
    }
    let incomplete = initSpecs.compactMap { spec -> String? in
      let name = spec["name"]?.stringValue ?? ""
      return state.containers[name].map { $0.hasExited && $0.exitCode == 0 } == true ? nil : name
    }
    let terminal = phase == "Succeeded" || phase == "Failed"
    func condition(_ type: String, _ value: Bool, reason: String? = nil, message: String? = nil) -> JSON {
      let status = value ? "True" : "False"
      if state.conditions[type]?.status != status { state.conditions[type] = (status, Clock.rfc3339(Clock.now())) }
      var condition: JSON = ["type": .string(type), "status": .string(status), "lastProbeTime": .null,
                             "lastTransitionTime": .string(state.conditions[type]!.time)]
      if !value, let reason { condition["reason"] = .string(reason) }
      if !value, let message { condition["message"] = .string(message) }
      return condition
    }
    let ready = unready.isEmpty && !terminal
    let readyReason = terminal ? "PodCompleted" : "ContainersNotReady"
    let readyMessage = terminal ? nil : "containers with unready status: [\(unready.joined(separator: " "))]"
    var conditions: [JSON] = [
      condition("PodReadyToStartContainers", state.sandboxID != nil),
      condition("Initialized", initialized, reason: terminal && initialized ? "PodCompleted" : "ContainersNotInitialized",
                message: "containers with incomplete status: [\(incomplete.joined(separator: " "))]"),
      condition("Ready", ready, reason: readyReason, message: readyMessage),
      condition("ContainersReady", ready, reason: readyReason, message: readyMessage),
      condition("PodScheduled", true),
    ]
    conditions = conditions.sorted { order($0) < order($1) }
    let facts = agent.facts!
    let runtime = (state.runtime ?? agent.runtime).name
    var status: JSON = [
      "phase": .string(phase), "conditions": .array(conditions),
      "hostIP": .string(facts.internalIP), "hostIPs": [["ip": .string(facts.internalIP)]],
      // Containers of the process runtime share the host's network.
      "podIP": .string(facts.internalIP), "podIPs": [["ip": .string(facts.internalIP)]],
      "startTime": .string(state.startTime ?? Clock.rfc3339(Clock.now())),
      "qosClass": .string(ContainerConfig.qosClass(pod)),
      "containerStatuses": .array(specs.map { containerStatus($0, state, runtime: runtime, isInit: false) }),
    ]
    if !initSpecs.isEmpty {
      status["initContainerStatuses"] = .array(initSpecs.map { containerStatus($0, state, runtime: runtime, isInit: true) })
    }
    return status
  }

  private static func order(_ condition: JSON) -> Int {
    ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]
      .firstIndex(of: condition["type"]?.stringValue ?? "") ?? 9
  }

  private static func willRestart(_ container: ContainerState, _ policy: String) -> Bool {
    policy == "Always" || (policy == "OnFailure" && container.exitCode != 0)
  }

  private static func containerStatus(_ spec: JSON, _ state: PodState, runtime: String, isInit: Bool) -> JSON {
    let name = spec["name"]?.stringValue ?? ""
    var status: JSON = ["name": .string(name), "image": spec["image"] ?? "", "imageID": "",
                        "ready": false, "restartCount": 0, "started": false]
    guard let container = state.containers[name] else {
      let reason = state.configErrors[name] != nil ? "CreateContainerConfigError" : isInit ? "PodInitializing" : "ContainerCreating"
      var waiting: JSON = ["reason": .string(reason)]
      if let message = state.configErrors[name] { waiting["message"] = .string(message) }
      status["state"] = ["waiting": waiting]
      status["lastState"] = [:]
      return status
    }
    status["restartCount"] = .int(Int64(container.restartCount))
    status["containerID"] = .string("\(runtime)://\(container.id)")
    let lastState: JSON?
    switch container.state {
    case "CONTAINER_RUNNING":
      status["state"] = ["running": ["startedAt": time(container.current["startedAt"])]]
      status["ready"] = .bool(!isInit && container.isReady)
      status["started"] = .bool(!isInit && container.isStarted)
      lastState = container.previous.map { terminated($0, runtime: runtime) }
    case "CONTAINER_EXITED":
      if let until = container.crashLoopUntil, Clock.now() < until {
        let delay = Int((container.backoff ?? 0).rounded(.up))
        status["state"] = ["waiting": ["reason": "CrashLoopBackOff",
          "message": .string("back-off \(delay)s restarting failed container=\(name) pod=\(state.pod?.name ?? "")_\(state.pod?.namespace ?? "")(\(state.uid))")]]
        lastState = terminated(container.current, runtime: runtime)
      } else {
        status["state"] = terminated(container.current, runtime: runtime)
        lastState = container.previous.map { terminated($0, runtime: runtime) }
      }
    default:
      status["state"] = ["waiting": ["reason": "ContainerCreating"]]
      lastState = container.previous.map { terminated($0, runtime: runtime) }
    }
    status["lastState"] = lastState ?? [:]
    return status
  }

  /// A runtime ContainerStatus as the `terminated` state Kubernetes reports.
  private static func terminated(_ observed: JSON, runtime: String) -> JSON {
    var terminated: JSON = [
      "exitCode": .int(observed["exitCode"]?.intValue ?? -1),
      "reason": .string(observed["reason"]?.stringValue ?? "Unknown"),
      "startedAt": time(observed["startedAt"]), "finishedAt": time(observed["finishedAt"]),
      "containerID": .string("\(runtime)://\(observed["id"]?.stringValue ?? "")"),
    ]
    if let message = observed["message"]?.stringValue, !message.isEmpty { terminated["message"] = .string(message) }
    return ["terminated": terminated]
  }

  /// Nanoseconds since the epoch (the runtime's unit) as an RFC 3339 time; null when unset.
  private static func time(_ nanoseconds: JSON?) -> JSON {
    guard let value = nanoseconds?.intValue, value > 0 else { return .null }
    return .string(Clock.rfc3339(Double(value) / 1e9))
  }
}
