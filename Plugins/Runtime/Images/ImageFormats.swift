// The JSON documents of OCI images (image-spec 1.0) and their Docker twins, as much as the image
// store reads, and the record it keeps per image.
import FoundationEssentials

enum MediaType {
  static let ociIndex = "application/vnd.oci.image.index.v1+json"
  static let ociManifest = "application/vnd.oci.image.manifest.v1+json"
  static let ociConfig = "application/vnd.oci.image.config.v1+json"
  static let ociLayer = "application/vnd.oci.image.layer.v1.tar"
  static let ociLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
  static let dockerList = "application/vnd.docker.distribution.manifest.list.v2+json"
  static let dockerManifest = "application/vnd.docker.distribution.manifest.v2+json"

  static func isIndex(_ type: String?) -> Bool { type == ociIndex || type == dockerList }
}

struct Descriptor: Codable {
  var mediaType: String?
  var digest: String
  var size: Int64
  var annotations: [String: String]?
  var platform: Platform?

  struct Platform: Codable {
    var architecture: String
    var os: String
    var variant: String?
  }
}

/// An image manifest or an index (manifest list): which one, `manifests` or `layers` says.
struct Manifest: Codable {
  var schemaVersion: Int
  var mediaType: String?
  var config: Descriptor?
  var layers: [Descriptor]?
  var manifests: [Descriptor]?

  var isIndex: Bool { manifests != nil || MediaType.isIndex(mediaType) }

  /// The entry for this machine's platform (linux/amd64), as a runtime on it must pick.
  func entryForThisPlatform(_ what: String) throws(ImageError) -> Descriptor {
    let wanted = ImageConfig.thisArchitecture
    guard let entry = (manifests ?? []).first(where: {
      $0.platform.map { $0.os == "linux" && $0.architecture == wanted } ?? false
    }) ?? (manifests?.count == 1 && manifests?[0].platform == nil ? manifests?[0] : nil) else {
      let offered = (manifests ?? []).compactMap { $0.platform.map { "\($0.os)/\($0.architecture)" } }
      throw ImageError("\(what) has no linux/\(wanted) image (it offers \(offered.joined(separator: ", ")))")
    }
    return entry
  }
}

/// The image configuration: what a container runs by default, and the layers' diff IDs.
struct ImageConfig: Codable {
  var architecture: String?
  var os: String?
  var config: Process?
  var rootfs: RootFS?

  struct Process: Codable {
    var Entrypoint: [String]?
    var Cmd: [String]?
    var Env: [String]?
    var WorkingDir: String?
    var User: String?
  }

  struct RootFS: Codable {
    var type: String
    var diff_ids: [String]
  }

  static var thisArchitecture: String {
    #if arch(x86_64)
    "amd64"
    #elseif arch(arm64)
    "arm64"
    #else
    "unknown"
    #endif
  }
}

/// docker save's manifest.json: one entry per image in the archive.
struct DockerArchiveEntry: Codable {
  var Config: String
  var RepoTags: [String]?
  var Layers: [String]
}

/// What the store keeps per image; `id` is the config's digest, as Docker and CRI name images.
struct ImageRecord: Codable, Equatable {
  var id: String
  var manifestDigest: String
  var repoTags: [String]
  var repoDigests: [String]
  /// Layer blob digests, bottom first.
  var layers: [String]
  /// Bytes of config and layer blobs.
  var size: Int64

  var listed: [String: Any] {
    ["id": id, "repoTags": repoTags, "repoDigests": repoDigests, "size": size]
  }
}
