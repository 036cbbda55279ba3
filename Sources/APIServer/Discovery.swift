// API discovery, in both shapes kubectl asks for: the legacy per-group-version lists and the
// aggregated APIGroupDiscoveryList (v2 for kubectl 1.30+, v2beta1 for 1.27–1.29), negotiated
// from the Accept header, since the content type is what tells kubectl which one it got.
import ObjectModel

enum Discovery {
  /// The aggregated form's version the client accepts, if any.
  static func aggregatedVersion(accept: String?) -> String? {
    guard let accept, accept.contains("as=APIGroupDiscoveryList") else { return nil }
    if accept.contains("v=v2;") || accept.hasSuffix("v=v2") || accept.contains("v=v2,") { return "v2" }
    if accept.contains("v=v2beta1") { return "v2beta1" }
    return nil
  }

  static func contentType(aggregated version: String) -> String {
    "application/json;g=apidiscovery.k8s.io;v=\(version);as=APIGroupDiscoveryList"
  }

  static func apiVersions(serverAddress: String) -> JSON {
    ["kind": "APIVersions", "versions": ["v1"],
     "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string(serverAddress)]]]
  }

  static func groupList(_ catalog: ResourceCatalog) -> JSON {
    ["kind": "APIGroupList", "apiVersion": "v1",
     "groups": .array(catalog.groups.filter { !$0.name.isEmpty }.map { group(name: $0.name, versions: $0.versions) })]
  }

  static func group(name: String, versions: [String]) -> JSON {
    let entries: [JSON] = versions.map { ["groupVersion": .string("\(name)/\($0)"), "version": .string($0)] }
    return ["kind": "APIGroup", "apiVersion": "v1", "name": .string(name), "versions": .array(entries),
            "preferredVersion": entries[0]]
  }

  static func resourceList(_ catalog: ResourceCatalog, group: String, version: String) -> JSON? {
    let types = catalog.types(group: group, version: version)
    guard !types.isEmpty else { return nil }
    var resources: [JSON] = []
    for type in types {
      var entry: JSON = ["name": .string(type.resource), "singularName": .string(type.singular),
                         "namespaced": .bool(type.namespaced), "kind": .string(type.kind),
                         "verbs": .array(ResourceType.verbs.map { .string($0) })]
      if !type.shortNames.isEmpty { entry["shortNames"] = .array(type.shortNames.map { .string($0) }) }
      if !type.categories.isEmpty { entry["categories"] = .array(type.categories.map { .string($0) }) }
      resources.append(entry)
      for sub in type.subresources {
        let (kind, verbs, subGroup, subVersion) = subresource(sub, of: type)
        var subEntry: JSON = ["name": .string("\(type.resource)/\(sub)"), "singularName": "",
                              "namespaced": .bool(type.namespaced), "kind": .string(kind),
                              "verbs": .array(verbs.map { .string($0) })]
        if let subGroup { subEntry["group"] = .string(subGroup); subEntry["version"] = .string(subVersion!) }
        resources.append(subEntry)
      }
    }
    return ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(types[0].groupVersion),
            "resources": .array(resources)]
  }


  /// Each subresource's kind, verbs and, where it differs from its parent's, group and version.
  static func subresource(_ name: String, of type: ResourceType) -> (String, [String], String?, String?) {
    switch name {
    case "status": (type.kind, ["get", "patch", "update"], nil, nil)
    case "scale": ("Scale", ["get", "patch", "update"], "autoscaling", "v1")
    case "binding": ("Binding", ["create"], nil, nil)
    case "eviction": ("Eviction", ["create"], "policy", "v1")
    case "log": ("Pod", ["get"], nil, nil)
    case "exec", "portforward": ("PodExecOptions", ["create", "get"], nil, nil)
    case "finalize": (type.kind, ["update"], nil, nil)
    default: (type.kind, ["get"], nil, nil)
    }
  }

  /// The aggregated list for /api (core only) or /apis (every named group).
  static func aggregated(_ catalog: ResourceCatalog, core: Bool, version: String) -> JSON {
    var items: [JSON] = []
    for group in catalog.groups where group.name.isEmpty == core {
      var versions: [JSON] = []
      for groupVersion in group.versions {
        var resources: [JSON] = []
        for type in catalog.types(group: group.name, version: groupVersion) {
          var entry: JSON = [
            "resource": .string(type.resource), "singularResource": .string(type.singular),
            "responseKind": ["group": .string(type.group), "version": .string(type.version), "kind": .string(type.kind)],
            "scope": type.namespaced ? "Namespaced" : "Cluster",
            "verbs": .array(ResourceType.verbs.map { .string($0) }),
          ]
          if !type.shortNames.isEmpty { entry["shortNames"] = .array(type.shortNames.map { .string($0) }) }
          if !type.categories.isEmpty { entry["categories"] = .array(type.categories.map { .string($0) }) }
          if !type.subresources.isEmpty {
            entry["subresources"] = .array(type.subresources.map { sub in
              let (kind, verbs, subGroup, subVersion) = subresource(sub, of: type)
              return ["subresource": .string(sub),
                      "responseKind": ["group": .string(subGroup ?? type.group), "version": .string(subVersion ?? type.version),
                                       "kind": .string(kind)],
                      "verbs": .array(verbs.map { .string($0) })]
            })
          }
          resources.append(entry)
        }
        versions.append(["version": .string(groupVersion), "resources": .array(resources), "freshness": "Current"])
      }
      var metadata: JSON = [:]
      if !core { metadata["name"] = .string(group.name) }
      items.append(["metadata": metadata, "versions": .array(versions)])
    }
    return ["kind": "APIGroupDiscoveryList", "apiVersion": .string("apidiscovery.k8s.io/\(version)"),
            "metadata": [:], "items": .array(items)]
  }
}
