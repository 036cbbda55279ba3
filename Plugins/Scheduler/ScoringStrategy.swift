// How NodeResourcesFit ranks feasible nodes: the scoringStrategy of Kubernetes'
// NodeResourcesFitArgs (LeastAllocated, MostAllocated, RequestedToCapacityRatio), read from the
// library's config as {"NodeResourcesFit": {"scoringStrategy": {...}}}.
import FoundationEssentials
import Glibc
import PluginKit
import SkiffABI
import SystemKit

final class ScoringStrategy {
  enum Kind: String {
    case leastAllocated = "LeastAllocated"
    case mostAllocated = "MostAllocated"
    case requestedToCapacityRatio = "RequestedToCapacityRatio"
  }

  enum Resource {
    case cpu, memory, ephemeralStorage
    case scalar(skiff_str)
  }

  struct Weighted {
    let resource: Resource
    let weight: Int64
  }

  /// A point of the broken-line function, its score already on the 0...100 scale.
  struct ShapePoint {
    let utilization: Int64
    let score: Int64
  }

  let kind: Kind
  let resources: [Weighted]
  let shape: [ShapePoint]

  init(kind: Kind, resources: [Weighted], shape: [ShapePoint] = []) {
    self.kind = kind
    self.resources = resources
    self.shape = shape
  }

  /// The weighted mean of each resource's score; resources the node does not have are left out,
  /// and RequestedToCapacityRatio also leaves out those scoring 0, as Kubernetes does.
  func score(_ pod: UnsafePointer<skiff_pod>, _ node: UnsafePointer<skiff_node>) -> Int64 {
    var total: Int64 = 0, weights: Int64 = 0
    for entry in resources {
      let (allocatable, requested) = amounts(entry.resource, pod.pointee, node.pointee)
      guard allocatable > 0 else { continue }
      let score = resourceScore(requested: requested, allocatable: allocatable)
      if kind == .requestedToCapacityRatio && score == 0 { continue }
      total += score * entry.weight
      weights += entry.weight
    }
    guard weights > 0 else { return 0 }
    if kind == .requestedToCapacityRatio { return Int64((Double(total) / Double(weights)).rounded()) }
    return total / weights
  }

  private func resourceScore(requested: Int64, allocatable: Int64) -> Int64 {
    let maximum = Int64(SKIFF_MAX_NODE_SCORE)
    switch kind {
    case .leastAllocated:
      return requested > allocatable ? 0 : (allocatable - requested) * maximum / allocatable
    case .mostAllocated:
      return min(requested, allocatable) * maximum / allocatable
    case .requestedToCapacityRatio:
      return brokenLine(requested > allocatable ? 100 : requested * 100 / allocatable)
    }
  }

  /// Kubernetes' BuildBrokenLinearFunction: linear between shape points, flat beyond the ends.
  private func brokenLine(_ utilization: Int64) -> Int64 {
    for (i, point) in shape.enumerated() where utilization <= point.utilization {
      guard i > 0 else { return point.score }
      let previous = shape[i - 1]
      return previous.score + (point.score - previous.score) * (utilization - previous.utilization)
        / (point.utilization - previous.utilization)
    }
    return shape.last?.score ?? 0
  }

  /// What the node can hold and what it would hold with the pod. Pods without cpu or memory
  /// requests count Kubernetes' defaults; an extended resource the pod does not request is not
  /// scored (allocatable 0), so that pods without GPUs are not steered by GPU usage.
  private func amounts(_ resource: Resource, _ pod: skiff_pod, _ node: skiff_node) -> (Int64, Int64) {
    switch resource {
    case .cpu:
      return (node.allocatable.milli_cpu, node.requested.milli_cpu + NodeResourcesFit.nonZeroMilliCPU(pod))
    case .memory:
      return (node.allocatable.memory, node.requested.memory + NodeResourcesFit.nonZeroMemory(pod))
    case .ephemeralStorage:
      return (node.allocatable.ephemeral_storage,
              node.requested.ephemeral_storage + pod.requests.ephemeral_storage)
    case .scalar(let name):
      let wanted = pod.requests.scalar(name)
      guard wanted > 0 else { return (0, 0) }
      return (node.allocatable.scalar(name), node.requested.scalar(name) + wanted)
    }
  }
}

// MARK: Configuration

extension ScoringStrategy {
  /// A config error, worded for the log line that explains why start failed.
  struct ConfigError: Error, CustomStringConvertible {
    let description: String
  }

  /// Reads NodeResourcesFit's scoring strategy from the library's config JSON; LeastAllocated on
  /// cpu and memory, weight 1 each, when the config says nothing.
  static func load(_ json: UnsafePointer<CChar>?, length: Int) throws(ConfigError) -> ScoringStrategy {
    let config: SchedulerConfig
    do {
      config = try PluginHost.config(SchedulerConfig.self, from: json, length: length)
    } catch let error as DecodingError {
      throw ConfigError(description: describe(error))
    } catch {
      throw ConfigError(description: "config is not valid JSON: \(error)")
    }
    let field = "config.NodeResourcesFit.scoringStrategy"
    let args = config.nodeResourcesFit?.scoringStrategy
    let typeName = args?.type ?? Kind.leastAllocated.rawValue
    guard let kind = Kind(rawValue: typeName) else {
      throw ConfigError(description: "\(field).type must be LeastAllocated, MostAllocated or "
                        + "RequestedToCapacityRatio, not \"\(typeName)\"")
    }
    let specs = args?.resources ?? [ResourceSpec(name: "cpu", weight: 1), ResourceSpec(name: "memory", weight: 1)]
    var resources: [Weighted] = []
    for (i, spec) in specs.enumerated() {
      let weight = spec.weight ?? 1
      guard !spec.name.isEmpty else { throw ConfigError(description: "\(field).resources[\(i)].name must not be empty") }
      guard (1...100).contains(weight) else {
        throw ConfigError(description: "\(field).resources[\(i)].weight must be 1..100, not \(weight)")
      }
      let resource: Resource = switch spec.name {
      case "cpu": .cpu
      case "memory": .memory
      case "ephemeral-storage": .ephemeralStorage
      default: .scalar(PluginHost.intern(spec.name))
      }
      resources.append(Weighted(resource: resource, weight: weight))
    }
    guard kind == .requestedToCapacityRatio else { return ScoringStrategy(kind: kind, resources: resources) }

    let points = args?.requestedToCapacityRatio?.shape ?? []
    let shapeField = "\(field).requestedToCapacityRatio.shape"
    guard !points.isEmpty else { throw ConfigError(description: "\(shapeField) must have at least one point") }
    for (i, point) in points.enumerated() {
      guard (0...100).contains(point.utilization) else {
        throw ConfigError(description: "\(shapeField)[\(i)].utilization must be 0..100, not \(point.utilization)")
      }
      guard (0...10).contains(point.score) else {
        throw ConfigError(description: "\(shapeField)[\(i)].score must be 0..10, not \(point.score)")
      }
      guard i == 0 || point.utilization > points[i - 1].utilization else {
        throw ConfigError(description: "\(shapeField)[\(i)].utilization must be greater than the point before it")
      }
    }
    // Shape scores are 0...10 (MaxCustomPriorityScore); node scores are 0...100.
    let shape = points.map { ShapePoint(utilization: $0.utilization, score: $0.score * 10) }
    return ScoringStrategy(kind: kind, resources: resources, shape: shape)
  }

  /// "config.NodeResourcesFit.scoringStrategy.resources[0].weight: expected Int64", from the
  /// decoder's coding path.
  static func describe(_ error: DecodingError) -> String {
    func path(_ keys: [any CodingKey]) -> String {
      keys.reduce("config") { path, key in
        key.intValue.map { "\(path)[\($0)]" } ?? "\(path).\(key.stringValue)"
      }
    }
    switch error {
    case .typeMismatch(let type, let context):
      return "\(path(context.codingPath)) must be \(typeName(type))"
    case .valueNotFound(let type, let context):
      return "\(path(context.codingPath)) must be \(typeName(type)), not null"
    case .keyNotFound(let key, let context):
      return "\(path(context.codingPath + [key])) is required"
    case .dataCorrupted(let context):
      return "\(path(context.codingPath)): \(context.debugDescription)"
    @unknown default:
      return "config: \(error)"
    }
  }

  private static func typeName(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: "a string"
    case is Int64.Type: "an integer"
    case is [Any].Type: "a list"
    default: "an object"
    }
  }
}

/// The library's config: KubeSchedulerConfiguration's `profiles[].pluginConfig[]` (the first
/// profile that configures NodeResourcesFit wins: one library instance serves every profile), or
/// the shorthand `NodeResourcesFit: {...}` at the top.
private struct SchedulerConfig: Decodable {
  let profiles: [ProfileArgs]?
  let shorthand: FitArgs?
  enum CodingKeys: String, CodingKey {
    case profiles
    case shorthand = "NodeResourcesFit"
  }

  var nodeResourcesFit: FitArgs? {
    for profile in profiles ?? [] {
      if let args = profile.pluginConfig?.first(where: { $0.name == "NodeResourcesFit" })?.args { return args }
    }
    return shorthand
  }
}

private struct ProfileArgs: Decodable {
  let pluginConfig: [PluginConfigEntry]?
}

private struct PluginConfigEntry: Decodable {
  let name: String
  let args: FitArgs?
}

private struct FitArgs: Decodable {
  let scoringStrategy: StrategyArgs?
}

private struct StrategyArgs: Decodable {
  let type: String?
  let resources: [ResourceSpec]?
  let requestedToCapacityRatio: RatioArgs?
}

private struct ResourceSpec: Decodable {
  let name: String
  let weight: Int64?
}

private struct RatioArgs: Decodable {
  let shape: [ShapePointArgs]
}

private struct ShapePointArgs: Decodable {
  let utilization: Int64
  let score: Int64
}
