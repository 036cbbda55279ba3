// PATCH bodies by content type: JSON merge patch, strategic merge patch (built-in kinds),
// JSON patch, and server-side apply (as a strategic merge of the applied configuration).
import ObjectModel

enum Patches {
  static func apply(_ contentType: String, body: [UInt8], to object: JSON, type: ResourceType,
                    schemaKind: String? = nil) throws(APIError) -> JSON {
    let patch: JSON
    do {
      patch = try JSON.parse(body)
    } catch {
      throw APIError.badRequest("the body of the request could not be decoded as JSON: \(error)")
    }
    let builtIn = ResourceCatalog.builtIn.contains { $0.group == type.group && $0.kind == type.kind }
    switch contentType {
    case "application/merge-patch+json":
      return MergePatch.apply(patch, to: object)
    case "application/json-patch+json":
      do {
        return try JSONPatch(patch).apply(to: object)
      } catch {
        throw APIError(422, "Invalid", "the server rejected our request due to an error in our request: \(error)")
      }
    case "application/strategic-merge-patch+json", "application/apply-patch+yaml":
      // Server-side apply without field ownership: the applied configuration merges into the live
      // object by the same merge keys strategic merge patch uses.
      guard builtIn || schemaKind != nil else {
        if contentType == "application/apply-patch+yaml" { return MergePatch.apply(patch, to: object) }
        throw APIError(415, "UnsupportedMediaType", "strategic merge patch format is not supported")
      }
      do {
        return try StrategicMergePatch.apply(patch, to: object, kind: schemaKind ?? type.kind)
      } catch {
        throw APIError(422, "Invalid", "the server rejected our request due to an error in our request: \(error)")
      }
    default:
      throw APIError.unsupportedMediaType(contentType)
    }
  }
}
