// Request paths to what they address: the fixed endpoints (version, health, discovery, OpenAPI)
// and resource paths in their cluster-scoped and namespaced shapes.

enum Route {
  case version
  case health(String)
  case metrics
  case schedulerExplanation(String, String)  // /debug/scheduler/namespaces/<ns>/pods/<name>
  case coreGroup                      // /api
  case groups                         // /apis
  case group(String)                  // /apis/<group>
  case groupVersion(String, String)   // /api/v1, /apis/<group>/<version>
  case openAPIV2                      // /openapi/v2, for kubectl 1.27 and 1.28
  case openAPIIndex                   // /openapi/v3
  case openAPIDocument(String)        // /openapi/v3/api/v1, /openapi/v3/apis/apps/v1
  case resource(ResourceRequest)
}

/// A request for a resource collection, one object, or one object's subresource.
struct ResourceRequest {
  let type: ResourceType
  /// The namespace in the path; nil for cluster-scoped types and for lists across namespaces.
  let namespace: String?
  let name: String?
  let subresource: String?
}

extension ResourceCatalog {
  func route(_ path: String) throws(APIError) -> Route {
    let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    switch parts.first {
    case "version" where parts.count == 1: return .version
    case "healthz", "readyz", "livez": return .health(parts[0])
    case "metrics" where parts.count == 1: return .metrics
    case "debug" where parts.count == 6 && parts[1] == "scheduler" && parts[2] == "namespaces" && parts[4] == "pods":
      return .schedulerExplanation(parts[3], parts[5])
    case "openapi" where parts.count == 2 && parts[1] == "v2": return .openAPIV2
    case "openapi" where parts.count >= 2 && parts[1] == "v3":
      return parts.count == 2 ? .openAPIIndex : .openAPIDocument(parts[2...].joined(separator: "/"))
    case "api":
      if parts.count == 1 { return .coreGroup }
      if parts.count == 2 { return .groupVersion("", parts[1]) }
      return .resource(try resourceRequest(group: "", version: parts[1], rest: Array(parts[2...])))
    case "apis":
      if parts.count == 1 { return .groups }
      if parts.count == 2 { return .group(parts[1]) }
      if parts.count == 3 { return .groupVersion(parts[1], parts[2]) }
      return .resource(try resourceRequest(group: parts[1], version: parts[2], rest: Array(parts[3...])))
    default:
      throw APIError.pathNotFound()
    }
  }

  private func resourceRequest(group: String, version: String, rest: [String]) throws(APIError) -> ResourceRequest {
    func type(_ resource: String) throws(APIError) -> ResourceType {
      guard let type = lookup(group: group, version: version, resource: resource) else {
        throw APIError.pathNotFound()
      }
      return type
    }
    // namespaces/<ns>/<resource>[/<name>[/<subresource>]] addresses a namespaced resource, unless
    // the third part is not one (then it is the namespace object's own subresource).
    if rest.count >= 3, rest[0] == "namespaces",
       let namespaced = lookup(group: group, version: version, resource: rest[2]), namespaced.namespaced {
      guard rest.count <= 5, rest.count < 5 || namespaced.subresources.contains(rest[4]) else {
        throw APIError.pathNotFound()
      }
      return ResourceRequest(type: namespaced, namespace: rest[1], name: rest.count > 3 ? rest[3] : nil,
                             subresource: rest.count > 4 ? rest[4] : nil)
    }
    guard rest.count <= 3 else { throw APIError.pathNotFound() }
    let resource = try type(rest[0])
    let request = ResourceRequest(type: resource, namespace: nil, name: rest.count > 1 ? rest[1] : nil,
                                  subresource: rest.count > 2 ? rest[2] : nil)
    // A namespaced object needs its namespace in the path; its collection may be listed across all.
    if resource.namespaced && request.name != nil { throw APIError.pathNotFound() }
    if let subresource = request.subresource, !resource.subresources.contains(subresource) {
      throw APIError.pathNotFound()
    }
    return request
  }
}
