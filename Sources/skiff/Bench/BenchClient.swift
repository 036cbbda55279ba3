// What `skiff bench api` drives the server with: a `skiff server` child process, threads to run
// clients on, and (BlockingHTTPConnection, from the HTTP module) a keep-alive connection per thread.
import FoundationEssentials
import Glibc
import HTTP
import SystemKit

struct BenchError: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}

/// A `skiff server` started from an executable on a data directory and a free port; `ready`
/// is how long it took from spawning it to its ready line.
final class ServerChild {
  let pid: pid_t
  let port: Int
  let readyNanoseconds: UInt64
  private let stdoutFD: Int32
  private var reaped = false

  init(executable: String, profile: String, dataDir: String) throws(BenchError) {
    var pipeFDs: [Int32] = [0, 0]
    guard pipe(&pipeFDs) == 0 else { throw BenchError("pipe: \(String(cString: strerror(errno)))") }
    // Close-on-exec, so that servers started later do not hold this one's pipe; the child's fd 1,
    // a dup2 of the write end, is not.
    for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
    let arguments = [executable, "server", "--profile", profile, "--data-dir", dataDir, "--listen", "127.0.0.1:0"]
    let environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup($0) } + [nil]
    defer { (argv + envp).forEach { free($0) } }
    var child: pid_t = 0
    let started = monotonicNanoseconds()
    let status = posix_spawn(&child, executable, &actions, nil, argv, envp)
    Glibc.close(pipeFDs[1])
    guard status == 0 else {
      Glibc.close(pipeFDs[0])
      throw BenchError("cannot start \(executable): \(String(cString: strerror(status)))")
    }
    pid = child
    let readEnd = pipeFDs[0]
    stdoutFD = readEnd
    // The server writes its ready line in one write; read until a whole line is there.
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while !output.contains(10) {
      let count = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
      guard count > 0 else { break }
      output += buffer[..<count]
    }
    readyNanoseconds = monotonicNanoseconds() - started
    let line = String(decoding: output, as: UTF8.self)
    guard line.hasPrefix("skiff: ready:"), let portText = line.split(separator: "(port ").dropFirst().first,
          let port = Int(portText.prefix { $0.isNumber }) else {
      kill(child, SIGKILL)
      waitpid(child, nil, 0)
      Glibc.close(readEnd)
      throw BenchError("skiff server did not become ready (it said: \(line.isEmpty ? "nothing" : line))")
    }
    self.port = port
  }

  deinit { stop() }

  /// SIGTERM, then waits for the orderly stop.
  func stop() {
    guard !reaped else { return }
    kill(pid, SIGTERM)
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    reaped = true
    Glibc.close(stdoutFD)
  }

  /// How the server ended, if it has or does within a second ("was killed by signal 11"); nil
  /// while it runs. The wait covers a dying process, whose sockets close before it can be reaped.
  func endedHow() -> String? {
    guard !reaped else { return nil }
    var status: Int32 = 0
    var attempts = 0
    while waitpid(pid, &status, WNOHANG) != pid {
      attempts += 1
      if attempts == 100 { return nil }
      usleep(10_000)
    }
    reaped = true
    Glibc.close(stdoutFD)
    // The wait status: a signal number in the low seven bits, else the exit code in the next byte.
    return status & 0x7f == 0 ? "exited with status \((status >> 8) & 0xff)" : "was killed by signal \(status & 0x7f)"
  }

  /// A field of /proc/PID/status in MiB (VmRSS: resident now, VmHWM: the peak).
  func memoryMegabytes(_ field: String) -> Double {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
          let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) })
    else { return .nan }
    return kilobytes / 1024
  }

  /// User plus system CPU seconds the server has used.
  var cpuSeconds: Double {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let endOfName = stat.lastIndex(of: ")") else { return .nan }
    // After "pid (comm)": state is field 3, utime 14 and stime 15.
    let fields = stat[stat.index(after: endOfName)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return .nan }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
  }
}

/// Runs `body(index)` on `count` threads at once and returns their results in index order; the
/// first error thrown is rethrown once all have finished.
func onThreads<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
  let results = ResultSlots<T>(count)
  let group = WaitGroup()
  for index in 0..<count {
    group.enter()
    startThread(stackSize: 1 << 20) {
      results.set(index, Result { try body(index) })
      group.leave()
    }
  }
  group.wait()
  return try results.all()
}

private final class ResultSlots<T: Sendable>: @unchecked Sendable {
  private let lock = Lock()
  private var slots: [Result<T, any Error>?]

  init(_ count: Int) { slots = Array(repeating: nil, count: count) }

  func set(_ index: Int, _ result: Result<T, any Error>) { lock.withLock { slots[index] = result } }

  func all() throws -> [T] { try lock.withLock { try slots.map { try $0!.get() } } }
}
