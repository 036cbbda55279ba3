// The `process` runtime: a sandbox is a folder, a container is a host process in its own session
// and cgroups. Records live in memory under one lock and on disk under stateDir, so that a new
// instance re-adopts the processes an earlier one left running.
import FoundationEssentials
import Glibc
import PluginKit
import SkiffABI
import SystemKit

/// A container's record and what the runtime holds for it while it runs. Guarded by the runtime's
/// lock.
final class Container: @unchecked Sendable {
  var record: ContainerRecord
  var relays: [LogRelay] = []
  /// Told `true` once the exit is recorded, or `false` if the runtime detaches first.
  var exitWaiters: [@Sendable (Bool) -> Void] = []
  /// While a start is under way: a second start, a stop or a remove must not act on it yet.
  var starting = false
  /// Re-adopted from an earlier instance: possibly not our child, so watched by polling.
  var adopted = false

  init(_ record: ContainerRecord) { self.record = record }

  var cgroups: ContainerCgroups { ContainerCgroups(parent: record.cgroupParent, id: record.id) }
}

/// Where things live under stateDir:
///   sandboxes/<sandboxId>/sandbox.json
///   sandboxes/<sandboxId>/logs/<name>/<attempt>.log     (default log directory)
///   sandboxes/<sandboxId>/containers/<containerId>/container.json, stdout, stderr (named pipes)
struct StateLayout {
  let root: String

  var sandboxes: String { "\(root)/sandboxes" }
  func sandbox(_ id: String) -> String { "\(sandboxes)/\(id)" }
  func sandboxFile(_ id: String) -> String { "\(sandbox(id))/sandbox.json" }
  func containers(in sandbox: String) -> String { "\(self.sandbox(sandbox))/containers" }
  func container(_ record: ContainerRecord) -> String {
    "\(containers(in: record.podSandboxId))/\(record.id)"
  }
  func containerFile(_ record: ContainerRecord) -> String { "\(container(record))/container.json" }
  func pipe(_ stream: LogRelay.Stream, of record: ContainerRecord) -> String {
    "\(container(record))/\(stream)"
  }
}

final class ProcessRuntime: RuntimeSlots, @unchecked Sendable {
  static let sandboxStopThread = SlotThread.loop
  static let containerStopThread = SlotThread.loop

  /// A container's PATH unless its config sets one (what images usually set).
  static let defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  /// Exec output beyond this is dropped: the result travels as one JSON document.
  static let execOutputLimit = 16 * 1024 * 1024

  private let layout: StateLayout
  private let defaultCgroupParent: String
  let lock = Lock()
  private var sandboxes: [String: SandboxRecord] = [:]
  private var containers: [String: Container] = [:]
  /// Set by `detach`: from then on this instance leaves processes and files to the next one.
  private var detached = false

  /// Opens (creating) stateDir and re-adopts what an earlier instance left there.
  init(stateDir: String, cgroupParent: String) throws(SystemError) {
    layout = StateLayout(root: stateDir)
    defaultCgroupParent = cgroupParent
    try KernelFiles.makeDirectory(layout.sandboxes)
    locked { recover() }
  }

  /// Stops watching and relaying without touching a process: containers belong to the node, not
  /// to this instance, and the next one re-adopts them. Pending stops fail. Returns once the
  /// relays have let go of the pipes, so that a next instance's relays never read beside them.
  func detach() {
    let (relays, waiters) = locked { () -> ([LogRelay], [@Sendable (Bool) -> Void]) in
      detached = true
      let all = containers.values
      defer { all.forEach { $0.exitWaiters = [] } }
      return (all.flatMap(\.relays), all.flatMap(\.exitWaiters))
    }
    relays.forEach { $0.stop() }
    relays.forEach { $0.waitUntilFinished(seconds: 1) }
    waiters.forEach { $0(false) }
  }

  // MARK: Sandboxes

  func createSandbox(_ json: Data, done: skiff_done) {
    report(done) { () throws(RuntimeFailure) in
      let config = try RuntimeJSON.decode(PodSandboxConfig.self, from: json, what: "sandbox config")
      var metadata = config.metadata
      metadata.attempt = metadata.attempt ?? 0
      let id = RuntimeID.random()
      let record = SandboxRecord(
        id: id, metadata: metadata, labels: config.labels ?? [:],
        annotations: config.annotations ?? [:],
        cgroupParent: config.linux?.cgroupParent ?? defaultCgroupParent,
        logDirectory: config.logDirectory ?? "\(layout.sandbox(id))/logs", state: .ready,
        createdAt: Clock.now)
      try locked { () throws(RuntimeFailure) in
        if let twin = sandboxes.values.first(where: { $0.metadata == metadata }) {
          throw RuntimeFailure(SKIFF_CONFLICT, "NameConflict", "sandbox \(metadata.namespace)/"
            + "\(metadata.name) (uid \(metadata.uid), attempt \(metadata.attempt ?? 0)) exists: "
            + twin.id)
        }
        do {
          try KernelFiles.makeDirectory(layout.containers(in: id))
          try KernelFiles.makeDirectory(record.logDirectory)
          try RuntimeJSON.write(record, to: URL(fileURLWithPath: layout.sandboxFile(id)))
        } catch {
          try? FileManager.default.removeItem(atPath: layout.sandbox(id))
          throw RuntimeFailure(SKIFF_ERROR, "CreateError", "sandbox \(id): \(error)")
        }
        sandboxes[id] = record
      }
      return ["id": id]
    }
  }

  /// Kills every container of the sandbox at once (CRI's StopPodSandbox: graceful stops are the
  /// caller's, container by container, before) and marks it not ready.
  func stopSandbox(_ id: String, done: skiff_done) {
    guard markNotReady(id) else {
      return done.fail(SKIFF_NOT_FOUND, reason: "NotFound", message: "sandbox \(id) not found")
    }
    killContainers(inSandbox: id) { [self] allExited in
      report(done) { () throws(RuntimeFailure) in
        guard allExited else { throw detachedFailure("sandbox \(id)") }
        try locked { () throws(RuntimeFailure) in
          guard let record = sandboxes[id] else { return }
          try attempt("SystemError") {
            try RuntimeJSON.write(record, to: URL(fileURLWithPath: layout.sandboxFile(id)))
          }
        }
        return [:]
      }
    }
  }

  /// Kills and removes every container of the sandbox, then the sandbox's folder (with the logs
  /// in it, unless its config put them elsewhere).
  func removeSandbox(_ id: String, done: skiff_done) {
    guard markNotReady(id) else {
      return done.fail(SKIFF_NOT_FOUND, reason: "NotFound", message: "sandbox \(id) not found")
    }
    killContainers(inSandbox: id) { [self] allExited in
      report(done) { () throws(RuntimeFailure) in
        guard allExited else { throw detachedFailure("sandbox \(id)") }
        let members = locked { containers.values.filter { $0.record.podSandboxId == id } }
        for container in members { try removeLeftovers(of: container) }
        try attempt("SystemError") { try FileManager.default.removeItem(atPath: layout.sandbox(id)) }
        locked { sandboxes[id] = nil }
        return [:]
      }
    }
  }

  private func markNotReady(_ id: String) -> Bool {
    locked {
      sandboxes[id]?.state = .notReady
      return sandboxes[id] != nil
    }
  }

  /// SIGKILLs the sandbox's running containers; `then` runs off the loop once all have exited
  /// (`false` if the runtime detached first).
  private func killContainers(inSandbox id: String, then: @escaping @Sendable (Bool) -> Void) {
    let group = WaitGroup()
    let outcome = OutcomeFlag()
    locked {
      for container in containers.values
      where container.record.podSandboxId == id && container.record.state == .running {
        group.enter()
        container.exitWaiters.append { exited in
          if !exited { outcome.fail() }
          group.leave()
        }
        signal(container, SIGKILL)
      }
    }
    startThread(name: "skiff-kill-\(id)") {
      group.wait()
      then(outcome.succeeded)
    }
  }

  // MARK: Containers

  func createContainer(inSandbox sandboxId: String, _ json: Data, done: skiff_done) {
    report(done) { () throws(RuntimeFailure) in
      let config = try RuntimeJSON.decode(ContainerConfig.self, from: json, what: "container config")
      let argv = (config.command ?? []) + (config.args ?? [])
      guard !argv.isEmpty else {
        throw RuntimeFailure(SKIFF_INVALID, "InvalidArgument", "container config: command is "
          + "required: the process runtime has no image to supply an entrypoint")
      }
      let metadata = ContainerMetadata(name: config.metadata.name, attempt: config.metadata.attempt ?? 0)
      let id = RuntimeID.random()
      try locked { () throws(RuntimeFailure) in
        guard let sandbox = sandboxes[sandboxId] else {
          throw RuntimeFailure(SKIFF_NOT_FOUND, "NotFound", "sandbox \(sandboxId) not found")
        }
        guard sandbox.state == .ready else {
          throw RuntimeFailure(SKIFF_ERROR, "SandboxNotReady", "sandbox \(sandboxId) is stopped")
        }
        if let twin = containers.values.first(where: {
          $0.record.podSandboxId == sandboxId && $0.record.metadata == metadata
        }) {
          throw RuntimeFailure(SKIFF_CONFLICT, "NameConflict", "container \(metadata.name) attempt "
            + "\(metadata.attempt ?? 0) exists in sandbox \(sandboxId): \(twin.record.id)")
        }
        let logPath = config.logPath ?? "\(metadata.name)/\(metadata.attempt ?? 0).log"
        let record = ContainerRecord(
          id: id, podSandboxId: sandboxId, metadata: metadata, labels: config.labels ?? [:],
          annotations: config.annotations ?? [:], argv: argv, workingDir: config.workingDir ?? "/",
          envs: config.envs ?? [], resources: config.linux?.resources ?? LinuxResources(),
          logPath: logPath.hasPrefix("/") ? logPath : "\(sandbox.logDirectory)/\(logPath)",
          cgroupParent: sandbox.cgroupParent, state: .created, createdAt: Clock.now)
        do {
          try KernelFiles.makeDirectory(layout.container(record))
          try KernelFiles.makeDirectory(directoryOf(record.logPath))
          try RuntimeJSON.write(record, to: URL(fileURLWithPath: layout.containerFile(record)))
        } catch {
          try? FileManager.default.removeItem(atPath: layout.container(record))
          throw RuntimeFailure(SKIFF_ERROR, "CreateError", "container \(id): \(error)")
        }
        containers[id] = Container(record)
      }
      return ["id": id]
    }
  }

  func startContainer(_ id: String, done: skiff_done) {
    report(done) { () throws(RuntimeFailure) in
      let container = try locked { () throws(RuntimeFailure) in
        let container = try find(id)
        guard container.record.state == .created, !container.starting else {
          throw RuntimeFailure(SKIFF_ERROR, "ContainerNotCreated", "container \(id) is "
            + "\(container.starting ? "starting" : container.record.state.rawValue): only a "
            + "created container can start")
        }
        container.starting = true
        return container
      }
      do throws(SystemError) {
        let (pid, startTime, relays) = try launch(locked { container.record })
        let detachedMeanwhile = locked {
          container.starting = false
          container.relays = relays
          container.record.state = .running
          container.record.pid = pid
          container.record.pidStartTime = startTime
          container.record.startedAt = Clock.now
          persist(container.record)
          return detached
        }
        // A start that outlived the runtime's stop leaves the container to the next instance.
        if detachedMeanwhile { relays.forEach { $0.stop() } }
        watchExit(of: container, pid: pid, startTime: startTime)
        return ["pid": pid]
      } catch {
        locked {
          container.starting = false
          container.record.failStart(error.description, at: Clock.now)
          persist(container.record)
        }
        throw RuntimeFailure(SKIFF_ERROR, "StartError", "container \(id): \(error)")
      }
    }
  }

  /// Creates the cgroups and output pipes and starts the command. Undoes all of it on failure.
  private func launch(_ record: ContainerRecord) throws(SystemError)
    -> (pid: pid_t, startTime: UInt64, relays: [LogRelay]) {
    let environment = Self.environment(record.envs)
    let searchPath = environment.last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
    guard let executable = ProcessLauncher.resolve(record.argv[0], searchPath: searchPath ?? "",
                                                   workingDir: record.workingDir) else {
      throw SystemError(message: "exec: \"\(record.argv[0])\": executable file not found in $PATH")
    }
    let cgroups = ContainerCgroups(parent: record.cgroupParent, id: record.id)
    for controller in cgroups.missing {
      let lost = ContainerCgroups.lostLimits(controller, record.resources)
      PluginHost.warn("container \(record.id): cgroup v1 controller '\(controller)' is not "
        + "mounted; the container runs without it"
        + (lost.isEmpty ? "" : " (\(lost.joined(separator: ", ")) not enforced)"))
    }
    var relays: [LogRelay] = []
    var containerEnds: [Int32] = []
    defer { containerEnds.forEach { close($0) } }
    do throws(SystemError) {
      try cgroups.create(applying: record.resources)
      for stream in [LogRelay.Stream.stdout, .stderr] {
        let pipe = try OutputPipe.make(at: layout.pipe(stream, of: record))
        containerEnds.append(pipe.container)
        relays.append(try LogRelay(source: pipe.relay, stream: stream, logPath: record.logPath))
      }
      let pid = try ProcessLauncher.launch(
        executable: executable, arguments: record.argv, environment: environment,
        workingDir: record.workingDir, stdout: containerEnds[0], stderr: containerEnds[1],
        place: cgroups.place)
      return (pid, ProcessIdentity(pid)?.startTime ?? 0, relays)
    } catch {
      relays.forEach { $0.stop() }
      try? cgroups.remove()
      throw error
    }
  }

  /// SIGTERM to the container's process group, SIGKILL after `grace` seconds (at once for 0);
  /// completes when the container has exited.
  func stopContainer(_ id: String, grace: Int64, done: skiff_done) {
    let signalled: pid_t?
    do throws(RuntimeFailure) {
      signalled = try locked { () throws(RuntimeFailure) -> pid_t? in
        let container = try find(id)
        guard !container.starting else {
          throw RuntimeFailure(SKIFF_ERROR, "ContainerStarting", "container \(id) is starting; "
            + "stop it once its start has completed")
        }
        guard container.record.state == .running else { return nil }
        container.exitWaiters.append { [self] exited in
          guard exited else { return fail(done, detachedFailure("container \(id)")) }
          done.complete(SKIFF_OK, json: "{}")
        }
        signal(container, grace > 0 ? SIGTERM : SIGKILL)
        return container.record.pid
      }
    } catch {
      return fail(done, error)
    }
    guard let pid = signalled else { return done.complete(SKIFF_OK, json: "{}") }
    guard grace > 0 else { return }
    let seconds = Int(min(grace, Int64(Int32.max)))
    startThread(name: "skiff-grace-\(pid)") { [self] in
      sleep(UInt32(seconds))
      locked {
        // Still the same run of the same container: its pid is not reaped (so not reused) yet.
        guard !detached, let container = containers[id], container.record.state == .running,
              container.record.pid == pid else { return }
        signal(container, SIGKILL)
      }
    }
  }

  /// Removes a container that is not running: its cgroups, pipes and state, not its log.
  func removeContainer(_ id: String, done: skiff_done) {
    report(done) { () throws(RuntimeFailure) in
      let container = try locked { () throws(RuntimeFailure) in
        let container = try find(id)
        guard container.record.state != .running, !container.starting else {
          throw RuntimeFailure(SKIFF_ERROR, "ContainerRunning", "container \(id) is running: "
            + "stop it before removing it")
        }
        return container
      }
      try removeLeftovers(of: container)
      return [:]
    }
  }

  private func removeLeftovers(of container: Container) throws(RuntimeFailure) {
    let record = locked { container.record }
    try attempt("CgroupError") {
      try ContainerCgroups(parent: record.cgroupParent, id: record.id).remove()
    }
    let relays = locked {
      containers[record.id] = nil
      return container.relays
    }
    relays.forEach { $0.stop() }
    try attempt("SystemError") { try FileManager.default.removeItem(atPath: layout.container(record)) }
  }

  /// One container's status, or every container's when `id` is nil.
  func status(of id: String?, done: skiff_done) {
    let status: [String: Any]? = locked {
      guard let id else {
        return ["containers": containers.values.map(\.record)
          .sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }.map(\.status)]
      }
      return containers[id]?.record.status
    }
    guard let status else { return fail(done, notFound(id ?? "")) }
    done.complete(SKIFF_OK, json: PluginJSON.encode(status))
  }

  func logPath(of id: String, done: skiff_done) {
    guard let path = locked({ containers[id]?.record.logPath }) else { return fail(done, notFound(id)) }
    done.complete(SKIFF_OK, json: PluginJSON.encode(["path": path]))
  }

  // MARK: Exec

  /// Runs a command in a running container's environment, working directory and cgroups: to
  /// completion on a thread of its own, or, for a stream, answering at once with the socket that
  /// carries its stdin, output and exit status (ExecStream).
  func exec(in id: String, _ json: Data, done: skiff_done) {
    let record: ContainerRecord
    let request: ExecRequest
    do throws(RuntimeFailure) {
      request = try RuntimeJSON.decode(ExecRequest.self, from: json, what: "exec request")
      guard !request.cmd.isEmpty else {
        throw RuntimeFailure(SKIFF_INVALID, "InvalidArgument", "exec request: cmd is empty")
      }
      record = try locked { () throws(RuntimeFailure) in
        let container = try find(id)
        guard container.record.state == .running else {
          throw RuntimeFailure(SKIFF_ERROR, "ContainerNotRunning", "container \(id) is "
            + "\(container.record.state.rawValue): exec needs a running container")
        }
        return container.record
      }
    } catch {
      return fail(done, error)
    }
    let command = request.cmd
    // CRI ExecSync's timeout: 0 or none is no limit.
    let timeout = request.timeout.flatMap { $0 > 0 ? $0 : nil }
    if request.streams {
      return report(done) { () throws(RuntimeFailure) in try startStream(request, in: record) }
    }
    startThread(name: "skiff-exec-\(id)") { [self] in
      report(done) { () throws(RuntimeFailure) in try runToCompletion(command, in: record, timeout: timeout) }
    }
  }

  /// Launches the command on pipes or a terminal and hands them to an ExecStream.
  private func startStream(_ request: ExecRequest, in record: ContainerRecord) throws(RuntimeFailure)
    -> [String: Any] {
    let executable = try resolve(request.cmd, in: record)
    do throws(SystemError) {
      let stdio = try ExecStdio.make(tty: request.tty == true, stdin: request.stdin == true)
      let pid: pid_t
      do throws(SystemError) {
        pid = try ProcessLauncher.launch(
          executable: executable, arguments: request.cmd, environment: Self.environment(record.envs),
          workingDir: record.workingDir, stdin: stdio.child.0, stdout: stdio.child.1, stderr: stdio.child.2,
          controllingTerminal: stdio.terminal,
          place: ContainerCgroups(parent: record.cgroupParent, id: record.id).place)
      } catch {
        stdio.closeAll()
        throw error
      }
      stdio.closeChildEnds()
      let sockets = try ExecStream.socketPair()
      // The command leads a process group of its own: ending it ends what it started.
      try ExecStream.start(pid: pid, stdio: stdio, socket: sockets.stream) { kill(-pid, SIGKILL) }
      return ["fd": sockets.caller]
    } catch {
      throw RuntimeFailure(SKIFF_ERROR, "ExecError", "\(error)")
    }
  }

  private func resolve(_ command: [String], in record: ContainerRecord) throws(RuntimeFailure) -> String {
    let searchPath = Self.environment(record.envs).last { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
    guard let executable = ProcessLauncher.resolve(command[0], searchPath: searchPath ?? "",
                                                   workingDir: record.workingDir) else {
      throw RuntimeFailure(SKIFF_ERROR, "ExecError",
                           "exec: \"\(command[0])\": executable file not found in $PATH")
    }
    return executable
  }

  private func runToCompletion(_ command: [String], in record: ContainerRecord, timeout: Double?) throws(RuntimeFailure)
    -> [String: Any] {
    let environment = Self.environment(record.envs)
    let executable = try resolve(command, in: record)
    var outPipe: [Int32] = [-1, -1]
    var errPipe: [Int32] = [-1, -1]
    guard GNU.pipe2(&outPipe, O_CLOEXEC) == 0, GNU.pipe2(&errPipe, O_CLOEXEC) == 0 else {
      [outPipe, errPipe].joined().filter { $0 >= 0 }.forEach { close($0) }
      throw RuntimeFailure(SKIFF_ERROR, "ExecError", "\(SystemError("creating a pipe"))")
    }
    defer { close(outPipe[0]); close(errPipe[0]) }
    let pid: pid_t
    do {
      defer { close(outPipe[1]); close(errPipe[1]) }
      pid = try ProcessLauncher.launch(
        executable: executable, arguments: command, environment: environment,
        workingDir: record.workingDir, stdout: outPipe[1], stderr: errPipe[1],
        place: ContainerCgroups(parent: record.cgroupParent, id: record.id).place)
    } catch {
      throw RuntimeFailure(SKIFF_ERROR, "ExecError", "\(error)")
    }
    // The command leads its own session (the launcher's setsid): a timeout kills all it started.
    let (stdout, stderr, timedOut) = Self.collect(outPipe[0], errPipe[0], deadline: timeout.map { monotonicSeconds() + $0 }) {
      kill(-pid, SIGKILL)
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    if timedOut, let timeout {
      throw RuntimeFailure(SKIFF_ERROR, "DeadlineExceeded", "command \(command) timed out after \(timeout)s")
    }
    let signal = status & 0x7f
    return ["exitCode": signal == 0 ? (status >> 8) & 0xff : 128 + signal,
            "stdout": String(decoding: stdout, as: UTF8.self),
            "stderr": String(decoding: stderr, as: UTF8.self)]
  }

  /// Reads both pipes until both reach EOF; at `deadline` (monotonic seconds) calls `expire`, which
  /// must make them reach it, and reports that it did.
  private static func collect(_ out: Int32, _ err: Int32, deadline: Double?,
                              expire: () -> Void) -> ([UInt8], [UInt8], Bool) {
    var outputs: [[UInt8]] = [[], []]
    var open = [true, true]
    var expired = false
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while open[0] || open[1] {
      var fds = [pollfd(fd: open[0] ? out : -1, events: Int16(POLLIN), revents: 0),
                 pollfd(fd: open[1] ? err : -1, events: Int16(POLLIN), revents: 0)]
      var wait: Int32 = -1
      if let deadline, !expired {
        wait = Int32(max(0, ((deadline - monotonicSeconds()) * 1000).rounded(.up)))
        if wait == 0 {
          expire()
          expired = true
          wait = -1
        }
      }
      if poll(&fds, 2, wait) < 0 {
        if errno == EINTR { continue }
        break
      }
      for i in 0..<2 where fds[i].revents != 0 {
        let count = chunk.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else {
          open[i] = false
          continue
        }
        let room = max(0, execOutputLimit - outputs[i].count)
        outputs[i] += chunk[0..<min(count, room)]
      }
    }
    return (outputs[0], outputs[1], expired)
  }

  /// The container's environment: its config's variables over a default PATH, as an image would
  /// provide. Nothing of the runtime's own environment leaks in.
  static func environment(_ envs: [KeyValue]) -> [String] {
    var entries = envs.contains { $0.key == "PATH" } ? [] : ["PATH=\(defaultPath)"]
    for env in envs {
      entries.removeAll { $0.hasPrefix("\(env.key)=") }
      entries.append("\(env.key)=\(env.value)")
    }
    return entries
  }

  // MARK: Exits

  /// A thread per running container that records its exit. Our own child is waited for;
  /// an adopted process, perhaps not our child, is polled.
  private func watchExit(of container: Container, pid: pid_t, startTime: UInt64, adopted: Bool = false) {
    startThread(name: "skiff-wait-\(pid)") { [self] in
      if adopted {
        while ProcessIdentity.isAlive(pid, startedAt: startTime) {
          if locked({ detached }) { return }
          usleep(250_000)
        }
      } else {
        // WNOWAIT leaves the zombie in place, so that an instance that detached meanwhile leaves
        // the exit status to the next one.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
      }
      // The log is complete when the status says exited, unless a descendant still holds a pipe.
      for relay in locked({ container.relays }) { relay.waitUntilFinished(seconds: 1) }
      let waiters = locked { () -> [@Sendable (Bool) -> Void] in
        guard !detached, container.record.state == .running, container.record.pid == pid else {
          return []
        }
        container.record.finish(waitStatus: reap(pid, startTime: startTime, adopted: adopted),
                                oomKilled: container.cgroups.sawOOMKill, at: Clock.now)
        persist(container.record)
        defer { container.exitWaiters = [] }
        return container.exitWaiters
      }
      waiters.forEach { $0(true) }
    }
  }

  /// The exit status of an ended process, if it is (still) our child to collect.
  private func reap(_ pid: pid_t, startTime: UInt64, adopted: Bool) -> Int32? {
    var status: Int32 = 0
    if adopted {
      // Only the same process's zombie: a reused pid could be another child of ours.
      guard ProcessIdentity(pid)?.startTime == startTime,
            waitpid(pid, &status, WNOHANG) == pid else { return nil }
      return status
    }
    while true {
      if waitpid(pid, &status, 0) == pid { return status }
      if errno != EINTR { return nil }
    }
  }

  /// Signals the container's process group (its session leader's group), or the process alone
  /// if it left that group. Under the lock.
  private func signal(_ container: Container, _ signal: Int32) {
    let pid = container.record.pid
    // An adopted process's pid may belong to someone else by now.
    if container.adopted && !ProcessIdentity.isAlive(pid, startedAt: container.record.pidStartTime) {
      return
    }
    if kill(-pid, signal) != 0 { kill(pid, signal) }
  }

  // MARK: Recovery

  /// Reads the records an earlier instance left: running containers whose process is still the
  /// same are re-adopted, the others are recorded as exited. Under the lock.
  private func recover() {
    let files = FileManager.default
    for sandboxId in (try? files.contentsOfDirectory(atPath: layout.sandboxes)) ?? [] {
      guard let sandbox = try? RuntimeJSON.read(SandboxRecord.self, from:
              URL(fileURLWithPath: layout.sandboxFile(sandboxId))) else {
        PluginHost.warn("ignoring \(layout.sandbox(sandboxId)): no readable sandbox.json")
        continue
      }
      sandboxes[sandbox.id] = sandbox
      let folder = layout.containers(in: sandboxId)
      for containerId in (try? files.contentsOfDirectory(atPath: folder)) ?? [] {
        let file = "\(folder)/\(containerId)/container.json"
        guard let record = try? RuntimeJSON.read(ContainerRecord.self, from: URL(fileURLWithPath: file))
        else {
          PluginHost.warn("ignoring container \(containerId): \(file) is not readable")
          continue
        }
        let container = Container(record)
        containers[record.id] = container
        if record.state == .running { readopt(container) }
      }
    }
  }

  private func readopt(_ container: Container) {
    let record = container.record
    guard ProcessIdentity.isAlive(record.pid, startedAt: record.pidStartTime) else {
      container.record.finish(
        waitStatus: reap(record.pid, startTime: record.pidStartTime, adopted: true),
        oomKilled: container.cgroups.sawOOMKill, at: Clock.now)
      persist(container.record)
      PluginHost.info("container \(record.id) (pid \(record.pid)) ended while unwatched: "
        + "\(container.record.reason)")
      return
    }
    container.adopted = true
    do {
      for stream in [LogRelay.Stream.stdout, .stderr] {
        let source = try OutputPipe.openForRelay(at: layout.pipe(stream, of: record))
        container.relays.append(try LogRelay(source: source, stream: stream, logPath: record.logPath))
      }
    } catch {
      PluginHost.warn("container \(record.id): its output is no longer logged: \(error)")
    }
    watchExit(of: container, pid: record.pid, startTime: record.pidStartTime, adopted: true)
    PluginHost.info("re-adopted container \(record.id) (pid \(record.pid))")
  }

  // MARK: Helpers

  /// Under the lock. Records are small; keeping writes in order matters more than the lock time.
  private func persist(_ record: ContainerRecord) {
    do {
      try RuntimeJSON.write(record, to: URL(fileURLWithPath: layout.containerFile(record)))
    } catch {
      if !detached { PluginHost.warn("container \(record.id): state not saved: \(error)") }
    }
  }

  private func find(_ id: String) throws(RuntimeFailure) -> Container {
    guard let container = containers[id] else { throw notFound(id) }
    return container
  }

  private func notFound(_ id: String) -> RuntimeFailure {
    RuntimeFailure(SKIFF_NOT_FOUND, "NotFound", "container \(id) not found")
  }

  private func detachedFailure(_ what: String) -> RuntimeFailure {
    RuntimeFailure(SKIFF_ERROR, "RuntimeStopped", "the runtime stopped before \(what) exited; "
      + "the next start re-adopts it")
  }
}

/// Whether every container a sandbox operation waited for exited (rather than being abandoned).
private final class OutcomeFlag: @unchecked Sendable {
  private let lock = Lock()
  private var failed = false

  func fail() { lock.withLock { failed = true } }
  var succeeded: Bool { lock.withLock { !failed } }
}
