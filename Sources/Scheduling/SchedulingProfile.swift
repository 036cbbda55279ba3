// Scheduling profiles in the shape of KubeSchedulerConfiguration: per schedulerName, which
// plugins run at which extension point and with what score weight. They come from the `scheduler`
// plugin's `config:` in the Skiff profile:
//
//   - name: scheduler
//     config:
//       profiles:
//         - schedulerName: default-scheduler
//           plugins:
//             score:  {enabled: [{name: LabelPreference, weight: 5}], disabled: [{name: NodeResourcesBalancedAllocation}]}
//             filter: {disabled: [{name: NodePorts}]}
//           pluginConfig:
//             - name: NodeResourcesFit
//               args: {scoringStrategy: {type: MostAllocated}}
//
// Without profiles, one default-scheduler profile runs every registered plugin at every point it
// implements, Kubernetes' default plugins first in their order, with Kubernetes' default weights.
import Kernel
import ObjectModel
import SkiffABI

struct SchedulingProfile {
  struct Plugin {
    /// The plugin's place among the registered scheduler extensions: the same at every
    /// extension point, so its cycle state and reasons follow it from pre-filter to bind.
    let id: Int
    let name: String
    let vtable: skiff_scheduler_plugin
    let weight: Int64
  }

  let schedulerName: String
  let queueSort: skiff_scheduler_plugin?
  let preFilter: [Plugin]
  let filter: [Plugin]
  let postFilter: [Plugin]
  let preScore: [Plugin]
  let score: [Plugin]
  let reserve: [Plugin]
  let permit: [Plugin]
  let preBind: [Plugin]
  /// Tried in order until one does not SKIP; DefaultBinder binds through the API server.
  let bind: [Plugin]
  let postBind: [Plugin]

  /// Kubernetes' default order: cheap, decisive filters first, since a node's first rejection is
  /// the reason reported for it; other plugins follow in the order they registered.
  static let defaultOrder = ["PrioritySort", "NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity",
                             "NodePorts", "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity",
                             "NodeResourcesBalancedAllocation", "ImageLocality", "DefaultBinder"]
  /// Kubernetes' default score weights; plugins not listed (users' own) weigh 1.
  static let defaultWeights: [String: Int64] = ["TaintToleration": 3, "NodeAffinity": 2, "InterPodAffinity": 2,
                                                "PodTopologySpread": 2, "NodeResourcesFit": 1,
                                                "NodeResourcesBalancedAllocation": 1, "ImageLocality": 1]

  struct ConfigError: Error, CustomStringConvertible {
    let description: String
  }

  /// The profiles `config` describes (the `scheduler` plugin's config JSON), over the registered
  /// scheduler extensions.
  static func load(config: String?, extensions: [Extension<skiff_scheduler_plugin>]) throws(ConfigError) -> [SchedulingProfile] {
    let rank = { (name: String) in defaultOrder.firstIndex(of: name) ?? defaultOrder.count }
    let registered = extensions.enumerated()
      .sorted { (rank($0.element.name), $0.offset) < (rank($1.element.name), $1.offset) }
      .map(\.element)
    let json = config.flatMap { try? JSON.parse($0) }
    guard let profiles = json?["profiles"]?.arrayValue, !profiles.isEmpty else {
      return [try SchedulingProfile(schedulerName: "default-scheduler", plugins: nil, registered: registered)]
    }
    var seen: Set<String> = []
    var result: [SchedulingProfile] = []
    for (i, entry) in profiles.enumerated() {
      let name = entry["schedulerName"]?.stringValue ?? "default-scheduler"
      guard seen.insert(name).inserted else {
        throw ConfigError(description: "config.profiles[\(i)].schedulerName \"\(name)\" is used twice")
      }
      result.append(try SchedulingProfile(schedulerName: name, plugins: entry["plugins"], registered: registered,
                                          field: "config.profiles[\(i)].plugins"))
    }
    return result
  }

  private init(schedulerName: String, plugins: JSON?, registered: [Extension<skiff_scheduler_plugin>],
               field: String = "config") throws(ConfigError) {
    self.schedulerName = schedulerName
    let byName = Dictionary(uniqueKeysWithValues: registered.map { ($0.name, $0.vtable.pointee) })
    let ids = Dictionary(uniqueKeysWithValues: registered.enumerated().map { ($0.element.name, $0.offset) })

    /// The plugins at one point: those implementing it (defaults), minus `disabled` ("*" for all
    /// defaults), plus `enabled` in their order; multiPoint applies to every point.
    func point(_ key: String, implements: (skiff_scheduler_plugin) -> Bool) throws(ConfigError) -> [Plugin] {
      var disabled = Set<String>(), enabled: [(String, Int64?)] = []
      for section in ["multiPoint", key] {
        guard let set = plugins?[section] else { continue }
        for item in set["disabled"]?.arrayValue ?? [] { disabled.insert(item["name"]?.stringValue ?? "") }
        for (i, item) in (set["enabled"]?.arrayValue ?? []).enumerated() {
          guard let name = item["name"]?.stringValue, byName[name] != nil else {
            throw ConfigError(description: "\(field).\(section).enabled[\(i)]: no scheduler plugin named "
              + "\"\(item["name"]?.stringValue ?? "")\" is loaded (loaded: \(registered.map(\.name).joined(separator: ", ")))")
          }
          enabled.append((name, item["weight"]?.intValue))
        }
      }
      var chosen: [(String, Int64?)] = disabled.contains("*") ? [] : registered
        .filter { implements($0.vtable.pointee) && !disabled.contains($0.name) }.map { ($0.name, nil) }
      for (name, weight) in enabled where implements(byName[name]!) {
        if let index = chosen.firstIndex(where: { $0.0 == name }) { chosen[index].1 = weight } else { chosen.append((name, weight)) }
      }
      return chosen.map { Plugin(id: ids[$0.0]!, name: $0.0, vtable: byName[$0.0]!, weight: $0.1 ?? Self.defaultWeights[$0.0] ?? 1) }
    }

    queueSort = try point("queueSort") { $0.queue_sort_less != nil }.first?.vtable
    preFilter = try point("preFilter") { $0.pre_filter != nil }
    filter = try point("filter") { $0.filter != nil }
    postFilter = try point("postFilter") { $0.post_filter != nil }
    preScore = try point("preScore") { $0.pre_score != nil }
    score = try point("score") { $0.score != nil }
    reserve = try point("reserve") { $0.reserve != nil || $0.unreserve != nil }
    permit = try point("permit") { $0.permit != nil }
    preBind = try point("preBind") { $0.pre_bind != nil }
    bind = try point("bind") { $0.bind != nil }
    postBind = try point("postBind") { $0.post_bind != nil }
  }
}
