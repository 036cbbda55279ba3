// The `runtime` plugin library. It registers two runtimes: `process`, which runs each container's
// command as a host process in its own session and cgroups, with its output in a CRI log file,
// `oci` (OCI/), which runs containers from images with runc, and `sim` (SimRuntime.swift), the
// hollow runtime of simulated nodes, which keeps records and starts nothing.
import FoundationEssentials
import Glibc
import PluginKit
import SkiffABI

@_cdecl("skiff_plugin_init")
public func skiffPluginInit(_ host: UnsafePointer<skiff_host>?,
                            _ plugin: UnsafeMutablePointer<skiff_plugin>?) -> Int32 {
  PluginHost.describe(plugin, host: host, name: "runtime", version: "0.1.0",
                      kind: SKIFF_KIND_RUNTIME,
                      summary: "container runtimes: process (host processes in cgroups), oci (images, runc), sim (records only)",
                      start: startRuntime, stop: stopRuntime)
}

/// The profile's `config:` block.
private struct RuntimeConfig: Decodable {
  /// Where sandboxes, container state and (by default) logs live. Required.
  var stateDir: String?
  /// The cgroup under which each container gets its own, unless its sandbox names another.
  var cgroupParent: String?
  /// Where the cgroup hierarchy is mounted (v2: its root; v1: the folder holding memory, cpu,
  /// pids). Default: found from /sys/fs/cgroup and /proc/self/mounts.
  var cgroupRoot: String?
  /// The `oci` runtime and its image store (OCI/OCIVTable.swift).
  var oci: OCIConfig?
  /// The `sim` runtime (SimRuntime.swift).
  var sim: SimConfig?
}

/// The instance `stop` detaches. The library is never unloaded, so a kernel started again in the
/// same process starts a fresh instance, which re-adopts what this one left.
nonisolated(unsafe) private var current: ProcessRuntime?
nonisolated(unsafe) private var currentOCI: OCIRuntime?
nonisolated(unsafe) private var currentSim: SimRuntime?

private let startRuntime: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int) -> skiff_status = {
  ctx, json, length in
  PluginHost.attach(ctx)
  let config: RuntimeConfig
  do throws(RuntimeFailure) {
    config = try RuntimeJSON.decode(RuntimeConfig.self, from: json.map { Data(bytes: $0, count: length) }
      ?? Data("{}".utf8), what: "config")
  } catch {
    PluginHost.error(error.message)
    return SKIFF_INVALID
  }
  guard let stateDir = config.stateDir, !stateDir.isEmpty else {
    PluginHost.error("config.stateDir is required: the folder where the process runtime keeps "
      + "sandboxes, container state and logs")
    return SKIFF_INVALID
  }
  if let root = config.cgroupRoot {
    guard let hierarchy = CgroupHierarchy.at(root) else {
      PluginHost.error("config.cgroupRoot: \(root) holds neither cgroup.controllers (cgroup v2) nor "
        + "memory, cpu or pids folders (cgroup v1)")
      return SKIFF_INVALID
    }
    CgroupHierarchy.active = hierarchy
  } else {
    CgroupHierarchy.active = CgroupHierarchy.host
  }
  let runtime: ProcessRuntime
  do {
    runtime = try ProcessRuntime(stateDir: stateDir, cgroupParent: config.cgroupParent ?? "skiff")
  } catch {
    PluginHost.error("config.stateDir: \(error)")
    return SKIFF_ERROR
  }
  let status = PluginHost.register(runtimeVTable(runtime, name: "process"))
  guard status == SKIFF_OK else {
    runtime.detach()
    return status
  }
  current = runtime
  switch OCIRuntimeStart.start(config.oci, stateDir: stateDir, cgroupParent: config.cgroupParent ?? "skiff") {
  case .success(let oci): currentOCI = oci
  case .failure(let failure):
    runtime.detach()
    current = nil
    return failure.status
  }
  switch SimRuntimeStart.start(config.sim, stateDir: stateDir) {
  case .success(let sim): currentSim = sim
  case .failure(let failure):
    stopRuntime(nil)
    return failure.status
  }
  return SKIFF_OK
}

/// Containers keep running: they belong to the node, not to this process.
private let stopRuntime: @convention(c) (OpaquePointer?) -> Void = { _ in
  current?.detach()
  current = nil
  currentOCI?.detach()
  currentOCI = nil
  currentSim = nil  // records only: nothing to detach
}
