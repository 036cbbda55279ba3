// /openapi/v3: what kubectl needs to validate on the server. An index of group-versions, and per
// group-version the resource paths whose write operations accept fieldValidation, fieldManager
// and dryRun, with the group-version-kind kubectl reads off the patch operation. Schemas are left
// out on purpose: an incomplete schema makes kubectl warn, no schema makes it trust the server.
import ObjectModel

enum OpenAPI {
  // MARK: v2 (kubectl 1.27 and 1.28 read only this)

  /// A document without definitions: kubectl's client-side validation skips kinds it has no
  /// schema for, and the server validates them instead.
  static let v2JSON: JSON = ["swagger": "2.0", "info": ["title": "Kubernetes", "version": "v1.32.0"], "paths": [:]]

  /// What kube-openapi answers with (kubectl asks with "@v1.0", which Go cannot parse back).
  static let v2ProtobufContentType = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"

  /// The same document in gnostic's openapi_v2.Document encoding: swagger = 1, info = 2
  /// (Info: title = 1, version = 2), paths = 8.
  static let v2Protobuf: [UInt8] = {
    func field(_ number: UInt8, _ bytes: [UInt8]) -> [UInt8] {
      [number << 3 | 2, UInt8(bytes.count)] + bytes
    }
    let info = field(1, Array("Kubernetes".utf8)) + field(2, Array("v1.32.0".utf8))
    return field(1, Array("2.0".utf8)) + field(2, info) + field(8, [])
  }()

  // MARK: v3
  static func index(_ catalog: ResourceCatalog) -> JSON {
    var paths = JSONObject()
    for group in catalog.groups {
      for version in group.versions {
        let path = group.name.isEmpty ? "api/\(version)" : "apis/\(group.name)/\(version)"
        paths[path] = ["serverRelativeURL": .string("/openapi/v3/\(path)?hash=\(hash(catalog, group.name, version))")]
      }
    }
    return ["paths": .object(paths)]
  }

  static func document(_ catalog: ResourceCatalog, groupVersion path: String) -> JSON? {
    let parts = path.split(separator: "/").map(String.init)
    let (group, version): (String, String)
    switch (parts.first, parts.count) {
    case ("api", 2): (group, version) = ("", parts[1])
    case ("apis", 3): (group, version) = (parts[1], parts[2])
    default: return nil
    }
    let types = catalog.types(group: group, version: version)
    guard !types.isEmpty else { return nil }
    let base = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
    var paths = JSONObject()
    for type in types {
      let gvk: JSON = ["group": .string(type.group), "version": .string(type.version), "kind": .string(type.kind)]
      let collection = type.namespaced ? "\(base)/namespaces/{namespace}/\(type.resource)" : "\(base)/\(type.resource)"
      paths[collection] = ["post": operation("create", type, gvk), "get": operation("list", type, gvk)]
      let item: JSON = ["get": operation("read", type, gvk), "put": operation("replace", type, gvk),
                        "patch": operation("patch", type, gvk), "delete": operation("delete", type, gvk)]
      paths["\(collection)/{name}"] = item
      for sub in type.subresources where ["status", "scale"].contains(sub) {
        paths["\(collection)/{name}/\(sub)"] = item
      }
    }
    return ["openapi": "3.0.0", "info": ["title": "Kubernetes", "version": "v1.32.0"],
            "paths": .object(paths), "components": ["schemas": [:]]]
  }

  private static func operation(_ verb: String, _ type: ResourceType, _ gvk: JSON) -> JSON {
    var parameters: [JSON] = []
    if ["create", "replace", "patch"].contains(verb) {
      for name in ["dryRun", "fieldManager", "fieldValidation"] {
        parameters.append(["name": .string(name), "in": "query", "schema": ["type": "string", "uniqueItems": true]])
      }
    }
    if verb == "patch" {
      parameters.append(["name": "force", "in": "query", "schema": ["type": "boolean", "uniqueItems": true]])
    }
    return ["operationId": .string(verb + type.kind), "parameters": .array(parameters),
            "responses": ["200": ["description": "OK"]],
            "x-kubernetes-action": .string(verb == "read" ? "get" : verb == "replace" ? "put" : verb),
            "x-kubernetes-group-version-kind": gvk]
  }

  /// Changes when the group-version's resources change, so kubectl's cache refreshes.
  private static func hash(_ catalog: ResourceCatalog, _ group: String, _ version: String) -> String {
    var hash: UInt64 = 0xcbf29ce484222325
    for type in catalog.types(group: group, version: version) {
      for byte in (type.resource + type.kind + type.subresources.joined()).utf8 {
        hash = (hash ^ UInt64(byte)) &* 0x100000001b3
      }
    }
    return String(hash, radix: 16, uppercase: true)
  }
}
