// `skiff plugins`: load a profile and show what each plugin is and what it registered.
import ArgumentParser
import Kernel

struct Plugins: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Load a profile's plugins and list them: name, kind, version, ABI, file, services.")

  @OptionGroup var options: ProfileOption

  func run() throws {
    let report = try Booted.withKernel(options) { profile, kernel in
      var lines = ["profile \(profile.name) (\(profile.file)): \(kernel.plugins.count) plugins"]
      for plugin in kernel.plugins {
        lines.append("")
        lines.append("\(plugin.name)")
        lines.append("  kind:     \(plugin.kind)")
        lines.append("  version:  \(plugin.version)")
        lines.append("  abi:      \(plugin.abiVersion)")
        lines.append("  file:     \(plugin.file)")
        if let summary = plugin.summary { lines.append("  about:    \(summary)") }
        if !plugin.requires.isEmpty {
          lines.append("  requires: \(plugin.requires.joined(separator: ", "))")
        }
        let extensions = kernel.extensions.all.filter { $0.owner == plugin.name }
        if !extensions.isEmpty {
          lines.append("  provides: " + extensions.map { "\($0.kind)/\($0.name)" }.joined(separator: ", "))
        }
        let services = kernel.services.services.filter { $0.owner == plugin.name }
        if !services.isEmpty {
          lines.append("  services: " + services.map { "\($0.name) \($0.signatureString)" }.joined(separator: ", "))
        }
      }
      return lines.joined(separator: "\n")
    }
    print(report)
  }
}
