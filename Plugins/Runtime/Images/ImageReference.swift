// An image name as users write it (`busybox`, `registry:5000/team/app:v1`, `app@sha256:...`),
// normalised the way Docker does: docker.io is the default registry, its one-word repositories
// live under library/, and the default tag is latest.

struct ImageReference: Equatable, CustomStringConvertible {
  static let defaultRegistry = "docker.io"

  var registry: String
  var repository: String
  var tag: String?
  var digest: String?

  init(_ text: String) throws(ImageError) {
    var rest = Substring(text)
    if let at = rest.firstIndex(of: "@") {
      let digest = String(rest[rest.index(after: at)...])
      guard Self.isDigest(digest) else {
        throw ImageError("image \"\(text)\": \(digest) is not a sha256 digest")
      }
      self.digest = digest
      rest = rest[..<at]
    }
    // A tag follows the last colon that comes after the last slash (host:port/name is no tag).
    if let colon = rest.lastIndex(of: ":"), !rest[colon...].contains("/") {
      tag = String(rest[rest.index(after: colon)...])
      rest = rest[..<colon]
    }
    var parts = rest.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty }), tag?.isEmpty != true else {
      throw ImageError("image \"\(text)\" is not a valid reference (name[:tag][@sha256:digest])")
    }
    let first = parts[0]
    if parts.count > 1 && (first.contains(".") || first.contains(":") || first == "localhost") {
      registry = first
      parts.removeFirst()
    } else {
      registry = Self.defaultRegistry
    }
    if registry == Self.defaultRegistry && parts.count == 1 { parts.insert("library", at: 0) }
    repository = parts.joined(separator: "/")
    guard repository == repository.lowercased() else {
      throw ImageError("image \"\(text)\": repository names must be lowercase")
    }
    if tag == nil && digest == nil { tag = "latest" }
  }

  /// `registry/repository`, the name tags are recorded under.
  var name: String { "\(registry)/\(repository)" }

  var description: String {
    name + (tag.map { ":\($0)" } ?? "") + (digest.map { "@\($0)" } ?? "")
  }

  static func isDigest(_ text: String) -> Bool {
    text.hasPrefix("sha256:") && text.count == 71
      && text.dropFirst(7).allSatisfy { $0.isHexDigit && !$0.isUppercase }
  }
}
