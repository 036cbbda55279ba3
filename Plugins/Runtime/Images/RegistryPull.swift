// Pulling from an OCI distribution registry (the /v2/ API): the manifest by tag or digest, the
// linux/amd64 entry of an index, then config and layers, each verified against its digest before
// it is stored. Mirrors are tried before the registry itself; a registry that answers 401 with a
// Bearer challenge gets a token from the realm it names.
import FoundationEssentials
import Glibc

/// The profile's `config.oci.registries`: per registry host, mirrors to try first and whether it
/// speaks plain HTTP. Loopback registries are plain HTTP without saying so.
struct RegistryConfig: Decodable, Sendable {
  var registries: [String: Registry] = [:]

  struct Registry: Decodable, Sendable {
    /// Base URLs (`https://host:port`, or `http://`) serving the same repositories.
    var mirrors: [String]?
    /// true: reach the registry over plain http://; false: https:// even on loopback. Unset:
    /// https://, except loopback registries, which are plain HTTP.
    var insecure: Bool?
    /// A PEM file of CA certificates to trust, besides the system's, for it and its mirrors.
    var ca: String?
  }

  /// Where to look for `registry`'s repositories, in order.
  func endpoints(for registry: String) -> [String] {
    let own = registries[registry]
    let host = registry.split(separator: ":").first.map(String.init) ?? registry
    let loopback = ["127.0.0.1", "localhost", "[::1]"].contains(host) && own?.ca == nil
    let plain = own?.insecure ?? loopback
    let home = registry == ImageReference.defaultRegistry ? "registry-1.docker.io" : registry
    return (own?.mirrors ?? []).map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
      + ["\(plain ? "http" : "https")://\(home)"]
  }
}

/// Credentials from the request's `auth` (CRI's AuthConfig).
struct RegistryAuth: Decodable, Sendable {
  var username: String?
  var password: String?
  var registryToken: String?
}

extension ImageStore {
  static let manifestTypes = [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerList,
                              MediaType.dockerManifest].joined(separator: ", ")

  /// Pulls `text` and records it under its tag; `progress` gets one line per step.
  func pull(_ text: String, auth: RegistryAuth? = nil,
            progress: (String) -> Void = { _ in }) throws(ImageError) -> ImageRecord {
    let reference = try ImageReference(text)
    var failures: [String] = []
    for endpoint in registries.endpoints(for: reference.registry) {
      do throws(ImageError) {
        let session = RegistrySession(endpoint: endpoint, repository: reference.repository, auth: auth,
                                      ca: registries.registries[reference.registry]?.ca)
        return try pull(reference, from: session, progress: progress)
      } catch {
        // A mirror that lacks the image or is down hands over to the next; a bad blob does not.
        if error.description.contains("digest mismatch") { throw error }
        failures.append(error.description)
        progress("pull \(reference): \(endpoint): \(error)")
      }
    }
    throw ImageError("pulling \(reference) failed: \(failures.joined(separator: "; "))")
  }

  private func pull(_ reference: ImageReference, from session: RegistrySession,
                    progress: (String) -> Void) throws(ImageError) -> ImageRecord {
    progress("pull \(reference): from \(session.endpoint)")
    var manifestDigest = try fetchManifest(reference.digest ?? reference.tag ?? "latest",
                                           expecting: reference.digest, from: session)
    var manifest = try decodeBlob(Manifest.self, manifestDigest, what: "manifest")
    if manifest.isIndex {
      let entry = try manifest.entryForThisPlatform("\(reference)")
      progress("pull \(reference): index \(manifestDigest): picked linux/\(ImageConfig.thisArchitecture) \(entry.digest)")
      manifestDigest = try fetchManifest(entry.digest, expecting: entry.digest, from: session)
      manifest = try decodeBlob(Manifest.self, manifestDigest, what: "manifest")
    }
    guard let config = manifest.config, let layers = manifest.layers else {
      throw ImageError("\(reference): manifest \(manifestDigest) has no config or layers")
    }
    for blob in [config] + layers {
      if access(blobPath(blob.digest), F_OK) == 0 {
        progress("pull \(reference): \(blob.digest): already present")
        continue
      }
      try fetchBlob(blob, from: session) { progress("pull \(reference): \(blob.digest): \($0)") }
    }
    let image = try record(manifestDigest: manifestDigest,
                           tags: reference.tag.map { ["\(reference.name):\($0)"] } ?? [],
                           repoDigests: ["\(reference.name)@\(manifestDigest)"])
    progress("pull \(reference): done: \(image.id) (\(Self.bytes(image.size)))")
    return image
  }

  /// Fetches and stores a manifest; returns its digest (which must be `expected` when given).
  private func fetchManifest(_ tagOrDigest: String, expecting expected: String?,
                             from session: RegistrySession) throws(ImageError) -> String {
    let response = try session.get("manifests/\(tagOrDigest)", accept: Self.manifestTypes)
    guard response.status == 200 else {
      throw ImageError("manifest \(tagOrDigest): \(RegistrySession.describe(response))")
    }
    return try store(bytes: response.body, expecting: expected, what: "manifest")
  }

  private func fetchBlob(_ blob: Descriptor, from session: RegistrySession,
                         progress: (String) -> Void) throws(ImageError) {
    // The body sink is an optional, hence escaping, closure; it does not outlive this call.
    try withoutActuallyEscaping(progress) { (progress) throws(ImageError) in
      try download(blob, from: session, reporting: progress)
    }
  }

  private func download(_ blob: Descriptor, from session: RegistrySession,
                        reporting progress: @escaping (String) -> Void) throws(ImageError) {
    guard ImageReference.isDigest(blob.digest) else { throw ImageError("\(blob.digest) is not a sha256 digest") }
    let writer = try BlobWriter(store: self)
    var reported: Int64 = 0
    let response = try session.get("blobs/\(blob.digest)", accept: "*/*") { bytes throws(ImageError) in
      try writer.write(bytes)
      if writer.size - reported >= 4 << 20 {
        reported = writer.size
        progress("\(Self.bytes(writer.size)) / \(Self.bytes(blob.size))")
      }
    }
    guard response.status == 200 else {
      throw ImageError("blob \(blob.digest): \(RegistrySession.describe(response))")
    }
    guard writer.size == blob.size else {
      throw ImageError("blob \(blob.digest): digest mismatch: \(writer.size) bytes arrived, the manifest says \(blob.size)")
    }
    _ = try writer.commit(expecting: blob.digest, what: "blob")
    progress("\(Self.bytes(writer.size)) / \(Self.bytes(blob.size)) verified")
  }

  static func bytes(_ count: Int64) -> String {
    count < 1 << 20 ? "\(count / 1024) KiB" : "\(count * 10 / (1 << 20) / 10).\(count * 10 / (1 << 20) % 10) MiB"
  }
}

/// One repository on one endpoint, holding the bearer token once a challenge gave one.
final class RegistrySession {
  let endpoint: String
  let repository: String
  let auth: RegistryAuth?
  let ca: String?
  private var authorization: String?

  init(endpoint: String, repository: String, auth: RegistryAuth?, ca: String?) {
    self.endpoint = endpoint
    self.repository = repository
    self.auth = auth
    self.ca = ca
    if let token = auth?.registryToken { authorization = "Bearer \(token)" }
  }

  func get(_ path: String, accept: String,
           sink: ((ArraySlice<UInt8>) throws(ImageError) -> Void)? = nil) throws(ImageError) -> HTTPResponse {
    let url = try HTTPURL("\(endpoint)/v2/\(repository)/\(path)")
    var headers = ["Accept": accept]
    if let authorization { headers["Authorization"] = authorization }
    let response = try RegistryHTTP.get(url, headers: headers, ca: ca, sink: sink)
    guard response.status == 401, authorization == nil || authorization?.hasPrefix("Bearer") == true,
          let challenge = response.headers["www-authenticate"] else { return response }
    authorization = try answer(challenge)
    headers["Authorization"] = authorization
    return try RegistryHTTP.get(url, headers: headers, ca: ca, sink: sink)
  }

  /// Basic: the request's credentials. Bearer: a token from the challenge's realm, asked with
  /// the credentials when there are any (the distribution token protocol).
  private func answer(_ challenge: String) throws(ImageError) -> String {
    let basic = auth.flatMap { auth in
      auth.username.map { "Basic " + Data("\($0):\(auth.password ?? "")".utf8).base64EncodedString() }
    }
    if challenge.lowercased().hasPrefix("basic") {
      guard let basic else { throw ImageError("\(endpoint) asks for a username and password (auth)") }
      return basic
    }
    guard challenge.lowercased().hasPrefix("bearer") else {
      throw ImageError("\(endpoint) asks for \(challenge.split(separator: " ").first ?? "") authentication, "
        + "which this runtime does not speak")
    }
    let parameters = Self.parameters(String(challenge.dropFirst("bearer".count)))
    guard let realm = parameters["realm"] else { throw ImageError("\(endpoint): bearer challenge without a realm") }
    var query: [String] = []
    if let service = parameters["service"] { query.append("service=\(Self.escape(service))") }
    query.append("scope=\(Self.escape(parameters["scope"] ?? "repository:\(repository):pull"))")
    let url = try HTTPURL(realm + (realm.contains("?") ? "&" : "?") + query.joined(separator: "&"))
    let response = try RegistryHTTP.get(url, headers: basic.map { ["Authorization": $0] } ?? [:], ca: ca)
    struct Token: Decodable {
      var token: String?
      var access_token: String?
    }
    guard response.status == 200, let token = try? JSONDecoder().decode(Token.self, from: Data(response.body)),
          let value = token.token ?? token.access_token else {
      throw ImageError("\(endpoint): the token service \(realm) refused: \(Self.describe(response))")
    }
    return "Bearer \(value)"
  }

  /// `key="value",key=value` pairs of an authentication challenge.
  static func parameters(_ text: String) -> [String: String] {
    var result: [String: String] = [:]
    var rest = Substring(text)
    while let equals = rest.firstIndex(of: "=") {
      let key = rest[..<equals].filter { $0 != " " && $0 != "," }
      rest = rest[rest.index(after: equals)...]
      var value: Substring
      if rest.first == "\"" {
        rest = rest.dropFirst()
        let end = rest.firstIndex(of: "\"") ?? rest.endIndex
        value = rest[..<end]
        rest = end == rest.endIndex ? rest[end...] : rest[rest.index(after: end)...]
      } else {
        let end = rest.firstIndex(of: ",") ?? rest.endIndex
        value = rest[..<end]
        rest = rest[end...]
      }
      result[String(key)] = String(value)
    }
    return result
  }

  private static func escape(_ text: String) -> String {
    var escaped = ""
    for byte in text.utf8 {
      let char = Character(Unicode.Scalar(byte))
      if char.isLetter && byte < 128 || char.isNumber && byte < 128 || "-_.~".contains(char) {
        escaped.append(char)
      } else {
        let hex = String(byte, radix: 16, uppercase: true)
        escaped += "%" + (hex.count == 1 ? "0" + hex : hex)
      }
    }
    return escaped
  }

  /// A registry's error answer in one line: status and its errors[].message when it sent them.
  static func describe(_ response: HTTPResponse) -> String {
    struct Errors: Decodable {
      struct Entry: Decodable { var code: String?; var message: String? }
      var errors: [Entry]?
    }
    let details = (try? JSONDecoder().decode(Errors.self, from: Data(response.body)))?.errors?
      .map { "\($0.code ?? ""): \($0.message ?? "")" }.joined(separator: "; ")
    return "HTTP \(response.status)" + (details.map { " (\($0))" } ?? "")
  }
}
