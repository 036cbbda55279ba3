// What the kernel tests build and load: C plugins compiled from source with `cc`, as a plugin
// author would, and the Swift plugin SwiftPM built next to the test binary.
import Foundation
import Kernel
import Synchronization
import XCTest

public enum Fixtures {
  public static let repository = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
  public static let include = repository.appendingPathComponent("Sources/SkiffABI/include").path

  /// The folder holding the test binary, where SwiftPM also puts the plugin libraries.
  public static let buildDirectory: String = {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
    // XCTest on Linux runs `<build>/skiffPackageTests.xctest`; swift-testing may run a helper.
    while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("libskiff_swifttest.so").path),
          dir.path != "/" {
      dir.deleteLastPathComponent()
      if FileManager.default.fileExists(atPath: dir.appendingPathComponent("debug/libskiff_swifttest.so").path) {
        dir.appendPathComponent("debug")
      }
    }
    return dir.path
  }()

  public static func temporaryDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("skiff-test-\(UUID())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
  }

  /// Compiles a C plugin to `<dir>/libskiff_<name>.so` with the flags given.
  @discardableResult
  public static func buildCPlugin(source: String, into dir: URL, name: String, defines: [String] = []) throws -> String {
    let output = dir.appendingPathComponent("libskiff_\(name).so").path
    let arguments = ["cc", "-shared", "-fPIC", "-std=c11", "-Wall", "-Werror", "-fvisibility=hidden",
                     "-I", include, "-o", output] + defines.map { "-D\($0)" } + [source]
    let result = try run(arguments)
    guard result.status == 0 else { throw FixtureError(message: "cc failed: \(result.output)") }
    return output
  }

  public static func cFixture(_ name: String) -> String {
    repository.appendingPathComponent("Tests/Fixtures/CPlugins/\(name).c").path
  }

  /// Runs a command (looked up on PATH), with `stdin` as its input; output is stdout and stderr.
  public static func run(_ arguments: [String], stdin: String? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    let input = Pipe()
    process.standardInput = stdin == nil ? FileHandle.nullDevice : input
    try process.run()
    if let stdin {
      input.fileHandleForWriting.write(Data(stdin.utf8))
      try? input.fileHandleForWriting.close()
    }
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, output)
  }

  public struct FixtureError: Error {
    public let message: String
    public init(message: String) { self.message = message }
  }
}

/// Collects log lines so tests can assert on what plugins said and in which order.
public final class LogRecorder: Sendable {
  private let lines = Mutex<[String]>([])

  public var log: KernelLog {
    KernelLog(minimum: .debug) { [self] level, source, message in
      lines.withLock { $0.append("\(level) [\(source)] \(message)") }
    }
  }

  public var all: [String] { lines.withLock { $0 } }

  public func matching(_ substring: String) -> [String] { all.filter { $0.contains(substring) } }
}

/// A kernel with its loop running on a background thread; stops both at the end of a test.
public final class RunningKernel {
  public let loop = EventLoop()
  public let kernel: Kernel
  public let recorder = LogRecorder()

  public init() {
    kernel = Kernel(loop: loop, log: recorder.log)
    loop.runInBackground()
  }

  /// Loads `profileText` (written to `dir`) and starts it; plugins are found in `dir` and in the
  /// build folder.
  public func boot(_ profileText: String, in dir: URL, variables: [String: String] = [:]) throws {
    let file = dir.appendingPathComponent("profile.yaml")
    try profileText.write(to: file, atomically: true, encoding: .utf8)
    try kernel.load(Profile.load(path: file.path),
                    locator: PluginLocator(profileDirectories: [dir.path, Fixtures.buildDirectory]),
                    variables: variables)
    try loop.submit { [kernel] in try kernel.start() }
  }

  public func stop() {
    try? loop.submit { [kernel] in kernel.shutdown() }
    loop.stop()
  }

  /// Polls `condition` on the loop until it holds or `seconds` pass.
  public func wait(seconds: Double = 5, until condition: @escaping () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if (try? loop.submit(condition)) == true { return true }
      usleep(2_000)
    }
    return false
  }
}

/// A test case with a scratch folder and a kernel on a background loop, both gone afterwards.
open class KernelTestCase: XCTestCase {
  public var dir: URL!
  public var running: RunningKernel!

  open override func setUpWithError() throws {
    dir = try Fixtures.temporaryDirectory()
    running = RunningKernel()
  }

  open override func tearDown() {
    running.stop()
    try? FileManager.default.removeItem(at: dir)
  }
}
