// The order plugins start in: every plugin after the ones it requires, otherwise profile order.

enum StartOrder {
  /// Kahn's algorithm, always taking the earliest plugin in profile order that is ready, so the
  /// profile's order holds wherever `requires` does not override it.
  static func resolve(_ plugins: [PluginLibrary]) throws(PluginLoadError) -> [PluginLibrary] {
    let index = Dictionary(uniqueKeysWithValues: plugins.enumerated().map { ($1.name, $0) })
    for plugin in plugins {
      for name in plugin.requires where index[name] == nil {
        throw PluginLoadError(plugin: plugin.name, file: plugin.file, cause: .missingDependency,
                              "requires plugin '\(name)', which the profile does not load")
      }
    }
    var remaining = plugins.map { Set($0.requires) }
    var done = Array(repeating: false, count: plugins.count)
    var order: [PluginLibrary] = []
    while order.count < plugins.count {
      guard let next = plugins.indices.first(where: { !done[$0] && remaining[$0].isEmpty }) else {
        let cycle = findCycle(plugins, done: done, index: index)
        throw PluginLoadError(plugin: cycle[0], file: nil, cause: .dependencyCycle,
                              "plugins require each other in a cycle: "
                                + cycle.joined(separator: " → "))
      }
      done[next] = true
      order.append(plugins[next])
      for i in plugins.indices { remaining[i].remove(plugins[next].name) }
    }
    return order
  }

  /// Walks `requires` edges from an unfinished plugin until a name repeats; every unfinished
  /// plugin has an unfinished requirement, so the walk must close a loop.
  private static func findCycle(_ plugins: [PluginLibrary], done: [Bool],
                                index: [String: Int]) -> [String] {
    var path: [String] = []
    var current = plugins.indices.first { !done[$0] }!
    while !path.contains(plugins[current].name) {
      path.append(plugins[current].name)
      let next = plugins[current].requires.first { !done[index[$0]!] }!
      current = index[next]!
    }
    let start = path.firstIndex(of: plugins[current].name)!
    return Array(path[start...]) + [plugins[current].name]
  }
}
