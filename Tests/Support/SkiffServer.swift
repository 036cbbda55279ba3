// The real `skiff server` as a child process, for tests whose behaviour crosses processes: started
// on a free port with its own data directory, restarted, killed (SIGKILL is the crash), and
// driven with the real kubectl or any HTTP client.
import Foundation
import XCTest

public final class SkiffServer {
  public let dataDir: URL
  private let profile: URL
  private let log: URL
  private let arguments: [String]
  private var process: Process?
  /// The port of the current start.
  public private(set) var port = 0

  public var url: String { "http://127.0.0.1:\(port)" }
  public var kubeconfig: String { dataDir.appendingPathComponent("kubeconfig").path }
  public var pid: pid_t { process?.processIdentifier ?? 0 }

  /// `profileTail` is appended to the profile (e.g. an `agent:` section).
  /// Writes a profile loading `plugins` (found also in `pluginDirs`, each with its `configs` entry
  /// as a YAML flow mapping) beside `dataDir`, so the data directory holds only what the server
  /// writes; then starts the server with `arguments` added.
  public init(dataDir: URL, plugins: [String] = ["scheduler"], pluginDirs: [String] = [],
              configs: [String: String] = [:], arguments: [String] = [], profileTail: String = "") throws {
    self.dataDir = dataDir
    self.arguments = arguments
    let parent = dataDir.deletingLastPathComponent()
    profile = parent.appendingPathComponent("\(dataDir.lastPathComponent)-profile.yaml")
    log = parent.appendingPathComponent("\(dataDir.lastPathComponent)-server.log")
    try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
    let dirs = pluginDirs.isEmpty ? "" : "pluginDirs: [\(pluginDirs.map { "\"\($0)\"" }.joined(separator: ", "))]\n"
    try ("apiVersion: skiff.dev/v1alpha1\nkind: Profile\nname: test\n\(dirs)plugins:\n"
      + plugins.map { "  - name: \($0)\n" + (configs[$0].map { "    config: \($0)\n" } ?? "") }.joined() + profileTail)
      .write(to: profile, atomically: true, encoding: .utf8)
    _ = FileManager.default.createFile(atPath: log.path, contents: nil)
    try start()
  }

  deinit { stop() }

  /// Starts the server (again, after a kill) and waits for its ready line, which names the port.
  public func start() throws {
    let server = Process()
    server.executableURL = URL(fileURLWithPath: Fixtures.buildDirectory + "/skiff")
    server.arguments = ["server", "--profile", profile.path, "--data-dir", dataDir.path,
                        "--listen", "127.0.0.1:0"] + arguments
    let output = Pipe()
    server.standardOutput = output
    // A file, not a pipe: nobody reads the log while the server runs, and a full pipe would stall it.
    let errors = FileHandle(forWritingAtPath: log.path)
    errors?.seekToEndOfFile()
    server.standardError = errors
    try server.run()
    process = server
    var text = ""
    while !text.contains("\n") {
      let data = output.fileHandleForReading.availableData
      guard !data.isEmpty else { break }
      text += String(decoding: data, as: UTF8.self)
    }
    guard let range = text.range(of: "(port "), let port = Int(text[range.upperBound...].prefix { $0.isNumber }) else {
      throw Fixtures.FixtureError(message: "skiff server did not become ready: \(text)\n\(serverLog)")
    }
    self.port = port
  }

  /// Sends `signal` and waits for the exit; returns the exit status.
  @discardableResult
  public func kill(_ signal: Int32) -> Int32 {
    guard let process else { return 0 }
    if process.isRunning {
      Foundation.kill(process.processIdentifier, signal)
      process.waitUntilExit()
    }
    return process.terminationStatus
  }

  /// SIGTERM: the orderly stop. Returns the exit status.
  @discardableResult
  public func stop() -> Int32 { kill(SIGTERM) }

  /// What the server wrote to stderr over all its starts.
  public var serverLog: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

  /// User plus system CPU time the server has used, in clock ticks (/proc/PID/stat fields 14, 15).
  public func cpuTicks() throws -> Int {
    let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
    // Fields count from after "pid (command)", whose command may hold spaces: state is field 3.
    guard let close = stat.range(of: ")", options: .backwards) else {
      throw Fixtures.FixtureError(message: "unreadable /proc/\(pid)/stat")
    }
    let values = stat[close.upperBound...].split(separator: " ")
    guard values.count > 12, let user = Int(values[11]), let system = Int(values[12]) else {
      throw Fixtures.FixtureError(message: "unreadable /proc/\(pid)/stat")
    }
    return user + system
  }

  /// Runs kubectl (the dispatcher on PATH, or `binary`) against this server with a fresh cache.
  public func kubectl(_ arguments: [String], binary: String = "kubectl", stdin: String? = nil) throws
    -> (status: Int32, output: String) {
    let cache = dataDir.deletingLastPathComponent().appendingPathComponent("kubectl-cache-\(UUID())").path
    return try Fixtures.run(["env", "KUBECONFIG=\(kubeconfig)", binary, "--cache-dir", cache] + arguments, stdin: stdin)
  }
}

/// A test case with a scratch folder and a `skiff server` (scheduler only) on it, which must exit
/// cleanly on SIGTERM when the test ends.
open class ServerTestCase: XCTestCase {
  public var dir: URL!
  public var server: SkiffServer!

  open override func setUpWithError() throws {
    dir = try Fixtures.temporaryDirectory()
    server = try SkiffServer(dataDir: dir.appendingPathComponent("data"))
  }

  open override func tearDown() {
    XCTAssertEqual(server?.stop() ?? 0, 0, "the server did not exit cleanly on SIGTERM")
    try? FileManager.default.removeItem(at: dir)
  }
}
