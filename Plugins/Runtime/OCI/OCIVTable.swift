// The `oci` runtime's configuration and slots: the second runtime the `runtime` library
// registers, beside `process`.
import FoundationEssentials
import PluginKit
import SkiffABI

/// The profile's `config.oci` block. Every field has a default.
struct OCIConfig: Decodable {
  /// The OCI runtime binary: a path, or a name looked up in the usual PATH (default `runc`).
  var runtime: String?
  /// Bundles, runc's state and sandboxes (default `<stateDir>/oci`).
  var stateDir: String?
  /// The image store (default `<stateDir>/images`).
  var images: String?
  /// auto (overlay when the kernel mounts it, else copies), overlay or copy.
  var rootfs: RootFilesystem.Mode?
  /// Per registry host: `mirrors` (plain-HTTP base URLs tried first) and `insecure`.
  var registries: [String: RegistryConfig.Registry]?
  /// false leaves `oci` unregistered.
  var enabled: Bool?
}

enum OCIRuntimeStart {
  /// Opens the image store and state, re-adopts, registers `oci`. nil when it is disabled; a
  /// failure is logged and returned as a status.
  static func start(_ config: OCIConfig?, stateDir: String, cgroupParent: String) -> Result<OCIRuntime?, StartFailure> {
    let config = config ?? OCIConfig()
    guard config.enabled != false else { return .success(nil) }
    let name = config.runtime ?? "runc"
    let binary = ProcessLauncher.resolve(name, searchPath: ProcessRuntime.defaultPath, workingDir: "/") ?? name
    if !binary.hasPrefix("/") {
      PluginHost.warn("oci runtime: \(name) is not installed (looked in \(ProcessRuntime.defaultPath)); "
        + "images work, containers will not start until it is (apt-get install runc) or config.oci.runtime names it")
    }
    let runtime: OCIRuntime
    do {
      let images = try ImageStore(root: config.images ?? "\(stateDir)/images",
                                  registries: RegistryConfig(registries: config.registries ?? [:]))
      runtime = try OCIRuntime(stateDir: config.stateDir ?? "\(stateDir)/oci", images: images, runc: binary,
                               cgroupParent: cgroupParent, rootfs: config.rootfs ?? .auto)
    } catch {
      PluginHost.error("config.oci: \(error)")
      return .failure(StartFailure(status: SKIFF_ERROR))
    }
    let status = PluginHost.register(ociVTable(runtime))
    guard status == SKIFF_OK else {
      runtime.detach()
      return .failure(StartFailure(status: status))
    }
    return .success(runtime)
  }

  struct StartFailure: Error {
    var status: skiff_status
  }
}

/// The slots. Work that touches files, unpacks, forks runc or downloads goes to the kernel's
/// thread pool; stop signals through runc off the loop; status and logs answer from memory on the
/// loop.
private func ociVTable(_ runtime: OCIRuntime) -> skiff_runtime_plugin {
  PluginHost.vtable(skiff_runtime_plugin.self, name: "oci", self: Unmanaged.passUnretained(runtime).toOpaque()) { vtable in
    vtable.sandbox_create = { me, config, length, done in
      guard let config else { return SKIFF_INVALID }
      let runtime = instance(me), json = Data(bytes: config, count: length)
      return PluginHost.queueWork { runtime.createSandbox(json, done: done) }
    }
    vtable.sandbox_stop = { me, id, done in
      guard let id else { return SKIFF_INVALID }
      let runtime = instance(me), sandboxId = String(cString: id)
      return PluginHost.queueWork { runtime.stopSandbox(sandboxId, done: done) }
    }
    vtable.sandbox_remove = { me, id, done in
      guard let id else { return SKIFF_INVALID }
      let runtime = instance(me), sandboxId = String(cString: id)
      return PluginHost.queueWork { runtime.removeSandbox(sandboxId, done: done) }
    }
    vtable.container_create = { me, sandbox, config, length, done in
      guard let sandbox, let config else { return SKIFF_INVALID }
      let runtime = instance(me), sandboxId = String(cString: sandbox), json = Data(bytes: config, count: length)
      return PluginHost.queueWork { runtime.createContainer(inSandbox: sandboxId, json, done: done) }
    }
    vtable.container_start = { me, id, done in
      guard let id else { return SKIFF_INVALID }
      let runtime = instance(me), containerId = String(cString: id)
      return PluginHost.queueWork { runtime.startContainer(containerId, done: done) }
    }
    vtable.container_stop = { me, id, grace, done in
      guard let id else { return SKIFF_INVALID }
      instance(me).stopContainer(String(cString: id), grace: grace, done: done)
      return SKIFF_OK
    }
    vtable.container_remove = { me, id, done in
      guard let id else { return SKIFF_INVALID }
      let runtime = instance(me), containerId = String(cString: id)
      return PluginHost.queueWork { runtime.removeContainer(containerId, done: done) }
    }
    vtable.container_status = { me, id, done in
      instance(me).status(of: id.map { String(cString: $0) }, done: done)
      return SKIFF_OK
    }
    vtable.container_logs = { me, id, done in
      guard let id else { return SKIFF_INVALID }
      instance(me).logPath(of: String(cString: id), done: done)
      return SKIFF_OK
    }
    vtable.exec = { me, id, request, length, done in
      guard let id, let request else { return SKIFF_INVALID }
      instance(me).exec(in: String(cString: id), Data(bytes: request, count: length), done: done)
      return SKIFF_OK
    }
    vtable.image_pull = { me, request, length, done in
      guard let request else { return SKIFF_INVALID }
      let runtime = instance(me), json = Data(bytes: request, count: length)
      return PluginHost.queueWork { runtime.pullImage(json, done: done) }
    }
    vtable.image_list = { me, done in
      // Reads images.json, which another process may have rewritten: off the loop.
      let runtime = instance(me)
      return PluginHost.queueWork { runtime.listImages(done: done) }
    }
  }
}

private func instance(_ me: UnsafeMutableRawPointer?) -> OCIRuntime {
  Unmanaged<OCIRuntime>.fromOpaque(me!).takeUnretainedValue()
}
