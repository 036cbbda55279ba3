// A plugin written in Swift, loaded by the kernel tests: services of every signature type, a
// scheduler filter over extended resources, and start/stop logging for ordering tests.
import FoundationEssentials
import Glibc
import PluginKit
import SkiffABI

private struct Config: Decodable {
  var failStart: Bool?
  var resource: String?
}

nonisolated(unsafe) private var ticks: Int64 = 0
nonisolated(unsafe) private var resource: skiff_str = 0
nonisolated(unsafe) private let greeting = UnsafeMutablePointer<CChar>.allocate(capacity: 256)

@_cdecl("skiff_plugin_init")
public func skiffPluginInit(_ host: UnsafePointer<skiff_host>?,
                            _ plugin: UnsafeMutablePointer<skiff_plugin>?) -> Int32 {
  PluginHost.describe(plugin, host: host, name: "swifttest", version: "1.0.0",
                      kind: SKIFF_KIND_SCHEDULER, summary: "Swift-side test plugin",
                      start: start, stop: stop)
}

private let start: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int) -> skiff_status = {
  ctx, json, length in
  PluginHost.attach(ctx)
  guard let config = try? PluginHost.config(Config.self, from: json, length: length) else {
    PluginHost.error("config is not valid JSON for this plugin")
    return SKIFF_INVALID
  }
  if config.failStart == true {
    PluginHost.error("refusing to start: failStart is set")
    return SKIFF_ERROR
  }
  resource = PluginHost.intern(config.resource ?? "nvidia.com/gpu")

  let add: @convention(c) (Int64, Int64) -> Int64 = { $0 + $1 }
  let add32: @convention(c) (Int32, Int32) -> Int32 = { $0 &+ $1 }
  let scale: @convention(c) (Double, Double) -> Double = { $0 * $1 }
  let greet: @convention(c) (UnsafePointer<CChar>?) -> UnsafePointer<CChar>? = { name in
    let text = "hello, \(name.map { String(cString: $0) } ?? "nobody")"
    _ = text.withCString { strncpy(greeting, $0, 255) }
    greeting[255] = 0
    return UnsafePointer(greeting)
  }
  let tick: @convention(c) () -> Void = { ticks += 1 }
  let count: @convention(c) () -> Int64 = { ticks }
  for (name, signature, function) in [
    ("swifttest.add", "l(ll)", unsafeBitCast(add, to: (@convention(c) () -> Void).self)),
    ("swifttest.add32", "i(ii)", unsafeBitCast(add32, to: (@convention(c) () -> Void).self)),
    ("swifttest.scale", "d(dd)", unsafeBitCast(scale, to: (@convention(c) () -> Void).self)),
    ("swifttest.greet", "s(s)", unsafeBitCast(greet, to: (@convention(c) () -> Void).self)),
    ("swifttest.tick", "v()", tick),
    ("swifttest.ticks", "l()", unsafeBitCast(count, to: (@convention(c) () -> Void).self)),
  ] {
    let status = PluginHost.registerService(name, signature: signature, function)
    guard status == SKIFF_OK else { return status }
  }

  let fit = PluginHost.vtable(skiff_scheduler_plugin.self, name: "SwiftExtendedFit") { vtable in
    vtable.filter = { _, cycle, pod, node in
      guard let pod, let node else { return SKIFF_ERROR }
      let wanted = pod.pointee.requests.scalar(resource)
      let free = node.pointee.allocatable.scalar(resource) - node.pointee.requested.scalar(resource)
      if wanted <= free { return SKIFF_OK }
      PluginHost.setReason(cycle, "Insufficient \(PluginHost.string(resource) ?? "?")")
      return SKIFF_UNSCHEDULABLE
    }
  }
  let status = PluginHost.register(fit)
  PluginHost.info("started")
  return status
}

private let stop: @convention(c) (OpaquePointer?) -> Void = { _ in
  PluginHost.info("stopped")
}
