// What the `oci` runtime keeps per sandbox and container beyond the process runtime's records,
// persisted under its stateDir so that a restarted plugin re-adopts what runs; and the folders
// each lives in.
import FoundationEssentials
import Glibc

struct OCISandboxRecord: Codable {
  var sandbox: SandboxRecord
  /// The network namespace the network plugin made for the pod; nil shares the host's.
  var netns: String?
  var hostname: String
}

struct OCIContainerRecord: Codable {
  var container: ContainerRecord
  /// The image as the ContainerConfig named it, and the id it resolved to.
  var image: String
  var imageId: String
  var user: OCISpec.User
  /// How the root filesystem was assembled, so that removal undoes the same.
  var rootfs: RootFilesystem.Mode

  var id: String { container.id }
}

/// The CRI fields of a ContainerConfig that the process runtime has no use for.
struct OCIContainerExtras: Decodable {
  var image: ImageSpec?

  struct ImageSpec: Decodable {
    var image: String
  }
}

/// The sandbox fields the oci runtime reads beyond PodSandboxConfig: `hostname`, and
/// `linux.netns`, the path of the network namespace the network plugin set up for the pod.
struct OCISandboxExtras: Decodable {
  var hostname: String?
  var linux: Linux?

  struct Linux: Decodable {
    var netns: String?
  }
}

/// Under the oci runtime's stateDir:
///   runc/                                        runc's --root
///   images/                                      the image store (unless config.oci.images)
///   sandboxes/<id>/sandbox.json, hosts, hostname, resolv.conf
///   sandboxes/<id>/logs/<name>/<attempt>.log     (default log directory)
///   sandboxes/<id>/containers/<cid>/             the bundle: config.json, rootfs (+ upper, work),
///                                                container.json, stdout, stderr, runc.log
struct OCILayout {
  let root: String

  var runc: String { "\(root)/runc" }
  var sandboxes: String { "\(root)/sandboxes" }
  func sandbox(_ id: String) -> String { "\(sandboxes)/\(id)" }
  func sandboxFile(_ id: String) -> String { "\(sandbox(id))/sandbox.json" }
  func containers(in sandbox: String) -> String { "\(self.sandbox(sandbox))/containers" }
  func bundle(_ record: ContainerRecord) -> String { "\(containers(in: record.podSandboxId))/\(record.id)" }
  func containerFile(_ record: ContainerRecord) -> String { "\(bundle(record))/container.json" }
  func pipe(_ stream: LogRelay.Stream, of record: ContainerRecord) -> String { "\(bundle(record))/\(stream)" }
}
