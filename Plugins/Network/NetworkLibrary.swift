// The networking plugin ("network"): registers the `bridge` network extension, which gives each
// pod an address from a subnet and plugs it into a Linux bridge, as CNI's bridge plugin does.
import FoundationEssentials
import Glibc
import PluginKit
import SkiffABI

@_cdecl("skiff_plugin_init")
public func skiffPluginInit(_ host: UnsafePointer<skiff_host>?,
                            _ plugin: UnsafeMutablePointer<skiff_plugin>?) -> Int32 {
  PluginHost.describe(plugin, host: host, name: "network", version: "0.1.0",
                      kind: SKIFF_KIND_NETWORK,
                      summary: "pod networking: a Linux bridge, veth pairs, host-local addresses",
                      start: startNetwork, stop: stopNetwork)
}

/// The instance the registered vtable's `self` points to, released at stop. PluginKit keeps one
/// context per loaded library, and so does this.
nonisolated(unsafe) private var running: Unmanaged<BridgeNetwork>?

private let startNetwork: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int) -> skiff_status = {
  ctx, json, length in
  PluginHost.attach(ctx)
  let network: BridgeNetwork
  do throws(PluginFailure) {
    let config = json.map { Data(bytes: $0, count: length) } ?? Data("{}".utf8)
    network = try BridgeNetwork(config: Reply.decode(BridgeConfig.self, from: config, root: "config"))
  } catch {
    PluginHost.error(error.message)
    return error.status
  }
  let instance = Unmanaged.passRetained(network)
  running = instance
  let vtable = PluginHost.vtable(skiff_network_plugin.self, name: "bridge",
                                 self: instance.toOpaque()) { vtable in
    vtable.attach = { me, request, length, done in
      let network = BridgeNetwork.from(me)
      return Reply.later(request, length, done) { try network.attach($0) }
    }
    vtable.detach = { me, request, length, done in
      let network = BridgeNetwork.from(me)
      return Reply.later(request, length, done) { try network.detach($0) }
    }
    // Services (nftables DNAT from ClusterIPs to ready endpoints) and NetworkPolicy land with the
    // networking issue; until then callers learn plainly that this plugin programs neither.
    vtable.program_service = { _, _, _, _ in SKIFF_UNSUPPORTED }
    vtable.apply_policy = { _, _, _, _ in SKIFF_UNSUPPORTED }
  }
  PluginHost.info("bridge \(network.bridge) serves \(network.subnet), gateway \(network.subnet.gateway)")
  return PluginHost.register(vtable)
}

private let stopNetwork: @convention(c) (OpaquePointer?) -> Void = { _ in
  // Work already queued holds its own reference; this drops the vtable's.
  running?.release()
  running = nil
}
