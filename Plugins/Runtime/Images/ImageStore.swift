// Images on this node: blobs named by their sha256 digest, layers unpacked once into a directory
// shared by every container that uses them, and a record per image with its tags. Imports OCI
// image layouts (a folder or its tarball) and `docker save` tarballs; pulls are in
// RegistryPull.swift.
//
//   <root>/blobs/sha256/<hex>     verified content: manifests, configs, layers as shipped
//   <root>/layers/<hex>/          a layer blob unpacked (whiteouts in overlayfs's form)
//   <root>/images.json            [ImageRecord]
//   <root>/tmp/                   downloads and archives being unpacked
import FoundationEssentials
import Glibc
import Synchronization

final class ImageStore: Sendable {
  let root: String
  let registries: RegistryConfig
  private let records = Mutex<[ImageRecord]>([])

  init(root: String, registries: RegistryConfig = RegistryConfig()) throws(ImageError) {
    self.root = root
    self.registries = registries
    for folder in ["blobs/sha256", "layers", "tmp"] {
      do { try KernelFiles.makeDirectory("\(root)/\(folder)") } catch {
        throw ImageError("image store: \(error)")
      }
    }
    if FileManager.default.fileExists(atPath: indexFile) && savedRecords() == nil {
      throw ImageError("image store: \(indexFile) is not a valid image list; move it away to start afresh")
    }
    records.withLock { $0 = savedRecords() ?? [] }
  }

  private var indexFile: String { "\(root)/images.json" }

  /// images.json as another process (`skiff image import` beside a running server) may have
  /// left it.
  private func savedRecords() -> [ImageRecord]? {
    FileManager.default.contents(atPath: indexFile).flatMap { try? JSONDecoder().decode([ImageRecord].self, from: $0) }
  }

  /// Holds an exclusive lock on images.json's lock file while `body` reads and rewrites it.
  private func withIndexLocked<T>(_ body: () -> T) -> T {
    let fd = open("\(root)/images.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    if fd >= 0 {
      while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
    }
    defer { if fd >= 0 { close(fd) } }
    return body()
  }

  func blobPath(_ digest: String) -> String { "\(root)/blobs/sha256/\(digest.dropFirst(7))" }
  func layerPath(_ digest: String) -> String { "\(root)/layers/\(digest.dropFirst(7))" }

  // MARK: Listing and resolving

  func list() -> [ImageRecord] {
    records.withLock { all in
      if let saved = savedRecords() { all = saved }
      return all
    }
  }

  /// The image a container names: by tag (`busybox`, `busybox:1`), by digest (`name@sha256:..`),
  /// or by id (`sha256:...` or a unique prefix of its hex).
  func find(_ text: String) throws(ImageError) -> ImageRecord {
    let all = list()
    let hex = text.hasPrefix("sha256:") ? String(text.dropFirst(7)) : text
    if hex.count >= 12, hex.allSatisfy(\.isHexDigit) {
      let matches = all.filter { $0.id.dropFirst(7).hasPrefix(hex) }
      if matches.count == 1 { return matches[0] }
    }
    let reference = try ImageReference(text)
    let found: ImageRecord?
    if let digest = reference.digest {
      found = all.first { $0.repoDigests.contains("\(reference.name)@\(digest)") || $0.manifestDigest == digest }
    } else {
      found = all.first { $0.repoTags.contains(reference.description) }
    }
    guard let found else {
      throw ImageError("image \"\(text)\" (\(reference)) is not present on this node: pull or import it first")
    }
    return found
  }

  func config(of image: ImageRecord) throws(ImageError) -> ImageConfig {
    try decodeBlob(ImageConfig.self, image.id, what: "image config")
  }

  // MARK: Adding images

  /// Records an image whose blobs are all stored, moving its tags off any image that had them.
  @discardableResult
  func record(manifestDigest: String, tags: [String], repoDigests: [String] = []) throws(ImageError) -> ImageRecord {
    let manifest = try decodeBlob(Manifest.self, manifestDigest, what: "manifest")
    guard let config = manifest.config, let layers = manifest.layers else {
      throw ImageError("manifest \(manifestDigest) has no config or layers")
    }
    let image = ImageRecord(
      id: config.digest, manifestDigest: manifestDigest, repoTags: tags, repoDigests: repoDigests,
      layers: layers.map(\.digest), size: config.size + layers.reduce(0) { $0 + $1.size })
    let saved = records.withLock { all -> [ImageRecord] in withIndexLocked {
      all = savedRecords() ?? all
      for index in all.indices { all[index].repoTags.removeAll { tags.contains($0) } }
      if let index = all.firstIndex(where: { $0.id == image.id }) {
        all[index].repoTags = Array(Set(all[index].repoTags + tags)).sorted()
        all[index].repoDigests = Array(Set(all[index].repoDigests + repoDigests)).sorted()
        all[index].manifestDigest = manifestDigest
      } else {
        all.append(image)
      }
      // An image left without a tag stays, as Docker's dangling images do, until it is removed.
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
      try? encoder.encode(all).write(to: URL(fileURLWithPath: indexFile), options: .atomic)
      return all
    } }
    return saved.first { $0.id == image.id }!
  }

  /// Imports every image of an OCI image layout (folder or tarball) or a `docker save` tarball.
  func importArchive(_ path: String) throws(ImageError) -> [ImageRecord] {
    var info = stat()
    guard stat(path, &info) == 0 else { throw ImageError("\(SystemError("image archive \(path)"))") }
    if info.st_mode & S_IFMT == S_IFDIR { return try importLayout(path, archive: path) }
    let scratch = try temporaryDirectory()
    defer { TarExtractor.removeTree(scratch) }
    try TarExtractor(root: scratch, mode: .plain).extract(try LayerStream(path: path))
    if access("\(scratch)/index.json", F_OK) == 0 { return try importLayout(scratch, archive: path) }
    if access("\(scratch)/manifest.json", F_OK) == 0 { return try importDockerArchive(scratch, archive: path) }
    throw ImageError("\(path) is neither an OCI image layout (no index.json) nor a docker save "
      + "archive (no manifest.json)")
  }

  private func importLayout(_ folder: String, archive: String) throws(ImageError) -> [ImageRecord] {
    guard let data = FileManager.default.contents(atPath: "\(folder)/index.json"),
          let index = try? JSONDecoder().decode(Manifest.self, from: data) else {
      throw ImageError("\(archive): index.json is missing or not an OCI image index")
    }
    var imported: [ImageRecord] = []
    for entry in index.manifests ?? [] {
      var descriptor = entry
      try ingest(file: layoutBlob(folder, descriptor.digest), digest: descriptor.digest, what: "\(archive): manifest")
      var manifest = try decodeBlob(Manifest.self, descriptor.digest, what: "manifest")
      if manifest.isIndex {
        descriptor = try manifest.entryForThisPlatform("\(archive): \(descriptor.digest)")
        try ingest(file: layoutBlob(folder, descriptor.digest), digest: descriptor.digest, what: "\(archive): manifest")
        manifest = try decodeBlob(Manifest.self, descriptor.digest, what: "manifest")
      }
      for blob in [manifest.config].compactMap({ $0 }) + (manifest.layers ?? []) {
        try ingest(file: layoutBlob(folder, blob.digest), digest: blob.digest, what: "\(archive): blob")
      }
      let tags = try Self.tags(from: entry.annotations?["org.opencontainers.image.ref.name"], archive: archive)
      imported.append(try record(manifestDigest: descriptor.digest, tags: tags))
    }
    guard !imported.isEmpty else { throw ImageError("\(archive): the image index lists no manifests") }
    return imported
  }

  /// A layout's ref.name is either a whole reference or, as skopeo writes it for `oci:DIR:TAG`,
  /// only a tag; a tag alone is filed under the archive's name.
  private static func tags(from name: String?, archive: String) throws(ImageError) -> [String] {
    guard let name, !name.isEmpty else { return [] }
    if name.contains("/") || name.contains(":") { return [try ImageReference(name).description] }
    var base = String(archive.split(separator: "/").last ?? "image")
    for suffix in [".tar.gz", ".tgz", ".tar"] where base.hasSuffix(suffix) { base.removeLast(suffix.count) }
    return [try ImageReference("\(base.lowercased()):\(name)").description]
  }

  private func layoutBlob(_ folder: String, _ digest: String) throws(ImageError) -> String {
    guard ImageReference.isDigest(digest) else { throw ImageError("\(digest) is not a sha256 digest") }
    return "\(folder)/blobs/sha256/\(digest.dropFirst(7))"
  }

  /// docker save: manifest.json names each image's config and layer files; the manifest that an
  /// OCI layout would carry is written here from them.
  private func importDockerArchive(_ folder: String, archive: String) throws(ImageError) -> [ImageRecord] {
    guard let data = FileManager.default.contents(atPath: "\(folder)/manifest.json"),
          let entries = try? JSONDecoder().decode([DockerArchiveEntry].self, from: data) else {
      throw ImageError("\(archive): manifest.json is not a docker save manifest")
    }
    var imported: [ImageRecord] = []
    for entry in entries {
      let config = try ingest(file: "\(folder)/\(try TarExtractor.clean(entry.Config))", digest: nil,
                              what: "\(archive): config")
      var layers: [Descriptor] = []
      for layer in entry.Layers {
        let file = "\(folder)/\(try TarExtractor.clean(layer))"
        let digest = try ingest(file: file, digest: nil, what: "\(archive): layer")
        layers.append(Descriptor(mediaType: MediaType.ociLayer, digest: digest.digest, size: digest.size))
      }
      let manifest = Manifest(
        schemaVersion: 2, mediaType: MediaType.ociManifest,
        config: Descriptor(mediaType: MediaType.ociConfig, digest: config.digest, size: config.size),
        layers: layers)
      let manifestDigest = try store(bytes: Array(try encodeSorted(manifest)))
      var tags: [String] = []
      for tag in entry.RepoTags ?? [] { tags.append(try ImageReference(tag).description) }
      imported.append(try record(manifestDigest: manifestDigest, tags: tags))
    }
    guard !imported.isEmpty else { throw ImageError("\(archive): manifest.json lists no images") }
    return imported
  }

  // MARK: Blobs

  /// Copies a file into the blob store, hashing it on the way; with `digest`, refuses content
  /// that does not match it.
  @discardableResult
  func ingest(file: String, digest expected: String?, what: String) throws(ImageError) -> (digest: String, size: Int64) {
    if let expected, access(blobPath(expected), F_OK) == 0 {
      var info = stat()
      stat(blobPath(expected), &info)
      return (expected, Int64(info.st_size))
    }
    let input = open(file, O_RDONLY | O_CLOEXEC)
    guard input >= 0 else { throw ImageError("\(what) \(expected ?? ""): \(SystemError("opening \(file)"))") }
    defer { close(input) }
    let writer = try BlobWriter(store: self)
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
      let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
      if count < 0 && errno == EINTR { continue }
      guard count >= 0 else { throw ImageError("\(what): \(SystemError("reading \(file)"))") }
      if count == 0 { break }
      try writer.write(buffer[0..<count])
    }
    return (try writer.commit(expecting: expected, what: what), writer.size)
  }

  /// Stores bytes held in memory (a manifest); returns their digest.
  func store(bytes: [UInt8], expecting expected: String? = nil, what: String = "blob") throws(ImageError) -> String {
    let writer = try BlobWriter(store: self)
    try writer.write(bytes[...])
    return try writer.commit(expecting: expected, what: what)
  }

  func decodeBlob<T: Decodable>(_ type: T.Type, _ digest: String, what: String) throws(ImageError) -> T {
    guard let data = FileManager.default.contents(atPath: blobPath(digest)) else {
      throw ImageError("\(what) \(digest) is missing from the image store")
    }
    do { return try JSONDecoder().decode(type, from: data) } catch {
      throw ImageError("\(what) \(digest) is not valid: \(error)")
    }
  }

  func temporaryDirectory() throws(ImageError) -> String {
    let path = "\(root)/tmp/\(UInt64.random(in: .min ... .max))"
    guard mkdir(path, 0o700) == 0 else { throw ImageError("\(SystemError("creating \(path)"))") }
    return path
  }

  private func encodeSorted<T: Encodable>(_ value: T) throws(ImageError) -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    do { return try encoder.encode(value) } catch { throw ImageError("encoding: \(error)") }
  }

  // MARK: Layers

  /// The image's layers unpacked, bottom first; each is unpacked the first time any image needs
  /// it, checked against the config's diff ID, and shared from then on.
  func unpackedLayers(of image: ImageRecord) throws(ImageError) -> [String] {
    let diffIDs = try config(of: image).rootfs?.diff_ids ?? []
    guard diffIDs.count == image.layers.count else {
      throw ImageError("image \(image.id): its config lists \(diffIDs.count) layers, its manifest \(image.layers.count)")
    }
    var paths: [String] = []
    for (layer, diffID) in zip(image.layers, diffIDs) {
      let target = layerPath(layer)
      if access(target, F_OK) != 0 {
        let scratch = try temporaryDirectory()
        do throws(ImageError) {
          let stream = try LayerStream(path: blobPath(layer))
          try TarExtractor(root: scratch, mode: .layer).extract(stream)
          let unpacked = stream.uncompressedDigest()
          guard unpacked == diffID else {
            throw ImageError("layer \(layer) unpacks to \(unpacked), but the image config says \(diffID)")
          }
        } catch {
          TarExtractor.removeTree(scratch)
          throw error
        }
        // Another container may have unpacked it meanwhile: then its copy stays.
        if rename(scratch, target) != 0 { TarExtractor.removeTree(scratch) }
      }
      paths.append(target)
    }
    return paths
  }
}

/// A blob being written: to a temporary file, hashed as it goes, renamed to its digest.
final class BlobWriter {
  private let store: ImageStore
  private let path: String
  private let fd: Int32
  private var hasher = SHA256()
  private(set) var size: Int64 = 0
  private var committed = false

  init(store: ImageStore) throws(ImageError) {
    self.store = store
    path = "\(store.root)/tmp/blob-\(UInt64.random(in: .min ... .max))"
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw ImageError("\(SystemError("creating \(path)"))") }
  }

  deinit {
    close(fd)
    if !committed { unlink(path) }
  }

  func write(_ bytes: ArraySlice<UInt8>) throws(ImageError) {
    hasher.update(bytes)
    size += Int64(bytes.count)
    var offset = bytes.startIndex
    while offset < bytes.endIndex {
      let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
      if written < 0 && errno == EINTR { continue }
      guard written > 0 else { throw ImageError("\(SystemError("writing \(path)"))") }
      offset += written
    }
  }

  /// Files the blob under its digest; a digest other than `expected` is refused.
  func commit(expecting expected: String?, what: String) throws(ImageError) -> String {
    let digest = hasher.finish()
    if let expected, digest != expected {
      throw ImageError("\(what) \(expected): digest mismatch: the content's digest is \(digest); refusing it")
    }
    guard fsync(fd) == 0, rename(path, store.blobPath(digest)) == 0 else {
      throw ImageError("\(SystemError("storing blob \(digest)"))")
    }
    committed = true
    return digest
  }
}
