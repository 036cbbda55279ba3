// `skiff agent`: the node agent as its own process, for a machine that joins a control plane
// running elsewhere. It runs the profile's runtime plugin and the pods bound to its node.
import ArgumentParser
import FoundationEssentials
import Glibc
import Kernel
import NodeAgent

struct Agent: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a node agent: register a Node with an API server and run the pods bound to it.")

  @OptionGroup var options: ProfileOption

  @Option(help: "The API server, http://HOST:PORT.")
  var server: String

  @Option(help: "The Node's name (default: the profile's agent.nodeName, else the host name).")
  var nodeName: String?

  @Option(help: "Where the agent serves the kubelet endpoints (logs), host:port (default: the profile's agent.listen, else 127.0.0.1:0).")
  var listen: String?

  @Option(help: "Sent as the Authorization header on every API request (the hook for authentication).")
  var authorization: String?

  func run() throws {
    let dataDir = URL(fileURLWithPath: options.dataDir ?? "skiff-agent-data").standardizedFileURL.path
    let loop = EventLoop()
    let (profile, kernel) = Booted.load(options, dataDir: dataDir, loop: loop)
    var settings: AgentSettings
    var address: APIAddress
    do {
      if let section = profile.agent {
        settings = try AgentSettings(section, dataDir: dataDir, nodeName: nodeName)
      } else {
        settings = AgentSettings(nodeName: nodeName, dataDir: dataDir)
      }
      if let listen { try settings.setListen(listen) }
      address = try APIAddress(server)
      address.authorization = authorization
    } catch {
      fail("\(error)")
    }
    var agent: NodeAgent?
    loop.execute {
      do throws(PluginLoadError) {
        try kernel.start()
      } catch {
        fail(error.description)
      }
      kernel.stopOnSignals { agent?.stop() }
      do {
        agent = try NodeAgent(settings: settings, kernel: kernel, server: address)
        try agent?.start()
      } catch {
        fail("cannot start the node agent: \(error)")
      }
      // Unbuffered, so that whoever started the agent sees it the moment it is ready.
      let ready = "skiff: agent ready: node \(settings.nodeName), kubelet endpoints on port \(agent!.port), API \(server)\n"
      _ = ready.utf8CString.withUnsafeBufferPointer { write(1, $0.baseAddress, $0.count - 1) }
    }
    loop.run()
  }
}
