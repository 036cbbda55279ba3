// Failures as Kubernetes reports them: an HTTP code and a `Status` object whose reason and message
// kubectl and client libraries print and act on.
import ObjectModel

public struct APIError: Error, Sendable {
  public struct Cause: Sendable {
    public let reason: String   // FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, ...
    public let field: String
    public let message: String
  }

  public let code: Int
  public let reason: String
  public let message: String
  var details: JSON?

  init(_ code: Int, _ reason: String, _ message: String, details: JSON? = nil) {
    self.code = code
    self.reason = reason
    self.message = message
    self.details = details
  }

  public var status: JSON {
    var status: JSON = ["kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure",
                        "message": .string(message), "reason": .string(reason), "code": .int(Int64(code))]
    if let details { status["details"] = details }
    return status
  }

  private static func details(_ type: ResourceType, _ name: String?) -> JSON {
    var details: JSON = ["kind": .string(type.resource)]
    if let name { details["name"] = .string(name) }
    if !type.group.isEmpty { details["group"] = .string(type.group) }
    return details
  }

  static func notFound(_ type: ResourceType, _ name: String) -> APIError {
    APIError(404, "NotFound", "\(type.qualifiedName) \"\(name)\" not found", details: details(type, name))
  }

  static func namespaceNotFound(_ namespace: String) -> APIError {
    APIError(404, "NotFound", "namespaces \"\(namespace)\" not found",
             details: ["name": .string(namespace), "kind": "namespaces"])
  }

  static func alreadyExists(_ type: ResourceType, _ name: String) -> APIError {
    APIError(409, "AlreadyExists", "\(type.qualifiedName) \"\(name)\" already exists",
             details: details(type, name))
  }

  static func conflict(_ type: ResourceType, _ name: String) -> APIError {
    APIError(409, "Conflict", "Operation cannot be fulfilled on \(type.qualifiedName) \"\(name)\": the object "
      + "has been modified; please apply your changes to the latest version and try again",
             details: details(type, name))
  }

  /// 422 with every field problem; the message lists them as Kubernetes does.
  static func invalid(_ type: ResourceType, _ name: String, _ causes: [Cause]) -> APIError {
    let kind = type.group.isEmpty ? type.kind : "\(type.kind).\(type.group)"
    let list = causes.map { "\($0.field): \($0.message)" }
    let summary = list.count == 1 ? list[0] : "[" + list.joined(separator: ", ") + "]"
    var details = details(type, name)
    details["kind"] = .string(type.kind)
    details["causes"] = .array(causes.map {
      ["reason": .string($0.reason), "message": .string($0.message), "field": .string($0.field)]
    })
    return APIError(422, "Invalid", "\(kind) \"\(name)\" is invalid: \(summary)", details: details)
  }

  static func badRequest(_ message: String) -> APIError { APIError(400, "BadRequest", message) }

  static func gone(_ message: String) -> APIError { APIError(410, "Expired", message) }

  static func methodNotAllowed(_ message: String) -> APIError { APIError(405, "MethodNotAllowed", message) }

  static func unsupportedMediaType(_ contentType: String) -> APIError {
    APIError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media "
      + "types include: application/json, application/yaml, application/vnd.kubernetes.protobuf "
      + "(got \(contentType))")
  }

  static func internalError(_ message: String) -> APIError {
    APIError(500, "InternalError", "Internal error occurred: \(message)")
  }

  static func pathNotFound() -> APIError {
    APIError(404, "NotFound", "the server could not find the requested resource")
  }
}
