// `skiff bench api`: a real `skiff server` child measured from keep-alive HTTP clients on threads:
// durable creates/s, write and watch latency, listing 10,000 pods, start-to-ready and memory.
import ArgumentParser
import FoundationEssentials
import Glibc
import HTTP
import ObjectModel
import SystemKit

struct APIBench: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "api",
    abstract: "Creates/s, write and watch latency, list time, start-to-ready and RSS of skiff server.")

  @Option(help: "Seconds each timed phase runs (creates, paced writes, watch).")
  var seconds: Double = 3

  @Option(help: "Objects per create phase instead of a time limit.")
  var objects: Int?

  @Option(help: "Concurrent clients for the parallel create phase and the pod creation.")
  var clients: Int = 16

  @Option(help: "Offered writes per second for the latency phase.")
  var rate: Double = 1_000

  @Option(help: "Clients sharing the offered rate (each paced, open loop).")
  var pacedClients: Int = 8

  @Option(help: "Pods to create and then list.")
  var pods: Int = 10_000

  @Option(help: "Server starts timed, on a fresh data directory and on the filled one.")
  var starts: Int = 5

  @Option(help: "Seconds the server sits idle before its RSS is read.")
  var idleSeconds: Double = 2

  func run() throws {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-bench-api-\(getpid())").path
    try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
    let profile = scratch + "/profile.yaml"
    try "apiVersion: skiff.dev/v1alpha1\nkind: Profile\nname: api\nplugins:\n  - name: scheduler\n"
      .write(toFile: profile, atomically: true, encoding: .utf8)
    let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    var bench = APIBenchRun(options: self, executable: executable, profile: profile, scratch: scratch)
    // Servers still running when a phase fails are stopped as the run unwinds, before this.
    let result = Result { try bench.measure() }
    try? FileManager.default.removeItem(atPath: scratch)
    switch result {
    case .success(let json): print(json)
    case .failure(let error): fail("bench api: \(error)")
    }
  }
}

/// One run of the benchmark: phases in order against servers it starts and stops.
private struct APIBenchRun {
  let options: APIBench
  let executable: String
  let profile: String
  let scratch: String
  private var figures: [(String, Double)] = []

  init(options: APIBench, executable: String, profile: String, scratch: String) {
    self.options = options
    self.executable = executable
    self.profile = profile
    self.scratch = scratch
  }

  /// Prints a line per phase as it ends; returns the JSON line of all figures.
  mutating func measure() throws -> String {
    say("skiff bench api: \(executable), \(ProcessInfo.processInfo.activeProcessorCount) cores, "
        + "clients and server on the same machine")

    var freshStarts: [Double] = []
    for index in 0..<options.starts {
      let server = try start(dataDir: "\(scratch)/fresh-\(index)")
      freshStarts.append(milliseconds(server.readyNanoseconds))
      server.stop()
    }

    let dataDir = scratch + "/data"
    let server = try start(dataDir: dataDir)
    let memory: LoadMemory
    do {
      memory = try measureLoad(on: server)
    } catch {
      // A connection the server closed mid-phase usually means it died: say how.
      throw BenchError("\(error)" + (server.endedHow().map { "; the server \($0)" } ?? ""))
    }
    server.stop()

    var existingStarts: [Double] = []
    var firstPages: [Double] = []
    var restartedRSS = Double.nan
    for index in 0..<options.starts {
      let restarted = try start(dataDir: dataDir)
      existingStarts.append(milliseconds(restarted.readyNanoseconds))
      firstPages.append(try firstPageAfterReady(restarted))
      if index == options.starts - 1 {
        idle()
        restartedRSS = restarted.memoryMegabytes("VmRSS")
      }
      restarted.stop()
    }
    freshStarts.sort()
    existingStarts.sort()
    firstPages.sort()
    say(String(cFormat: "ready     spawn → ready line: %.1f ms fresh (min %.1f, max %.1f), %.1f ms on the filled data directory (min %.1f, max %.1f); medians of %d",
               percentile(freshStarts, 0.5), freshStarts.first ?? .nan, freshStarts.last ?? .nan,
               percentile(existingStarts, 0.5), existingStarts.first ?? .nan, existingStarts.last ?? .nan,
               options.starts))
    figures += [("ready_ms", percentile(freshStarts, 0.5)), ("ready_existing_ms", percentile(existingStarts, 0.5))]
    // Ready must mean served: work the loop still does after the ready line delays the first request.
    say(String(cFormat: "          restarted on the filled data directory, the first page of pods is answered %.1f ms after the ready line (median; min %.1f, max %.1f)",
               percentile(firstPages, 0.5), firstPages.first ?? .nan, firstPages.last ?? .nan))
    figures.append(("first_page_after_ready_ms", percentile(firstPages, 0.5)))

    say(String(cFormat: "rss       idle %.1f MiB; after the load %.1f MiB (peak %.1f); idle with the pods %.1f MiB; "
               + "restarted on the data and idle %.1f MiB", memory.idle, memory.loaded, memory.peak,
               memory.idleLoaded, restartedRSS))
    figures += [("idle_rss_mb", memory.idle), ("loaded_rss_mb", memory.loaded), ("peak_rss_mb", memory.peak),
                ("idle_rss_10k_pods_mb", memory.idleLoaded), ("restarted_idle_rss_mb", restartedRSS)]

    let fields = figures.map { name, value in "\"\(name)\":" + (value.isFinite ? String(cFormat: "%.2f", value) : "null") }
    return "{\"benchmark\":\"api\",\"pods\":\(options.pods)," + fields.joined(separator: ",") + "}"
  }

  /// The server's resident MiB: idle before the load, right after it (and its peak), idle after.
  private struct LoadMemory {
    var idle, loaded, peak, idleLoaded: Double
  }

  /// The load phases against one server, from idle to the pods listed.
  private mutating func measureLoad(on server: ServerChild) throws -> LoadMemory {
    idle()
    let idleRSS = server.memoryMegabytes("VmRSS")

    for clients in [1, options.clients] {
      let cpuBefore = server.cpuSeconds
      let (count, nanoseconds) = try createConfigMaps(server, clients: clients, prefix: "c\(clients)")
      let perSecond = Double(count) / (Double(nanoseconds) / 1e9)
      let cpuPerCreate = (server.cpuSeconds - cpuBefore) / Double(count) * 1e6
      say(String(cFormat: "creates   %2d client\(clients == 1 ? " " : "s")  %8.0f ConfigMaps/s  (%d in %.2f s; server CPU %.0f µs/create)",
                 clients, perSecond, count, Double(nanoseconds) / 1e9, cpuPerCreate))
      figures.append(("creates_per_second_\(clients)", perSecond))
      figures.append(("server_cpu_us_per_create_\(clients)", cpuPerCreate))
    }

    let (writes, achieved) = try pacedWrites(server)
    say(String(cFormat: "writes    %.0f/s offered from %d clients (open loop, %.0f/s achieved): p50 %.2f ms  p99 %.2f ms  max %.2f ms",
               options.rate, options.pacedClients, achieved, percentile(writes, 0.5), percentile(writes, 0.99),
               writes.last ?? .nan))
    figures += [("write_rate_offered", options.rate), ("write_rate_achieved", achieved),
                ("write_p50_ms", percentile(writes, 0.5)), ("write_p99_ms", percentile(writes, 0.99))]

    let watch = try watchDelivery(server)
    say(String(cFormat: "watch     create sent → ADDED received, %d events: p50 %.2f ms  p99 %.2f ms  max %.2f ms",
               watch.count, percentile(watch, 0.5), percentile(watch, 0.99), watch.last ?? .nan))
    figures += [("watch_p50_ms", percentile(watch, 0.5)), ("watch_p99_ms", percentile(watch, 0.99))]

    let podNanoseconds = try createPods(server)
    say(String(cFormat: "pods      %d created by %d clients in %.2f s (%.0f/s)", options.pods, options.clients,
               Double(podNanoseconds) / 1e9, Double(options.pods) / (Double(podNanoseconds) / 1e9)))
    figures.append(("pods_created_per_second", Double(options.pods) / (Double(podNanoseconds) / 1e9)))

    let (whole, bytes) = try listPods(server)
    let paged = try listPodsPaged(server)
    say(String(cFormat: "list      %d pods: %.1f ms whole (%.1f MB of JSON), %.1f ms in pages of 500 (%d pages); medians of 3",
               options.pods, whole, Double(bytes) / 1e6, paged.milliseconds, paged.pages))
    figures += [("list_10k_pods_ms", whole), ("list_10k_pods_paged_ms", paged.milliseconds)]

    let loadedRSS = server.memoryMegabytes("VmRSS")
    let peakRSS = server.memoryMegabytes("VmHWM")
    idle()
    return LoadMemory(idle: idleRSS, loaded: loadedRSS, peak: peakRSS, idleLoaded: server.memoryMegabytes("VmRSS"))
  }

  /// Phases take seconds each: show each figure as it comes.
  private func say(_ line: String) {
    writeStandardOutput((line + "\n"))
  }

  private func start(dataDir: String) throws -> ServerChild {
    try ServerChild(executable: executable, profile: profile, dataDir: dataDir)
  }

  private func idle() { usleep(UInt32(options.idleSeconds * 1e6)) }

  // MARK: Creates

  /// Creates ConfigMaps from `clients` connections at once, each sending its next create when the
  /// last is answered (so when it is durable), for the phase's time or object count.
  private func createConfigMaps(_ server: ServerChild, clients: Int, prefix: String) throws -> (count: Int, nanoseconds: UInt64) {
    let connections = try (0..<clients).map { _ in try BlockingHTTPConnection(port: server.port) }
    let share = options.objects.map { ($0 + clients - 1) / clients }
    let start = monotonicNanoseconds()
    let deadline = start + UInt64(options.seconds * 1e9)
    let counts = try onThreads(clients) { index in
      var count = 0
      while share.map({ count < $0 }) ?? (monotonicNanoseconds() < deadline) {
        try Self.create(connections[index], Self.configMap("\(prefix)-\(index)-\(count)"))
        count += 1
      }
      return count
    }
    return (counts.reduce(0, +), monotonicNanoseconds() - start)
  }

  /// Creates at a fixed offered rate, open loop: request k is due at start + k/rate on client
  /// k mod n, and its latency counts from when it was due, so a stall shows in every request it
  /// delays. Sorted milliseconds, and the rate achieved.
  private func pacedWrites(_ server: ServerChild) throws -> ([Double], Double) {
    let clients = options.pacedClients
    let connections = try (0..<clients).map { _ in try BlockingHTTPConnection(port: server.port) }
    let total = max(clients, Int(options.rate * options.seconds))
    let interval = 1e9 / options.rate
    let start = monotonicNanoseconds() + 20_000_000  // the threads are up by then
    let perClient = try onThreads(clients) { index in
      var latencies: [Double] = []
      for request in stride(from: index, to: total, by: clients) {
        let due = start + UInt64(Double(request) * interval)
        Self.sleep(until: due)
        try Self.create(connections[index], Self.configMap("paced-\(request)"))
        latencies.append(milliseconds(monotonicNanoseconds() - due))
      }
      return latencies
    }
    let elapsed = Double(monotonicNanoseconds() - start) / 1e9
    return (perClient.flatMap { $0 }.sorted(), Double(total) / elapsed)
  }

  // MARK: Watch

  /// One client creates ConfigMaps one after another while a watch from the current revision
  /// reads the ADDED events; each latency runs from sending a create to receiving its event.
  private func watchDelivery(_ server: ServerChild) throws -> [Double] {
    let path = "/api/v1/namespaces/default/configmaps"
    let reader = try BlockingHTTPConnection(port: server.port)
    let list = try reader.request("GET", path + "?limit=1")
    guard list.status == 200, let revision = Self.stringField("resourceVersion", in: list.body) else {
      throw BenchError("listing ConfigMaps: \(list.status) \(list.text.prefix(300))")
    }
    try reader.send("GET", path + "?watch=true&resourceVersion=\(revision)")
    let head = try reader.readHead()
    guard head.status == 200, head.chunked else { throw BenchError("the watch answered \(head.status)") }
    let writer = try BlockingHTTPConnection(port: server.port)
    let seconds = options.seconds
    // Thread 0 reads events (index → when received), thread 1 creates (index → when sent).
    let times = try onThreads(2) { role -> [Int: UInt64] in
      var times: [Int: UInt64] = [:]
      if role == 0 {
        var pending: [UInt8] = []
        while true {
          let chunk = try reader.readChunk()
          let received = monotonicNanoseconds()
          guard !chunk.isEmpty else { throw BenchError("the watch ended early") }
          pending += chunk
          while let newline = pending.firstIndex(of: 10) {
            let event = Array(pending[..<newline])
            pending.removeSubrange(...newline)
            guard BlockingHTTPConnection.find(Array(#""type":"ADDED""#.utf8), in: event, from: 0) != nil,
                  let name = Self.stringField("name", in: event), name.hasPrefix("w-") else { continue }
            guard let index = Int(name.dropFirst(2)) else { return times }  // "w-end"
            times[index] = received
          }
        }
      } else {
        let deadline = monotonicNanoseconds() + UInt64(seconds * 1e9)
        var index = 0
        while monotonicNanoseconds() < deadline {
          times[index] = monotonicNanoseconds()
          try Self.create(writer, Self.configMap("w-\(index)"))
          index += 1
        }
        try Self.create(writer, Self.configMap("w-end"))
        return times
      }
    }
    let (received, sent) = (times[0], times[1])
    guard received.count == sent.count else {
      throw BenchError("the watch delivered \(received.count) of \(sent.count) ADDED events")
    }
    return sent.map { index, at in milliseconds(received[index]! - at) }.sorted()
  }

  // MARK: Pods and lists

  /// Creates the pods from all clients at once; nanoseconds taken.
  private func createPods(_ server: ServerChild) throws -> UInt64 {
    let clients = options.clients, pods = options.pods
    let connections = try (0..<clients).map { _ in try BlockingHTTPConnection(port: server.port) }
    let start = monotonicNanoseconds()
    _ = try onThreads(clients) { index in
      for pod in stride(from: index, to: pods, by: clients) {
        let name = String(cFormat: "pod-%05d", pod)
        let body = #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)","labels":{"app":"bench"}},"#
          + #""spec":{"containers":[{"name":"main","image":"busybox:1.36","resources":{"requests":{"cpu":"100m"}}}]}}"#
        let response = try connections[index].request("POST", "/api/v1/namespaces/default/pods", body: Array(body.utf8))
        guard response.status == 201 else { throw BenchError("creating pod \(name): \(response.status) \(response.text.prefix(300))") }
      }
    }
    return monotonicNanoseconds() - start
  }

  /// `GET /api/v1/pods` whole: median milliseconds of 3, and the response's size.
  private func listPods(_ server: ServerChild) throws -> (Double, Int) {
    let connection = try BlockingHTTPConnection(port: server.port)
    var times: [Double] = []
    var bytes = 0
    for round in 0..<3 {
      let start = monotonicNanoseconds()
      let response = try connection.request("GET", "/api/v1/pods")
      times.append(milliseconds(monotonicNanoseconds() - start))
      guard response.status == 200 else { throw BenchError("listing pods: \(response.status)") }
      bytes = response.body.count
      if round == 0 { try Self.expectItems(options.pods, in: [response.body]) }
    }
    return (times.sorted()[1], bytes)
  }

  /// Milliseconds from the ready line to the answer to the first page of pods, on a new connection.
  private func firstPageAfterReady(_ server: ServerChild) throws -> Double {
    let start = monotonicNanoseconds()
    let connection = try BlockingHTTPConnection(port: server.port)
    let response = try connection.request("GET", "/api/v1/pods?limit=500")
    let elapsed = milliseconds(monotonicNanoseconds() - start)
    guard response.status == 200 else { throw BenchError("listing pods after a restart: \(response.status)") }
    try Self.expectItems(min(options.pods, 500), in: [response.body])
    return elapsed
  }

  /// `GET /api/v1/pods?limit=500` and its continue tokens to the end: median of 3.
  private func listPodsPaged(_ server: ServerChild) throws -> (milliseconds: Double, pages: Int) {
    let connection = try BlockingHTTPConnection(port: server.port)
    var times: [Double] = []
    var pages: [[UInt8]] = []
    for round in 0..<3 {
      pages = []
      let start = monotonicNanoseconds()
      var token: String?
      repeat {
        let query = token.map { "&continue=" + Self.percentEncoded($0) } ?? ""
        let response = try connection.request("GET", "/api/v1/pods?limit=500" + query)
        guard response.status == 200 else { throw BenchError("listing a page of pods: \(response.status)") }
        pages.append(response.body)
        token = Self.stringField("continue", in: response.body)
      } while token != nil
      times.append(milliseconds(monotonicNanoseconds() - start))
      if round == 0 { try Self.expectItems(options.pods, in: pages) }
    }
    return (times.sorted()[1], pages.count)
  }

  /// Checks, outside the timing, that the lists held every pod.
  private static func expectItems(_ expected: Int, in bodies: [[UInt8]]) throws {
    let count = try bodies.reduce(0) { total, body in
      guard case .object(let list) = try JSON.parse(body), case .array(let items)? = list["items"] else {
        return total
      }
      return total + items.count
    }
    guard count == expected else { throw BenchError("the list returned \(count) pods, not \(expected)") }
  }

  // MARK: Helpers

  /// Every byte but ASCII letters and digits as %XX, as a query value may hold it.
  private static func percentEncoded(_ text: String) -> String {
    var output = ""
    for byte in text.utf8 {
      switch byte {
      case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
           UInt8(ascii: "0")...UInt8(ascii: "9"):
        output.unicodeScalars.append(Unicode.Scalar(byte))
      default:
        output += String(cFormat: "%%%02X", UInt32(byte))
      }
    }
    return output
  }

  /// A ConfigMap of about 200 bytes of JSON.
  private static func configMap(_ name: String) -> [UInt8] {
    Array((#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"\#(name)","namespace":"default"},"#
           + #""data":{"payload":"\#(String(repeating: "x", count: 96))"}}"#).utf8)
  }

  private static func create(_ connection: BlockingHTTPConnection, _ body: [UInt8]) throws {
    let response = try connection.request("POST", "/api/v1/namespaces/default/configmaps", body: body)
    guard response.status == 201 else { throw BenchError("create answered \(response.status): \(response.text.prefix(300))") }
  }

  /// The first `"name":"value"` string field in a JSON body: enough for the fields read here
  /// (a list's resourceVersion and continue token, an event object's name), which come first.
  private static func stringField(_ name: String, in body: [UInt8]) -> String? {
    let key = Array("\"\(name)\":\"".utf8)
    guard let start = BlockingHTTPConnection.find(key, in: body, from: 0) else { return nil }
    let valueStart = start + key.count
    guard let end = body[valueStart...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
    return String(decoding: body[valueStart..<end], as: UTF8.self)
  }

  private static func sleep(until due: UInt64) {
    var time = timespec(tv_sec: Int(due / 1_000_000_000), tv_nsec: Int(due % 1_000_000_000))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &time, nil) == EINTR {}
  }
}

private func milliseconds(_ nanoseconds: UInt64) -> Double { Double(nanoseconds) / 1e6 }
