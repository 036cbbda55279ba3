// The `oci` runtime: each container is an OCI bundle whose root filesystem comes from the image
// store, run by runc (or crun) in its own namespaces and cgroups, its output relayed into a CRI
// log as the process runtime does. Records live in memory under one lock and on disk under
// stateDir, so that a new instance re-adopts the containers an earlier one left running.
import FoundationEssentials
import Glibc
import PluginKit
import SkiffABI
import SystemKit

final class OCIContainer: @unchecked Sendable {
  var record: OCIContainerRecord
  var relays: [LogRelay] = []
  /// Told `true` once the exit is recorded, or `false` if the runtime detaches first.
  var exitWaiters: [@Sendable (Bool) -> Void] = []
  var starting = false
  /// Not known to be our child (re-adopted, or orphaned elsewhere): watched by polling.
  var adopted = false

  init(_ record: OCIContainerRecord) { self.record = record }

  var cgroups: ContainerCgroups { ContainerCgroups(parent: record.container.cgroupParent, id: record.id) }
}

final class OCIRuntime: RuntimeImageSlots, @unchecked Sendable {
  static let sandboxStopThread = SlotThread.pool
  static let containerStopThread = SlotThread.loop
  /// Reads images.json, which another process may have rewritten: off the loop.
  static let imageThread = SlotThread.pool

  let images: ImageStore
  private let runc: Runc
  private let layout: OCILayout
  private let defaultCgroupParent: String
  private let rootfsMode: RootFilesystem.Mode
  let lock = Lock()
  private var sandboxes: [String: OCISandboxRecord] = [:]
  private var containers: [String: OCIContainer] = [:]
  private var detached = false

  init(stateDir: String, images: ImageStore, runc runcPath: String, cgroupParent: String,
       rootfs: RootFilesystem.Mode) throws(SystemError) {
    layout = OCILayout(root: stateDir)
    self.images = images
    runc = Runc(path: runcPath, root: layout.runc)
    defaultCgroupParent = cgroupParent
    rootfsMode = rootfs
    try KernelFiles.makeDirectory(layout.sandboxes)
    try KernelFiles.makeDirectory(layout.runc)
    if !Subreaper.become() {
      PluginHost.warn("oci runtime: cannot become a child subreaper; exit codes of containers are lost")
    }
    locked { recover() }
  }

  /// Stops watching and relaying; containers keep running for the next instance to re-adopt.
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

  // MARK: Images

  func pullImage(_ json: Data, done: skiff_done) {
    struct Request: Decodable {
      var image: String
      var auth: RegistryAuth?
    }
    report(done) { () throws(RuntimeFailure) in
      let request = try RuntimeJSON.decode(Request.self, from: json, what: "image pull request")
      do throws(ImageError) {
        let image: ImageRecord
        // Local archives travel under skopeo's transport names.
        if let path = Self.localArchive(request.image) {
          let imported = try images.importArchive(path)
          imported.forEach { PluginHost.info("imported \($0.id) \($0.repoTags.joined(separator: " "))") }
          image = imported[0]
        } else {
          image = try images.pull(request.image, auth: request.auth) { PluginHost.info($0) }
        }
        return ["imageRef": image.id, "repoTags": image.repoTags, "size": image.size]
      } catch {
        throw RuntimeFailure(SKIFF_ERROR, "ErrImagePull", error.description)
      }
    }
  }

  /// `oci:DIR`, `oci-archive:FILE` and `docker-archive:FILE` name archives on this machine.
  static func localArchive(_ image: String) -> String? {
    for transport in ["oci:", "oci-archive:", "docker-archive:"] where image.hasPrefix(transport) {
      return String(image.dropFirst(transport.count))
    }
    return nil
  }

  func listImages(done: skiff_done) {
    done.complete(SKIFF_OK, json: PluginJSON.encode(["images": images.list().map(\.listed)]))
  }

  // MARK: Sandboxes

  func createSandbox(_ json: Data, done: skiff_done) {
    report(done) { () throws(RuntimeFailure) in
      let config = try RuntimeJSON.decode(PodSandboxConfig.self, from: json, what: "sandbox config")
      let extras = try RuntimeJSON.decode(OCISandboxExtras.self, from: json, what: "sandbox config")
      var metadata = config.metadata
      metadata.attempt = metadata.attempt ?? 0
      let id = RuntimeID.random()
      let folder = layout.sandbox(id)
      let record = OCISandboxRecord(
        sandbox: SandboxRecord(
          id: id, metadata: metadata, labels: config.labels ?? [:], annotations: config.annotations ?? [:],
          cgroupParent: config.linux?.cgroupParent ?? defaultCgroupParent,
          logDirectory: config.logDirectory ?? "\(folder)/logs", state: .ready, createdAt: Clock.now),
        netns: extras.linux?.netns, hostname: extras.hostname ?? metadata.name)
      if let netns = record.netns, access(netns, F_OK) != 0 {
        throw RuntimeFailure(SKIFF_INVALID, "InvalidArgument", "sandbox config: linux.netns \(netns) does not exist")
      }
      try locked { () throws(RuntimeFailure) in
        if let twin = sandboxes.values.first(where: { $0.sandbox.metadata == metadata }) {
          throw RuntimeFailure(SKIFF_CONFLICT, "NameConflict", "sandbox \(metadata.namespace)/\(metadata.name) "
            + "(uid \(metadata.uid), attempt \(metadata.attempt ?? 0)) exists: \(twin.sandbox.id)")
        }
        do {
          try KernelFiles.makeDirectory(layout.containers(in: id))
          try KernelFiles.makeDirectory(record.sandbox.logDirectory)
          try Data("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t\(record.hostname)\n".utf8)
            .write(to: URL(fileURLWithPath: "\(folder)/hosts"))
          try Data("\(record.hostname)\n".utf8).write(to: URL(fileURLWithPath: "\(folder)/hostname"))
          let resolv = FileManager.default.contents(atPath: "/etc/resolv.conf") ?? Data()
          try resolv.write(to: URL(fileURLWithPath: "\(folder)/resolv.conf"))
          try RuntimeJSON.write(record, to: URL(fileURLWithPath: layout.sandboxFile(id)))
        } catch {
          TarExtractor.removeTree(folder)
          throw RuntimeFailure(SKIFF_ERROR, "CreateError", "sandbox \(id): \(error)")
        }
        sandboxes[id] = record
      }
      return ["id": id]
    }
  }

  func stopSandbox(_ id: String, done: skiff_done) {
    guard markNotReady(id) else {
      return done.fail(SKIFF_NOT_FOUND, reason: "NotFound", message: "sandbox \(id) not found")
    }
    killContainers(inSandbox: id) { [self] allExited in
      report(done) { () throws(RuntimeFailure) in
        guard allExited else { throw detachedFailure("sandbox \(id)") }
        try locked { () throws(RuntimeFailure) in
          guard let record = sandboxes[id] else { return }
          try attempt("SystemError") { try RuntimeJSON.write(record, to: URL(fileURLWithPath: layout.sandboxFile(id))) }
        }
        return [:]
      }
    }
  }

  func removeSandbox(_ id: String, done: skiff_done) {
    guard markNotReady(id) else {
      return done.fail(SKIFF_NOT_FOUND, reason: "NotFound", message: "sandbox \(id) not found")
    }
    killContainers(inSandbox: id) { [self] allExited in
      report(done) { () throws(RuntimeFailure) in
        guard allExited else { throw detachedFailure("sandbox \(id)") }
        let members = locked { containers.values.filter { $0.record.container.podSandboxId == id } }
        for container in members { try removeLeftovers(of: container) }
        TarExtractor.removeTree(layout.sandbox(id))
        locked { sandboxes[id] = nil }
        return [:]
      }
    }
  }

  private func markNotReady(_ id: String) -> Bool {
    locked {
      sandboxes[id]?.sandbox.state = .notReady
      return sandboxes[id] != nil
    }
  }

  private func killContainers(inSandbox id: String, then: @escaping @Sendable (Bool) -> Void) {
    let group = WaitGroup()
    let failed = Lock()
    nonisolated(unsafe) var allExited = true
    let running = locked { () -> [OCIContainer] in
      let running = containers.values.filter {
        $0.record.container.podSandboxId == id && $0.record.container.state == .running
      }
      for container in running {
        group.enter()
        container.exitWaiters.append { exited in
          if !exited { failed.withLock { allExited = false } }
          group.leave()
        }
      }
      return running
    }
    for container in running { signal(container, SIGKILL) }
    startThread(name: "skiff-oci-sandbox-stop") {
      group.wait()
      then(failed.withLock { allExited })
    }
  }

  // MARK: Containers

  func createContainer(inSandbox sandboxId: String, _ json: Data, done: skiff_done) {
    report(done) { () throws(RuntimeFailure) in
      let config = try RuntimeJSON.decode(ContainerConfig.self, from: json, what: "container config")
      let extras = try RuntimeJSON.decode(OCIContainerExtras.self, from: json, what: "container config")
      guard let imageName = extras.image?.image, !imageName.isEmpty else {
        throw RuntimeFailure(SKIFF_INVALID, "InvalidArgument", "container config: image.image is required: "
          + "the oci runtime runs containers from images")
      }
      let metadata = ContainerMetadata(name: config.metadata.name, attempt: config.metadata.attempt ?? 0)
      let sandbox = try locked { () throws(RuntimeFailure) in
        guard let sandbox = sandboxes[sandboxId] else {
          throw RuntimeFailure(SKIFF_NOT_FOUND, "NotFound", "sandbox \(sandboxId) not found")
        }
        guard sandbox.sandbox.state == .ready else {
          throw RuntimeFailure(SKIFF_ERROR, "SandboxNotReady", "sandbox \(sandboxId) is stopped")
        }
        if let twin = containers.values.first(where: {
          $0.record.container.podSandboxId == sandboxId && $0.record.container.metadata == metadata
        }) {
          throw RuntimeFailure(SKIFF_CONFLICT, "NameConflict", "container \(metadata.name) attempt "
            + "\(metadata.attempt ?? 0) exists in sandbox \(sandboxId): \(twin.record.id)")
        }
        return sandbox
      }
      let image: ImageRecord
      let imageConfig: ImageConfig.Process
      do throws(ImageError) {
        image = try images.find(imageName)
        imageConfig = try images.config(of: image).config ?? ImageConfig.Process()
      } catch {
        throw RuntimeFailure(SKIFF_NOT_FOUND, "ImageNotFound", "container \(metadata.name): \(error)")
      }
      // Kubernetes' rule: command replaces the entrypoint (and drops Cmd), args replace Cmd.
      let argv = config.command.map { $0 + (config.args ?? []) }
        ?? (imageConfig.Entrypoint ?? []) + (config.args ?? imageConfig.Cmd ?? [])
      guard !argv.isEmpty else {
        throw RuntimeFailure(SKIFF_INVALID, "InvalidArgument", "container \(metadata.name): neither the "
          + "config (command, args) nor the image \(imageName) (Entrypoint, Cmd) says what to run")
      }
      var envs = (imageConfig.Env ?? []).map { entry -> KeyValue in
        let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        return KeyValue(key: String(parts[0]), value: parts.count > 1 ? String(parts[1]) : "")
      }
      for env in config.envs ?? [] {
        envs.removeAll { $0.key == env.key }
        envs.append(env)
      }
      let id = RuntimeID.random()
      let logPath = config.logPath ?? "\(metadata.name)/\(metadata.attempt ?? 0).log"
      let base = ContainerRecord(
        id: id, podSandboxId: sandboxId, metadata: metadata, labels: config.labels ?? [:],
        annotations: config.annotations ?? [:], argv: argv,
        workingDir: config.workingDir ?? imageConfig.WorkingDir.flatMap { $0.isEmpty ? nil : $0 } ?? "/",
        envs: envs, resources: config.linux?.resources ?? LinuxResources(),
        logPath: logPath.hasPrefix("/") ? logPath : "\(sandbox.sandbox.logDirectory)/\(logPath)",
        cgroupParent: sandbox.sandbox.cgroupParent, state: .created, createdAt: Clock.now)
      let bundle = layout.bundle(base)
      do {
        try KernelFiles.makeDirectory(bundle)
        try KernelFiles.makeDirectory(String(base.logPath[..<(base.logPath.lastIndex(of: "/") ?? base.logPath.endIndex)]))
        let mode = try RootFilesystem.assemble(layers: try images.unpackedLayers(of: image), in: bundle, mode: rootfsMode)
        let record = OCIContainerRecord(
          container: base, image: imageName, imageId: image.id,
          user: try OCISpec.user(imageConfig.User, rootfs: "\(bundle)/rootfs"), rootfs: mode)
        try writeSpec(record, sandbox: sandbox)
        try RuntimeJSON.write(record, to: URL(fileURLWithPath: layout.containerFile(base)))
        try locked { () throws(RuntimeFailure) in
          guard sandboxes[sandboxId] != nil else {
            throw RuntimeFailure(SKIFF_NOT_FOUND, "NotFound", "sandbox \(sandboxId) was removed meanwhile")
          }
          containers[id] = OCIContainer(record)
        }
      } catch {
        try? RootFilesystem.release(in: bundle)
        TarExtractor.removeTree(bundle)
        if let failure = error as? RuntimeFailure { throw failure }
        throw RuntimeFailure(SKIFF_ERROR, "CreateContainerError", "container \(metadata.name): \(error)")
      }
      return ["id": id]
    }
  }

  private func writeSpec(_ record: OCIContainerRecord, sandbox: OCISandboxRecord) throws {
    let base = record.container
    let swapAccounting = ContainerCgroups.mounts[.memory].map {
      access("\($0)/memory.memsw.limit_in_bytes", F_OK) == 0
    } ?? false
    let parent = base.cgroupParent.split(separator: "/").joined(separator: "/")
    var namespaces = ["pid", "ipc", "uts", "mount"].map { OCISpec.Namespace(type: $0) }
    if let netns = sandbox.netns { namespaces.append(OCISpec.Namespace(type: "network", path: netns)) }
    let spec = OCISpec(
      process: OCISpec.Process(
        user: record.user, args: base.argv, env: ProcessRuntime.environment(base.envs),
        cwd: base.workingDir, capabilities: OCISpec.Capabilities()),
      hostname: sandbox.hostname,
      mounts: OCISpec.mounts(sandboxFiles: layout.sandbox(base.podSandboxId)),
      linux: OCISpec.Linux(
        resources: OCISpec.resources(base.resources, swapAccounting: swapAccounting),
        cgroupsPath: "/\(parent.isEmpty ? "" : "\(parent)/")\(base.id)", namespaces: namespaces))
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    try encoder.encode(spec).write(to: URL(fileURLWithPath: "\(layout.bundle(base))/config.json"))
  }

  func startContainer(_ id: String, done: skiff_done) {
    report(done) { () throws(RuntimeFailure) in
      let container = try locked { () throws(RuntimeFailure) in
        let container = try find(id)
        guard container.record.container.state == .created, !container.starting else {
          throw RuntimeFailure(SKIFF_ERROR, "ContainerNotCreated", "container \(id) is "
            + "\(container.starting ? "starting" : container.record.container.state.rawValue): only a "
            + "created container can start")
        }
        container.starting = true
        return container
      }
      let record = locked { container.record.container }
      var relays: [LogRelay] = []
      var containerEnds: [Int32] = []
      defer { containerEnds.forEach { close($0) } }
      do throws(SystemError) {
        for stream in [LogRelay.Stream.stdout, .stderr] {
          let pipe = try OutputPipe.make(at: layout.pipe(stream, of: record))
          containerEnds.append(pipe.container)
          relays.append(try LogRelay(source: pipe.relay, stream: stream, logPath: record.logPath))
        }
        let pid = try runc.createAndStart(id, bundle: layout.bundle(record), stdout: containerEnds[0],
                                          stderr: containerEnds[1])
        let startTime = ProcessIdentity(pid)?.startTime ?? 0
        let detachedMeanwhile = locked {
          container.starting = false
          container.relays = relays
          container.record.container.state = .running
          container.record.container.pid = pid
          container.record.container.pidStartTime = startTime
          container.record.container.startedAt = Clock.now
          persist(container.record)
          return detached
        }
        if detachedMeanwhile { relays.forEach { $0.stop() } }
        watchExit(of: container, pid: pid, startTime: startTime)
        return ["pid": pid]
      } catch {
        relays.forEach { $0.stop() }
        _ = try? runc.run(["delete", "--force", id])
        locked {
          container.starting = false
          container.record.container.failStart(error.description, at: Clock.now)
          persist(container.record)
        }
        throw RuntimeFailure(SKIFF_ERROR, "StartError", "container \(id): \(error)")
      }
    }
  }

  /// SIGTERM through runc, SIGKILL after `grace` seconds (at once for 0); completes when the
  /// container has exited.
  func stopContainer(_ id: String, grace: Int64, done: skiff_done) {
    let target: (OCIContainer, pid_t)?
    do throws(RuntimeFailure) {
      target = try locked { () throws(RuntimeFailure) -> (OCIContainer, pid_t)? in
        let container = try find(id)
        guard !container.starting else {
          throw RuntimeFailure(SKIFF_ERROR, "ContainerStarting", "container \(id) is starting; "
            + "stop it once its start has completed")
        }
        guard container.record.container.state == .running else { return nil }
        container.exitWaiters.append { [self] exited in
          guard exited else { return fail(done, detachedFailure("container \(id)")) }
          done.complete(SKIFF_OK, json: "{}")
        }
        return (container, container.record.container.pid)
      }
    } catch {
      return fail(done, error)
    }
    guard let (container, pid) = target else { return done.complete(SKIFF_OK, json: "{}") }
    // runc is a child process to wait for: not on the loop.
    startThread(name: "skiff-oci-stop-\(id)") { [self] in
      signal(container, grace > 0 ? SIGTERM : SIGKILL)
      guard grace > 0 else { return }
      sleep(UInt32(min(grace, Int64(UInt32.max))))
      let stillRunning = locked {
        !detached && container.record.container.state == .running && container.record.container.pid == pid
      }
      if stillRunning { signal(container, SIGKILL) }
    }
  }

  func removeContainer(_ id: String, done: skiff_done) {
    report(done) { () throws(RuntimeFailure) in
      let container = try locked { () throws(RuntimeFailure) in
        let container = try find(id)
        guard container.record.container.state != .running, !container.starting else {
          throw RuntimeFailure(SKIFF_ERROR, "ContainerRunning", "container \(id) is running: stop it before removing it")
        }
        return container
      }
      try removeLeftovers(of: container)
      return [:]
    }
  }

  /// runc's state, the root filesystem, the cgroups and the bundle; not the log.
  private func removeLeftovers(of container: OCIContainer) throws(RuntimeFailure) {
    let record = locked { container.record.container }
    _ = try? runc.run(["delete", "--force", record.id])
    try attempt("CgroupError") { try container.cgroups.remove() }
    try attempt("SystemError") { try RootFilesystem.release(in: layout.bundle(record)) }
    let relays = locked {
      containers[record.id] = nil
      return container.relays
    }
    relays.forEach { $0.stop() }
    TarExtractor.removeTree(layout.bundle(record))
  }

  func status(of id: String?, done: skiff_done) {
    let status: [String: Any]? = locked {
      guard let id else {
        return ["containers": containers.values.map(\.record)
          .sorted { ($0.container.createdAt, $0.id) < ($1.container.createdAt, $1.id) }.map(Self.status)]
      }
      return containers[id].map { Self.status($0.record) }
    }
    guard let status else { return fail(done, notFound(id ?? "")) }
    done.complete(SKIFF_OK, json: PluginJSON.encode(status))
  }

  /// The process runtime's ContainerStatus, plus the image.
  private static func status(_ record: OCIContainerRecord) -> [String: Any] {
    var status = record.container.status
    status["image"] = ["image": record.image]
    status["imageRef"] = record.imageId
    return status
  }

  func logPath(of id: String, done: skiff_done) {
    guard let path = locked({ containers[id]?.record.container.logPath }) else { return fail(done, notFound(id)) }
    done.complete(SKIFF_OK, json: PluginJSON.encode(["path": path]))
  }

  // MARK: Exec

  /// `runc exec`: to completion on a thread of its own, or, for a stream, answering at once with
  /// the socket that carries its stdin, output and exit status (ExecStream). The container's
  /// environment, user and working directory come from its bundle.
  func exec(in id: String, _ json: Data, done: skiff_done) {
    let request: ExecRequest
    let bundle: String
    do throws(RuntimeFailure) {
      request = try RuntimeJSON.decode(ExecRequest.self, from: json, what: "exec request")
      guard !request.cmd.isEmpty else {
        throw RuntimeFailure(SKIFF_INVALID, "InvalidArgument", "exec request: cmd is empty")
      }
      bundle = try locked { () throws(RuntimeFailure) in
        let container = try find(id)
        guard container.record.container.state == .running else {
          throw RuntimeFailure(SKIFF_ERROR, "ContainerNotRunning", "container \(id) is "
            + "\(container.record.container.state.rawValue): exec needs a running container")
        }
        return layout.bundle(container.record.container)
      }
    } catch {
      return fail(done, error)
    }
    let command = request.cmd
    if request.streams {
      // runc runs to its exit for a terminal: off the caller's thread.
      startThread { [self] in
        report(done) { () throws(RuntimeFailure) in
          do throws(SystemError) {
            return ["fd": try startStream(request, in: id, bundle: bundle)]
          } catch {
            throw RuntimeFailure(SKIFF_ERROR, "ExecError", "\(error)")
          }
        }
      }
      return
    }
    startThread { [self] in
      report(done) { () throws(RuntimeFailure) in
        let outcome: Runc.Outcome
        do { outcome = try runc.run(["exec", id] + command, limit: ProcessRuntime.execOutputLimit) } catch {
          throw RuntimeFailure(SKIFF_ERROR, "ExecError", "\(error)")
        }
        return ["exitCode": outcome.exitCode, "stdout": String(decoding: outcome.stdout, as: UTF8.self),
                "stderr": String(decoding: outcome.stderr, as: UTF8.self)]
      }
    }
  }

  /// Starts `runc exec` for a stream and hands it to an ExecStream; returns the caller's socket.
  private func startStream(_ request: ExecRequest, in id: String, bundle: String) throws(SystemError) -> Int32 {
    let scratch = "\(bundle)/exec-\(UInt32.random(in: 0...UInt32.max))"
    let pid: pid_t
    let stdio: ExecStdio
    /// The command's own host pid, to kill if the caller hangs up; nil if it ended at once.
    let commandPid: pid_t?
    if request.tty == true {
      let started = try runc.startExecOnTerminal(id, command: request.cmd, scratch: scratch)
      pid = started.pid
      stdio = ExecStdio(child: (-1, -1, -1), input: request.stdin == true ? dup(started.master) : -1,
                        output: started.master, errors: -1, terminal: true)
      commandPid = started.pid
    } else {
      stdio = try ExecStdio.make(tty: false, stdin: request.stdin == true)
      let pidFile = "\(scratch).pid"
      defer { unlink(pidFile) }
      do throws(SystemError) { pid = try runc.startExec(id, command: request.cmd, stdio: stdio, pidFile: pidFile) } catch {
        stdio.closeAll()
        throw error
      }
      stdio.closeChildEnds()
      // The command may print before runc has recorded its pid: the answer waits for the record,
      // so that a caller who hangs up at once still ends the command.
      commandPid = Runc.waitForPidFile(pidFile, of: pid)
    }
    let sockets: (caller: Int32, stream: Int32)
    do throws(SystemError) { sockets = try ExecStream.socketPair() } catch {
      kill(pid, SIGKILL)
      stdio.closeAll()
      throw error
    }
    // runc cannot pass SIGKILL on: the command itself is killed (and runc, if it waits, with it).
    try ExecStream.start(pid: pid, stdio: stdio, socket: sockets.stream) {
      if let commandPid { kill(commandPid, SIGKILL) }
    }
    return sockets.caller
  }

  // MARK: Exits

  /// Waits for the container's init to exit: as the child subreaper this process is its parent,
  /// so waitid gives the status; an init that is not our child (re-adopted by another process's
  /// instance) is polled, and its status is lost.
  private func watchExit(of container: OCIContainer, pid: pid_t, startTime: UInt64) {
    startThread { [self] in
      var info = siginfo_t()
      var ours = true
      // WNOWAIT leaves the zombie for the next instance if this one detaches meanwhile.
      while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 {
        if errno == EINTR { continue }
        ours = false
        break
      }
      if !ours {
        while ProcessIdentity.isAlive(pid, startedAt: startTime) {
          if locked({ detached }) { return }
          usleep(250_000)
        }
      }
      for relay in locked({ container.relays }) { relay.waitUntilFinished(seconds: 1) }
      let waiters = locked { () -> [@Sendable (Bool) -> Void] in
        guard !detached, container.record.container.state == .running, container.record.container.pid == pid else {
          return []
        }
        container.record.container.finish(waitStatus: reap(pid, startTime: startTime),
                                          oomKilled: container.cgroups.sawOOMKill, at: Clock.now)
        persist(container.record)
        defer { container.exitWaiters = [] }
        return container.exitWaiters
      }
      waiters.forEach { $0(true) }
    }
  }

  /// The exit status of an ended init, if it is this process's zombie to collect.
  private func reap(_ pid: pid_t, startTime: UInt64) -> Int32? {
    guard ProcessIdentity(pid)?.startTime == startTime else { return nil }
    var status: Int32 = 0
    while true {
      if waitpid(pid, &status, WNOHANG) == pid { return status }
      if errno != EINTR { return nil }
    }
  }

  /// `runc kill`; the init itself if runc no longer knows the container.
  private func signal(_ container: OCIContainer, _ signal: Int32) {
    let (id, pid, startTime) = locked {
      (container.record.id, container.record.container.pid, container.record.container.pidStartTime)
    }
    let killed = try? runc.run(["kill", id, "\(signal)"])
    if killed?.exitCode != 0 && ProcessIdentity.isAlive(pid, startedAt: startTime) { kill(pid, signal) }
  }

  // MARK: Recovery

  private func recover() {
    for sandboxId in TarExtractor.directoryEntries(layout.sandboxes) {
      guard let sandbox = try? RuntimeJSON.read(OCISandboxRecord.self, from: URL(fileURLWithPath: layout.sandboxFile(sandboxId))) else {
        PluginHost.warn("ignoring \(layout.sandbox(sandboxId)): no readable sandbox.json")
        continue
      }
      sandboxes[sandbox.sandbox.id] = sandbox
      let folder = layout.containers(in: sandboxId)
      for containerId in TarExtractor.directoryEntries(folder) {
        let file = "\(folder)/\(containerId)/container.json"
        guard let record = try? RuntimeJSON.read(OCIContainerRecord.self, from: URL(fileURLWithPath: file)) else {
          PluginHost.warn("ignoring container \(containerId): \(file) is not readable")
          continue
        }
        let container = OCIContainer(record)
        containers[record.id] = container
        if record.container.state == .running { readopt(container) }
      }
    }
  }

  private func readopt(_ container: OCIContainer) {
    let record = container.record.container
    guard ProcessIdentity.isAlive(record.pid, startedAt: record.pidStartTime) else {
      container.record.container.finish(waitStatus: reap(record.pid, startTime: record.pidStartTime),
                                        oomKilled: container.cgroups.sawOOMKill, at: Clock.now)
      persist(container.record)
      PluginHost.info("container \(record.id) (pid \(record.pid)) ended while unwatched: \(container.record.container.reason)")
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
    watchExit(of: container, pid: record.pid, startTime: record.pidStartTime)
    PluginHost.info("re-adopted container \(record.id) (pid \(record.pid))")
  }

  // MARK: Helpers

  private func persist(_ record: OCIContainerRecord) {
    do {
      try RuntimeJSON.write(record, to: URL(fileURLWithPath: layout.containerFile(record.container)))
    } catch {
      if !detached { PluginHost.warn("container \(record.id): state not saved: \(error)") }
    }
  }

  private func find(_ id: String) throws(RuntimeFailure) -> OCIContainer {
    guard let container = containers[id] else { throw notFound(id) }
    return container
  }

  private func notFound(_ id: String) -> RuntimeFailure {
    RuntimeFailure(SKIFF_NOT_FOUND, "NotFound", "container \(id) not found")
  }

  private func detachedFailure(_ what: String) -> RuntimeFailure {
    RuntimeFailure(SKIFF_ERROR, "RuntimeStopped", "the runtime stopped before \(what) exited; the next start re-adopts it")
  }
}
