// `skiff bench scheduler`: scheduler_perf's question end to end on a real `skiff server` child —
// N hollow nodes, M pods created through the API, and pods/s until a watch has seen every binding.
import ArgumentParser
import FoundationEssentials
import Glibc
import HTTP
import SystemKit

struct SchedulerBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "scheduler",
    abstract: "Pods/s from the first create to the last binding seen on a watch, cycle time and RSS of skiff server.")

  /// scheduler_perf's workloads this bench does not build yet, with what is missing; named so that
  /// asking for one says why instead of measuring something else under its name.
  static let unsupportedWorkloads = ["affinity": "the bench has no pod-affinity workload yet",
                                     "preemption": "the bench has no priority workload yet"]
  static let workloads = ["basic", "anti-affinity", "spread", "gang"]

  @Option(help: "Hollow nodes to register.")
  var nodes: Int = 5_000

  @Option(help: "Pods to create and wait for until bound.")
  var pods: Int = 10_000

  @Option(help: "Pod shapes: basic (requests only), anti-affinity (every pod repels the others from its node, as scheduler_perf's SchedulingPodAntiAffinity), spread (maxSkew 1 across --zones zones, DoNotSchedule), gang (PodGroups of --gang-size pods, all or none).")
  var workload: String = "basic"

  @Option(help: "Zones the nodes are spread over (workload spread).")
  var zones: Int = 10

  @Option(help: "Pods per PodGroup, its minMember (workload gang).")
  var gangSize: Int = 10

  @Option(help: "Concurrent keep-alive clients creating the pods.")
  var clients: Int = 16

  func validate() throws {
    guard (1...HollowNodes.maximumCount).contains(nodes) else {
      throw ValidationError("--nodes must be between 1 and \(HollowNodes.maximumCount), not \(nodes)")
    }
    // The hollow nodes allow 110 pods each, as kubelets do by default.
    guard pods >= 1, pods <= nodes * 110 else {
      throw ValidationError("--pods must be between 1 and \(nodes * 110) (110 per node), not \(pods)")
    }
    guard clients >= 1 else { throw ValidationError("--clients must be positive") }
    if let missing = Self.unsupportedWorkloads[workload] {
      throw ValidationError("workload \(workload) is not supported yet: \(missing)")
    }
    guard Self.workloads.contains(workload) else {
      throw ValidationError("unknown workload \(workload); supported: \(Self.workloads.joined(separator: ", "))")
    }
    guard zones >= 1 else { throw ValidationError("--zones must be positive") }
    // Only whole gangs can be bound: a partial one waits at Permit and then gives up.
    guard workload != "gang" || (gangSize >= 1 && pods % gangSize == 0) else {
      throw ValidationError("--workload gang binds whole PodGroups: --pods (\(pods)) must be a multiple of --gang-size (\(gangSize))")
    }
    // One pod per node at most: more could never all be bound.
    guard workload != "anti-affinity" || pods <= nodes else {
      throw ValidationError("--workload anti-affinity places one pod per node: --pods must be at most --nodes (\(nodes))")
    }
  }

  func run() throws {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-bench-scheduler-\(getpid())").path
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    let profile = scratch + "/profile.yaml"
    try "apiVersion: skiff.dev/v1alpha1\nkind: Profile\nname: scheduler-bench\nplugins:\n  - name: scheduler\n"
      .write(toFile: profile, atomically: true, encoding: .utf8)
    let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    let result = Result { try measure(executable: executable, profile: profile, dataDir: scratch + "/data") }
    try? FileManager.default.removeItem(atPath: scratch)
    switch result {
    case .success(let json): print(json)
    case .failure(let error): fail("bench scheduler: \(error)")
    }
  }
}

extension SchedulerBench {
  /// One run on a server of its own, stopped before this returns.
  private func measure(executable: String, profile: String, dataDir: String) throws -> String {
    let server = try ServerChild(executable: executable, profile: profile, dataDir: dataDir)
    defer { server.stop() }
    do {
      return try SchedulerBenchRun(options: self, server: server).measure()
    } catch {
      // A connection the server closed mid-phase usually means it died: say how.
      throw BenchError("\(error)" + (server.endedHow().map { "; the server \($0)" } ?? ""))
    }
  }
}

/// One run against one server: register, create while watching, read the server's figures.
private struct SchedulerBenchRun {
  let options: SchedulerBench
  let server: ServerChild

  func measure() throws -> String {
    say("skiff bench scheduler: \(options.nodes) nodes, \(options.pods) pods, workload \(options.workload); "
        + "\(ProcessInfo.processInfo.activeProcessorCount) cores shared by the server and its clients")

    let registered = try registerNodes()
    say(String(cFormat: "nodes     %d registered in %.2f s", options.nodes, registered))

    // The watch starts before the first create, so every binding is seen exactly as it is stored.
    if options.workload == "gang" { try createPodGroups() }
    let watch = try BindingWatch(port: server.port)
    let cpuBefore = server.cpuSeconds
    // Read while creating: a watch left unread past the server's limit is cut off as a slow client.
    let (clients, pods, port, shape) = (options.clients, options.pods, server.port, Self.podShape(options))
    let times = try onThreads(2) { role in
      role == 0 ? (try watch.waitForBindings(pods), 0) : try Self.createPods(pods, clients: clients, port: port, shape: shape)
    }
    let (lastBinding, (createStart, createEnd)) = (times[0].0, times[1])
    let cpuSeconds = server.cpuSeconds - cpuBefore
    let createSeconds = Double(createEnd - createStart) / 1e9
    let scheduleSeconds = Double(lastBinding - createStart) / 1e9
    let podsPerSecond = Double(options.pods) / scheduleSeconds
    say(String(cFormat: "create    %d pods by %d clients in %.2f s (%.0f/s)", options.pods, options.clients,
               createSeconds, Double(options.pods) / createSeconds))
    say(String(cFormat: "bound     all %d seen on the watch %.2f s after the first create: %.0f pods/s "
               + "(server CPU %.2f s, %.0f µs/pod)", options.pods, scheduleSeconds, podsPerSecond,
               cpuSeconds, cpuSeconds / Double(options.pods) * 1e6))

    let metrics = try BlockingHTTPConnection(port: server.port).request("GET", "/metrics")
    guard metrics.status == 200 else { throw BenchError("/metrics answered \(metrics.status)") }
    let text = metrics.text
    let p50 = Self.sample("skiff_scheduler_cycle_microseconds{quantile=\"0.5\"}", in: text)
    let p99 = Self.sample("skiff_scheduler_cycle_microseconds{quantile=\"0.99\"}", in: text)
    let cycles = Self.sample("skiff_scheduler_cycles_total", in: text)
    let rss = server.memoryMegabytes("VmRSS"), peak = server.memoryMegabytes("VmHWM")
    say(String(cFormat: "cycles    %.0f: p50 %.1f µs  p99 %.1f µs", cycles, p50, p99))
    say(String(cFormat: "rss       %.1f MiB at the end (peak %.1f MiB)", rss, peak))

    let figures: [(String, Double)] = [
      ("pods_per_second", podsPerSecond), ("create_seconds", createSeconds), ("schedule_seconds", scheduleSeconds),
      ("register_seconds", registered), ("cycle_p50_us", p50), ("cycle_p99_us", p99), ("rss_mb", rss),
      ("peak_rss_mb", peak), ("server_cpu_us_per_pod", cpuSeconds / Double(options.pods) * 1e6)]
    let fields = figures.map { name, value in "\"\(name)\":" + (value.isFinite ? String(cFormat: "%.2f", value) : "null") }
    return "{\"benchmark\":\"scheduler\",\"nodes\":\(options.nodes),\"pods\":\(options.pods),"
      + "\"workload\":\"\(options.workload)\",\"clients\":\(options.clients)," + fields.joined(separator: ",") + "}"
  }

  /// Registers the hollow nodes as `skiff sim nodes --once` does; seconds taken.
  private func registerNodes() throws -> Double {
    let nodes = try HollowNodes(prefix: "node-", count: options.nodes, template: nil, leaseSeconds: 3600,
                                zones: options.workload == "spread" ? options.zones : 0)
    let workers = APIWorkers(server: try ServerAddress("http://127.0.0.1:\(server.port)"),
                             threads: min(options.clients, options.nodes))
    let start = monotonicNanoseconds()
    let tally = nodes.register(on: workers)
    guard tally.failures.isEmpty else {
      throw BenchError("\(tally.failures.count) of \(options.nodes) nodes failed to register; the first: \(tally.failures[0])")
    }
    return Double(monotonicNanoseconds() - start) / 1e9
  }

  /// The PodGroup kind (scheduler-plugins' CRD) and one group of --gang-size per gang, made before
  /// the pods so that each member's minMember is known when it is seen.
  private func createPodGroups() throws {
    let connection = try BlockingHTTPConnection(port: server.port)
    let crd = #"{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"podgroups.scheduling.x-k8s.io"},"#
      + #""spec":{"group":"scheduling.x-k8s.io","scope":"Namespaced","names":{"plural":"podgroups","singular":"podgroup","kind":"PodGroup"},"#
      + #""versions":[{"name":"v1alpha1","served":true,"storage":true,"#
      + #""schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}"#
    let created = try connection.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body: Array(crd.utf8))
    guard created.status == 201 else { throw BenchError("creating the PodGroup CRD: \(created.status) \(created.text.prefix(300))") }
    for gang in 0..<(options.pods / options.gangSize) {
      let body = #"{"apiVersion":"scheduling.x-k8s.io/v1alpha1","kind":"PodGroup","metadata":{"name":"gang-\#(gang)"},"#
        + #""spec":{"minMember":\#(options.gangSize)}}"#
      let response = try connection.request("POST", "/apis/scheduling.x-k8s.io/v1alpha1/namespaces/default/podgroups",
                                            body: Array(body.utf8))
      guard response.status == 201 else { throw BenchError("creating PodGroup gang-\(gang): \(response.status) \(response.text.prefix(300))") }
    }
  }

  /// What each workload adds to a pod: extra labels (after `"app":"bench"`) and spec fields.
  struct PodShape: Sendable {
    var spec = ""
    var gangSize = 0  // nonzero: pod i joins PodGroup gang-<i / gangSize>
  }

  static func podShape(_ options: SchedulerBench) -> PodShape {
    switch options.workload {
    case "anti-affinity":
      // Every pod is labelled like the others and refuses a node holding one of them.
      PodShape(spec: #""affinity":{"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"labelSelector":"#
        + #"{"matchLabels":{"app":"bench"}},"topologyKey":"kubernetes.io/hostname"}]}},"#)
    case "spread":
      // scheduler_perf's TopologySpreading: no zone may hold more than one pod over the emptiest.
      PodShape(spec: #""topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"topology.kubernetes.io/zone","#
        + #""whenUnsatisfiable":"DoNotSchedule","labelSelector":{"matchLabels":{"app":"bench"}}}],"#)
    case "gang": PodShape(gangSize: options.gangSize)
    default: PodShape()
    }
  }

  /// Creates the pods from all clients at once; when the first was sent and the last answered.
  private static func createPods(_ pods: Int, clients: Int, port: Int, shape: PodShape) throws -> (UInt64, UInt64) {
    let connections = try (0..<clients).map { _ in try BlockingHTTPConnection(port: port) }
    let start = monotonicNanoseconds()
    _ = try onThreads(clients) { index in
      for pod in stride(from: index, to: pods, by: clients) {
        let name = "pod-\(pod)"
        let group = shape.gangSize > 0 ? #","scheduling.x-k8s.io/pod-group":"gang-\#(pod / shape.gangSize)""# : ""
        let body = #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)","labels":{"app":"bench"\#(group)}},"#
          + #""spec":{"# + shape.spec + #""containers":[{"name":"main","image":"registry.k8s.io/pause:3.10","#
          + #""resources":{"requests":{"cpu":"100m","memory":"128Mi"}}}]}}"#
        let response = try connections[index].request("POST", "/api/v1/namespaces/default/pods", body: Array(body.utf8))
        guard response.status == 201 else { throw BenchError("creating pod \(name): \(response.status) \(response.text.prefix(300))") }
      }
    }
    return (start, monotonicNanoseconds())
  }

  /// The value of the first sample line starting with `name ` in Prometheus text.
  private static func sample(_ name: String, in text: String) -> Double {
    guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + " ") }) else { return .nan }
    return Double(line.dropFirst(name.count + 1).trimmingWhitespace()) ?? .nan
  }

  /// Phases take seconds each: show each line as it comes.
  private func say(_ line: String) {
    writeStandardOutput((line + "\n"))
  }
}

/// A watch on pods that have a node (`spec.nodeName!=`) from the revision before the first create:
/// each pod entering it has been created through the API, scheduled, bound and stored.
private final class BindingWatch: @unchecked Sendable {  // read by one thread at a time
  private let connection: BlockingHTTPConnection

  init(port: Int) throws {
    // Bindings follow the creates within milliseconds; a minute of silence means something broke.
    connection = try BlockingHTTPConnection(port: port, receiveTimeoutSeconds: 60)
    let list = try connection.request("GET", "/api/v1/pods?limit=1")
    guard list.status == 200, let revision = Self.stringField("resourceVersion", in: list.body, from: 0) else {
      throw BenchError("listing pods: \(list.status) \(list.text.prefix(300))")
    }
    try connection.send("GET", "/api/v1/pods?watch=true&fieldSelector=spec.nodeName!=&resourceVersion=\(revision)")
    let head = try connection.readHead()
    guard head.status == 200, head.chunked else { throw BenchError("the binding watch answered \(head.status)") }
  }

  /// Reads events until `count` distinct pods have been seen bound; when the last one arrived.
  func waitForBindings(_ count: Int) throws -> UInt64 {
    var bound = Set<String>(minimumCapacity: count)
    var lastNew: UInt64 = 0
    var pending: [UInt8] = []
    while bound.count < count {
      let chunk = try connection.readChunk()
      let received = monotonicNanoseconds()
      guard !chunk.isEmpty else { throw BenchError("the binding watch ended after \(bound.count) of \(count) pods") }
      pending += chunk
      // Events are one JSON object a line; the object's metadata, and so its name, comes first.
      var lineStart = 0
      while let newline = pending[lineStart...].firstIndex(of: 10) {
        if let name = Self.stringField("name", in: pending, from: lineStart), bound.insert(name).inserted {
          lastNew = received
        }
        lineStart = newline + 1
      }
      pending.removeFirst(lineStart)
    }
    return lastNew
  }

  /// The first `"name":"value"` string field at or after `start` in a JSON body.
  private static func stringField(_ name: String, in body: [UInt8], from start: Int) -> String? {
    let key = Array("\"\(name)\":\"".utf8)
    guard let found = BlockingHTTPConnection.find(key, in: body, from: start) else { return nil }
    let valueStart = found + key.count
    guard let end = body[valueStart...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
    return String(decoding: body[valueStart..<end], as: UTF8.self)
  }
}
