// Which placed pods a pod's terms select, shared by InterPodAffinity and PodTopologySpread: label
// selectors over pod labels, affinity terms with their namespaces, and domains keyed by topology.
import PluginKit
import SkiffABI

/// One topology domain: a node label's key and value, e.g. (topology.kubernetes.io/zone, a).
struct TopologyPair: Hashable {
  let key: skiff_str
  let value: skiff_str

  /// One word into the hasher rather than two: filters look a domain up on every node they see.
  func hash(into hasher: inout Hasher) {
    hasher.combine(UInt64(key) << 32 | UInt64(value))
  }
}

enum PodSelection {
  /// Every requirement holds on the pod's labels (In, NotIn, Exists, DoesNotExist). A selector
  /// without requirements selects every pod, as Kubernetes' `{}` does.
  static func matches(_ selector: skiff_selector, _ pod: skiff_pod) -> Bool {
    for i in 0..<Int(selector.n_requirements) {
      let requirement = selector.requirements[i]
      if !NodeAffinity.holds(requirement, pod.label(requirement.key)) { return false }
    }
    return true
  }

  /// A pod (anti-)affinity term selects `pod` when the pod lives in one of the term's namespaces
  /// (none listed: the namespace of the term's owner) and its labels match the selector.
  static func matches(_ term: skiff_pod_term, ownedIn owner: skiff_str, _ pod: skiff_pod) -> Bool {
    if term.n_namespaces == 0 {
      if pod.namespace_ != owner { return false }
    } else if !(0..<Int(term.n_namespaces)).contains(where: { term.namespaces[$0] == pod.namespace_ }) {
      return false
    }
    return matches(term.selector, pod)
  }

  static func terms(_ start: UnsafePointer<skiff_pod_term>?, _ count: UInt32) -> UnsafeBufferPointer<skiff_pod_term> {
    UnsafeBufferPointer(start: start, count: start == nil ? 0 : Int(count))
  }
}

extension skiff_pod {
  var requiredAffinity: UnsafeBufferPointer<skiff_pod_term> { PodSelection.terms(affinity, n_affinity) }
  var requiredAntiAffinity: UnsafeBufferPointer<skiff_pod_term> { PodSelection.terms(anti_affinity, n_anti_affinity) }
  var preferredAffinity: UnsafeBufferPointer<skiff_pod_term> { PodSelection.terms(preferred_affinity, n_preferred_affinity) }
  var preferredAntiAffinity: UnsafeBufferPointer<skiff_pod_term> {
    PodSelection.terms(preferred_anti_affinity, n_preferred_anti_affinity)
  }
  var spreadConstraints: UnsafeBufferPointer<skiff_spread_constraint> {
    UnsafeBufferPointer(start: spread, count: spread == nil ? 0 : Int(n_spread))
  }
}

extension skiff_node {
  /// The pods placed on the node.
  var placedPods: UnsafeBufferPointer<UnsafePointer<skiff_pod>?> {
    UnsafeBufferPointer(start: pods, count: pods == nil ? 0 : Int(n_pods))
  }

  /// The node's domain for a topology key; nil when the node lacks the label.
  func domain(_ key: skiff_str) -> TopologyPair? {
    label(key).map { TopologyPair(key: key, value: $0) }
  }
}
