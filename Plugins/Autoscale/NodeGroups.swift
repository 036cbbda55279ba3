// The node groups the cluster autoscaler grows and shrinks, counted within each group's limits in
// memory and, when configured, in a state file that survives restarts.
import FoundationEssentials
import Glibc
import PluginKit
import SkiffABI
import SystemKit

struct NodeGroup: Codable, Equatable {
  var name: String
  var min: Int
  var max: Int
  var size: Int

  var json: [String: Any] { ["name": name, "min": min, "max": max, "size": size] }
}

/// A refused change: the status for the ABI and the {"reason", "message"} pair.
struct NodeGroupError: Error {
  let status: skiff_status
  let reason: String
  let message: String

  var json: String { PluginJSON.encode(["reason": reason, "message": message]) }
}

/// The in-process provider: it only counts nodes. A cloud provider plugs in later behind the same
/// autoscaler slots and turns these counts into machines.
final class NodeGroups: @unchecked Sendable {
  private let stateFile: String?
  /// Guards `groups`; held only to read or swap it.
  private let lock = Lock()
  private var groups: [NodeGroup]
  /// One change at a time, held through the file write: memory changes only once the file has
  /// the new sizes, and a later write never loses to an earlier one.
  private let changes = Lock()

  /// No groups: what the slots see outside start…stop.
  init() {
    stateFile = nil
    groups = []
  }

  /// The configured groups; sizes saved in `stateFile` win over configured ones, kept within the
  /// (possibly edited) limits.
  init(_ configured: [NodeGroup], stateFile: String?) throws(NodeGroupError) {
    var names = Set<String>()
    for group in configured {
      guard !group.name.isEmpty, names.insert(group.name).inserted else {
        throw invalid("ConfigInvalid", "node group names must be non-empty and unique ('\(group.name)')")
      }
      guard 0 <= group.min, group.min <= group.size, group.size <= group.max else {
        throw invalid("ConfigInvalid", "node group \(group.name) needs 0 ≤ min ≤ size ≤ max, has "
          + "min \(group.min), size \(group.size), max \(group.max)")
      }
    }
    var groups = configured
    if let stateFile, FileManager.default.fileExists(atPath: stateFile) {
      let saved: [NodeGroup]
      do {
        saved = try JSONDecoder().decode(SavedGroups.self,
                                         from: Data(contentsOf: URL(fileURLWithPath: stateFile))).nodeGroups
      } catch {
        throw NodeGroupError(status: SKIFF_ERROR, reason: "StateUnreadable",
                             message: "cannot read node group sizes from \(stateFile): \(error); "
                               + "fix or remove the file")
      }
      for index in groups.indices {
        guard let size = saved.first(where: { $0.name == groups[index].name })?.size else { continue }
        groups[index].size = Swift.min(Swift.max(size, groups[index].min), groups[index].max)
      }
    }
    self.stateFile = stateFile
    self.groups = groups
  }

  var all: [NodeGroup] { lock.withLock { groups } }

  var listJSON: String { PluginJSON.encode(["nodeGroups": all.map(\.json)]) }

  /// Adds `delta` nodes, up to the group's max. May block on the state file.
  func scaleUp(_ name: String, by delta: Int) throws(NodeGroupError) -> NodeGroup {
    guard delta >= 1 else { throw invalid("InvalidRequest", "delta must be at least 1, not \(delta)") }
    return try resize(name) { (group) throws(NodeGroupError) in
      guard group.size + delta <= group.max else {
        throw invalid("AboveMaxSize", "node group \(group.name) has \(group.size) of at most "
          + "\(group.max) nodes; cannot add \(delta)")
      }
      return group.size + delta
    }
  }

  /// Removes the named nodes, down to the group's min. May block on the state file.
  func scaleDown(_ name: String, removing nodes: [String]) throws(NodeGroupError) -> NodeGroup {
    let count = Set(nodes).count
    guard count >= 1 else { throw invalid("InvalidRequest", "nodes must name at least one node") }
    return try resize(name) { (group) throws(NodeGroupError) in
      guard group.size - count >= group.min else {
        throw invalid("BelowMinSize", "node group \(group.name) has \(group.size) nodes and needs "
          + "at least \(group.min); cannot remove \(count)")
      }
      return group.size - count
    }
  }

  private func resize(_ name: String, _ newSize: (NodeGroup) throws(NodeGroupError) -> Int)
    throws(NodeGroupError) -> NodeGroup
  {
    changes.lock()
    defer { changes.unlock() }
    var next = all
    guard let index = next.firstIndex(where: { $0.name == name }) else {
      throw NodeGroupError(status: SKIFF_NOT_FOUND, reason: "NodeGroupNotFound",
                           message: "no node group '\(name)' (have: "
                             + next.map(\.name).joined(separator: ", ") + ")")
    }
    next[index].size = try newSize(next[index])
    try save(next)
    lock.withLock { groups = next }
    return next[index]
  }

  private func save(_ groups: [NodeGroup]) throws(NodeGroupError) {
    guard let stateFile else { return }
    do {
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      try encoder.encode(SavedGroups(nodeGroups: groups))
        .write(to: URL(fileURLWithPath: stateFile), options: .atomic)
    } catch {
      throw NodeGroupError(status: SKIFF_ERROR, reason: "StateNotSaved",
                           message: "cannot save node group sizes to \(stateFile): "
                             + "\(describeError(error)); nothing was changed")
    }
  }
}

/// The state file's shape, the same as node_groups' answer.
private struct SavedGroups: Codable {
  var nodeGroups: [NodeGroup]
}

private func invalid(_ reason: String, _ message: String) -> NodeGroupError {
  NodeGroupError(status: SKIFF_INVALID, reason: reason, message: message)
}
