// Custom resources are served as soon as their CustomResourceDefinition is stored, at each
// served version, and stop being served when it is deleted.
import ObjectModel
import Store

extension APIServer {
  /// Serves every stored CRD's resources; at start-up.
  func loadCustomResources() {
    for kv in store.list(prefix: "/registry/apiextensions.k8s.io/customresourcedefinitions/", limit: 0).items {
      serveCustomResource(StoredObject.decode(kv))
    }
  }

  func serveCustomResource(_ crd: JSON) {
    guard let spec = crd["spec"], let group = spec["group"]?.stringValue,
          let plural = spec[path: ["names", "plural"]]?.stringValue,
          let kind = spec[path: ["names", "kind"]]?.stringValue else { return }
    let singular = spec[path: ["names", "singular"]]?.stringValue ?? kind.lowercased()
    let shortNames = (spec[path: ["names", "shortNames"]]?.arrayValue ?? []).compactMap(\.stringValue)
    let categories = (spec[path: ["names", "categories"]]?.arrayValue ?? []).compactMap(\.stringValue)
    let namespaced = spec["scope"]?.stringValue != "Cluster"
    for version in spec["versions"]?.arrayValue ?? [] where version["served"]?.boolValue != false {
      guard let name = version["name"]?.stringValue else { continue }
      customSchemas["\(group)/\(name)/\(kind)"] = FieldSchema(openAPIV3: version[path: ["schema", "openAPIV3Schema"]])
      var subresources: [String] = []
      if version[path: ["subresources", "status"]] != nil { subresources.append("status") }
      if version[path: ["subresources", "scale"]] != nil { subresources.append("scale") }
      catalog.add(ResourceType(group: group, version: name, resource: plural, singular: singular, kind: kind,
                               namespaced: namespaced, shortNames: shortNames, categories: categories,
                               subresources: subresources))
    }
  }

  func stopServingCustomResource(_ crd: JSON) {
    guard let group = crd[path: ["spec", "group"]]?.stringValue,
          let plural = crd[path: ["spec", "names", "plural"]]?.stringValue else { return }
    catalog.remove(group: group, resource: plural)
  }
}
