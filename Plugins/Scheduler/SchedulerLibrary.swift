// The default scheduler plugins, shipped as one library ("scheduler") that registers each plugin
// under its Kubernetes name. Profiles choose which run at which extension point.
import PluginKit
import SkiffABI

@_cdecl("skiff_plugin_init")
public func skiffPluginInit(_ host: UnsafePointer<skiff_host>?,
                            _ plugin: UnsafeMutablePointer<skiff_plugin>?) -> Int32 {
  PluginHost.describe(plugin, host: host, name: "scheduler", version: "0.1.0",
                      kind: SKIFF_KIND_SCHEDULER,
                      summary: "default scheduler plugins: PrioritySort, NodeName, NodeUnschedulable, "
                        + "NodeAffinity, NodePorts, NodeResourcesFit, NodeResourcesBalancedAllocation, "
                        + "TaintToleration, InterPodAffinity, PodTopologySpread, Coscheduling, DefaultPreemption, DefaultBinder",
                      start: startScheduler)
}

private let startScheduler: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int) -> skiff_status = {
  ctx, config, length in
  PluginHost.attach(ctx)
  Names.load()
  let scoring: ScoringStrategy, coscheduling: Coscheduling
  do {
    scoring = try ScoringStrategy.load(config, length: length)
    coscheduling = try Coscheduling.load(config, length: length)
  } catch {
    PluginHost.error("\(error)")
    return SKIFF_INVALID
  }
  for vtable in [PrioritySort.vtable, NodeName.vtable, NodeUnschedulable.vtable, NodeAffinity.vtable,
                 NodePorts.vtable, NodeResourcesFit.vtable(scoring: scoring),
                 NodeResourcesBalancedAllocation.vtable, TaintToleration.vtable, InterPodAffinity.vtable,
                 PodTopologySpread.vtable, Coscheduling.vtable(coscheduling), DefaultPreemption.vtable,
                 DefaultBinder.vtable] {
    let status = PluginHost.register(vtable)
    guard status == SKIFF_OK else { return status }
  }
  return SKIFF_OK
}

/// Interned names the plugins compare against, looked up once at start.
enum Names {
  nonisolated(unsafe) static var unschedulableTaint: skiff_str = 0
  nonisolated(unsafe) static var metadataName: skiff_str = 0
  nonisolated(unsafe) static var tcp: skiff_str = 0
  nonisolated(unsafe) static var anyAddress: skiff_str = 0

  static func load() {
    unschedulableTaint = PluginHost.intern("node.kubernetes.io/unschedulable")
    metadataName = PluginHost.intern("metadata.name")
    tcp = PluginHost.intern("TCP")
    anyAddress = PluginHost.intern("0.0.0.0")
  }
}
