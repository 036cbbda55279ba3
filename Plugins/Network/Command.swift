// Runs the iproute2 and util-linux programs that do the plumbing, with posix_spawn. They block,
// so this runs on the kernel's thread pool, never on the loop.
import FoundationEssentials
import Glibc
import PluginKit
import SystemKit

struct Command {
  let path: String

  /// Finds `name` in the usual system folders; nil when it is not installed.
  init?(_ name: String) {
    let folders = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
    guard let folder = folders.first(where: { access("\($0)/\(name)", X_OK) == 0 }) else { return nil }
    path = "\(folder)/\(name)"
  }

  struct Outcome {
    let status: Int32
    let output: String
  }

  /// Runs to completion with stdin on /dev/null and stdout and stderr captured together. The
  /// C locale keeps messages in English, since callers look for words such as "does not exist".
  func run(_ arguments: [String]) throws -> Outcome {
    // Created close-on-exec in one step, so that a program another thread spawns meanwhile does
    // not inherit the write end and keep the read below from seeing end of file. A socket pair,
    // because Glibc's Swift module does not offer pipe2.
    var pipe: [Int32] = [-1, -1]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0, &pipe) == 0
    else { throw failure("create a socket pair for", errno) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
    posix_spawn_file_actions_adddup2(&actions, pipe[1], 2)
    // Whatever thread spawns it, the child starts with no signal blocked or ignored.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var signals = sigset_t()
    sigemptyset(&signals)
    posix_spawnattr_setsigmask(&attributes, &signals)
    sigfillset(&signals)
    posix_spawnattr_setsigdefault(&attributes, &signals)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

    let argv = Self.cStrings([path] + arguments)
    let environment = Self.cStrings(["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"])
    defer { (argv + environment).forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, path, &actions, &attributes, argv, environment)
    close(pipe[1])
    defer { close(pipe[0]) }
    guard spawned == 0 else { throw failure("spawn", spawned) }

    var output = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
      let count = buffer.withUnsafeMutableBytes { read(pipe[0], $0.baseAddress, $0.count) }
      if count > 0 { output += buffer[..<count] } else if count == 0 || errno != EINTR { break }
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    // A normal exit has its code in bits 8-15; a signal shows as 128 + signal, as shells report it.
    let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return Outcome(status: code, output: String(decoding: output, as: UTF8.self)
      .trimmingWhitespace())
  }

  /// Runs and throws, quoting the command and what it printed, unless it exits 0 or prints
  /// `tolerated` (the words of a failure that means the work is already done).
  @discardableResult
  func check(_ arguments: [String], tolerating tolerated: String? = nil) throws -> Outcome {
    let outcome = try run(arguments)
    if outcome.status == 0 { return outcome }
    if let tolerated, outcome.output.contains(tolerated) { return outcome }
    throw PluginFailure(reason: "PlumbingFailed",
                         "`\(([path] + arguments).joined(separator: " "))` exited with "
                           + "\(outcome.status): \(outcome.output)")
  }

  /// A NULL-terminated array of C strings, as exec takes; each element is freed by the caller.
  private static func cStrings(_ strings: [String]) -> [UnsafeMutablePointer<CChar>?] {
    var array: [UnsafeMutablePointer<CChar>?] = []
    for string in strings { array.append(strdup(string)) }
    return array + [nil]
  }

  private func failure(_ what: String, _ code: Int32) -> PluginFailure {
    PluginFailure(reason: "PlumbingFailed", "cannot \(what) \(path): \(String(cString: strerror(code)))")
  }
}
