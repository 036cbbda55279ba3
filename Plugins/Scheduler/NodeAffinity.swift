// NodeAffinity: a pod fits only nodes matching its nodeSelector and one of its required
// nodeSelectorTerms; among feasible nodes it prefers those matching heavier preferred terms.
import PluginKit
import SkiffABI

enum NodeAffinity {
  /// Built once, at start; the kernel keeps its own copy.
  static var vtable: skiff_scheduler_plugin {
    PluginHost.vtable(skiff_scheduler_plugin.self, name: "NodeAffinity") { vtable in
      // As Kubernetes' PreFilter and PreScore: without a nodeSelector or required terms every node
      // passes, and without preferred terms every node scores 0, so filter or score is skipped.
      vtable.pre_filter = { _, _, pod, _, _ in
        pod!.pointee.n_node_selector == 0 && pod!.pointee.n_required_node_terms == 0 ? SKIFF_SKIP : SKIFF_OK
      }
      vtable.pre_score = { _, _, pod, _, _ in pod!.pointee.n_preferred_node_terms == 0 ? SKIFF_SKIP : SKIFF_OK }
      vtable.filter = { _, cycle, pod, node in
        if NodeAffinity.required(pod!, node!) { return SKIFF_OK }
        PluginHost.setReason(cycle, "node(s) didn't match Pod's node affinity/selector")
        return SKIFF_UNSCHEDULABLE_AND_UNRESOLVABLE
      }
      vtable.score = { _, _, pod, node, score in
        let pod = pod!.pointee
        var total: Int64 = 0
        for i in 0..<Int(pod.n_preferred_node_terms)
        where NodeAffinity.matches(pod.preferred_node_terms[i].term, node!) {
          total += Int64(pod.preferred_node_terms[i].weight)
        }
        score!.pointee = total
        return SKIFF_OK
      }
      // Kubernetes' DefaultNormalizeScore: the heaviest node gets 100, the rest in proportion.
      vtable.normalize_score = { _, _, _, scores, count in
        let scores = UnsafeMutableBufferPointer(start: scores, count: Int(count))
        let highest = scores.map(\.score).max() ?? 0
        guard highest > 0 else { return SKIFF_OK }
        for i in scores.indices {
          scores[i].score = scores[i].score * Int64(SKIFF_MAX_NODE_SCORE) / highest
        }
        return SKIFF_OK
      }
    }
  }

  /// spec.nodeSelector (every pair present on the node) and, when there are any, at least one of
  /// the required terms.
  static func required(_ pod: UnsafePointer<skiff_pod>, _ node: UnsafePointer<skiff_node>) -> Bool {
    let pod = pod.pointee
    for i in 0..<Int(pod.n_node_selector) {
      let wanted = pod.node_selector[i]
      if node.pointee.label(wanted.key) != wanted.value { return false }
    }
    if pod.n_required_node_terms == 0 { return true }
    for i in 0..<Int(pod.n_required_node_terms) where matches(pod.required_node_terms[i], node) {
      return true
    }
    return false
  }

  /// A term holds when all its label and field requirements do; like Kubernetes, a term with
  /// neither matches no node.
  static func matches(_ term: skiff_node_term, _ node: UnsafePointer<skiff_node>) -> Bool {
    if term.match_labels.n_requirements == 0 && term.match_fields.n_requirements == 0 { return false }
    for i in 0..<Int(term.match_labels.n_requirements) {
      let requirement = term.match_labels.requirements[i]
      if !holds(requirement, node.pointee.label(requirement.key)) { return false }
    }
    for i in 0..<Int(term.match_fields.n_requirements) {
      let requirement = term.match_fields.requirements[i]
      // metadata.name is the only field a node selector may name.
      let field = requirement.key == Names.metadataName ? node.pointee.name : nil
      if !holds(requirement, field) { return false }
    }
    return true
  }

  /// Kubernetes' Requirement.Matches for one key whose value on the node is `value` (nil: absent).
  static func holds(_ requirement: skiff_requirement, _ value: skiff_str?) -> Bool {
    switch requirement.op {
    case SKIFF_SELECTOR_IN: return value.map { contains(requirement, $0) } ?? false
    case SKIFF_SELECTOR_NOT_IN: return value.map { !contains(requirement, $0) } ?? true
    case SKIFF_SELECTOR_EXISTS: return value != nil
    case SKIFF_SELECTOR_DOES_NOT_EXIST: return value == nil
    case SKIFF_SELECTOR_GT, SKIFF_SELECTOR_LT:
      // Both sides must parse as integers, and the requirement must carry exactly one value.
      guard let value, requirement.n_values == 1,
            let have = PluginHost.string(value).flatMap({ Int64($0) }),
            let bound = PluginHost.string(requirement.values[0]).flatMap({ Int64($0) })
      else { return false }
      return requirement.op == SKIFF_SELECTOR_GT ? have > bound : have < bound
    default: return false
    }
  }

  private static func contains(_ requirement: skiff_requirement, _ value: skiff_str) -> Bool {
    for i in 0..<Int(requirement.n_values) where requirement.values[i] == value { return true }
    return false
  }
}
