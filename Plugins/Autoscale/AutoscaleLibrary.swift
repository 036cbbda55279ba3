// The autoscaling plugin ("autoscale"): registers the `hpa` autoscaler, Kubernetes' HPA replica
// calculation as a pure function, with in-process node groups behind the cluster-autoscaler slots.
import FoundationEssentials
import Glibc
import PluginKit
import SkiffABI

@_cdecl("skiff_plugin_init")
public func skiffPluginInit(_ host: UnsafePointer<skiff_host>?,
                            _ plugin: UnsafeMutablePointer<skiff_plugin>?) -> Int32 {
  PluginHost.describe(plugin, host: host, name: "autoscale", version: "0.1.0",
                      kind: SKIFF_KIND_AUTOSCALER,
                      summary: "HorizontalPodAutoscaler replica calculation (autoscaling/v2) and "
                        + "in-process node groups",
                      start: startAutoscale, stop: stopAutoscale)
}

/// The node groups while the plugin runs; set in start, read by the slots.
nonisolated(unsafe) private var nodeGroups = NodeGroups()

private struct AutoscaleConfig: Decodable {
  var nodeGroups: [NodeGroup]?
  var stateFile: String?
}

private let startAutoscale: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int) -> skiff_status = {
  ctx, json, length in
  PluginHost.attach(ctx)
  let keys = (PluginJSON.decode(json, length) as? [String: Any])?.keys.sorted() ?? []
  if let stray = keys.first(where: { !["nodeGroups", "stateFile"].contains($0) }) {
    PluginHost.error("config: unknown key '\(stray)' (allowed: nodeGroups, stateFile)")
    return SKIFF_INVALID
  }
  do {
    let config = try PluginHost.config(AutoscaleConfig.self, from: json, length: length)
    nodeGroups = try NodeGroups(config.nodeGroups ?? [], stateFile: config.stateFile)
  } catch let error as DecodingError {
    PluginHost.error("config: \(error.problem)")
    return SKIFF_INVALID
  } catch let error as NodeGroupError {
    PluginHost.error("config: \(error.message)")
    return error.status
  } catch {
    PluginHost.error("config: \(error)")
    return SKIFF_INVALID
  }
  return PluginHost.register(HPAAutoscaler.vtable)
}

private let stopAutoscale: @convention(c) (OpaquePointer?) -> Void = { _ in
  nodeGroups = NodeGroups()
}

enum HPAAutoscaler {
  static var vtable: skiff_autoscaler_plugin {
    PluginHost.vtable(skiff_autoscaler_plugin.self, name: "hpa") { vtable in
      // Synchronous and pure; on failure `out` receives {"reason", "message"} as a completion would.
      vtable.recommend = { _, request, length, out, arg in
        do {
          let request = try decode(HPARequest.self, request, length)
          try request.validate()
          send(PluginJSON.encode(HorizontalAutoscaler.recommend(request).json), to: out, arg)
          return SKIFF_OK
        } catch {
          send(PluginJSON.encode(["reason": "InvalidRequest", "message": "\(error)"]), to: out, arg)
          return SKIFF_INVALID
        }
      }
      vtable.node_groups = { _, out, arg in
        send(nodeGroups.listJSON, to: out, arg)
        return SKIFF_OK
      }
      vtable.scale_up = { _, request, length, done in
        let fields = PluginJSON.decode(request, length) as? [String: Any]
        guard let name = fields?["group"] as? String, let delta = fields?["delta"] as? Int else {
          return HPAAutoscaler.refuse(done, "a scale-up request is {\"group\": name, \"delta\": n}")
        }
        return HPAAutoscaler.resize(done) { (groups) throws(NodeGroupError) in
          try groups.scaleUp(name, by: delta)
        }
      }
      vtable.scale_down = { _, request, length, done in
        let fields = PluginJSON.decode(request, length) as? [String: Any]
        guard let name = fields?["group"] as? String, let nodes = fields?["nodes"] as? [String] else {
          return HPAAutoscaler.refuse(done, "a scale-down request is {\"group\": name, \"nodes\": [names]}")
        }
        return HPAAutoscaler.resize(done) { (groups) throws(NodeGroupError) in
          try groups.scaleDown(name, removing: nodes)
        }
      }
    }
  }

  /// Runs a node-group change on the kernel's thread pool, since it may write the state file,
  /// and completes `done` from there with the group's new state.
  private static func resize(
    _ done: skiff_done, _ change: @escaping @Sendable (NodeGroups) throws(NodeGroupError) -> NodeGroup
  ) -> skiff_status {
    let groups = nodeGroups
    let status = PluginHost.queueWork {
      do throws(NodeGroupError) {
        done.succeed(try change(groups))
      } catch {
        done.fail(error)
      }
    }
    if status != SKIFF_OK {
      done.fail(NodeGroupError(status: SKIFF_ERROR, reason: "QueueFailed",
                               message: "the kernel refused queued work (status \(status.rawValue))"))
    }
    return SKIFF_OK
  }

  /// A malformed request: answered at once through `done`, like every other outcome.
  private static func refuse(_ done: skiff_done, _ message: String) -> skiff_status {
    done.fail(badRequest(message))
    return SKIFF_OK
  }
}

/// How a node-group change answers through `done` (which PluginKit lets travel to the pool).
private extension skiff_done {
  func succeed(_ group: NodeGroup) { complete(SKIFF_OK, json: PluginJSON.encode(group.json)) }
  func fail(_ error: NodeGroupError) { complete(error.status, json: error.json) }
}

private func badRequest(_ message: String) -> NodeGroupError {
  NodeGroupError(status: SKIFF_INVALID, reason: "InvalidRequest", message: message)
}

private func decode<T: Decodable>(_ type: T.Type, _ bytes: UnsafePointer<CChar>?, _ length: Int)
  throws -> T
{
  guard let bytes else { throw HPAError("the request is empty") }
  do {
    return try JSONDecoder().decode(type, from: Data(bytes: bytes, count: length))
  } catch let error as DecodingError {
    throw HPAError(error.problem)
  }
}

extension DecodingError {
  /// Where in the JSON and what is wrong, e.g. "metrics[0].target must be a number".
  var problem: String {
    func path(_ context: Context, _ last: CodingKey? = nil) -> String {
      let keys = context.codingPath + (last.map { [$0] } ?? [])
      let text = keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
      return text.hasPrefix(".") ? String(text.dropFirst()) : (text.isEmpty ? "the request" : text)
    }
    func kind(_ type: Any.Type) -> String {
      switch type {
      case is Int.Type: "an integer"
      case is Double.Type: "a number"
      case is String.Type: "a string"
      case is [Any].Type: "an array"
      default: "an object"
      }
    }
    switch self {
    case .keyNotFound(let key, let context): return "\(path(context, key)) is required"
    case .typeMismatch(let type, let context): return "\(path(context)) must be \(kind(type))"
    case .valueNotFound(let type, let context): return "\(path(context)) must be \(kind(type)), not null"
    case .dataCorrupted(let context): return "\(path(context)): \(context.debugDescription)"
    @unknown default: return "\(self)"
    }
  }
}
