// The `skiff` command: the server, and the tools around it.
import ArgumentParser
import Kernel

@main
struct Skiff: ParsableCommand {
  static let version = "0.1.0"

  static let configuration = CommandConfiguration(
    commandName: "skiff",
    abstract: "A Kubernetes-compatible orchestrator for ML workloads, built as a microkernel.",
    version: "skiff \(version) (plugin ABI \(KernelVersion.abi))",
    subcommands: [Version.self, Plugins.self, Server.self, Agent.self, Explain.self, Call.self, Image.self, Bench.self, Sim.self]
  )
}

struct Version: ParsableCommand {
  static let configuration = CommandConfiguration(abstract: "Print Skiff's version and plugin ABI version.")

  func run() {
    print("skiff \(Skiff.version)")
    print("plugin ABI \(KernelVersion.abi)")
  }
}
