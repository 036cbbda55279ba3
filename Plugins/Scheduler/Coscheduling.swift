// Coscheduling: gang scheduling, all or none, as scheduler-plugins' Coscheduling. A pod of a pod
// group waits at permit until its group's minMember are placed, then the whole gang binds; when
// one member gives up, every waiting member is rejected so no partial gang keeps nodes.
import PluginKit
import SkiffABI
import SystemKit

final class Coscheduling {
  static let name = "Coscheduling"

  /// A pod group is named within its namespace.
  struct Gang: Hashable {
    let namespace: skiff_str
    let name: skiff_str
  }

  let waitMilliseconds: UInt64
  let backoff: Duration
  /// Members reserved and held at permit, by gang.
  private var waiting: [Gang: Set<UInt64>] = [:]
  /// Gangs that failed recently, with why: while refused, their pods fit no node, so the room the
  /// gang just gave back goes to other pods instead of to the same incomplete gang again.
  private var refused: [Gang: (until: ContinuousClock.Instant, reason: String)] = [:]

  init(waitMilliseconds: UInt64, backoff: Duration) {
    self.waitMilliseconds = waitMilliseconds
    self.backoff = backoff
  }

  /// The gang a pod belongs to; nil for a pod alone or a gang of one, which need no waiting.
  /// A pod seen before its PodGroup existed has minMember 0, and so schedules alone.
  static func gang(of pod: skiff_pod) -> Gang? {
    guard pod.group != 0, pod.group_min_member > 1 else { return nil }
    return Gang(namespace: pod.namespace_, name: pod.group)
  }

  // MARK: Extension points

  /// Filter runs only for pods of a refused gang; everyone else skips it.
  func preFilter(_ pod: skiff_pod) -> skiff_status {
    guard let gang = Self.gang(of: pod), let refusal = refused[gang] else { return SKIFF_SKIP }
    guard refusal.until > .now else {
      refused[gang] = nil
      return SKIFF_SKIP
    }
    return SKIFF_OK
  }

  func filter(_ cycle: OpaquePointer?, _ pod: skiff_pod) -> skiff_status {
    guard let gang = Self.gang(of: pod), let refusal = refused[gang] else { return SKIFF_OK }
    PluginHost.setReason(cycle, refusal.reason)
    return SKIFF_UNSCHEDULABLE_AND_UNRESOLVABLE
  }

  /// The framework has already placed `pod` on its node, so the count includes it.
  func permit(_ cycle: OpaquePointer?, _ pod: skiff_pod, timeout: inout UInt64) -> skiff_status {
    guard let gang = Self.gang(of: pod) else { return SKIFF_OK }
    guard Self.placedMembers(of: gang, cycle: cycle) >= pod.group_min_member else {
      waiting[gang, default: []].insert(pod.id)
      timeout = waitMilliseconds
      return SKIFF_WAIT
    }
    for member in waiting.removeValue(forKey: gang) ?? [] where member != pod.id {
      _ = PluginHost.table.pointee.permit_allow(PluginHost.context, member, Self.name)
    }
    return SKIFF_OK
  }

  /// A member that was waiting gave up (timed out or was rejected): the gang cannot be whole, so
  /// the others are rejected too and give their nodes back.
  func unreserve(_ pod: skiff_pod) {
    guard let gang = Self.gang(of: pod), let members = waiting[gang], members.contains(pod.id) else { return }
    // Forgotten before rejecting: each rejection unreserves its pod, which comes back here.
    waiting[gang] = nil
    let reason = "pod group \(PluginHost.string(gang.namespace) ?? "")/\(PluginHost.string(gang.name) ?? "") "
      + "was rejected: gang of \(members.count)/\(pod.group_min_member) members could not be placed together"
    refused[gang] = (.now + backoff, reason)
    for member in members where member != pod.id {
      _ = PluginHost.table.pointee.permit_reject(PluginHost.context, member, reason)
    }
  }

  /// Members of `gang` on any node, assumed and waiting ones included; terminating ones are
  /// leaving and do not count.
  static func placedMembers(of gang: Gang, cycle: OpaquePointer?) -> Int32 {
    var nodes: UnsafePointer<UnsafePointer<skiff_node>?>?
    var count: UInt32 = 0
    guard PluginHost.table.pointee.cycle_nodes?(cycle, &nodes, &count) == SKIFF_OK, let nodes else { return 0 }
    var members: Int32 = 0
    for i in 0..<Int(count) {
      guard let node = nodes[i]?.pointee, let pods = node.pods else { continue }
      for j in 0..<Int(node.n_pods) {
        guard let member = pods[j]?.pointee else { continue }
        if member.group == gang.name && member.namespace_ == gang.namespace
          && member.flags & SKIFF_POD_TERMINATING == 0 {
          members += 1
        }
      }
    }
    return members
  }

  // MARK: Registration

  /// Built once, at start; the kernel keeps its own copy. The plugin lives as long as the
  /// process: the vtable's `self` points at it.
  static func vtable(_ plugin: Coscheduling) -> skiff_scheduler_plugin {
    let instance = Unmanaged.passRetained(plugin).toOpaque()
    return PluginHost.vtable(skiff_scheduler_plugin.self, name: name, self: instance) { vtable in
      vtable.pre_filter = { plugin, _, pod, _, _ in
        Unmanaged<Coscheduling>.fromOpaque(plugin!).takeUnretainedValue().preFilter(pod!.pointee)
      }
      vtable.filter = { plugin, cycle, pod, _ in
        Unmanaged<Coscheduling>.fromOpaque(plugin!).takeUnretainedValue().filter(cycle, pod!.pointee)
      }
      vtable.permit = { plugin, cycle, pod, _, timeout in
        var wait: UInt64 = 0
        let status = Unmanaged<Coscheduling>.fromOpaque(plugin!).takeUnretainedValue()
          .permit(cycle, pod!.pointee, timeout: &wait)
        timeout?.pointee = wait
        return status
      }
      vtable.unreserve = { plugin, _, pod, _ in
        Unmanaged<Coscheduling>.fromOpaque(plugin!).takeUnretainedValue().unreserve(pod!.pointee)
      }
    }
  }
}

// MARK: Configuration

extension Coscheduling {
  /// Reads CoschedulingArgs from the library's config: `profiles[].pluginConfig[]` (the first
  /// profile that configures Coscheduling wins: one library instance serves every profile) or the
  /// shorthand `Coscheduling: {...}`. A gang waits 60 s by default, and a gang that failed is
  /// refused for as long again unless podGroupBackoffSeconds says otherwise.
  static func load(_ json: UnsafePointer<CChar>?, length: Int) throws(ScoringStrategy.ConfigError) -> Coscheduling {
    let config: CoschedulingConfig
    do {
      config = try PluginHost.config(CoschedulingConfig.self, from: json, length: length)
    } catch let error as DecodingError {
      throw ScoringStrategy.ConfigError(description: ScoringStrategy.describe(error))
    } catch {
      throw ScoringStrategy.ConfigError(description: "config is not valid JSON: \(error)")
    }
    let args = config.coscheduling
    let wait = args?.permitWaitingTimeSeconds ?? 60
    guard wait > 0 else {
      throw ScoringStrategy.ConfigError(description: "config.Coscheduling.permitWaitingTimeSeconds must be positive, not \(wait)")
    }
    let backoff = args?.podGroupBackoffSeconds ?? wait
    guard backoff >= 0 else {
      throw ScoringStrategy.ConfigError(description: "config.Coscheduling.podGroupBackoffSeconds must not be negative, not \(backoff)")
    }
    return Coscheduling(waitMilliseconds: UInt64(wait) * 1000, backoff: .seconds(backoff))
  }
}

private struct CoschedulingConfig: Decodable {
  let profiles: [Profile]?
  let shorthand: Args?
  enum CodingKeys: String, CodingKey {
    case profiles
    case shorthand = "Coscheduling"
  }

  struct Profile: Decodable {
    let pluginConfig: [Entry]?
  }

  struct Entry: Decodable {
    let name: String
    let args: Args?
  }

  struct Args: Decodable {
    let permitWaitingTimeSeconds: Int64?
    let podGroupBackoffSeconds: Int64?
  }

  var coscheduling: Args? {
    for profile in profiles ?? [] {
      if let args = profile.pluginConfig?.first(where: { $0.name == Coscheduling.name })?.args { return args }
    }
    return shorthand
  }
}
