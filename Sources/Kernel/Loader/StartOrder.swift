// The order plugins start in: the profile's order, except that a plugin's requirements start
// just before it (depth first), so `requires` moves as little as possible.

enum StartOrder {
  static func resolve(_ plugins: [PluginLibrary]) throws(PluginLoadError) -> [PluginLibrary] {
    let byName = Dictionary(uniqueKeysWithValues: plugins.map { ($0.name, $0) })
    for plugin in plugins {
      for name in plugin.requires where byName[name] == nil {
        throw PluginLoadError(plugin: plugin.name, file: plugin.file, cause: .missingDependency,
                              "requires plugin '\(name)', which the profile does not load")
      }
    }
    var order: [PluginLibrary] = []
    var started: Set<String> = []
    var path: [String] = []  // the requirement chain being walked, to name a cycle

    func visit(_ plugin: PluginLibrary) throws(PluginLoadError) {
      guard !started.contains(plugin.name) else { return }
      if let loopStart = path.firstIndex(of: plugin.name) {
        let cycle = path[loopStart...] + [plugin.name]
        throw PluginLoadError(plugin: plugin.name, file: plugin.file, cause: .dependencyCycle,
                              "plugins require each other in a cycle: " + cycle.joined(separator: " → "))
      }
      path.append(plugin.name)
      for name in plugin.requires { try visit(byName[name]!) }
      path.removeLast()
      started.insert(plugin.name)
      order.append(plugin)
    }
    for plugin in plugins { try visit(plugin) }
    return order
  }
}
