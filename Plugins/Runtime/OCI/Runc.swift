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
