// The scheduler's decisions go through the API server's rules (pods/binding, conditions, events)
// rather than straight into the store: the two modules meet here, in the binary that runs both.
import APIServer
import Scheduling

final class SchedulingThroughAPI: SchedulingOutcomes {
  private let api: APIServer

  init(_ api: APIServer) { self.api = api }

  func bind(namespace: String, name: String, node: String, completion: @escaping (Bool) -> Void) {
    api.bindPod(namespace: namespace, name: name, node: node) { result in
      if case .success = result { completion(true) } else { completion(false) }
    }
  }

  func reportUnschedulable(namespace: String, name: String, message: String) {
    api.reportUnschedulable(namespace: namespace, name: name, message: message)
  }

  func preempt(namespace: String, name: String, preemptor: String, node: String) {
    api.preemptPod(namespace: namespace, name: name, preemptor: preemptor, node: node)
  }

  func nominate(namespace: String, name: String, node: String) {
    api.nominatePod(namespace: namespace, name: name, node: node)
  }
}
