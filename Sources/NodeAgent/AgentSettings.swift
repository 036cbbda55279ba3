// How one node agent runs: its node's name, where it serves the kubelet's endpoints, which runtime
// it drives, and the restart back-off; from the profile's `agent:` section or `skiff agent` flags.
import Kernel

public struct AgentSettings: Sendable {
  public var nodeName: String
  public var listenHost = "127.0.0.1"
  /// 0: any free port (the Node's kubeletEndpoint says which).
  public var listenPort = 0
  public var runtime = "process"
  /// Kubernetes' back-off: 10 s doubling to 300 s; tests shorten it.
  public var restartBackoffSeconds = 10.0
  public var maxRestartBackoffSeconds = 300.0
  /// Pods started at once: enough that a slow `runc create` holds back no other pod, few enough
  /// that a burst of pods does not fork a hundred runtimes at once on a small node.
  public var podWorkers = 4
  /// Where the agent keeps its own files (statvfs of it is the node's ephemeral-storage).
  public var dataDir: String

  public init(nodeName: String? = nil, dataDir: String) {
    self.nodeName = nodeName ?? NodeFacts.hostname().lowercased()
    self.dataDir = dataDir
  }

  /// Settings from a profile's `agent:` section; `nodeName` (a flag) wins over the profile.
  public init(_ section: AgentSection, dataDir: String, nodeName: String? = nil) throws(AgentSettingsError) {
    self.init(nodeName: nodeName ?? section.nodeName, dataDir: dataDir)
    if let listen = section.listen { try setListen(listen) }
    if let runtime = section.runtime { self.runtime = runtime }
    if let base = section.restartBackoffSeconds { restartBackoffSeconds = base }
    if let ceiling = section.maxRestartBackoffSeconds { maxRestartBackoffSeconds = ceiling }
    if let workers = section.podWorkers { podWorkers = workers }
  }

  /// `HOST:PORT`, as `--listen` and `agent.listen` write it.
  public mutating func setListen(_ listen: String) throws(AgentSettingsError) {
    guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
          (0...65535).contains(port) else {
      throw AgentSettingsError(description: "agent listen address must be host:port, not \(listen)")
    }
    listenHost = String(listen[..<colon]).filter { $0 != "[" && $0 != "]" }
    listenPort = port
  }
}

public struct AgentSettingsError: Error, CustomStringConvertible {
  public let description: String
}
