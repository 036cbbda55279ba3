// `skiff bench pods`: pod start latency on a real node — a `skiff server` child with the agent in
// it, pods created through the API at a steady rate, and the time from each create to the watch
// reporting it Running; then the server's RSS with them running, and a clean-up.
import ArgumentParser
import FoundationEssentials
import Glibc
import HTTP
import ObjectModel
import SystemKit

struct PodBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "pods",
    abstract: "Pod start latency (create → Running) p50/p99/max through the node agent, and its RSS idle and with the pods running.")

  @Option(help: "The runtime: process (the profile's), or oci (through RuntimeClass \"oci\"; needs --image-archive).")
  var runtime: String = "process"

  @Option(help: "Pods to create, each running `sleep 1000`.")
  var pods: Int = 100

  @Option(help: "Creates per second.")
  var rate: Double = 20

  @Option(help: "The agent's podWorkers (pods started at once); 1 starts them one after another.")
  var podWorkers: Int = 4

  @Option(help: "For oci: a `docker save` or OCI layout tarball with busybox's sleep, imported before the server starts.")
  var imageArchive: String?

  @Option(help: "For oci: the image (tag in the archive) the pods run.")
  var image: String = "skiff.test/busybox:docker"

  func validate() throws {
    guard ["process", "oci"].contains(runtime) else { throw ValidationError("--runtime is process or oci, not \(runtime)") }
    guard pods >= 1, rate > 0, podWorkers >= 1 else { throw ValidationError("--pods, --rate and --pod-workers must be positive") }
    guard runtime == "process" || imageArchive != nil else {
      throw ValidationError("--runtime oci needs --image-archive (e.g. the test image Tests/Support/TestImages.swift builds)")
    }
  }

  func run() throws {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-bench-pods-\(getpid())").path
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    let profile = scratch + "/profile.yaml"
    let cgroupParent = "skiff-bench-pods-\(getpid())"
    try """
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: pod-bench
      plugins:
        - name: scheduler
        - name: runtime
          config: {stateDir: "\(scratch)/runtime", cgroupParent: \(cgroupParent)}
      agent:
        nodeName: bench-node
        podWorkers: \(podWorkers)

      """.write(toFile: profile, atomically: true, encoding: .utf8)
    let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    let result = Result { () throws -> String in
      if let archive = imageArchive {
        try runToEnd([executable, "image", "import", archive, "--profile", profile, "--data-dir", scratch + "/import"])
      }
      let server = try ServerChild(executable: executable, profile: profile, dataDir: scratch + "/data")
      defer { server.stop() }
      do {
        return try PodBenchRun(options: self, server: server).measure()
      } catch {
        throw BenchError("\(error)" + (server.endedHow().map { "; the server \($0)" } ?? ""))
      }
    }
    try? FileManager.default.removeItem(atPath: scratch)
    // The pods' cgroups went with them; their parent, in each v1 hierarchy or the v2 root, goes now.
    for hierarchy in (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup")) ?? [] {
      rmdir("/sys/fs/cgroup/\(hierarchy)/\(cgroupParent)")
    }
    rmdir("/sys/fs/cgroup/\(cgroupParent)")
    switch result {
    case .success(let json): print(json)
    case .failure(let error): fail("bench pods: \(error)")
    }
  }

  /// Runs a command to its end; its output goes to ours.
  private func runToEnd(_ arguments: [String]) throws {
    let argv = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var child: pid_t = 0
    let status = posix_spawn(&child, arguments[0], nil, nil, argv, environ)
    guard status == 0 else { throw BenchError("cannot start \(arguments[0]): \(String(cString: strerror(status)))") }
    var exit: Int32 = 0
    waitpid(child, &exit, 0)
    guard exit == 0 else { throw BenchError("\(arguments.dropFirst().joined(separator: " ")) failed (wait status \(exit))") }
  }
}

private struct PodBenchRun {
  let options: PodBench
  let server: ServerChild

  func measure() throws -> String {
    let api = try BlockingHTTPConnection(port: server.port)
    say("skiff bench pods: \(options.pods) pods of `sleep 1000` at \(options.rate)/s, runtime \(options.runtime); "
        + "\(ProcessInfo.processInfo.activeProcessorCount) cores")
    // The node first, so that no pod waits for it to register.
    while try api.request("GET", "/api/v1/nodes/bench-node").status != 200 { usleep(50_000) }
    if options.runtime == "oci" {
      let body = #"{"apiVersion":"node.k8s.io/v1","kind":"RuntimeClass","metadata":{"name":"oci"},"handler":"oci"}"#
      let created = try api.request("POST", "/apis/node.k8s.io/v1/runtimeclasses", body: Array(body.utf8))
      guard created.status == 201 else { throw BenchError("creating RuntimeClass oci: \(created.status) \(created.text.prefix(300))") }
    }
    sleep(1)
    let idleRSS = server.memoryMegabytes("VmRSS")
    say(String(cFormat: "rss       %.1f MiB idle with the agent", idleRSS))

    let watch = try PodWatch(port: server.port)
    let pods = options.pods, rate = options.rate, port = server.port
    let spec = options.runtime == "oci"
      ? #""runtimeClassName":"oci","containers":[{"name":"main","image":"\#(options.image)","command":["sleep","1000"]}]"#
      : #""containers":[{"name":"main","image":"none","command":["sleep","1000"]}]"#
    // Read while creating, so that each Running is stamped as it arrives.
    let results = try onThreads(2) { role -> [String: UInt64] in
      if role == 0 { return try watch.wait(until: { $0.running.count == pods }).running }
      let connection = try BlockingHTTPConnection(port: port)
      var created: [String: UInt64] = [:]
      let start = monotonicNanoseconds()
      for index in 0..<pods {
        let due = start + UInt64(Double(index) / rate * 1e9)
        let now = monotonicNanoseconds()
        if due > now { usleep(UInt32((due - now) / 1000)) }
        let name = "pod-\(index)"
        let body = #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)"},"spec":{"terminationGracePeriodSeconds":1,\#(spec)}}"#
        created[name] = monotonicNanoseconds()
        let response = try connection.request("POST", "/api/v1/namespaces/default/pods", body: Array(body.utf8))
        guard response.status == 201 else { throw BenchError("creating \(name): \(response.status) \(response.text.prefix(300))") }
      }
      return created
    }
    let (running, created) = (results[0], results[1])
    let latencies = created.map { name, at in Double(running[name]! - at) / 1e6 }.sorted()
    let (p50, p99, max) = (percentile(latencies, 0.5), percentile(latencies, 0.99), latencies.last!)
    say(String(cFormat: "start     create → Running: p50 %.1f ms  p99 %.1f ms  max %.1f ms", p50, p99, max))
    sleep(1)
    let runningRSS = server.memoryMegabytes("VmRSS")
    say(String(cFormat: "rss       %.1f MiB with %d pods running", runningRSS, pods))

    let cleanupStart = monotonicNanoseconds()
    for index in 0..<pods {
      let response = try api.request("DELETE", "/api/v1/namespaces/default/pods/pod-\(index)")
      guard response.status == 200 || response.status == 202 else { throw BenchError("deleting pod-\(index): \(response.status)") }
    }
    _ = try watch.wait(until: { $0.deleted.count == pods })
    say(String(cFormat: "cleanup   all %d pods gone %.2f s after the first delete", pods,
               Double(monotonicNanoseconds() - cleanupStart) / 1e9))

    let figures: [(String, Double)] = [("p50_ms", p50), ("p99_ms", p99), ("max_ms", max), ("idle_rss_mb", idleRSS),
                                       ("running_rss_mb", runningRSS)]
    let fields = figures.map { name, value in "\"\(name)\":" + (value.isFinite ? String(cFormat: "%.2f", value) : "null") }
    return "{\"benchmark\":\"pods\",\"runtime\":\"\(options.runtime)\",\"pods\":\(pods),\"rate\":\(rate),\"pod_workers\":\(options.podWorkers),"
      + fields.joined(separator: ",") + "}"
  }

  private func say(_ line: String) { writeStandardOutput(line + "\n") }
}

/// A watch on every pod from before the first create: when each was first seen Running, and
/// which are gone.
private final class PodWatch: @unchecked Sendable {  // read by one thread at a time
  private let connection: BlockingHTTPConnection
  private var pending: [UInt8] = []
  private(set) var running: [String: UInt64] = [:]
  private(set) var deleted: Set<String> = []

  init(port: Int) throws {
    // Pods start within seconds; a minute of silence means something broke.
    connection = try BlockingHTTPConnection(port: port, receiveTimeoutSeconds: 60)
    let list = try connection.request("GET", "/api/v1/namespaces/default/pods")
    guard list.status == 200, let body = try? JSON.parse(list.body),
          let revision = body[path: ["metadata", "resourceVersion"]]?.stringValue else {
      throw BenchError("listing pods: \(list.status) \(list.text.prefix(300))")
    }
    try connection.send("GET", "/api/v1/namespaces/default/pods?watch=true&resourceVersion=\(revision)")
    let head = try connection.readHead()
    guard head.status == 200, head.chunked else { throw BenchError("the pod watch answered \(head.status)") }
  }

  /// Reads events until `done` holds.
  func wait(until done: (PodWatch) -> Bool) throws -> PodWatch {
    while !done(self) {
      let chunk = try connection.readChunk()
      let received = monotonicNanoseconds()
      guard !chunk.isEmpty else { throw BenchError("the pod watch ended (\(running.count) running, \(deleted.count) gone)") }
      pending += chunk
      while let end = pending.firstIndex(of: 10) {
        defer { pending.removeFirst(end + 1) }
        guard let event = try? JSON.parse(pending[..<end]), let object = event["object"] else { continue }
        let name = object[path: ["metadata", "name"]]?.stringValue ?? ""
        if event["type"]?.stringValue == "DELETED" {
          deleted.insert(name)
        } else if object[path: ["status", "phase"]]?.stringValue == "Running", running[name] == nil {
          running[name] = received
        }
      }
    }
    return self
  }
}
