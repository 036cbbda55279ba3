// The `sim` runtime, the hollow runtime of simulated nodes: sandboxes and containers are records
// (in memory and under stateDir, so a restarted runtime re-adopts them) and no process is started.
import FoundationEssentials
import Glibc
import PluginKit
import SkiffABI
import SystemKit

/// A simulated container: its record plus what its config asked the simulation to do. Settings
/// come from the container's annotation `skiff.dev/sim-<name>` or else its env `SKIFF_SIM_<NAME>`
/// (the node agent passes a pod's env, so a pod can set them):
///   exit-after-seconds   the container exits by itself this long after it starts
///   exit-code            the code it exits with then (default 0)
///   exec-exit-code       what every exec answers (default 0), with
///   exec-stdout          as its output (default empty)
///   log                  one stdout line written to its log when it starts
struct SimContainer: Codable {
  var record: ContainerRecord
  var settings: [String: String]

  /// The time the container exits by itself, if it does. Derived from the persisted start time,
  /// so that a self-exit needs no timer: it is settled whenever the record is next looked at,
  /// by this instance or a restarted one.
  var exitsAt: Int64? {
    guard record.state == .running, let seconds = settings["exit-after-seconds"].flatMap(Double.init)
    else { return nil }
    return record.startedAt + Int64(seconds * 1e9)
  }

  /// Records a self-exit that is due by `now`.
  mutating func settle(now: Int64) {
    guard let exitsAt, exitsAt <= now else { return }
    finish(code: Int32(settings["exit-code"] ?? "") ?? 0, at: exitsAt, message: "")
  }

  mutating func finish(code: Int32, at time: Int64, message: String) {
    record.state = .exited
    record.finishedAt = time
    record.exitCode = code
    record.reason = code == 0 ? "Completed" : "Error"
    record.message = message
  }

  static func settings(_ config: ContainerConfig) -> [String: String] {
    let names = ["exit-after-seconds", "exit-code", "exec-exit-code", "exec-stdout", "log"]
    var settings: [String: String] = [:]
    for name in names {
      let env = "SKIFF_SIM_" + name.uppercased().replacing("-", with: "_")
      settings[name] = config.annotations?["skiff.dev/sim-\(name)"]
        ?? config.envs?.last(where: { $0.key == env })?.value
    }
    return settings
  }
}

final class SimRuntime: RuntimeImageSlots, @unchecked Sendable {
  static let sandboxStopThread = SlotThread.pool
  static let containerStopThread = SlotThread.pool
  static let imageThread = SlotThread.loop

  /// The code a stopped container reports, as a process that ends on SIGTERM does.
  static let stoppedExitCode: Int32 = 128 + SIGTERM

  private let layout: StateLayout
  let lock = Lock()
  private var sandboxes: [String: SandboxRecord] = [:]
  private var containers: [String: SimContainer] = [:]
  /// Pulled references; any reference is accepted, and a restart forgets them (pulls are free).
  private var images: Set<String> = []

  /// Opens (creating) stateDir and re-adopts the records an earlier instance left there.
  init(stateDir: String) throws(SystemError) {
    layout = StateLayout(root: stateDir)
    try KernelFiles.makeDirectory(layout.sandboxes)
    recover()
  }

  // MARK: Sandboxes

  func createSandbox(_ json: Data, done: skiff_done) {
    report(done) { () throws(RuntimeFailure) in
      let config = try RuntimeJSON.decode(PodSandboxConfig.self, from: json, what: "sandbox config")
      var metadata = config.metadata
      metadata.attempt = metadata.attempt ?? 0
      let id = RuntimeID.random()
      let record = SandboxRecord(
        id: id, metadata: metadata, labels: config.labels ?? [:], annotations: config.annotations ?? [:],
        cgroupParent: "", logDirectory: config.logDirectory ?? "\(layout.sandbox(id))/logs",
        state: .ready, createdAt: Clock.now)
      try locked { () throws(RuntimeFailure) in
        if let twin = sandboxes.values.first(where: { $0.metadata == metadata }) {
          throw RuntimeFailure(SKIFF_CONFLICT, "NameConflict", "sandbox \(metadata.namespace)/"
            + "\(metadata.name) (uid \(metadata.uid), attempt \(metadata.attempt ?? 0)) exists: \(twin.id)")
        }
        try attempt("CreateError") {
          try KernelFiles.makeDirectory(layout.containers(in: id))
          try KernelFiles.makeDirectory(record.logDirectory)
          try RuntimeJSON.write(record, to: URL(fileURLWithPath: layout.sandboxFile(id)))
        }
        sandboxes[id] = record
      }
      return ["id": id]
    }
  }

  /// Marks the sandbox not ready and kills its running containers (CRI's StopPodSandbox).
  func stopSandbox(_ id: String, done: skiff_done) {
    report(done) { () throws(RuntimeFailure) in
      try locked { () throws(RuntimeFailure) in
        guard var sandbox = sandboxes[id] else { throw notFound("sandbox", id) }
        sandbox.state = .notReady
        sandboxes[id] = sandbox
        try attempt("SystemError") {
          try RuntimeJSON.write(sandbox, to: URL(fileURLWithPath: layout.sandboxFile(id)))
        }
        for (containerId, container) in containers where container.record.podSandboxId == id {
          try end(containerId, code: 128 + SIGKILL, message: "killed with its sandbox")
        }
      }
      return [:]
    }
  }

  /// Forgets the sandbox and its containers, and removes its folder (with the logs in it, unless
  /// its config put them elsewhere).
  func removeSandbox(_ id: String, done: skiff_done) {
    report(done) { () throws(RuntimeFailure) in
      try locked { () throws(RuntimeFailure) in
        guard sandboxes[id] != nil else { throw notFound("sandbox", id) }
        try attempt("SystemError") { try FileManager.default.removeItem(atPath: layout.sandbox(id)) }
        sandboxes[id] = nil
        containers = containers.filter { $0.value.record.podSandboxId != id }
      }
      return [:]
    }
  }

  // MARK: Containers

  func createContainer(inSandbox sandboxId: String, _ json: Data, done: skiff_done) {
    report(done) { () throws(RuntimeFailure) in
      let config = try RuntimeJSON.decode(ContainerConfig.self, from: json, what: "container config")
      let metadata = ContainerMetadata(name: config.metadata.name, attempt: config.metadata.attempt ?? 0)
      let id = RuntimeID.random()
      try locked { () throws(RuntimeFailure) in
        guard let sandbox = sandboxes[sandboxId] else { throw notFound("sandbox", sandboxId) }
        guard sandbox.state == .ready else {
          throw RuntimeFailure(SKIFF_ERROR, "SandboxNotReady", "sandbox \(sandboxId) is stopped")
        }
        if let twin = containers.values.first(where: {
          $0.record.podSandboxId == sandboxId && $0.record.metadata == metadata
        }) {
          throw RuntimeFailure(SKIFF_CONFLICT, "NameConflict", "container \(metadata.name) (attempt "
            + "\(metadata.attempt ?? 0)) exists in sandbox \(sandboxId): \(twin.record.id)")
        }
        let logPath = "\(sandbox.logDirectory)/\(config.logPath ?? "\(metadata.name)/\(metadata.attempt ?? 0).log")"
        let container = SimContainer(
          record: ContainerRecord(
            id: id, podSandboxId: sandboxId, metadata: metadata, labels: config.labels ?? [:],
            annotations: config.annotations ?? [:], argv: (config.command ?? []) + (config.args ?? []),
            workingDir: config.workingDir ?? "/", envs: config.envs ?? [], resources: LinuxResources(),
            logPath: logPath, cgroupParent: "", state: .created, createdAt: Clock.now),
          settings: SimContainer.settings(config))
        try attempt("CreateError") {
          try KernelFiles.makeDirectory(layout.container(container.record))
          try KernelFiles.makeDirectory(String(logPath[..<logPath.lastIndex(of: "/")!]))
          try Data().write(to: URL(fileURLWithPath: logPath))  // a real, empty CRI log
        }
        try save(container)
      }
      return ["id": id]
    }
  }

  func startContainer(_ id: String, done: skiff_done) {
    report(done) { () throws(RuntimeFailure) in
      try locked { () throws(RuntimeFailure) in
        guard var container = containers[id] else { throw notFound("container", id) }
        guard container.record.state == .created else {
          throw RuntimeFailure(SKIFF_ERROR, "InvalidState", "container \(id) is "
            + "\(container.record.state.rawValue), not CONTAINER_CREATED")
        }
        if let line = container.settings["log"] {
          try attempt("StartError") {
            try Data("\(LogRelay.timestamp()) stdout F \(line)\n".utf8)
              .write(to: URL(fileURLWithPath: container.record.logPath))
          }
        }
        container.record.state = .running
        container.record.startedAt = Clock.now
        try save(container)
      }
      return ["pid": 0]  // no process: nothing on the node carries its id
    }
  }

  /// Ends the container at once, as if it obeyed SIGTERM; one that already exited keeps its code.
  /// No process to wait for, so the grace never matters.
  func stopContainer(_ id: String, grace _: Int64, done: skiff_done) {
    report(done) { () throws(RuntimeFailure) in
      try locked { () throws(RuntimeFailure) in
        guard containers[id] != nil else { throw notFound("container", id) }
        try end(id, code: Self.stoppedExitCode, message: "stopped")
      }
      return [:]
    }
  }

  func removeContainer(_ id: String, done: skiff_done) {
    report(done) { () throws(RuntimeFailure) in
      try locked { () throws(RuntimeFailure) in
        guard let container = containers[id] else { throw notFound("container", id) }
        try attempt("SystemError") {
          try FileManager.default.removeItem(atPath: layout.container(container.record))
        }
        containers[id] = nil
      }
      return [:]
    }
  }

  /// Answers from memory. A due self-exit is settled here but not saved: a restarted runtime
  /// settles it the same way from the start time.
  func status(of id: String?, done: skiff_done) {
    report(done) { () throws(RuntimeFailure) in
      let now = Clock.now
      return try locked { () throws(RuntimeFailure) in
        guard let id else {
          return ["containers": containers.keys.sorted().map { settled($0, now: now)!.record.status }]
        }
        guard let container = settled(id, now: now) else { throw notFound("container", id) }
        return container.record.status
      }
    }
  }

  func logPath(of id: String, done: skiff_done) {
    report(done) { () throws(RuntimeFailure) in
      try locked { () throws(RuntimeFailure) in
        guard let container = containers[id] else { throw notFound("container", id) }
        return ["path": container.record.logPath]
      }
    }
  }

  /// Answers what the container's settings say, without running anything.
  func exec(in id: String, _ json: Data, done: skiff_done) {
    report(done) { () throws(RuntimeFailure) in
      let request = try RuntimeJSON.decode(ExecRequest.self, from: json, what: "exec request")
      guard !request.cmd.isEmpty else {
        throw RuntimeFailure(SKIFF_INVALID, "InvalidArgument", "exec request: cmd is empty")
      }
      return try locked { () throws(RuntimeFailure) in
        guard let container = settled(id, now: Clock.now) else { throw notFound("container", id) }
        guard container.record.state == .running else {
          throw RuntimeFailure(SKIFF_ERROR, "ContainerNotRunning", "container \(id) is not running")
        }
        let settings = container.settings
        return ["exitCode": Int(settings["exec-exit-code"] ?? "") ?? 0,
                "stdout": settings["exec-stdout"] ?? "", "stderr": ""]
      }
    }
  }

  // MARK: Images

  func pullImage(_ json: Data, done: skiff_done) {
    struct Request: Decodable { var image: String }
    report(done) { () throws(RuntimeFailure) in
      let image = try RuntimeJSON.decode(Request.self, from: json, what: "pull request").image
      locked { _ = images.insert(image) }
      return ["imageRef": image]
    }
  }

  func listImages(done: skiff_done) {
    report(done) {
      ["images": locked { images.sorted() }.map { ["id": $0, "repoTags": [$0], "size": 0] }]
    }
  }

  // MARK: Records

  /// Reads every sandbox and container record; a running container stays running.
  private func recover() {
    let files = FileManager.default
    for sandboxId in (try? files.contentsOfDirectory(atPath: layout.sandboxes)) ?? [] {
      guard let sandbox = try? RuntimeJSON.read(SandboxRecord.self, from:
              URL(fileURLWithPath: layout.sandboxFile(sandboxId))) else {
        PluginHost.warn("sim runtime: ignoring \(layout.sandbox(sandboxId)): no readable sandbox.json")
        continue
      }
      sandboxes[sandbox.id] = sandbox
      let folder = layout.containers(in: sandboxId)
      for containerId in (try? files.contentsOfDirectory(atPath: folder)) ?? [] {
        let file = "\(folder)/\(containerId)/container.json"
        guard let container = try? RuntimeJSON.read(SimContainer.self, from: URL(fileURLWithPath: file)) else {
          PluginHost.warn("sim runtime: ignoring container \(containerId): \(file) is not readable")
          continue
        }
        containers[container.record.id] = container
      }
    }
  }

  /// Under the lock: the container with any due self-exit recorded.
  private func settled(_ id: String, now: Int64) -> SimContainer? {
    containers[id]?.settle(now: now)
    return containers[id]
  }

  /// Under the lock: ends a running container with `code`, unless it exited by itself before.
  private func end(_ id: String, code: Int32, message: String) throws(RuntimeFailure) {
    let now = Clock.now
    guard var container = settled(id, now: now) else { return }
    if container.record.state != .exited {
      container.finish(code: code, at: now, message: message)
    }
    try save(container)
  }

  /// Under the lock: keeps the container in memory and on disk.
  private func save(_ container: SimContainer) throws(RuntimeFailure) {
    try attempt("SystemError") {
      try RuntimeJSON.write(container, to: URL(fileURLWithPath: layout.containerFile(container.record)))
    }
    containers[container.record.id] = container
  }

  private func notFound(_ what: String, _ id: String) -> RuntimeFailure {
    RuntimeFailure(SKIFF_NOT_FOUND, "NotFound", "\(what) \(id) not found")
  }
}

/// The profile's `config.sim` block.
struct SimConfig: Decodable {
  /// Its records (default `<stateDir>/sim`).
  var stateDir: String?
  /// false leaves `sim` unregistered.
  var enabled: Bool?
}

enum SimRuntimeStart {
  /// Opens the records, re-adopts, registers `sim`; nil when it is disabled.
  static func start(_ config: SimConfig?, stateDir: String) -> Result<SimRuntime?, OCIRuntimeStart.StartFailure> {
    guard config?.enabled != false else { return .success(nil) }
    let runtime: SimRuntime
    do {
      runtime = try SimRuntime(stateDir: config?.stateDir ?? "\(stateDir)/sim")
    } catch {
      PluginHost.error("config.sim: \(error)")
      return .failure(.init(status: SKIFF_ERROR))
    }
    let status = PluginHost.register(runtimeVTable(runtime, name: "sim"))
    return status == SKIFF_OK ? .success(runtime) : .failure(.init(status: status))
  }
}
