// The default scheduler plugins, shipped as one library ("scheduler") that registers each plugin
// under its Kubernetes name. Profiles choose which run at which extension point.
import PluginKit
import SkiffABI

@_cdecl("skiff_plugin_init")
public func skiffPluginInit(_ host: UnsafePointer<skiff_host>?,
                            _ plugin: UnsafeMutablePointer<skiff_plugin>?) -> Int32 {
  PluginHost.describe(plugin, host: host, name: "scheduler", version: "0.1.0",
                      kind: SKIFF_KIND_SCHEDULER,
                      summary: "default scheduler plugins: NodeName, NodeUnschedulable, "
                        + "NodeResourcesFit, TaintToleration",
                      start: startScheduler)
}

private let startScheduler: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int) -> skiff_status = {
  ctx, _, _ in
  PluginHost.attach(ctx)
  Names.load()
  for vtable in [NodeName.vtable, NodeUnschedulable.vtable, NodeResourcesFit.vtable,
                 TaintToleration.vtable] {
    let status = PluginHost.register(vtable)
    guard status == SKIFF_OK else { return status }
  }
  return SKIFF_OK
}

/// Interned names the plugins compare against, looked up once at start.
enum Names {
  nonisolated(unsafe) static var unschedulableTaint: skiff_str = 0

  static func load() {
    unschedulableTaint = PluginHost.intern("node.kubernetes.io/unschedulable")
  }
}
