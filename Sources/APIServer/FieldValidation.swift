// fieldValidation on create, update and patch: fields a kind does not have are dropped, as
// Kubernetes' decoder drops them, and reported as the client asked: not at all (Ignore), as
// `Warning` headers (Warn, the default), or as a 400 that stores nothing (Strict).
import HTTP
import ObjectModel

enum FieldValidation {
  enum Directive: String { case ignore = "Ignore", warn = "Warn", strict = "Strict" }

  static func directive(_ request: HTTPRequest) throws(APIError) -> Directive {
    guard let value = request.queryValue("fieldValidation"), !value.isEmpty else { return .warn }
    guard let directive = Directive(rawValue: value) else {
      throw APIError.badRequest("fieldValidation: Invalid value: \"\(value)\": fieldValidation must be one of "
        + "\"Ignore\", \"Warn\" or \"Strict\"")
    }
    return directive
  }

  /// Whether `value` has a field `schema` does not: a read-only walk, so that the common case
  /// (nothing unknown) allocates nothing.
  static func hasUnknownFields(_ value: JSON, _ schema: FieldSchema) -> Bool {
    switch (schema, value) {
    case (.fields(let fields), .object(let object)):
      return object.contains { member in fields[member.key].map { hasUnknownFields(member.value, $0) } ?? true }
    case (.map(let values), .object(let object)):
      return object.contains { hasUnknownFields($0.value, values) }
    case (.list(let items), .array(let elements)):
      return elements.contains { hasUnknownFields($0, items) }
    default:
      return false
    }
  }

  /// Removes from `value` the fields `schema` does not have, appending their paths as
  /// Kubernetes prints them (`spec.template.spec.containers[0].imagePullPolicyy`).
  static func prune(_ value: inout JSON, _ schema: FieldSchema, path: String, unknown: inout [String]) {
    switch (schema, value) {
    case (.fields(let fields), .object(let object)):
      var kept = JSONObject()
      for (key, child) in object {
        let childPath = path.isEmpty ? key : path + "." + key
        guard let childSchema = fields[key] else {
          unknown.append(childPath)
          continue
        }
        var child = child
        prune(&child, childSchema, path: childPath, unknown: &unknown)
        kept[key] = child
      }
      value = .object(kept)
    case (.map(let values), .object(let object)):
      var kept = JSONObject()
      for (key, child) in object {
        var child = child
        prune(&child, values, path: path + "." + key, unknown: &unknown)
        kept[key] = child
      }
      value = .object(kept)
    case (.list(let items), .array(var elements)):
      for index in elements.indices {
        prune(&elements[index], items, path: "\(path)[\(index)]", unknown: &unknown)
      }
      value = .array(elements)
    default:
      return
    }
  }

  /// What the Warn directive sends: one `Warning` header per problem, in RFC 7234's form.
  static func warningHeaders(_ problems: [String]) -> [(String, String)] {
    problems.map { problem in
      var quoted = ""
      for character in problem {
        if character == "\"" || character == "\\" { quoted.append("\\") }
        quoted.append(character)
      }
      return ("Warning", "299 - \"\(quoted)\"")
    }
  }
}

extension APIServer {
  func fieldSchema(_ type: ResourceType) -> FieldSchema? {
    let key = "\(type.groupVersion)/\(type.kind)"
    return FieldSchema.builtIn[key] ?? customSchemas[key]
  }

  /// Drops the fields of `object` (in `type`'s version, as the client sent it) that the kind does
  /// not have; answers the Warning headers to send about them and about `repeatedFields` (given
  /// twice in the body), or throws 400 under Strict.
  func validateFields(_ request: HTTPRequest, _ object: inout JSON, _ type: ResourceType,
                      repeatedFields: [String] = []) throws(APIError) -> [(String, String)] {
    let directive = try FieldValidation.directive(request)
    var unknown: [String] = []
    if let schema = fieldSchema(type), FieldValidation.hasUnknownFields(object, schema) {
      FieldValidation.prune(&object, schema, path: "", unknown: &unknown)
    }
    let problems = unknown.map { "unknown field \"\($0)\"" } + repeatedFields.map { "duplicate field \"\($0)\"" }
    guard !problems.isEmpty else { return [] }
    switch directive {
    case .ignore: return []
    case .warn: return FieldValidation.warningHeaders(problems)
    case .strict:
      throw APIError.badRequest("\(type.kind) in version \"\(type.version)\" cannot be handled as a \(type.kind): "
        + "strict decoding error: " + problems.joined(separator: ", "))
    }
  }
}
