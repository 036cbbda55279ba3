// The storage plugin ("storage"): registers the `skiff.dev/local` provisioner, which keeps
// volumes as folders under one root and bind-mounts them into pods.
import FoundationEssentials
import Glibc
import PluginKit
import SkiffABI

@_cdecl("skiff_plugin_init")
public func skiffPluginInit(_ host: UnsafePointer<skiff_host>?,
                            _ plugin: UnsafeMutablePointer<skiff_plugin>?) -> Int32 {
  PluginHost.describe(plugin, host: host, name: "storage", version: "0.1.0",
                      kind: SKIFF_KIND_STORAGE,
                      summary: "local volumes: folders under one root, bind-mounted into pods",
                      start: startStorage, stop: stopStorage)
}

/// The instance the registered vtable's `self` points to, released at stop. PluginKit keeps one
/// context per loaded library, and so does this.
nonisolated(unsafe) private var running: Unmanaged<LocalVolumes>?

private let startStorage: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?, Int) -> skiff_status = {
  ctx, json, length in
  PluginHost.attach(ctx)
  let volumes: LocalVolumes
  do throws(PluginFailure) {
    let config = json.map { Data(bytes: $0, count: length) } ?? Data("{}".utf8)
    volumes = try LocalVolumes(config: Reply.decode(StorageConfig.self, from: config, root: "config"))
  } catch {
    PluginHost.error(error.message)
    return error.status
  }
  let instance = Unmanaged.passRetained(volumes)
  running = instance
  let vtable = PluginHost.vtable(skiff_storage_plugin.self, name: "skiff.dev/local",
                                 self: instance.toOpaque()) { vtable in
    vtable.create_volume = { me, request, length, done in
      let volumes = LocalVolumes.from(me)
      return Reply.later(request, length, done) { try volumes.create($0) }
    }
    vtable.delete_volume = { me, id, done in
      let volumes = LocalVolumes.from(me)
      let id = id.map { String(cString: $0) } ?? ""
      return Reply.later(done) { try volumes.delete(id) }
    }
    vtable.expand_volume = { me, request, length, done in
      let volumes = LocalVolumes.from(me)
      return Reply.later(request, length, done) { try volumes.expand($0) }
    }
    // One root, one filesystem: there are no parameters that would select another.
    vtable.capacity = { me, _, _, done in
      let volumes = LocalVolumes.from(me)
      return Reply.later(done) { try volumes.capacity() }
    }
    vtable.stage = { me, request, length, done in
      let volumes = LocalVolumes.from(me)
      return Reply.later(request, length, done) { try volumes.stage($0) }
    }
    vtable.unstage = { me, request, length, done in
      let volumes = LocalVolumes.from(me)
      return Reply.later(request, length, done) { try volumes.unstage($0) }
    }
    vtable.publish = { me, request, length, done in
      let volumes = LocalVolumes.from(me)
      return Reply.later(request, length, done) { try volumes.publish($0) }
    }
    vtable.unpublish = { me, request, length, done in
      let volumes = LocalVolumes.from(me)
      return Reply.later(request, length, done) { try volumes.unpublish($0) }
    }
  }
  PluginHost.info("volumes under \(volumes.volumes.path)")
  return PluginHost.register(vtable)
}

private let stopStorage: @convention(c) (OpaquePointer?) -> Void = { _ in
  // Work already queued holds its own reference; this drops the vtable's.
  running?.release()
  running = nil
}
