// A real `skiff server` for tests that cross processes: started on a free port with its own data
// directory, driven with the real kubectl (or any client), stopped with SIGTERM.
import Foundation

public final class SkiffServer {
  public let dataDir: URL
  public let process = Process()
  public private(set) var url = ""
  private let output = Pipe()

  public var kubeconfig: String { dataDir.appendingPathComponent("kubeconfig").path }

  /// Starts the server with `plugins` (scheduler only by default) and waits for its ready line.
  public init(dataDir: URL, plugins: [String] = ["scheduler"], arguments: [String] = []) throws {
    self.dataDir = dataDir
    try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true)
    let profile = dataDir.appendingPathComponent("profile.yaml")
    try ("apiVersion: skiff.dev/v1alpha1\nkind: Profile\nname: test\nplugins:\n"
      + plugins.map { "  - name: \($0)\n" }.joined()).write(to: profile, atomically: true, encoding: .utf8)
    process.executableURL = URL(fileURLWithPath: Fixtures.buildDirectory + "/skiff")
    process.arguments = ["server", "--profile", profile.path, "--data-dir", dataDir.path, "--listen", "127.0.0.1:0"]
      + arguments
    process.standardOutput = output
    // A file, not a pipe: nobody reads the log while the server runs, and a full pipe would stall it.
    let log = dataDir.appendingPathComponent("server.log").path
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    process.standardError = FileHandle(forWritingAtPath: log)
    try process.run()
    var text = ""
    while !text.contains("\n") {
      let data = output.fileHandleForReading.availableData
      guard !data.isEmpty else { break }
      text += String(decoding: data, as: UTF8.self)
    }
    guard let range = text.range(of: "API on "), let end = text[range.upperBound...].firstIndex(of: " ") else {
      let log = (try? String(contentsOfFile: dataDir.appendingPathComponent("server.log").path, encoding: .utf8)) ?? ""
      throw Fixtures.FixtureError(message: "skiff server did not become ready: \(text)\(log)")
    }
    url = String(text[range.upperBound..<end])
  }

  /// Runs kubectl (the dispatcher on PATH, or `binary`) against this server with a fresh cache.
  public func kubectl(_ arguments: [String], binary: String = "kubectl", stdin: String? = nil) throws
    -> (status: Int32, output: String) {
    let cache = dataDir.appendingPathComponent("kubectl-cache-\(UUID())").path
    return try Fixtures.run(["env", "KUBECONFIG=\(kubeconfig)", binary, "--cache-dir", cache] + arguments, stdin: stdin)
  }

  /// Sends SIGTERM and waits; returns the exit status.
  @discardableResult
  public func stop() -> Int32 {
    if process.isRunning {
      kill(process.processIdentifier, SIGTERM)
      process.waitUntilExit()
    }
    return process.terminationStatus
  }

  deinit { stop() }
}
