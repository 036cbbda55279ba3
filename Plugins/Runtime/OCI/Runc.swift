// The OCI runtime binary (runc; crun takes the same commands), run as a child process per
// operation: create, start, kill, delete, exec. Its errors come back in its own words, from the
// JSON log it writes with --log.
import FoundationEssentials
import Glibc

struct Runc: Sendable {
  /// The binary.
  let path: String
  /// runc's own state folder (--root): one per runtime instance's stateDir, so that tests and
  /// nodes sharing a machine do not see each other's containers.
  let root: String

  /// What a finished command left: its exit code and output (stdout, stderr), capped.
  struct Outcome {
    var exitCode: Int32
    var stdout: [UInt8]
    var stderr: [UInt8]
  }

  /// Runs `runc <global> <arguments>` to completion, collecting its output.
  func run(_ arguments: [String], log: String? = nil, limit: Int = 16 << 20) throws(SystemError) -> Outcome {
    try Self.run([path, "--root", root] + (log.map { ["--log", $0, "--log-format", "json"] } ?? []) + arguments,
                 limit: limit)
  }

  /// `runc exec` on pipes, without waiting for it: runc hands the descriptors to the command
  /// itself. The command's host pid goes to `pidFile`. Returns runc's pid, whose exit status is the
  /// command's.
  func startExec(_ id: String, command: [String], stdio: ExecStdio, pidFile: String) throws(SystemError) -> pid_t {
    unlink(pidFile)
    return try ProcessLauncher.launch(
      executable: path, arguments: [path, "--root", root, "exec", "--pid-file", pidFile, id] + command,
      environment: ["PATH=\(ProcessRuntime.defaultPath)"], workingDir: "/", stdin: stdio.child.0,
      stdout: stdio.child.1, stderr: stdio.child.2, place: { _ in })
  }

  /// The pid `runc exec --pid-file` records once the command runs; nil if runc exits first (it
  /// could not start the command, or the command ended at once). runc writes the file by
  /// renaming, so it is never read half written; runc is peeked at, not reaped.
  static func waitForPidFile(_ path: String, of runc: pid_t) -> pid_t? {
    while true {
      if let text = KernelFiles.read(path), let pid = pid_t(text.filter(\.isNumber)) { return pid }
      guard let stat = KernelFiles.read("/proc/\(runc)/stat"), let end = stat.lastIndex(of: ")"),
            !"ZX".contains(stat[stat.index(end, offsetBy: 2)]) else { return nil }
      usleep(1000)
    }
  }

  /// `runc exec --tty --detach`: runc makes the command a terminal inside the container and sends
  /// its master here over a console socket, as containerd's shim has it, so that output is read
  /// from the terminal itself (runc's own copying in the foreground can lose the last output when
  /// the command exits). runc exits once the command runs; the command, orphaned, comes to this
  /// process as the child subreaper. Blocks while runc runs. Returns the command's host pid and
  /// the terminal's master.
  func startExecOnTerminal(_ id: String, command: [String], scratch: String) throws(SystemError)
    -> (pid: pid_t, master: Int32) {
    // A unix socket's path is short (108 bytes), too short for bundle paths: a private folder.
    var template = Array("/tmp/skiff-console-XXXXXX".utf8CString)
    guard mkdtemp(&template) != nil else { throw SystemError("creating a folder for runc's console socket") }
    let folder = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    let socketPath = "\(folder)/socket", pidFile = "\(scratch).pid"
    defer {
      unlink(socketPath)
      rmdir(folder)
      unlink(pidFile)
    }
    let listener = try ConsoleSocket.listen(at: socketPath)
    defer { close(listener) }
    let outcome = try run(["exec", "--tty", "--detach", "--console-socket", socketPath, "--pid-file", pidFile, id] + command)
    guard outcome.exitCode == 0 else {
      throw SystemError(message: "runc exec: \(Self.text(outcome.stderr + outcome.stdout))")
    }
    guard let text = KernelFiles.read(pidFile), let pid = pid_t(text.filter(\.isNumber)) else {
      throw SystemError(message: "runc exec wrote no pid to \(pidFile)")
    }
    do throws(SystemError) {
      return (pid, try ConsoleSocket.receiveTerminal(from: listener))
    } catch {
      kill(pid, SIGKILL)
      throw error
    }
  }

  /// `runc create` then `runc start`, with the container's stdout and stderr on the descriptors
  /// given (runc hands its own to the container). Returns the container's init pid.
  func createAndStart(_ id: String, bundle: String, stdout: Int32, stderr: Int32) throws(SystemError) -> pid_t {
    let log = "\(bundle)/runc.log"
    unlink(log)
    let pidFile = "\(bundle)/init.pid"
    let pid = try ProcessLauncher.launch(
      executable: path,
      arguments: [path, "--root", root, "--log", log, "--log-format", "json", "create", "--bundle", bundle,
                  "--pid-file", pidFile, id],
      environment: ["PATH=\(ProcessRuntime.defaultPath)"], workingDir: bundle, stdout: stdout, stderr: stderr,
      place: { _ in })
    let status = Self.wait(pid)
    guard status == 0 else {
      throw SystemError(message: "runc create: \(Self.lastError(log) ?? "exit status \(status)")")
    }
    let started = try run(["start", id], log: log)
    guard started.exitCode == 0 else {
      _ = try? run(["delete", "--force", id])
      throw SystemError(message: "runc start: \(Self.lastError(log) ?? Self.text(started.stderr))")
    }
    guard let text = KernelFiles.read(pidFile), let initPid = pid_t(text.filter(\.isNumber)) else {
      throw SystemError(message: "runc create wrote no pid to \(pidFile)")
    }
    return initPid
  }

  /// The last error runc logged, in its words.
  static func lastError(_ log: String) -> String? {
    struct Entry: Decodable { var level: String?; var msg: String? }
    let lines = (KernelFiles.read(log) ?? "").split(separator: "\n")
    return lines.reversed().compactMap { line -> String? in
      guard let entry = try? JSONDecoder().decode(Entry.self, from: Data(line.utf8)),
            entry.level == "error" || entry.level == "fatal" else { return nil }
      return entry.msg
    }.first
  }

  static func text(_ bytes: [UInt8]) -> String {
    String(decoding: bytes, as: UTF8.self).split(separator: "\n").joined(separator: "; ")
  }

  /// Runs argv[0] with its output collected.
  static func run(_ argv: [String], limit: Int = 16 << 20) throws(SystemError) -> Outcome {
    var outPipe: [Int32] = [-1, -1]
    var errPipe: [Int32] = [-1, -1]
    guard GNU.pipe2(&outPipe, O_CLOEXEC) == 0, GNU.pipe2(&errPipe, O_CLOEXEC) == 0 else {
      [outPipe, errPipe].joined().filter { $0 >= 0 }.forEach { close($0) }
      throw SystemError("creating a pipe")
    }
    defer { close(outPipe[0]); close(errPipe[0]) }
    let pid: pid_t
    do {
      defer { close(outPipe[1]); close(errPipe[1]) }
      pid = try ProcessLauncher.launch(
        executable: argv[0], arguments: argv, environment: ["PATH=\(ProcessRuntime.defaultPath)"],
        workingDir: "/", stdout: outPipe[1], stderr: errPipe[1], place: { _ in })
    }
    let (stdout, stderr) = collect(outPipe[0], errPipe[0], limit: limit)
    return Outcome(exitCode: wait(pid), stdout: stdout, stderr: stderr)
  }

  /// Waits for a child; its exit code, or 128 + the signal that ended it.
  static func wait(_ pid: pid_t) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
      if errno != EINTR { return -1 }
    }
    let signal = status & 0x7f
    return signal == 0 ? (status >> 8) & 0xff : 128 + signal
  }

  /// Reads both pipes until both reach EOF.
  static func collect(_ out: Int32, _ err: Int32, limit: Int) -> ([UInt8], [UInt8]) {
    var outputs: [[UInt8]] = [[], []]
    var open = [true, true]
    var chunk = [UInt8](repeating: 0, count: 64 * 1024)
    while open[0] || open[1] {
      var fds = [pollfd(fd: open[0] ? out : -1, events: Int16(POLLIN), revents: 0),
                 pollfd(fd: open[1] ? err : -1, events: Int16(POLLIN), revents: 0)]
      if poll(&fds, 2, -1) < 0 {
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
        outputs[i] += chunk[0..<min(count, max(0, limit - outputs[i].count))]
      }
    }
    return (outputs[0], outputs[1])
  }
}

/// The console socket of `runc --console-socket`: runc connects and sends the terminal master it
/// made as SCM_RIGHTS ancillary data (with the terminal's name as the message).
enum ConsoleSocket {
  static func listen(at path: String) throws(SystemError) -> Int32 {
    unlink(path)
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
    guard fd >= 0 else { throw SystemError("creating a console socket") }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
      close(fd)
      throw SystemError(message: "console socket path \(path) is too long for a unix socket")
    }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
      raw.copyBytes(from: bytes)
      raw[bytes.count] = 0
    }
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard bound == 0, Glibc.listen(fd, 1) == 0 else {
      close(fd)
      throw SystemError("binding console socket \(path)")
    }
    return fd
  }

  /// The master runc sent: its connection is queued by now (runc has exited), so nothing waits.
  static func receiveTerminal(from listener: Int32) throws(SystemError) -> Int32 {
    let connection = accept(listener, nil, nil)
    guard connection >= 0 else { throw SystemError("accepting runc's console socket connection") }
    defer { close(connection) }
    _ = fcntl(connection, F_SETFL, fcntl(connection, F_GETFL) & ~O_NONBLOCK)
    var name = [UInt8](repeating: 0, count: 4096)
    // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; int fd; } padded: 24 bytes.
    var control = [UInt8](repeating: 0, count: 64)
    let received: Int32 = name.withUnsafeMutableBytes { data in
      control.withUnsafeMutableBytes { ancillary in
        var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
        return withUnsafeMutablePointer(to: &vector) { vector in
          var message = msghdr(msg_name: nil, msg_namelen: 0, msg_iov: vector, msg_iovlen: 1,
                               msg_control: ancillary.baseAddress, msg_controllen: ancillary.count, msg_flags: 0)
          let msgCmsgCloexec: Int32 = 0x4000_0000  // MSG_CMSG_CLOEXEC
          guard recvmsg(connection, &message, msgCmsgCloexec) >= 0, message.msg_controllen >= 20 else { return -1 }
          let scmRights: Int32 = 1  // SCM_RIGHTS
          guard ancillary.load(fromByteOffset: 8, as: Int32.self) == SOL_SOCKET,
                ancillary.load(fromByteOffset: 12, as: Int32.self) == scmRights else { return -1 }
          return ancillary.load(fromByteOffset: 16, as: Int32.self)
        }
      }
    }
    guard received >= 0 else { throw SystemError(message: "runc sent no terminal over its console socket") }
    return received
  }
}

/// prctl(2) is variadic in C, which Swift cannot call; looked up with a fixed signature.
enum Subreaper {
  private typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
  private static let prctl: Prctl = unsafeBitCast(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "prctl")!, to: Prctl.self)
  private static let setChildSubreaper: Int32 = 36  // PR_SET_CHILD_SUBREAPER

  /// Makes this process adopt its orphaned descendants. `runc create` exits once the container's
  /// init runs, orphaning it; as the subreaper, this process becomes its parent and can wait
  /// for its exit status, as containerd's shim does.
  static func become() -> Bool { prctl(setChildSubreaper, 1, 0, 0, 0) == 0 }
}
