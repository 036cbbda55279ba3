// Graceful termination, on a thread of its own so other pods keep their pace: preStop hooks, then
// SIGTERM and SIGKILL after the grace period, the sandbox removed, and the pod deleted for good
// (gracePeriodSeconds=0 with a uid precondition, so a namesake created since is spared).
import Glibc
import HTTP
import Kernel
import ObjectModel
import Synchronization
import SystemKit

extension NodeAgent {
  /// Hands the pod's containers to a termination thread. With `deleteFromAPI`, the pod object
  /// goes once they are stopped (it is Terminating); without, it is already gone.
  func terminate(_ state: PodState, deleteFromAPI: Bool) {
    state.terminating = true
    for container in state.containers.values { container.probes?.stop() }
    let pod = state.pod
    let grace = pod.map { pod in
      pod[path: ["metadata", "deletionGracePeriodSeconds"]]?.intValue
        ?? pod[path: ["spec", "terminationGracePeriodSeconds"]]?.intValue ?? 30
    } ?? 0
    let running = state.containers.values.filter { !$0.hasExited }.map { ($0.name, $0.id) }
    let sandbox = state.sandboxID
    let runtime = state.runtime ?? self.runtime
    let finished = state.finished
    startThread { [self] in
      let deadline = monotonicSeconds() + Double(deleteFromAPI ? grace : 0)
      if let pod, deleteFromAPI, !finished {
        for (name, id) in running {
          guard let spec = pod[path: ["spec", "containers"]]?.arrayValue?.first(where: { $0["name"]?.stringValue == name }),
                let hook = spec[path: ["lifecycle", "preStop"]] else { continue }
          runHook(hook, containerID: id, runtime: runtime, deadline: deadline)
        }
      }
      stopAll(running.map(\.1), runtime: runtime, deadline: deadline)
      if let sandbox {
        do { try runtime.removeSandbox(sandbox) } catch { warn("removing sandbox \(sandbox): \(error)") }
      }
      if let pod, deleteFromAPI { deleteForGood(pod) }
    }
  }

  /// exec through the runtime, or an HTTP GET to the pod (the host: process containers share it).
  private func runHook(_ hook: JSON, containerID: String, runtime: RuntimeCalls, deadline: Double) {
    if let command = hook[path: ["exec", "command"]]?.arrayValue {
      _ = try? runtime.exec(containerID, command: command.compactMap(\.stringValue))
    } else if let get = hook["httpGet"] {
      let port = Int(get["port"]?.intValue ?? Int64(get["port"]?.stringValue ?? "") ?? 80)
      let host = get["host"]?.stringValue ?? facts.internalIP
      let path = get["path"]?.stringValue ?? "/"
      let seconds = max(1, Int(deadline - monotonicSeconds()))
      if let connection = try? BlockingHTTPConnection(host: host, port: port, receiveTimeoutSeconds: seconds) {
        _ = try? connection.request("GET", path)
      }
    }
  }

  /// Stops every container at once, each with what is left of the grace period.
  private func stopAll(_ ids: [String], runtime: RuntimeCalls, deadline: Double) {
    let remaining = Mutex(ids.count)
    let allStopped = WakeSignal()
    if ids.isEmpty { return }
    for id in ids {
      startThread { [self] in
        let grace = Int64(max(0, (deadline - monotonicSeconds()).rounded(.up)))
        do { try runtime.stop(id, grace: grace) } catch { warn("stopping container \(id): \(error)") }
        if remaining.withLock({ $0 -= 1; return $0 }) == 0 { allStopped.raise() }
      }
    }
    allStopped.wait(seconds: nil)
  }

  /// Deletes the pod object now that nothing of it runs, retrying while the API server is away.
  private func deleteForGood(_ pod: JSON) {
    let client = APIClient(address)
    let options: JSON = ["kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                         "preconditions": ["uid": .string(pod.uid)]]
    while true {
      if let answer = try? client.request("DELETE", "/api/v1/namespaces/\(pod.namespace)/pods/\(pod.name)", body: options),
         [200, 202, 404, 409].contains(answer.status) { return }
      usleep(500_000)
    }
  }
}
