// Starts a host process as a container needs it: in a session and process group of its own,
// stdin from /dev/null (or the descriptor given, a terminal's slave perhaps: then it becomes the
// session's controlling terminal), stdout and stderr on the descriptors given, signal dispositions reset,
// and placed in its cgroups by the parent before the command runs.
import FoundationEssentials
import Glibc

enum ProcessLauncher {
  /// Forks; the child waits on a gate while `place` acts on its pid (cgroup.procs), then execs.
  /// Returns the pid once exec has succeeded; throws what failed otherwise (the child is reaped).
  static func launch(executable: String, arguments: [String], environment: [String],
                     workingDir: String, stdin: Int32? = nil, stdout: Int32, stderr: Int32,
                     controllingTerminal: Bool = false,
                     place: (pid_t) throws(SystemError) -> Void) throws(SystemError) -> pid_t {
    let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
    guard devNull >= 0 else { throw SystemError("opening /dev/null") }
    defer { close(devNull) }
    // gate: parent → child, one byte for "go" (a byte, not EOF: children forked concurrently by
    // other threads hold copies of the write end until they exec). report: child → parent
    // (step, errno) if chdir or exec fails; close-on-exec, so EOF means the exec succeeded.
    var gate: [Int32] = [-1, -1]
    var report: [Int32] = [-1, -1]
    guard GNU.pipe2(&gate, O_CLOEXEC) == 0 else { throw SystemError("creating a pipe") }
    guard GNU.pipe2(&report, O_CLOEXEC) == 0 else {
      close(gate[0]); close(gate[1])
      throw SystemError("creating a pipe")
    }

    let plan = ChildPlan(executable: executable, arguments: arguments, environment: environment,
                         workingDir: workingDir, stdio: (stdin ?? devNull, stdout, stderr),
                         controllingTerminal: controllingTerminal, gate: gate[0], report: report[1])
    defer { plan.release() }

    // With every signal blocked across fork, no handler of this process (libuv's among them)
    // runs in the child before the child has reset them.
    var all = sigset_t()
    var previous = sigset_t()
    sigfillset(&all)
    pthread_sigmask(SIG_SETMASK, &all, &previous)
    let pid = fork()
    if pid == 0 { runChild(plan) }
    let forkError = errno
    pthread_sigmask(SIG_SETMASK, &previous, nil)
    close(report[1])
    // The parent keeps its read end of the gate until it has written: with a reader always
    // there, a child that died meanwhile cannot turn the write into a SIGPIPE for this process.
    defer { close(gate[0]); close(gate[1]); close(report[0]) }
    guard pid > 0 else { throw SystemError("fork", code: forkError) }

    do throws(SystemError) {
      try place(pid)
    } catch {
      kill(pid, SIGKILL)  // still at the gate: nothing of the command has run
      reap(pid)
      throw error
    }
    var go: UInt8 = 1
    _ = write(gate[1], &go, 1)

    var failure: (step: Int32, code: Int32) = (0, 0)
    var count: Int
    repeat {
      count = withUnsafeMutableBytes(of: &failure) { read(report[0], $0.baseAddress, $0.count) }
    } while count < 0 && errno == EINTR
    guard count == MemoryLayout.size(ofValue: failure) else { return pid }
    reap(pid)
    throw failure.step == ChildPlan.chdirStep
      ? SystemError("changing to working directory \(workingDir)", code: failure.code)
      : SystemError("exec \(executable)", code: failure.code)
  }

  /// The command's path: `name` itself when it has a slash (relative to `workingDir`), otherwise
  /// the first executable file of that name on `searchPath`.
  static func resolve(_ name: String, searchPath: String, workingDir: String) -> String? {
    func isExecutable(_ path: String) -> Bool {
      var info = stat()
      return access(path, X_OK) == 0 && stat(path, &info) == 0 && info.st_mode & S_IFMT != S_IFDIR
    }
    if name.contains("/") {
      let path = name.hasPrefix("/") ? name : "\(workingDir)/\(name)"
      return isExecutable(path) ? path : nil
    }
    return searchPath.split(separator: ":").lazy.map { "\($0)/\(name)" }.first(where: isExecutable)
  }

  private static func reap(_ pid: pid_t) {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
  }

  /// Runs in the forked child of a multithreaded process: only async-signal-safe C calls on memory
  /// prepared before fork, no allocation, no Swift runtime (hence while loops, not ranges).
  private static func runChild(_ plan: ChildPlan) -> Never {
    _ = setsid()
    if dup2(plan.stdio.0, 0) < 0 || dup2(plan.stdio.1, 1) < 0 || dup2(plan.stdio.2, 2) < 0 {
      _exit(127)
    }
    if plan.controllingTerminal && plan.ioctl(0, GNU.tiocsctty, 0) != 0 { _exit(127) }
    // Handled signals reset on exec by themselves; ignored ones (SIGPIPE is, in Swift processes)
    // would stay ignored in the container.
    var signal: Int32 = 1
    while signal < 65 {
      _ = sigaction(signal, plan.defaultAction, nil)
      signal += 1
    }
    _ = sigprocmask(SIG_SETMASK, plan.noSignals, nil)
    while read(plan.gate, plan.scratch, 1) < 0 && errno == EINTR {}
    if plan.scratch.pointee != 1 { _exit(127) }
    // Descriptors this process opened without O_CLOEXEC (other libraries' doing) must not leak
    // into the container.
    _ = plan.closeRange(3, UInt32.max, GNU.closeRangeCloexec)
    if chdir(plan.workingDir) != 0 { reportAndExit(plan, step: ChildPlan.chdirStep) }
    execve(plan.executable, plan.arguments, plan.environment)
    reportAndExit(plan, step: ChildPlan.execStep)
  }

  private static func reportAndExit(_ plan: ChildPlan, step: Int32) -> Never {
    plan.failure[0] = step
    plan.failure[1] = errno
    _ = write(plan.report, plan.failure, 8)
    _exit(127)
  }
}

/// Everything the child touches, allocated as C memory before fork.
private struct ChildPlan {
  static let chdirStep: Int32 = 1
  static let execStep: Int32 = 2

  let executable: UnsafeMutablePointer<CChar>
  let arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
  let environment: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
  let workingDir: UnsafeMutablePointer<CChar>
  let stdio: (Int32, Int32, Int32)
  let controllingTerminal: Bool
  let ioctl: GNU.IoctlValue
  let gate: Int32
  let report: Int32
  let defaultAction: UnsafeMutablePointer<sigaction>
  let noSignals: UnsafeMutablePointer<sigset_t>
  let scratch: UnsafeMutablePointer<UInt8>
  let failure: UnsafeMutablePointer<Int32>
  let closeRange: GNU.CloseRange

  init(executable: String, arguments: [String], environment: [String], workingDir: String,
       stdio: (Int32, Int32, Int32), controllingTerminal: Bool, gate: Int32, report: Int32) {
    func cStrings(_ strings: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
      let list = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: strings.count + 1)
      for (i, string) in strings.enumerated() { list[i] = strdup(string) }
      list[strings.count] = nil
      return list
    }
    self.executable = strdup(executable)
    self.arguments = cStrings(arguments)
    self.environment = cStrings(environment)
    self.workingDir = strdup(workingDir)
    self.stdio = stdio
    self.controllingTerminal = controllingTerminal
    ioctl = GNU.ioctlValue
    self.gate = gate
    self.report = report
    defaultAction = .allocate(capacity: 1)
    defaultAction.initialize(to: sigaction())
    defaultAction.pointee.__sigaction_handler.sa_handler = SIG_DFL
    sigemptyset(&defaultAction.pointee.sa_mask)
    noSignals = .allocate(capacity: 1)
    sigemptyset(noSignals)
    scratch = .allocate(capacity: 1)
    scratch.pointee = 0
    failure = .allocate(capacity: 2)
    closeRange = GNU.closeRange
  }

  func release() {
    free(executable)
    free(workingDir)
    for list in [arguments, environment] {
      var cursor = list
      while let string = cursor.pointee {
        free(string)
        cursor += 1
      }
      list.deallocate()
    }
    defaultAction.deallocate()
    noSignals.deallocate()
    scratch.deallocate()
    failure.deallocate()
  }
}
