// What the `process` runtime is told (CRI-shaped JSON, lowerCamelCase as CRI's JSON is) and what
// it keeps about each sandbox and container, persisted under stateDir so a restart can re-adopt.
import FoundationEssentials
import Glibc
import SkiffABI
import SystemKit

// MARK: Requests

/// PodSandboxConfig, as much of it as a host-process runtime acts on.
struct PodSandboxConfig: Decodable {
  var metadata: PodSandboxMetadata
  /// Folder that containers' relative `logPath`s are under (default `<sandbox>/logs`).
  var logDirectory: String?
  var labels: [String: String]?
  var annotations: [String: String]?
  var linux: Linux?

  struct Linux: Decodable {
    var cgroupParent: String?
  }
}

struct PodSandboxMetadata: Codable, Equatable {
  var name: String
  var namespace: String
  var uid: String
  var attempt: UInt32?
}

/// ContainerConfig. There is no image, so `command` + `args` is the whole command line.
struct ContainerConfig: Decodable {
  var metadata: ContainerMetadata
  var command: [String]?
  var args: [String]?
  var workingDir: String?
  var envs: [KeyValue]?
  var labels: [String: String]?
  var annotations: [String: String]?
  var linux: Linux?
  /// Relative to the sandbox's log directory (default `<name>/<attempt>.log`).
  var logPath: String?

  struct Linux: Decodable {
    var resources: LinuxResources?
  }
}

struct ContainerMetadata: Codable, Equatable {
  var name: String
  var attempt: UInt32?
}

struct KeyValue: Codable, Equatable {
  var key: String
  var value: String
}

/// LinuxContainerResources: the limits cgroup v1 enforces here. Absent or non-positive values
/// leave the controller's default (no limit).
struct LinuxResources: Codable, Equatable {
  var memoryLimitInBytes: Int64?
  /// Defaults to memoryLimitInBytes, i.e. no swap beyond the limit (as kubelet does).
  var memorySwapLimitInBytes: Int64?
  var cpuPeriod: Int64?
  /// -1 means no quota, as in cpu.cfs_quota_us.
  var cpuQuota: Int64?
  var cpuShares: Int64?
  var pidsLimit: Int64?
}

/// An exec request: run to completion, or, with a terminal, stdin or `stream`, a stream (docs/runtime.md).
struct ExecRequest: Decodable {
  var cmd: [String]
  var tty: Bool?
  var stdin: Bool?
  /// Seconds after which the command is killed and the exec fails (CRI ExecSync's timeout); 0 or
  /// none: no limit.
  var timeout: Double?
  /// A stream without stdin or a terminal: output as it comes, for `kubectl exec` without -i/-t.
  var stream: Bool?

  /// Whether the answer is a socket (ExecStream) rather than the collected output.
  var streams: Bool { tty == true || stdin == true || stream == true }
}

// MARK: Records

struct SandboxRecord: Codable {
  enum State: String, Codable {
    case ready = "SANDBOX_READY"
    case notReady = "SANDBOX_NOTREADY"
  }

  var id: String
  var metadata: PodSandboxMetadata
  var labels: [String: String]
  var annotations: [String: String]
  /// Containers' cgroups are `<controller mount>/<cgroupParent>/<containerId>`.
  var cgroupParent: String
  var logDirectory: String
  var state: State
  var createdAt: Int64
}

struct ContainerRecord: Codable {
  enum State: String, Codable {
    case created = "CONTAINER_CREATED"
    case running = "CONTAINER_RUNNING"
    case exited = "CONTAINER_EXITED"
  }

  var id: String
  var podSandboxId: String
  var metadata: ContainerMetadata
  var labels: [String: String]
  var annotations: [String: String]
  var argv: [String]
  var workingDir: String
  var envs: [KeyValue]
  var resources: LinuxResources
  var logPath: String
  var cgroupParent: String
  var state: State
  var createdAt: Int64
  var startedAt: Int64 = 0
  var finishedAt: Int64 = 0
  var exitCode: Int32 = 0
  var reason: String = ""
  var message: String = ""
  var pid: Int32 = 0
  /// The process's start time from /proc/<pid>/stat: with the pid, it names one process even
  /// after the pid is reused, which re-adoption and signalling an adopted process rely on.
  var pidStartTime: UInt64 = 0

  /// The exit code recorded when the process ended unobserved (while no runtime watched it).
  static let unknownExitCode: Int32 = -1

  /// Records how the process ended. `waitStatus` is nil when nobody could collect it.
  mutating func finish(waitStatus: Int32?, oomKilled: Bool, at time: Int64) {
    state = .exited
    finishedAt = time
    guard let status = waitStatus else {
      exitCode = Self.unknownExitCode
      reason = "Unknown"
      message = "the process ended while no runtime was watching it; its exit status is lost"
      return
    }
    // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import.
    let signal = status & 0x7f
    if signal == 0 {
      exitCode = (status >> 8) & 0xff
      message = ""
    } else {
      exitCode = 128 + signal  // the shell's convention, which Kubernetes reports too
      message = "killed by signal \(signal)"
    }
    // The process the OOM killer chose may be a child whose death the main process reports,
    // as a shell pipeline does, so any non-zero exit after an OOM kill counts.
    reason = exitCode == 0 ? "Completed" : oomKilled ? "OOMKilled" : "Error"
  }

  mutating func failStart(_ why: String, at time: Int64) {
    state = .exited
    finishedAt = time
    exitCode = 128
    reason = "StartError"
    message = why
  }

  /// ContainerStatus, plus podSandboxId (CRI's Container has it) and pid.
  var status: [String: Any] {
    var metadata: [String: Any] = ["name": self.metadata.name]
    metadata["attempt"] = self.metadata.attempt ?? 0
    return [
      "id": id, "podSandboxId": podSandboxId, "metadata": metadata, "state": state.rawValue,
      "createdAt": createdAt, "startedAt": startedAt, "finishedAt": finishedAt,
      "exitCode": exitCode, "reason": reason, "message": message, "pid": pid,
      "logPath": logPath, "labels": labels, "annotations": annotations,
    ]
  }
}

// MARK: Helpers

enum RuntimeJSON {
  static func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String)
    throws(RuntimeFailure) -> T {
    do {
      return try JSONDecoder().decode(type, from: data)
    } catch let error as DecodingError {
      throw RuntimeFailure(SKIFF_INVALID, "InvalidArgument", "\(what): \(describe(error))")
    } catch {
      throw RuntimeFailure(SKIFF_INVALID, "InvalidArgument", "\(what): \(error)")
    }
  }

  /// A decoding error as a field path and what is wrong with it.
  private static func describe(_ error: DecodingError) -> String {
    func path(_ keys: [any CodingKey]) -> String {
      keys.isEmpty ? "the document" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
        .joined(separator: ".").replacing(".[", with: "[")
    }
    switch error {
    case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])) is required"
    case .typeMismatch(let type, let context): return "\(path(context.codingPath)) must be \(type)"
    case .valueNotFound(let type, let context):
      return "\(path(context.codingPath)) must be \(type), not null"
    case .dataCorrupted(let context):
      return context.codingPath.isEmpty ? "not valid JSON" : "\(path(context.codingPath)) is invalid"
    @unknown default: return "\(error)"
    }
  }

  static func write<T: Encodable>(_ value: T, to url: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    try encoder.encode(value).write(to: url, options: .atomic)
  }

  static func read<T: Decodable>(_ type: T.Type, from url: URL) throws -> T {
    try JSONDecoder().decode(type, from: Data(contentsOf: url))
  }
}

/// A failed operation, reported through `done` as {"reason", "message"}.
struct RuntimeFailure: Error {
  let status: skiff_status
  let reason: String
  let message: String

  init(_ status: skiff_status = SKIFF_ERROR, _ reason: String, _ message: String) {
    self.status = status
    self.reason = reason
    self.message = message
  }
}

enum Clock {
  /// Nanoseconds since the epoch, as CRI's timestamps are.
  static var now: Int64 {
    var time = timespec()
    clock_gettime(CLOCK_REALTIME, &time)
    return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
  }
}

enum RuntimeID {
  /// 16 random hex digits; sandbox and container ids carry no meaning.
  static func random() -> String {
    String(cFormat: "%016llx", UInt64.random(in: .min ... .max))
  }
}
