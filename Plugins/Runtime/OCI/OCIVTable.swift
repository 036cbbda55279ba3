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
    let status = PluginHost.register(runtimeVTable(runtime, name: "oci"))
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
