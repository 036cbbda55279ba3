// `skiff sim`: simulated cluster members for trying the control plane at scale; `skiff sim nodes`
// registers hollow nodes, in the spirit of KWOK, whose only costs are a Lease renewal each and a
// shared pod watch.
import ArgumentParser
import FoundationEssentials
import Glibc
import SystemKit

struct Sim: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Simulate cluster members against a running API server.",
    subcommands: [SimNodes.self])
}

struct SimNodes: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "nodes",
    abstract: "Register hollow nodes that renew their Leases and report their pods Running.",
    discussion: """
      Each node is a Node object and a Lease in kube-node-lease, nothing more: a pod bound to one \
      is reported Running with a fake address, and a pod being deleted is removed at once. Runs \
      until SIGINT or SIGTERM, or exits after registering with --once.
      """)

  @Option(help: "The API server, e.g. http://127.0.0.1:6443.")
  var server: String

  @Option(help: "How many nodes to register.")
  var count: Int

  @Option(help: "A Node manifest (YAML or JSON) whose labels, taints, capacity and allocatable every node gets.")
  var template: String?

  @Option(help: "Node names are the prefix followed by 0, 1, ...")
  var namePrefix = "sim-node-"

  @Option(help: "Seconds between a node's Lease renewals; the nodes' renewals are spread over it.")
  var heartbeatSeconds: Double = 40

  @Option(help: "Keep-alive connections shared by all the nodes' requests.")
  var connections = 8

  @Flag(help: "Register the nodes and exit, without heartbeats or pod status.")
  var once = false

  func validate() throws {
    guard (1...HollowNodes.maximumCount).contains(count) else {
      throw ValidationError("--count must be between 1 and \(HollowNodes.maximumCount), not \(count)")
    }
    guard heartbeatSeconds > 0 else { throw ValidationError("--heartbeat-seconds must be positive") }
    guard (1...256).contains(connections) else { throw ValidationError("--connections must be between 1 and 256") }
    let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-.")
    guard namePrefix.allSatisfy(allowed.contains), namePrefix.first?.isLetter ?? false || namePrefix.first?.isNumber ?? false else {
      throw ValidationError("--name-prefix '\(namePrefix)' must start a DNS name: lower-case letters, digits, '-' and '.'")
    }
  }

  func run() throws {
    // Blocked here, so that every thread started below inherits the mask and sigwait receives them.
    var stopSignals = sigset_t()
    sigemptyset(&stopSignals)
    sigaddset(&stopSignals, SIGINT)
    sigaddset(&stopSignals, SIGTERM)
    pthread_sigmask(SIG_BLOCK, &stopSignals, nil)

    let address: ServerAddress
    let nodes: HollowNodes
    do {
      address = try ServerAddress(server)
      // A node counts as unreachable after its Lease is this old; kubelets use 40 s or more.
      nodes = try HollowNodes(prefix: namePrefix, count: count, template: template,
                              leaseSeconds: max(40, Int((heartbeatSeconds * 4).rounded(.up))))
    } catch {
      fail("sim nodes: \(error)")
    }
    let workers = APIWorkers(server: address, threads: min(connections, count))
    let started = Date()
    let tally = nodes.register(on: workers)
    if !tally.failures.isEmpty {
      fail("sim nodes: \(tally.failures.count) of \(count) nodes failed to register; the first: \(tally.failures[0])")
    }
    let seconds = String(cFormat: "%.2f", Date().timeIntervalSince(started))
    say("skiff: sim: \(count) nodes registered on \(server) in \(seconds) s (\(tally.created) created, "
        + "\(tally.adopted) adopted), \(nodes.name(0))...\(nodes.name(count - 1))"
        + (once ? "" : "; Leases renewed every \(heartbeatSeconds) s, pods on them reported Running"))
    guard !once else { return }

    nodes.startHeartbeats(every: heartbeatSeconds, on: workers)
    HollowKubelet(nodes: nodes, workers: workers, server: address).start()
    var received: Int32 = 0
    sigwait(&stopSignals, &received)
    // The nodes stay registered, as a stopped kubelet's do; their Leases simply stop being renewed.
    say("skiff: sim: stopping on \(received == SIGINT ? "SIGINT" : "SIGTERM")")
  }

  /// A line on standard output, unbuffered, for whoever waits on it through a pipe.
  private func say(_ line: String) {
    writeStandardOutput((line + "\n"))
  }
}
