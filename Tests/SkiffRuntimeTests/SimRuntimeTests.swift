// The `sim` runtime driven through the ABI as the node agent drives it: records, self-exits, exec
// answers and re-adoption by a second kernel over the same stateDir, with no process started.
import Foundation
import Kernel
import SkiffABI
import SkiffTestSupport
import XCTest

final class SimRuntimeTests: XCTestCase {
  var dir: URL!
  var stateDir: String { dir.appendingPathComponent("state").path }
  var kernels: [RunningKernel] = []
  var runtime: RuntimeDriver!

  override func setUpWithError() throws {
    dir = try Fixtures.temporaryDirectory()
  }

  override func tearDown() {
    kernels.forEach { $0.stop() }
    try? FileManager.default.removeItem(at: dir)
  }

  @discardableResult
  func boot() throws -> RuntimeDriver {
    let kernel = RunningKernel()
    kernels.append(kernel)
    try kernel.boot("""
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: sim-runtime-test
      plugins:
        - name: runtime
          config: {stateDir: "\(stateDir)", oci: {enabled: false}}
      """, in: dir)
    runtime = try RuntimeDriver(kernel, named: "sim")
    return runtime
  }

  func run(_ sandbox: String, _ name: String, annotations: [String: String] = [:],
           envs: [[String: String]] = []) throws -> String {
    let id = try runtime.createContainer(in: sandbox, ["metadata": ["name": name], "annotations": annotations,
                                                       "envs": envs, "command": ["serve"]])
    XCTAssertEqual(try runtime.start(id), 0, "a simulated container has no process")
    return id
  }

  func state(_ id: String) throws -> String? { try runtime.status(of: id)["state"] as? String }

  func testContainerRunsUntilStoppedAndIsRemoved() throws {
    try boot()
    let sandbox = try runtime.createSandbox()
    let id = try runtime.createContainer(in: sandbox, ["metadata": ["name": "app"]])
    XCTAssertEqual(try state(id), "CONTAINER_CREATED")
    XCTAssertEqual(try runtime.start(id), 0)
    let running = try runtime.status(of: id)
    XCTAssertEqual(running["state"] as? String, "CONTAINER_RUNNING")
    XCTAssertEqual(running["podSandboxId"] as? String, sandbox)
    XCTAssertGreaterThan(running["startedAt"] as? Int ?? 0, 0)

    XCTAssertEqual(try runtime.stop(id, grace: 30).status, SKIFF_OK)
    let exited = try runtime.status(of: id)
    XCTAssertEqual(exited["state"] as? String, "CONTAINER_EXITED")
    XCTAssertEqual(exited["exitCode"] as? Int, 143)
    XCTAssertGreaterThanOrEqual(exited["finishedAt"] as? Int ?? 0, exited["startedAt"] as? Int ?? .max)

    XCTAssertEqual(try runtime.remove(id).status, SKIFF_OK)
    XCTAssertEqual(try runtime.call { $0.container_status($0.`self`, id, $1) }.status, SKIFF_NOT_FOUND)
  }

  func testContainerExitsByItselfWithItsCode() throws {
    try boot()
    let sandbox = try runtime.createSandbox()
    let annotated = try run(sandbox, "annotated", annotations: ["skiff.dev/sim-exit-after-seconds": "0.2",
                                                               "skiff.dev/sim-exit-code": "3"])
    let fromEnv = try run(sandbox, "env", envs: [["key": "SKIFF_SIM_EXIT_AFTER_SECONDS", "value": "0"]])
    let forever = try run(sandbox, "forever")
    let status = try waitUntil { try self.state(annotated) == "CONTAINER_EXITED" ? self.runtime.status(of: annotated) : nil }
    XCTAssertEqual(status["exitCode"] as? Int, 3)
    XCTAssertEqual(status["reason"] as? String, "Error")
    XCTAssertEqual((status["finishedAt"] as! Int) - (status["startedAt"] as! Int), 200_000_000,
                   "it exits exactly when configured, whenever it is looked at")
    let completed = try runtime.status(of: fromEnv)
    XCTAssertEqual(completed["state"] as? String, "CONTAINER_EXITED")
    XCTAssertEqual(completed["exitCode"] as? Int, 0)
    XCTAssertEqual(completed["reason"] as? String, "Completed")
    XCTAssertEqual(try state(forever), "CONTAINER_RUNNING")
    // Stopping after the self-exit keeps the code it exited with.
    XCTAssertEqual(try runtime.stop(annotated, grace: 0).status, SKIFF_OK)
    XCTAssertEqual(try runtime.status(of: annotated)["exitCode"] as? Int, 3)
  }

  func testExecLogsAndImagesAnswerWithoutRunningAnything() throws {
    try boot()
    let sandbox = try runtime.createSandbox()
    let id = try run(sandbox, "app", annotations: ["skiff.dev/sim-exec-exit-code": "7",
                                                   "skiff.dev/sim-exec-stdout": "ready",
                                                   "skiff.dev/sim-log": "hello from sim"])
    let exec = try runtime.expectOK(runtime.exec(id, ["cmd": ["cat", "/ready"]]))
    XCTAssertEqual(exec["exitCode"] as? Int, 7)
    XCTAssertEqual(exec["stdout"] as? String, "ready")
    let records = CRILog.records(try runtime.logPath(of: id))
    XCTAssertEqual(CRILog.lines(records, stream: "stdout"), ["hello from sim"])

    let quiet = try run(sandbox, "quiet")
    let path = try runtime.logPath(of: quiet)
    XCTAssertTrue(FileManager.default.fileExists(atPath: path))
    XCTAssertEqual(CRILog.records(path).count, 0)
    XCTAssertEqual(try runtime.expectOK(runtime.exec(quiet, ["cmd": ["true"]]))["exitCode"] as? Int, 0)
    _ = try runtime.stop(quiet, grace: 0)
    XCTAssertEqual(try runtime.exec(quiet, ["cmd": ["true"]]).status, SKIFF_ERROR)

    let pull = try runtime.expectOK(runtime.call { vtable, done in
      #"{"image": "registry.example/never/pulled:1"}"#.withCString { vtable.image_pull(vtable.`self`, $0, strlen($0), done) }
    })
    XCTAssertEqual(pull["imageRef"] as? String, "registry.example/never/pulled:1")
    let images = try runtime.expectOK(runtime.call { $0.image_list($0.`self`, $1) })["images"] as? [[String: Any]]
    XCTAssertEqual(images?.map { $0["id"] as? String }, ["registry.example/never/pulled:1"])
  }

  func testRestartedRuntimeReadoptsItsRecords() throws {
    try boot()
    let sandbox = try runtime.createSandbox()
    let running = try run(sandbox, "running")
    let exiting = try run(sandbox, "exiting", annotations: ["skiff.dev/sim-exit-after-seconds": "0.3",
                                                           "skiff.dev/sim-exit-code": "1"])
    let stopped = try run(sandbox, "stopped")
    _ = try runtime.stop(stopped, grace: 0)
    let startedAt = try runtime.status(of: running)["startedAt"] as? Int
    kernels.removeLast().stop()

    try boot()
    let all = Dictionary(uniqueKeysWithValues: try runtime.statusOfAll().map { ($0["id"] as! String, $0) })
    XCTAssertEqual(Set(all.keys), [running, exiting, stopped])
    XCTAssertEqual(all[running]?["state"] as? String, "CONTAINER_RUNNING")
    XCTAssertEqual(all[running]?["startedAt"] as? Int, startedAt)
    XCTAssertEqual(all[stopped]?["exitCode"] as? Int, 143)
    // The self-exit is kept across the restart, at the time it was due.
    let exited = try waitUntil { try self.state(exiting) == "CONTAINER_EXITED" ? self.runtime.status(of: exiting) : nil }
    XCTAssertEqual(exited["exitCode"] as? Int, 1)
    XCTAssertEqual((exited["finishedAt"] as! Int) - (exited["startedAt"] as! Int), 300_000_000)
    // The sandbox came back too: it takes new containers and can be removed with them.
    _ = try run(sandbox, "late")
    XCTAssertEqual(try runtime.call { $0.sandbox_remove($0.`self`, sandbox, $1) }.status, SKIFF_OK)
    XCTAssertEqual(try runtime.statusOfAll().count, 0)
  }

  func testManyContainersNeedNoThreadOrProcessEach() throws {
    try boot()
    // Other tests in this process may have left threads and (as the oci runtime makes the process
    // a child subreaper) children behind: count only what these containers add.
    let threadsBefore = try threadCount()
    let childrenBefore = Set(try childProcesses())
    for pod in 0..<10 {
      let sandbox = try runtime.createSandbox("pod-\(pod)")
      for container in 0..<50 {
        _ = try run(sandbox, "c\(container)",
                    annotations: container % 2 == 0 ? ["skiff.dev/sim-exit-after-seconds": "3600"] : [:])
      }
    }
    let all = try runtime.statusOfAll()
    XCTAssertEqual(all.count, 500)
    XCTAssertTrue(all.allSatisfy { $0["state"] as? String == "CONTAINER_RUNNING" })
    // The kernel's thread pool may grow to its few workers while the records are written.
    XCTAssertLessThan(try threadCount() - threadsBefore, 10, "a simulated container costs no thread")
    XCTAssertEqual(Set(try childProcesses()).subtracting(childrenBefore), [], "a simulated container costs no process")
  }

  func testSimCanBeDisabled() throws {
    let kernel = RunningKernel()
    kernels.append(kernel)
    try kernel.boot("""
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: no-sim
      plugins:
        - name: runtime
          config: {stateDir: "\(stateDir)", oci: {enabled: false}, sim: {enabled: false}}
      """, in: dir)
    XCTAssertNil(kernel.kernel.extensions.runtime(named: "sim"))
    XCTAssertNotNil(kernel.kernel.extensions.runtime(named: "process"))
  }

  // MARK: Helpers

  func waitUntil<T>(seconds: Double = 10, _ check: () throws -> T?) throws -> T {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if let value = try check() { return value }
      usleep(20_000)
    }
    throw TestFailure("condition not met within \(seconds)s")
  }

  func threadCount() throws -> Int {
    try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count
  }

  /// Processes whose parent is this test process, read from /proc/<pid>/stat (field 4).
  func childProcesses() throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: "/proc").filter { pid in
      guard Int(pid) != nil, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")") else { return false }
      return stat[stat.index(after: close)...].split(separator: " ").dropFirst().first == "\(getpid())"
    }
  }
}
