// Startup, readiness and liveness probes as the kubelet runs them: a thread per probe of each
// running container instance, probing every periodSeconds after initialDelaySeconds. Startup
// holds the others back until it succeeds; readiness decides `ready`; a failed liveness (or
// startup) probe stops the container, and the sync thread restarts it with back-off.
import Glibc
import HTTP
import Kernel
import ObjectModel
import Synchronization
import SystemKit

/// One probe of a container spec, with Kubernetes' defaults.
struct ProbeSpec: Sendable {
  enum Action: Sendable {
    case exec([String])
    case httpGet(host: String?, port: Int, path: String, headers: [(name: String, value: String)])
    case tcpSocket(host: String?, port: Int)
    case unsupported(String)
  }

  let action: Action
  let initialDelay: Double
  let period: Double
  let timeout: Double
  let successThreshold: Int
  let failureThreshold: Int
  /// The probe's own grace period for the stop it causes, else the pod's.
  let terminationGracePeriod: Int64?

  init?(_ probe: JSON?, container: JSON) {
    guard let probe, case .object = probe else { return nil }
    func seconds(_ key: String, _ fallback: Int64, minimum: Int64) -> Double {
      Double(max(minimum, probe[key]?.intValue ?? fallback))
    }
    initialDelay = seconds("initialDelaySeconds", 0, minimum: 0)
    period = seconds("periodSeconds", 10, minimum: 1)
    timeout = seconds("timeoutSeconds", 1, minimum: 1)
    successThreshold = Int(max(1, probe["successThreshold"]?.intValue ?? 1))
    failureThreshold = Int(max(1, probe["failureThreshold"]?.intValue ?? 3))
    terminationGracePeriod = probe["terminationGracePeriodSeconds"]?.intValue
    if let command = probe[path: ["exec", "command"]]?.arrayValue {
      action = .exec(command.compactMap(\.stringValue))
    } else if let get = probe["httpGet"] {
      let port = Self.port(get["port"], of: container)
      if get["scheme"]?.stringValue?.uppercased() == "HTTPS" {
        action = .unsupported("httpGet probes over HTTPS are not supported yet")
      } else if let port {
        let headers = (get["httpHeaders"]?.arrayValue ?? []).map {
          (name: $0["name"]?.stringValue ?? "", value: $0["value"]?.stringValue ?? "")
        }
        action = .httpGet(host: get["host"]?.stringValue, port: port, path: get["path"]?.stringValue ?? "/", headers: headers)
      } else {
        action = .unsupported("httpGet probe: port \(get["port"].map { "\($0)" } ?? "none") is not a number or a port name of the container")
      }
    } else if let socket = probe["tcpSocket"] {
      if let port = Self.port(socket["port"], of: container) {
        action = .tcpSocket(host: socket["host"]?.stringValue, port: port)
      } else {
        action = .unsupported("tcpSocket probe: port \(socket["port"].map { "\($0)" } ?? "none") is not a number or a port name of the container")
      }
    } else {
      action = .unsupported("the probe has no exec, httpGet or tcpSocket handler")
    }
  }

  /// A port number, or the name of one of the container's ports.
  private static func port(_ value: JSON?, of container: JSON) -> Int? {
    if let number = value?.intValue { return Int(number) }
    guard let name = value?.stringValue else { return nil }
    if let number = Int(name) { return number }
    return (container["ports"]?.arrayValue ?? []).first { $0["name"]?.stringValue == name }?["containerPort"]?.intValue.map(Int.init)
  }
}

/// The probes of one running container instance, and what they have found so far.
final class ContainerProbes: @unchecked Sendable {
  enum Kind: String { case startup = "Startup", readiness = "Readiness", liveness = "Liveness" }

  let containerID: String
  private struct Findings {
    var started: Bool
    var ready: Bool
    var stopped = false
  }
  private let findings: Mutex<Findings>
  /// One per probe thread, so that `stop` wakes each from its sleep.
  private let signals: [WakeSignal]

  /// Started: no startup probe, or it succeeded. Ready: started, and no readiness probe or it succeeded.
  var isStarted: Bool { findings.withLock { $0.started } }
  var isReady: Bool { findings.withLock { $0.started && $0.ready } }
  private var isStopped: Bool { findings.withLock { $0.stopped } }

  /// Starts a thread per probe of `spec`; nil when it has none.
  static func start(_ spec: JSON, containerID: String, runtime: RuntimeCalls, pod: JSON, agent: NodeAgent) -> ContainerProbes? {
    let probes: [(Kind, ProbeSpec)] = [(.startup, "startupProbe"), (.readiness, "readinessProbe"), (.liveness, "livenessProbe")]
      .compactMap { kind, key in ProbeSpec(spec[key], container: spec).map { (kind, $0) } }
    guard !probes.isEmpty else { return nil }
    let hasProbe = { (kind: Kind) in probes.contains { $0.0 == kind } }
    let probeSet = ContainerProbes(containerID: containerID, started: !hasProbe(.startup), ready: !hasProbe(.readiness),
                                   signals: probes.map { _ in WakeSignal() })
    let podGrace = pod[path: ["spec", "terminationGracePeriodSeconds"]]?.intValue ?? 30
    for ((kind, probe), signal) in zip(probes, probeSet.signals) {
      startThread(name: "skiff-probe") {
        probeSet.run(kind, probe, signal: signal, runtime: runtime, agent: agent, grace: probe.terminationGracePeriod ?? podGrace)
      }
    }
    return probeSet
  }

  private init(containerID: String, started: Bool, ready: Bool, signals: [WakeSignal]) {
    self.containerID = containerID
    self.signals = signals
    findings = Mutex(Findings(started: started, ready: ready))
  }

  /// Ends the probe threads (the instance exited, restarted, or its pod goes).
  func stop() {
    findings.withLock { $0.stopped = true }
    signals.forEach { $0.raise() }
  }

  /// Sleeps for `seconds` unless stopped first; false once stopped.
  private func pause(_ seconds: Double, _ signal: WakeSignal) -> Bool {
    let until = monotonicSeconds() + seconds
    while !isStopped, case let left = until - monotonicSeconds(), left > 0 { _ = signal.wait(seconds: left) }
    return !isStopped
  }

  private func run(_ kind: Kind, _ probe: ProbeSpec, signal: WakeSignal, runtime: RuntimeCalls, agent: NodeAgent, grace: Int64) {
    guard pause(probe.initialDelay, signal) else { return }
    var successes = 0
    var failures = 0
    repeat {
      // Readiness and liveness wait for the startup probe, as the kubelet's do.
      guard kind == .startup || isStarted else { continue }
      let (succeeded, why) = agent.probe(probe.action, containerID: containerID, runtime: runtime, timeout: probe.timeout)
      guard !isStopped else { return }
      if succeeded { successes += 1; failures = 0 } else { failures += 1; successes = 0 }
      var changed = false
      findings.withLock { findings in
        switch kind {
        case .startup where succeeded:
          changed = !findings.started
          findings.started = true
        case .readiness where succeeded && successes >= probe.successThreshold:
          changed = !findings.ready
          findings.ready = true
        case .readiness where !succeeded && failures >= probe.failureThreshold:
          changed = findings.ready
          findings.ready = false
        default: break
        }
      }
      if changed { agent.wake.raise() }
      if kind == .startup && succeeded { return }
      if kind != .readiness && failures >= probe.failureThreshold {
        stop()
        return agent.stopForFailedProbe(containerID, runtime: runtime, grace: grace, message: "\(kind.rawValue) probe failed: \(why)")
      }
    } while pause(probe.period, signal)
  }
}

extension NodeAgent {
  /// Keeps one set of probe threads for each running container instance of the pod.
  func superviseProbes(_ state: PodState, _ pod: JSON) {
    for spec in pod[path: ["spec", "containers"]]?.arrayValue ?? [] {
      guard let container = state.containers[spec["name"]?.stringValue ?? ""], let runtime = state.runtime else { continue }
      guard container.isRunning else {
        container.probes?.stop()
        container.probes = nil
        continue
      }
      if container.probes?.containerID != container.id {
        container.probes?.stop()
        container.probes = ContainerProbes.start(spec, containerID: container.id, runtime: runtime, pod: pod, agent: self)
      }
    }
  }

  /// Stops a container whose liveness or startup probe failed; the sync thread restarts it as
  /// its pod's restart policy says, and its lastState carries `message`.
  func stopForFailedProbe(_ containerID: String, runtime: RuntimeCalls, grace: Int64, message: String) {
    probeKills.withLock { $0[containerID] = message }
    kernel.log.write(.info, "agent", "container \(containerID): \(message); stopping it")
    do { try runtime.stop(containerID, grace: grace) } catch { warn("stopping container \(containerID): \(error)") }
    wake.raise()
  }

  /// Runs one probe; a probe that does not answer within `timeout` seconds failed.
  func probe(_ action: ProbeSpec.Action, containerID: String, runtime: RuntimeCalls, timeout: Double) -> (Bool, String) {
    switch action {
    case .exec(let command):
      return execProbe(command, containerID: containerID, runtime: runtime, timeout: timeout)
    case .httpGet(let host, let port, let path, let headers):
      do throws(ConnectionError) {
        let connection = try BlockingHTTPConnection(host: host ?? facts.internalIP, port: port,
                                                    receiveTimeoutSeconds: Int(timeout.rounded(.up)))
        connection.extraHeaders = headers
        try connection.send("GET", path)
        let status = try connection.readHead().status
        return ((200..<400).contains(status), "HTTP probe failed with statuscode: \(status)")
      } catch {
        return (false, "Get \"http://\(host ?? facts.internalIP):\(port)\(path)\": \(error)")
      }
    case .tcpSocket(let host, let port):
      do throws(ConnectionError) {
        _ = try BlockingHTTPConnection(host: host ?? facts.internalIP, port: port, receiveTimeoutSeconds: Int(timeout.rounded(.up)))
        return (true, "")
      } catch {
        return (false, "dial tcp \(host ?? facts.internalIP):\(port): \(error)")
      }
    case .unsupported(let why):
      return (false, why)
    }
  }

  /// The runtime kills the command after `timeout` seconds; for a runtime that does not, the
  /// probe stops waiting a second later all the same.
  private func execProbe(_ command: [String], containerID: String, runtime: RuntimeCalls, timeout: Double) -> (Bool, String) {
    let outcome = Mutex<(Bool, String)?>(nil)
    let finished = WakeSignal()
    startThread(name: "skiff-probe-exec") {
      let result: (Bool, String)
      do {
        let answer = try runtime.exec(containerID, command: command, timeout: timeout)
        let code = answer["exitCode"]?.intValue ?? -1
        let output = (answer["stdout"]?.stringValue ?? "") + (answer["stderr"]?.stringValue ?? "")
        result = (code == 0, output.isEmpty ? "command exited with \(code)" : output)
      } catch {
        result = (false, "\(error)")
      }
      outcome.withLock { $0 = result }
      finished.raise()
    }
    let deadline = monotonicSeconds() + timeout + 1
    while case let left = deadline - monotonicSeconds(), left > 0 {
      if let result = outcome.withLock({ $0 }) { return result }
      _ = finished.wait(seconds: left)
    }
    return outcome.withLock { $0 } ?? (false, "command timed out after \(Int(timeout))s")
  }
}
