// Request bodies: JSON, YAML (converted through the kernel's libyaml parser) and Kubernetes
// protobuf, each checked for the kind and apiVersion the endpoint serves.
import HTTP
import Kernel
import ObjectModel

enum RequestBody {
  /// The body as JSON, whatever format the client declared.
  static func json(_ request: HTTPRequest) throws(APIError) -> JSON {
    var repeatedFields: [String] = []
    return try json(request, repeatedFields: &repeatedFields)
  }

  /// The body as JSON, and the fields a JSON body gives more than once (their last value wins).
  static func json(_ request: HTTPRequest, repeatedFields: inout [String]) throws(APIError) -> JSON {
    let contentType = (request.headers["Content-Type"] ?? "application/json").split(separator: ";")
      .first.map { String($0).trimmingSpaces } ?? ""
    switch contentType {
    case "application/json", "application/merge-patch+json", "application/strategic-merge-patch+json",
         "application/json-patch+json", "application/apply-patch+yaml", "application/yaml", "text/yaml", "":
      do {
        return try JSON.parse(request.body, repeatedFields: &repeatedFields)
      } catch {
        if contentType.hasSuffix("yaml") { return try yaml(request.body) }
        throw APIError.badRequest("the body of the request could not be decoded as JSON: \(error)")
      }
    case "application/vnd.kubernetes.protobuf":
      return try KubernetesProtobuf.decode(request.body)
    default:
      throw APIError.unsupportedMediaType(contentType)
    }
  }

  private static func yaml(_ body: [UInt8]) throws(APIError) -> JSON {
    let text = String(decoding: body, as: UTF8.self)
    do {
      let node = try YAMLParser.parse(text, file: "request body")
      return try JSON.parse(node.json())
    } catch let error as ProfileError {
      throw APIError.badRequest("the body of the request could not be decoded as YAML: \(error.description)")
    } catch {
      throw APIError.badRequest("the body of the request could not be decoded: \(error)")
    }
  }

  /// An object for `type`'s endpoint: a JSON object whose kind and apiVersion, when given,
  /// are the endpoint's.
  static func object(_ request: HTTPRequest, expecting type: ResourceType) throws(APIError) -> JSON {
    var repeatedFields: [String] = []
    return try object(request, expecting: type, repeatedFields: &repeatedFields)
  }

  static func object(_ request: HTTPRequest, expecting type: ResourceType, repeatedFields: inout [String])
    throws(APIError) -> JSON {
    var object = try json(request, repeatedFields: &repeatedFields)
    guard object.objectValue != nil else {
      throw APIError.badRequest("the body of the request must be a JSON object, not \(object.kindDescription)")
    }
    if let kind = object["kind"]?.stringValue, kind != type.kind {
      throw APIError.badRequest("the kind in the data (\(kind)) does not match the expected kind (\(type.kind))")
    }
    if let apiVersion = object["apiVersion"]?.stringValue, apiVersion != type.groupVersion {
      throw APIError.badRequest("the API version in the data (\(apiVersion)) does not match the expected API "
        + "version (\(type.groupVersion))")
    }
    object["apiVersion"] = .string(type.groupVersion)
    object["kind"] = .string(type.kind)
    if object["metadata"]?.objectValue == nil { object["metadata"] = [:] }
    return object
  }
}
