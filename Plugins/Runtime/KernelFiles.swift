// The Linux pseudo-files the runtime reads and writes (/proc, cgroup controls), with errors that
// name the file, and the identity of a process as /proc/<pid>/stat gives it.
import FoundationEssentials
import Glibc
import SystemKit

enum KernelFiles {
  /// The whole of a small file. Pseudo-files report size 0, so this reads to EOF rather than
  /// trusting stat.
  static func read(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
      let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
      if count < 0 && errno == EINTR { continue }
      guard count > 0 else { return count == 0 ? String(decoding: bytes, as: UTF8.self) : nil }
      bytes += chunk[0..<count]
    }
  }

  /// Writes `value` with one write(2), as cgroup control files require.
  static func write(_ value: String, to path: String) throws(SystemError) {
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { throw SystemError("opening \(path)") }
    defer { close(fd) }
    let written = value.utf8CString.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count - 1) }
    guard written == value.utf8.count else { throw SystemError("writing \(value) to \(path)") }
  }

  /// mkdir -p.
  static func makeDirectory(_ path: String) throws(SystemError) {
    if mkdir(path, 0o755) == 0 || errno == EEXIST { return }
    guard errno == ENOENT, path != "/" else { throw SystemError("creating \(path)") }
    try makeDirectory(directoryOf(path))
    guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw SystemError("creating \(path)") }
  }
}

/// A failed system call: what was being done, and errno's words for why.
struct SystemError: Error, CustomStringConvertible {
  let description: String

  init(_ what: String, code: Int32 = errno) {
    description = "\(what): \(String(cString: strerror(code)))"
  }

  init(message: String) {
    description = message
  }
}

/// One process as /proc/<pid>/stat describes it.
struct ProcessIdentity: Equatable {
  let pid: pid_t
  /// Clock ticks after boot. A reused pid gets a later start time, so (pid, startTime) names one
  /// process for good.
  let startTime: UInt64
  /// R, S, D, Z (zombie: exited, not yet reaped), ...
  let state: Character

  /// nil when there is no such process.
  init?(_ pid: pid_t) {
    // The command name (field 2) may hold spaces and parentheses; fields resume after the last ')'.
    guard pid > 0, let text = KernelFiles.read("/proc/\(pid)/stat"),
          let nameEnd = text.lastIndex(of: ")") else { return nil }
    let fields = text[text.index(after: nameEnd)...].split(separator: " ")
    // fields[0] is field 3 (state); field 22 (starttime) is fields[19].
    guard fields.count > 19, let state = fields[0].first, let start = UInt64(fields[19]) else {
      return nil
    }
    self.pid = pid
    self.state = state
    self.startTime = start
  }

  /// Running, sleeping or stopped, but not exited.
  var isAlive: Bool { state != "Z" && state != "X" }

  /// True while `pid` is still the process that started at `startTime` and has not exited.
  static func isAlive(_ pid: pid_t, startedAt startTime: UInt64) -> Bool {
    guard let process = ProcessIdentity(pid) else { return false }
    return process.startTime == startTime && process.isAlive
  }
}
