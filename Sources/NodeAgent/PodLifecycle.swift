// The sync thread: applies pod events, and for each pod bound here drives the runtime toward its
// spec (sandbox, init containers in order, containers, restarts with back-off) and reports the
// status Kubernetes would. It relists the runtime's containers each pass, as the kubelet's PLEG does.
import Glibc
import Kernel
import ObjectModel
import Synchronization

/// One instance of a container and the restarts of its name so far.
final class ContainerState {
  let name: String
  /// The current instance's ContainerStatus from the runtime.
  var current: JSON
  /// The instance before it, for `lastState` and `logs --previous`.
  var previous: JSON?
  var restartCount: Int
  /// The back-off before the next restart; nil until the first one.
  var backoff: Double?
  /// Set while a restart waits out its back-off.
  var crashLoopUntil: Double?
  /// The probes of the running instance, if its spec has any.
  var probes: ContainerProbes?

  init(name: String, current: JSON, previous: JSON? = nil, restartCount: Int) {
    self.name = name
    self.current = current
    self.previous = previous
    self.restartCount = restartCount
  }

  var id: String { current["id"]?.stringValue ?? "" }
  var state: String { current["state"]?.stringValue ?? "" }
  var isRunning: Bool { state == "CONTAINER_RUNNING" }
  var hasExited: Bool { state == "CONTAINER_EXITED" }
  var exitCode: Int64 { current["exitCode"]?.intValue ?? -1 }
  /// Running, and past its startup probe.
  var isStarted: Bool { isRunning && (probes?.isStarted ?? true) }
  /// Running, and its probes say it serves.
  var isReady: Bool { isRunning && (probes?.isReady ?? true) }
}

/// A pod this node runs.
final class PodState {
  /// The latest object from the API server; nil for a pod re-adopted before the list came.
  var pod: JSON?
  let uid: String
  /// The runtime its sandbox is in, once it has one.
  var runtime: RuntimeCalls?
  var sandboxID: String?
  /// Why the last try to create the sandbox failed.
  var sandboxError: String?
  var containers: [String: ContainerState] = [:]
  /// Why a container could not be created, by name (CreateContainerConfigError).
  var configErrors: [String: String] = [:]
  var startTime: String?
  var conditions: [String: (status: String, time: String)] = [:]
  var lastSent: JSON?
  /// The record last written to the journal.
  var journaled: JSON?
  /// Terminating: a termination thread owns the containers now.
  var terminating = false
  /// Succeeded or Failed: nothing is restarted any more.
  var finished = false

  init(uid: String, pod: JSON?) {
    self.uid = uid
    self.pod = pod
  }
}

extension NodeAgent {
  func syncLoop() {
    adoptRunningContainers()
    resumeJournaledPods()
    while true {
      applyEvents()
      if !nodeRegistered { registerNode() }
      var nextWake = leaseDue
      if Clock.now() >= leaseDue {
        renewLease()
        leaseDue = Clock.now() + leaseSeconds
        nextWake = leaseDue
      }
      let observed = observeRuntime()
      let due = Mutex(nextWake)
      syncWorkers.runAll(pods.values.filter { !$0.terminating }.map { state in
        { [self] in
          if let next = sync(state, observed: observed) { due.withLock { $0 = min($0, next) } }
        }
      })
      nextWake = due.withLock { $0 }
      publishLogIndex()
      // A pass a second while containers run, to notice exits (the kubelet's PLEG relists as
      // often); none at all while idle.
      if pods.values.contains(where: { !$0.finished && !$0.terminating && $0.pod != nil }) {
        nextWake = min(nextWake, Clock.now() + 1)
      }
      wake.wait(seconds: max(0.01, nextWake - Clock.now()))
    }
  }

  /// Every container of the runtimes the pods use, by id (nil when one could not answer).
  private func observeRuntime() -> [String: JSON]? {
    var observed: [String: JSON] = [:]
    for runtime in Set(pods.values.compactMap { $0.runtime?.name }).compactMap({ runtimes[$0] }) {
      do {
        for container in try runtime.allContainers() { observed[container["id"]?.stringValue ?? ""] = container }
      } catch {
        warn("listing the \(runtime.name) runtime's containers: \(error)")
        return nil
      }
    }
    return observed
  }

  // MARK: Re-adoption

  /// Takes over the containers an earlier agent started (matched to pods by their labels), so a
  /// restarted agent neither starts duplicates nor loses restart counts.
  private func adoptRunningContainers() {
    var containers: [(RuntimeCalls, JSON)] = []
    for runtime in runtimes.values {
      do {
        containers += try runtime.allContainers().map { (runtime, $0) }
      } catch {
        warn("cannot list the \(runtime.name) runtime's containers to re-adopt them: \(error)")
      }
    }
    for (runtime, container) in containers {
      guard let uid = container[path: ["labels", ContainerConfig.podUIDLabel]]?.stringValue,
            let name = container[path: ["labels", ContainerConfig.containerLabel]]?.stringValue else { continue }
      let state = pods[uid] ?? PodState(uid: uid, pod: nil)
      pods[uid] = state
      state.runtime = runtime
      state.sandboxID = container["podSandboxId"]?.stringValue
      let attempt = Int(container[path: ["metadata", "attempt"]]?.intValue ?? 0)
      if let known = state.containers[name] {
        let knownAttempt = Int(known.current[path: ["metadata", "attempt"]]?.intValue ?? 0)
        if attempt > knownAttempt {
          known.previous = known.current
          known.current = container
          known.restartCount = attempt
        } else if known.previous == nil || attempt > Int(known.previous![path: ["metadata", "attempt"]]?.intValue ?? 0) {
          known.previous = container
        }
      } else {
        state.containers[name] = ContainerState(name: name, current: container, restartCount: attempt)
      }
    }
    if !pods.isEmpty { kernel.log.write(.info, "agent", "re-adopted \(containers.count) containers of \(pods.count) pods") }
  }

  /// Takes up the pods the journal kept, so that their restart policies apply before (or
  /// without) a list from the API server; the list, once it comes, says which still exist.
  private func resumeJournaledPods() {
    for (pod, backoff, startTime, record) in journal.load() {
      podChanged(pod)
      guard let state = pods[pod.uid] else { continue }
      state.journaled = record
      state.startTime = startTime
      for (name, seconds) in backoff { state.containers[name]?.backoff = seconds }
    }
  }

  // MARK: Events

  private func applyEvents() {
    let events = inbox.withLock { events in
      defer { events = [] }
      return events
    }
    for event in events {
      switch event {
      case .changed(let pod): podChanged(pod)
      case .deleted(let uid): podDeleted(uid)
      case .listed(let items):
        let uids = Set(items.map(\.uid))
        for uid in pods.keys where !uids.contains(uid) { podDeleted(uid) }
        listed = true
        items.forEach(podChanged)
      }
    }
  }

  private func podChanged(_ pod: JSON) {
    let uid = pod.uid
    let state = pods[uid] ?? PodState(uid: uid, pod: pod)
    pods[uid] = state
    state.pod = pod
    if pod[path: ["metadata", "deletionTimestamp"]] != nil && !state.terminating {
      terminate(state, deleteFromAPI: true)
    }
  }

  /// The pod is gone from the API server (deleted at once, or by this agent): whatever still runs
  /// of it goes now.
  private func podDeleted(_ uid: String) {
    guard let state = pods.removeValue(forKey: uid) else { return }
    journal.remove(uid)
    if !state.terminating { terminate(state, deleteFromAPI: false) }
  }

  // MARK: One pod

  /// Moves one pod toward its spec and reports its status. Returns when it next needs a pass.
  func sync(_ state: PodState, observed: [String: JSON]?) -> Double? {
    guard let pod = state.pod else { return nil }
    if let observed {
      for container in state.containers.values {
        // A container the runtime no longer has ended while nobody watched.
        container.current = observed[container.id] ?? Self.vanished(container.current)
        if container.hasExited, let why = probeKills.withLock({ $0[container.id] }) { container.current["message"] = .string(why) }
      }
      superviseProbes(state, pod)
    }
    var nextWake: Double?
    if !state.finished {
      nextWake = advance(state, pod)
    }
    if state.startTime == nil { state.startTime = Clock.rfc3339(Clock.now()) }
    journal.save(state)
    let status = PodStatusReport.make(state, pod, agent: self)
    if status["phase"]?.stringValue == "Succeeded" || status["phase"]?.stringValue == "Failed" { state.finished = true }
    if status != state.lastSent {
      do {
        let answer = try api.mergePatch("/api/v1/namespaces/\(pod.namespace)/pods/\(pod.name)/status", ["status": status])
        if answer.status == 200 { state.lastSent = status } else if answer.status != 404 {
          warn("reporting status of pod \(pod.namespace)/\(pod.name): \(answer.message)")
        }
      } catch {
        // Sent again on a later pass, once the API server answers.
      }
    }
    return nextWake
  }

  private static func vanished(_ status: JSON) -> JSON {
    var gone = status
    if gone["state"]?.stringValue != "CONTAINER_EXITED" {
      gone["state"] = "CONTAINER_EXITED"
      gone["exitCode"] = -1
      gone["reason"] = "Unknown"
    }
    return gone
  }

  /// Sandbox, then init containers in order, then the containers; restarts as the policy says.
  private func advance(_ state: PodState, _ pod: JSON) -> Double? {
    if state.sandboxID == nil {
      do {
        let runtime = try runtime(for: pod)
        state.runtime = runtime
        state.sandboxID = try runtime.createSandbox([
          "metadata": ["name": .string(pod.name), "namespace": .string(pod.namespace), "uid": .string(pod.uid), "attempt": 0],
          "labels": [ContainerConfig.podUIDLabel: .string(pod.uid), ContainerConfig.podNameLabel: .string(pod.name),
                     ContainerConfig.podNamespaceLabel: .string(pod.namespace)],
        ])
      } catch {
        // Said once, not at every retry.
        let message = "creating the sandbox of pod \(pod.namespace)/\(pod.name): \(error)"
        if message != state.sandboxError { warn(message) }
        state.sandboxError = message
        return Clock.now() + 1
      }
    }
    let policy = pod[path: ["spec", "restartPolicy"]]?.stringValue ?? "Always"
    var nextWake: Double?
    for spec in pod[path: ["spec", "initContainers"]]?.arrayValue ?? [] {
      let name = spec["name"]?.stringValue ?? ""
      guard let container = state.containers[name] else {
        return start(spec, of: state, pod)
      }
      if container.hasExited && container.exitCode == 0 { continue }
      // Init containers restart on failure unless the pod's policy is Never.
      if container.hasExited && policy != "Never" { return restart(container, spec, of: state, pod) }
      return nil
    }
    for spec in pod[path: ["spec", "containers"]]?.arrayValue ?? [] {
      let name = spec["name"]?.stringValue ?? ""
      guard let container = state.containers[name] else {
        if let due = start(spec, of: state, pod) { nextWake = min(nextWake ?? due, due) }
        continue
      }
      guard container.hasExited else { continue }
      if policy == "Always" || (policy == "OnFailure" && container.exitCode != 0) {
        if let due = restart(container, spec, of: state, pod) { nextWake = min(nextWake ?? due, due) }
      }
    }
    return nextWake
  }

  /// Creates and starts the next instance of `spec`. Returns a retry time when it could not.
  @discardableResult
  private func start(_ spec: JSON, of state: PodState, _ pod: JSON) -> Double? {
    let name = spec["name"]?.stringValue ?? ""
    let existing = state.containers[name]
    let attempt = existing.map { $0.restartCount + 1 } ?? 0
    let config: JSON
    do {
      config = try ContainerConfig.make(spec, of: pod, attempt: attempt, node: facts, sources: self)
      state.configErrors[name] = nil
    } catch {
      state.configErrors[name] = "\(error)"
      return Clock.now() + 1
    }
    guard let runtime = state.runtime else { return Clock.now() + 1 }
    do {
      let id = try runtime.createContainer(in: state.sandboxID!, config)
      // The start's own failure (no such command) leaves an exited container with StartError.
      do { try runtime.start(id) } catch { warn("starting container \(name) of pod \(pod.namespace)/\(pod.name): \(error)") }
      let observed = (try? runtime.status(id)) ?? ["id": .string(id), "state": "CONTAINER_CREATED"]
      if let existing {
        // Only the instance before keeps its log (for --previous); older ones go.
        if let older = existing.previous?["id"]?.stringValue {
          try? runtime.remove(older)
          _ = probeKills.withLock { $0.removeValue(forKey: older) }
        }
        existing.previous = existing.current
        existing.current = observed
        existing.restartCount = attempt
      } else {
        state.containers[name] = ContainerState(name: name, current: observed, restartCount: 0)
      }
      return nil
    } catch {
      warn("creating container \(name) of pod \(pod.namespace)/\(pod.name): \(error)")
      return Clock.now() + 1
    }
  }

  /// Restarts an exited container, after Kubernetes' back-off: at once the first time, then 10 s
  /// doubling to 300 s, forgotten after 10 minutes of running.
  private func restart(_ container: ContainerState, _ spec: JSON, of state: PodState, _ pod: JSON) -> Double? {
    let started = Double(container.current["startedAt"]?.intValue ?? 0) / 1e9
    let finished = Double(container.current["finishedAt"]?.intValue ?? 0) / 1e9
    if finished - started >= 600 { container.backoff = nil }
    if let delay = container.backoff, Clock.now() < finished + delay {
      container.crashLoopUntil = finished + delay
      return finished + delay
    }
    container.crashLoopUntil = nil
    container.backoff = container.backoff.map { min($0 * 2, settings.maxRestartBackoffSeconds) } ?? settings.restartBackoffSeconds
    return start(spec, of: state, pod)
  }

  // MARK: Logs

  /// Publishes where each container's current and previous logs are, for the log endpoint.
  func publishLogIndex() {
    var index: [String: ContainerLogs.Entry] = [:]
    for state in pods.values {
      guard let pod = state.pod else { continue }
      for container in state.containers.values {
        index["\(pod.namespace)/\(pod.name)/\(container.name)"] = ContainerLogs.Entry(
          id: container.id, runtime: (state.runtime ?? runtime).name,
          current: container.current["logPath"]?.stringValue, previous: container.previous?["logPath"]?.stringValue,
          running: container.isRunning)
      }
    }
    logIndex.withLock { $0 = index }
  }
}

extension NodeAgent: EnvironmentSources {
  func configMap(_ namespace: String, _ name: String) throws -> JSON? {
    try fetch("/api/v1/namespaces/\(namespace)/configmaps/\(name)")
  }

  func secret(_ namespace: String, _ name: String) throws -> JSON? {
    try fetch("/api/v1/namespaces/\(namespace)/secrets/\(name)")
  }

  private func fetch(_ path: String) throws -> JSON? {
    let answer = try api.get(path)
    if answer.status == 404 { return nil }
    guard answer.status == 200 else { throw ContainerConfigError("reading \(path): \(answer.message)") }
    return answer.body
  }
}
