// The `process` runtime driven through the ABI as the node agent will drive it: real processes,
// real cgroups, CRI log files, and re-adoption by a second kernel over the same stateDir.
import Foundation
import Kernel
import SkiffABI
import SkiffTestSupport
import XCTest

final class ProcessRuntimeTests: XCTestCase {
  var dir: URL!
  var stateDir: String { dir.appendingPathComponent("state").path }
  /// Unique per test, so that cleanup removes exactly this test's cgroups.
  var cgroupParent = ""
  /// Kernels booted by this test that are still running; each is stopped exactly once (a
  /// stopped loop would never answer a second stop).
  var kernels: [RunningKernel] = []
  var runtime: RuntimeDriver!

  override func setUpWithError() throws {
    dir = try Fixtures.temporaryDirectory()
    cgroupParent = "skiff-test-\(UInt64.random(in: 0 ... .max))"
  }

  override func tearDown() {
    // The plugin's stop leaves containers running by design, so stop them through the runtime.
    if let runtime, let all = try? runtime.statusOfAll() {
      for container in all where container["state"] as? String == "CONTAINER_RUNNING" {
        _ = try? runtime.stop(container["id"] as! String, grace: 0)
      }
    }
    kernels.forEach { $0.stop() }
    // Whatever is left (a test that failed midway) goes with its cgroups.
    Cgroups.destroyParent(cgroupParent)
    try? FileManager.default.removeItem(at: dir)
  }

  // MARK: Helpers

  @discardableResult
  func boot(config: String? = nil) throws -> RuntimeDriver {
    let kernel = RunningKernel()
    kernels.append(kernel)
    try kernel.boot("""
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: runtime-test
      plugins:
        - name: runtime
          config: \(config ?? "{stateDir: \"\(stateDir)\", cgroupParent: \(cgroupParent)}")
      """, in: dir)
    runtime = try RuntimeDriver(kernel)
    return runtime
  }

  /// Stops the running kernel: its plugins stop, the containers they started do not.
  func stopKernel() {
    kernels.removeLast().stop()
    runtime = nil
  }

  /// A started container running `command`, in a new sandbox.
  func run(_ command: [String], _ extra: [String: Any] = [:]) throws -> (id: String, pid: Int32) {
    let sandbox = try runtime.createSandbox()
    let id = try runtime.createContainer(in: sandbox, ["metadata": ["name": "main"], "command": command]
      .merging(extra) { $1 })
    return (id, try runtime.start(id))
  }

  func waitForExit(_ id: String, seconds: Double = 20) throws -> [String: Any] {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      let status = try runtime.status(of: id)
      if status["state"] as? String == "CONTAINER_EXITED" { return status }
      usleep(20_000)
    }
    throw TestFailure("container \(id) did not exit within \(seconds)s")
  }

  func waitForLog(_ id: String, line: String, seconds: Double = 10) throws {
    let path = try runtime.logPath(of: id)
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if CRILog.lines(CRILog.records(path), stream: "stdout").contains(line) { return }
      usleep(20_000)
    }
    throw TestFailure("container \(id) never logged \"\(line)\"")
  }

  func cgroupDirectory(_ controller: String, _ id: String) -> String? {
    Cgroups.mounts[controller].map { "\($0)/\(cgroupParent)/\(id)" }
  }

  // MARK: Tests

  func testCommandExitsWithItsCodeAndLogsBothStreamsInCRIFormat() throws {
    try boot()
    let before = Date()
    let (id, pid) = try run(["sh", "-c", "echo hello; echo oops >&2; exit 3"])
    XCTAssertGreaterThan(pid, 0)
    let status = try waitForExit(id)
    XCTAssertEqual(status["exitCode"] as? Int, 3)
    XCTAssertEqual(status["reason"] as? String, "Error")
    XCTAssertEqual(status["pid"] as? Int, Int(pid))
    let started = try XCTUnwrap(status["startedAt"] as? Int64)
    XCTAssertGreaterThanOrEqual(started, status["createdAt"] as! Int64)
    XCTAssertGreaterThanOrEqual(status["finishedAt"] as! Int64, started)

    let path = try runtime.logPath(of: id)
    XCTAssertEqual(path, status["logPath"] as? String)
    let records = CRILog.records(path)
    XCTAssertEqual(records.map { "\($0.stream) \($0.tag) \($0.text)" }.sorted(),
                   ["stderr F oops", "stdout F hello"])
    for record in records {
      let time = try XCTUnwrap(CRILog.seconds(record.time), "bad timestamp \(record.time)")
      XCTAssertTrue(time >= before.addingTimeInterval(-1) && time <= Date().addingTimeInterval(1),
                    "timestamp \(record.time) is not the time the line was written")
    }
  }

  func testEnvironmentWorkingDirAndArgsReachTheProcess() throws {
    try boot()
    let work = dir.appendingPathComponent("work dir").path
    try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    let (id, _) = try run(["sh", "-c"], [
      "args": [#"echo "$GREETING $0 $1"; pwd; echo "PATH=$PATH"; echo "HOME=${HOME-unset}""#,
               "first", "second"],
      "envs": [["key": "GREETING", "value": "hi there"]],
      "workingDir": work,
    ])
    XCTAssertEqual(try waitForExit(id)["reason"] as? String, "Completed")
    XCTAssertEqual(CRILog.lines(CRILog.records(try runtime.logPath(of: id)), stream: "stdout"), [
      "hi there first second", work,
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "HOME=unset",  // nothing of the runtime's own environment leaks in
    ])
  }

  func testContainersStartedTogetherGetOnlyTheirOwnDescriptors() throws {
    try boot()
    let sandbox = try runtime.createSandbox()
    let ids = try (0..<8).map {
      try runtime.createContainer(in: sandbox, ["metadata": ["name": "c\($0)"], "command": ["ls", "/proc/self/fd"]])
    }
    // Starts run side by side on the kernel's thread pool, so forks overlap.
    let driver = runtime!
    DispatchQueue.concurrentPerform(iterations: ids.count) { i in
      _ = try? driver.call { $0.container_start($0.`self`, ids[i], $1) }
    }
    for id in ids {
      XCTAssertEqual(try waitForExit(id)["exitCode"] as? Int, 0)
      // stdin, stdout, stderr, and the folder ls is reading: nothing leaked from the runtime or
      // from a sibling's start.
      XCTAssertEqual(CRILog.lines(CRILog.records(try runtime.logPath(of: id)), stream: "stdout"),
                     ["0", "1", "2", "3"])
    }
  }

  func testStopWithGraceLetsTheProcessHandleSIGTERM() throws {
    try boot()
    let (id, _) = try run(["sh", "-c", #"trap "exit 0" TERM; echo ready; while :; do sleep 0.1; done"#])
    try waitForLog(id, line: "ready")
    XCTAssertEqual(try runtime.stop(id, grace: 30).status, SKIFF_OK)
    // stop completes only once the process has exited; it exited through its trap.
    let status = try runtime.status(of: id)
    XCTAssertEqual(status["state"] as? String, "CONTAINER_EXITED")
    XCTAssertEqual(status["exitCode"] as? Int, 0)
    XCTAssertEqual(status["reason"] as? String, "Completed")
    XCTAssertEqual(try runtime.stop(id, grace: 30).status, SKIFF_OK, "stopping an exited container")
  }

  func testStopEscalatesToSIGKILLAfterTheGrace() throws {
    try boot()
    let (id, _) = try run(["sh", "-c", #"trap "" TERM; echo ready; while :; do sleep 0.1; done"#])
    try waitForLog(id, line: "ready")
    let asked = Int64(Date().timeIntervalSince1970 * 1e9)
    XCTAssertEqual(try runtime.stop(id, grace: 1).status, SKIFF_OK)
    let status = try runtime.status(of: id)
    XCTAssertEqual(status["exitCode"] as? Int, 137)
    XCTAssertEqual(status["reason"] as? String, "Error")
    XCTAssertEqual(status["message"] as? String, "killed by signal 9")
    XCTAssertGreaterThanOrEqual((status["finishedAt"] as! Int64) - asked, 1_000_000_000,
                                "SIGKILL came before the grace period ended")
  }

  func testMemoryLimitEndsInOOMKilled() throws {
    guard FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory") else {
      throw XCTSkip("no cgroup v1 memory controller on this host")
    }
    try boot()
    // tail keeps the unfinished last line of /dev/zero in memory: it grows until killed.
    let (id, _) = try run(["tail", "/dev/zero"],
                          ["linux": ["resources": ["memoryLimitInBytes": 32 << 20]]])
    let status = try waitForExit(id, seconds: 60)
    XCTAssertEqual(status["reason"] as? String, "OOMKilled")
    XCTAssertEqual(status["exitCode"] as? Int, 137)
    let memory = try XCTUnwrap(cgroupDirectory("memory", id))
    XCTAssertEqual(Cgroups.read("\(memory)/memory.limit_in_bytes"), "\(32 << 20)")
  }

  func testProcessRunsInItsCgroupsWithItsLimits() throws {
    try boot()
    let (id, pid) = try run(["sleep", "30"], ["linux": ["resources": [
      "memoryLimitInBytes": 64 << 20, "cpuQuota": 50_000, "cpuPeriod": 100_000, "cpuShares": 512,
      "pidsLimit": 16,
    ]]])
    let membership = try XCTUnwrap(Cgroups.read("/proc/\(pid)/cgroup"))
    XCTAssertFalse(Cgroups.mounts.isEmpty, "no cgroup v1 controller is mounted")
    for controller in Cgroups.mounts.keys {
      XCTAssertTrue(membership.split(separator: "\n").contains {
        let fields = $0.split(separator: ":", maxSplits: 2)
        return fields.count == 3 && fields[1].split(separator: ",").contains(Substring(controller))
          && fields[2] == "/\(cgroupParent)/\(id)"
      }, "pid \(pid) is not in its \(controller) cgroup:\n\(membership)")
    }
    let expected = [("memory", "memory.limit_in_bytes", "\(64 << 20)"), ("cpu", "cpu.cfs_quota_us", "50000"),
                    ("cpu", "cpu.cfs_period_us", "100000"), ("cpu", "cpu.shares", "512"),
                    ("pids", "pids.max", "16")]
    for (controller, file, value) in expected {
      guard let directory = cgroupDirectory(controller, id) else { continue }
      XCTAssertEqual(Cgroups.read("\(directory)/\(file)"), value, file)
    }
  }

  func testPidsLimitIsEnforced() throws {
    guard Cgroups.mounts["pids"] != nil else { throw XCTSkip("no cgroup v1 pids controller on this host") }
    try boot()
    let (id, _) = try run(["sh", "-c", "for i in 1 2 3 4 5 6; do sleep 1 & done; wait"],
                          ["linux": ["resources": ["pidsLimit": 3]]])
    let status = try waitForExit(id)
    XCTAssertNotEqual(status["exitCode"] as? Int, 0)
    let errors = CRILog.lines(CRILog.records(try runtime.logPath(of: id)), stream: "stderr")
    XCTAssertTrue(errors.contains { $0.contains("fork") }, "no fork failure in \(errors)")
  }

  func testExecRunsInTheContainersEnvironmentDirectoryAndCgroups() throws {
    try boot()
    let (id, _) = try run(["sleep", "30"], ["envs": [["key": "FOO", "value": "bar"]], "workingDir": dir.path])
    let script = "echo $FOO; pwd; echo err >&2; cat /proc/self/cgroup; exit 4"
    let result = try runtime.exec(id, ["cmd": ["sh", "-c", script]])
    XCTAssertEqual(result.status, SKIFF_OK, result.text)
    XCTAssertEqual(result.json["exitCode"] as? Int, 4)
    XCTAssertEqual(result.json["stderr"] as? String, "err\n")
    let stdout = (result.json["stdout"] as? String ?? "").split(separator: "\n").map(String.init)
    XCTAssertEqual(Array(stdout.prefix(2)), ["bar", dir.path])
    for controller in Cgroups.mounts.keys {
      XCTAssertTrue(stdout.contains { $0.contains(controller) && $0.hasSuffix(":/\(cgroupParent)/\(id)") },
                    "exec did not run in the \(controller) cgroup: \(stdout)")
    }

    // A timeout kills the command and all it started (the shell's sleep holds the pipes too).
    let seconds = "29.\(Int.random(in: 100_000...999_999))"  // the sleep's own marker
    let slow = try runtime.exec(id, ["cmd": ["sh", "-c", "sleep \(seconds); echo never"], "timeout": 0.5])
    XCTAssertEqual(slow.status, SKIFF_ERROR, slow.text)
    XCTAssertEqual(slow.json["reason"] as? String, "DeadlineExceeded")
    XCTAssertEqual(Processes.withCommandLine(containing: seconds), [])

    XCTAssertEqual(try runtime.stop(id, grace: 0).status, SKIFF_OK)
    let afterStop = try runtime.exec(id, ["cmd": ["true"]])
    XCTAssertEqual(afterStop.status, SKIFF_ERROR)
    XCTAssertEqual(afterStop.json["reason"] as? String, "ContainerNotRunning")
  }

  func testStreamingExecRelaysStdinOutputAndTheExitCode() throws {
    try boot()
    let (id, _) = try run(["sleep", "30"], ["envs": [["key": "FOO", "value": "bar"]]])
    let answer = try runtime.exec(id, ["cmd": ["sh", "-c", "cat; echo $FOO >&2; exit 3"], "stdin": true])
    XCTAssertEqual(answer.status, SKIFF_OK, answer.text)
    let stream = try ExecStreamClient(answer.json)
    stream.stdin("hello ")
    stream.stdin("world\n")
    stream.closeStdin()
    let result = stream.readToEnd()
    XCTAssertEqual(result.stdout, "hello world\n")
    XCTAssertEqual(result.stderr, "bar\n")
    XCTAssertEqual(result.exitCode, 3)
  }

  func testStreamingExecWithoutStdinStreamsOutput() throws {
    try boot()
    let (id, _) = try run(["sleep", "30"])
    let answer = try runtime.exec(id, ["cmd": ["sh", "-c", "read x || echo no input; echo done"], "stream": true])
    let result = try ExecStreamClient(answer.json).readToEnd()
    XCTAssertEqual(result.stdout, "no input\ndone\n")
    XCTAssertEqual(result.exitCode, 0)
  }

  func testStreamingExecOnATerminalTakesItsSizeAndInput() throws {
    try boot()
    let (id, _) = try run(["sleep", "30"])
    let answer = try runtime.exec(id, ["cmd": ["sh"], "tty": true, "stdin": true])
    XCTAssertEqual(answer.status, SKIFF_OK, answer.text)
    let stream = try ExecStreamClient(answer.json)
    stream.resize(width: 77, height: 11)
    stream.stdin("stty size; tty; echo to-stderr >&2; exit 7\n")
    let result = stream.readToEnd()
    XCTAssertTrue(result.stdout.contains("11 77"), result.stdout)
    XCTAssertTrue(result.stdout.contains("/dev/pts/"), result.stdout)
    XCTAssertTrue(result.stdout.contains("to-stderr"), "a terminal carries stderr too: \(result.stdout)")
    XCTAssertEqual(result.stderr, "")
    XCTAssertEqual(result.exitCode, 7)
  }

  func testHangingUpAStreamEndsTheCommand() throws {
    try boot()
    let (id, _) = try run(["sleep", "30"])
    let answer = try runtime.exec(id, ["cmd": ["sh", "-c", "echo $$; exec sleep 1000"], "stream": true])
    let stream = try ExecStreamClient(answer.json)
    let first = try XCTUnwrap(stream.frame())
    let pid = try XCTUnwrap(pid_t(String(decoding: first.payload, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
    XCTAssertEqual(kill(pid, 0), 0)
    stream.hangUp()
    XCTAssertTrue(eventually { kill(pid, 0) != 0 }, "exec'd process \(pid) outlived its caller")
  }

  func testStreamingExecOfAMissingCommandFailsAtOnce() throws {
    try boot()
    let (id, _) = try run(["sleep", "30"])
    let failed = try runtime.exec(id, ["cmd": ["no-such-command"], "stdin": true])
    XCTAssertEqual(failed.status, SKIFF_ERROR)
    XCTAssertTrue((failed.json["message"] as? String ?? "").contains("executable file not found"), failed.text)
  }

  func testStatusWithoutIdListsEveryContainer() throws {
    try boot()
    let sandbox = try runtime.createSandbox()
    let idle = try runtime.createContainer(in: sandbox, ["metadata": ["name": "idle"], "command": ["true"]])
    let busy = try runtime.createContainer(in: sandbox, ["metadata": ["name": "busy", "attempt": 2],
                                                         "command": ["sleep", "30"]])
    let pid = try runtime.start(busy)
    let all = try runtime.statusOfAll()
    XCTAssertEqual(Set(all.map { "\($0["id"]!) \($0["state"]!) \($0["podSandboxId"]!)" }),
                   ["\(idle) CONTAINER_CREATED \(sandbox)", "\(busy) CONTAINER_RUNNING \(sandbox)"])
    let running = try XCTUnwrap(all.first { $0["id"] as? String == busy })
    XCTAssertEqual(running["pid"] as? Int, Int(pid))
    let metadata = running["metadata"] as? [String: Any]
    XCTAssertEqual(metadata?["name"] as? String, "busy")
    XCTAssertEqual(metadata?["attempt"] as? Int, 2)
    XCTAssertEqual(try runtime.call { $0.container_status($0.`self`, "0000000000000000", $1) }.status,
                   SKIFF_NOT_FOUND)
    let duplicate = try runtime.call(sandbox: sandbox, ["metadata": ["name": "busy", "attempt": 2],
                                                        "command": ["true"]])
    XCTAssertEqual(duplicate.status, SKIFF_CONFLICT)
  }

  func testRestartedRuntimeReadoptsARunningContainer() throws {
    try boot()
    let marker = "skiff-marker-\(UUID())"
    // $0 is the marker, so the container's shell is the one process whose command line names it.
    let (id, pid) = try run(["sh", "-c", #"i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.05; done"#,
                             marker])
    try waitForLog(id, line: "tick 3")
    stopKernel()
    XCTAssertTrue(Processes.isAlive(pid), "stopping the plugin must leave containers running")
    usleep(300_000)  // output piles up while no runtime reads it

    try boot()
    let status = try runtime.status(of: id)
    XCTAssertEqual(status["state"] as? String, "CONTAINER_RUNNING")
    XCTAssertEqual(status["pid"] as? Int, Int(pid))
    XCTAssertEqual(Processes.withCommandLine(containing: marker), [pid], "a second copy was started")
    let ticks = { CRILog.lines(CRILog.records(try self.runtime.logPath(of: id)), stream: "stdout") }
    let before = try ticks().count
    try waitForLog(id, line: "tick \(before + 10)")
    // No line lost or torn across the hand-over from one relay to the next.
    let logged = try ticks()
    XCTAssertEqual(logged, (1...logged.count).map { "tick \($0)" })

    XCTAssertEqual(try runtime.stop(id, grace: 10).status, SKIFF_OK)
    let exited = try runtime.status(of: id)
    XCTAssertEqual(exited["exitCode"] as? Int, 143, "the shell dies of SIGTERM")
    XCTAssertEqual(exited["reason"] as? String, "Error")
  }

  func testContainerThatEndedWhileNoRuntimeWatchedIsUnknown() throws {
    try boot()
    let (id, pid) = try run(["sleep", "30"])
    stopKernel()
    kill(pid, SIGKILL)
    var status: Int32 = 0
    waitpid(pid, &status, 0)  // as init would, the runtime's process being gone
    try boot()
    let exited = try runtime.status(of: id)
    XCTAssertEqual(exited["state"] as? String, "CONTAINER_EXITED")
    XCTAssertEqual(exited["reason"] as? String, "Unknown")
    XCTAssertEqual(exited["exitCode"] as? Int, -1)
  }

  func testRemoveCleansUpCgroupsAndStateButKeepsTheLogUntilTheSandboxGoes() throws {
    try boot()
    let sandbox = try runtime.createSandbox()
    let done = try runtime.createContainer(in: sandbox, ["metadata": ["name": "done"],
                                                         "command": ["echo", "bye"]])
    _ = try runtime.start(done)
    _ = try waitForExit(done)
    let busy = try runtime.createContainer(in: sandbox, ["metadata": ["name": "busy"],
                                                         "command": ["sleep", "30"]])
    let busyPid = try runtime.start(busy)
    let cgroups = Cgroups.mounts.keys.compactMap { cgroupDirectory($0, done) }
    XCTAssertFalse(cgroups.isEmpty)
    XCTAssertTrue(cgroups.allSatisfy { FileManager.default.fileExists(atPath: $0) })
    let log = try runtime.logPath(of: done)

    let refused = try runtime.remove(busy)
    XCTAssertEqual(refused.status, SKIFF_ERROR)
    XCTAssertEqual(refused.json["reason"] as? String, "ContainerRunning")

    XCTAssertEqual(try runtime.remove(done).status, SKIFF_OK)
    XCTAssertTrue(cgroups.allSatisfy { !FileManager.default.fileExists(atPath: $0) }, "cgroups left behind")
    XCTAssertEqual(try runtime.call { $0.container_status($0.`self`, done, $1) }.status, SKIFF_NOT_FOUND)
    let state = "\(stateDir)/sandboxes/\(sandbox)/containers/\(done)"
    XCTAssertFalse(FileManager.default.fileExists(atPath: state), "container state left behind")
    XCTAssertEqual(CRILog.lines(CRILog.records(log), stream: "stdout"), ["bye"], "the log must stay")

    // Removing the sandbox kills and removes what is left in it.
    XCTAssertEqual(try runtime.call { $0.sandbox_remove($0.`self`, sandbox, $1) }.status, SKIFF_OK)
    XCTAssertFalse(Processes.isAlive(busyPid))
    XCTAssertFalse(FileManager.default.fileExists(atPath: "\(stateDir)/sandboxes/\(sandbox)"))
    XCTAssertFalse(FileManager.default.fileExists(atPath: log))
    XCTAssertTrue(Cgroups.mounts.keys.compactMap { cgroupDirectory($0, busy) }
      .allSatisfy { !FileManager.default.fileExists(atPath: $0) })
    XCTAssertEqual(try runtime.statusOfAll().count, 0)
  }

  func testStopSandboxKillsItsContainersAndRefusesNewOnes() throws {
    try boot()
    let sandbox = try runtime.createSandbox()
    let id = try runtime.createContainer(in: sandbox, ["metadata": ["name": "a"], "command": ["sleep", "30"]])
    _ = try runtime.start(id)
    XCTAssertEqual(try runtime.call { $0.sandbox_stop($0.`self`, sandbox, $1) }.status, SKIFF_OK)
    XCTAssertEqual(try runtime.status(of: id)["exitCode"] as? Int, 137)
    let refused = try runtime.call(sandbox: sandbox, ["metadata": ["name": "b"], "command": ["true"]])
    XCTAssertEqual(refused.json["reason"] as? String, "SandboxNotReady")
  }

  func testStartFailuresAreReportedAsStartError() throws {
    try boot()
    let sandbox = try runtime.createSandbox()
    let missing = try runtime.createContainer(in: sandbox, ["metadata": ["name": "a"],
                                                            "command": ["no-such-command-here"]])
    let failed = try runtime.call { $0.container_start($0.`self`, missing, $1) }
    XCTAssertEqual(failed.status, SKIFF_ERROR)
    XCTAssertEqual(failed.json["reason"] as? String, "StartError")
    XCTAssertTrue((failed.json["message"] as? String ?? "").contains("executable file not found"), failed.text)
    let status = try runtime.status(of: missing)
    XCTAssertEqual(status["state"] as? String, "CONTAINER_EXITED")
    XCTAssertEqual(status["exitCode"] as? Int, 128)

    let nowhere = try runtime.createContainer(in: sandbox, ["metadata": ["name": "b"], "command": ["true"],
                                                            "workingDir": "/no/such/dir"])
    let chdir = try runtime.call { $0.container_start($0.`self`, nowhere, $1) }
    XCTAssertEqual(chdir.json["reason"] as? String, "StartError")
    XCTAssertTrue((chdir.json["message"] as? String ?? "").contains("working directory /no/such/dir"),
                  chdir.text)

    let invalid = try runtime.call(sandbox: sandbox, ["metadata": ["name": "c"]])
    XCTAssertEqual(invalid.status, SKIFF_INVALID)
    let malformed = try runtime.call(sandbox: sandbox, ["metadata": ["attempt": 1], "command": ["true"]])
    XCTAssertEqual(malformed.json["message"] as? String, "container config: metadata.name is required")
  }

  func testRuntimeWithoutAUsableStateDirRefusesToStart() throws {
    XCTAssertThrowsError(try boot(config: "{}")) { error in
      XCTAssertEqual((error as? PluginLoadError)?.cause, .startFailed)
      XCTAssertTrue("\(error)".contains("config.stateDir is required"), "\(error)")
    }
    XCTAssertThrowsError(try boot(config: "{stateDir: [a, b]}")) { error in
      XCTAssertTrue("\(error)".hasSuffix("config: stateDir must be String"), "\(error)")
    }
  }

  func testImagesAreUnsupportedAndOnlyTheEntryIsExported() throws {
    try boot()
    let vtable = runtime.vtable
    XCTAssertEqual(vtable.image_pull(vtable.`self`, "{}", 2, skiff_done()), SKIFF_UNSUPPORTED)
    XCTAssertEqual(vtable.image_list(vtable.`self`, skiff_done()), SKIFF_UNSUPPORTED)
    let library = "\(Fixtures.buildDirectory)/libskiff_runtime.so"
    let symbols = try Fixtures.run(["nm", "-D", "--defined-only", library])
    XCTAssertEqual(symbols.status, 0, symbols.output)
    XCTAssertEqual(symbols.output.split(separator: "\n").compactMap { $0.split(separator: " ").last }
      .filter { $0.hasPrefix("skiff_") }, ["skiff_plugin_init"])
  }
}

// MARK: - Driving the vtable

struct Outcome {
  let status: skiff_status
  let text: String
  var json: [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
  }
}

/// Calls a runtime's slots (`process` unless named) on the kernel's loop, as the kernel would, and waits for
/// each completion.
final class RuntimeDriver: @unchecked Sendable {
  let kernel: RunningKernel
  let vtable: skiff_runtime_plugin

  init(_ kernel: RunningKernel, named name: String = "process") throws {
    self.kernel = kernel
    guard let runtime = kernel.kernel.extensions.runtime(named: name) else {
      throw TestFailure("no runtime named \(name) was registered")
    }
    vtable = runtime.vtable.pointee
  }

  /// A slot called through the shared helper, which traps on a second completion and fails on
  /// none.
  func call(seconds: Double = 30, _ slot: @escaping (skiff_runtime_plugin, skiff_done) -> skiff_status)
    throws -> Outcome {
    let vtable = vtable
    let result = try kernel.call(within: seconds) { done in slot(vtable, done) }
    return Outcome(status: result.status, text: result.json)
  }

  func expectOK(_ outcome: Outcome) throws -> [String: Any] {
    guard outcome.status == SKIFF_OK else {
      throw TestFailure("status \(outcome.status.rawValue): \(outcome.text)")
    }
    return outcome.json
  }

  func createSandbox(_ name: String = "pod") throws -> String {
    let config = json(["metadata": ["name": name, "namespace": "default", "uid": UUID().uuidString]])
    let result = try expectOK(call { vtable, done in
      config.withCString { vtable.sandbox_create(vtable.`self`, $0, strlen($0), done) }
    })
    return result["id"] as! String
  }

  func call(sandbox: String, _ config: [String: Any]) throws -> Outcome {
    let text = json(config)
    return try call { vtable, done in
      text.withCString { vtable.container_create(vtable.`self`, sandbox, $0, strlen($0), done) }
    }
  }

  func createContainer(in sandbox: String, _ config: [String: Any]) throws -> String {
    try expectOK(call(sandbox: sandbox, config))["id"] as! String
  }

  func start(_ id: String) throws -> Int32 {
    Int32(try expectOK(call { $0.container_start($0.`self`, id, $1) })["pid"] as! Int)
  }

  func stop(_ id: String, grace: Int64) throws -> Outcome {
    try call { $0.container_stop($0.`self`, id, grace, $1) }
  }

  func remove(_ id: String) throws -> Outcome {
    try call { $0.container_remove($0.`self`, id, $1) }
  }

  func status(of id: String) throws -> [String: Any] {
    try expectOK(call { $0.container_status($0.`self`, id, $1) })
  }

  func statusOfAll() throws -> [[String: Any]] {
    try expectOK(call { $0.container_status($0.`self`, nil, $1) })["containers"] as? [[String: Any]] ?? []
  }

  func logPath(of id: String) throws -> String {
    try expectOK(call { $0.container_logs($0.`self`, id, $1) })["path"] as! String
  }

  func exec(_ id: String, _ request: [String: Any]) throws -> Outcome {
    let text = json(request)
    return try call { vtable, done in
      text.withCString { vtable.exec(vtable.`self`, id, $0, strlen($0), done) }
    }
  }

  private func json(_ value: Any) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: value), as: UTF8.self)
  }
}

// MARK: - Reading what the runtime left on the host

/// CRI log files: `<RFC3339Nano> <stream> <F|P> <text>` per record.
enum CRILog {
  struct Record {
    let time: String
    let stream: String
    let tag: String
    let text: String
  }

  private static let format = try! NSRegularExpression(
    pattern: #"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (stdout|stderr) (F|P) (.*)$"#)

  /// Every record of the file; a line that is not a record fails the test.
  static func records(_ path: String, file: StaticString = #filePath, line: UInt = #line) -> [Record] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
    return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().compactMap { entry in
      let entry = String(entry)
      guard let match = format.firstMatch(in: entry, range: NSRange(entry.startIndex..., in: entry)) else {
        XCTFail("not a CRI log record: \(entry)", file: file, line: line)
        return nil
      }
      let group = { (i: Int) in String(entry[Range(match.range(at: i), in: entry)!]) }
      return Record(time: group(1), stream: group(2), tag: group(3), text: group(4))
    }
  }

  /// The stream's lines, partial (P) records joined to the record that completes them.
  static func lines(_ records: [Record], stream: String) -> [String] {
    var lines: [String] = []
    var partial = ""
    for record in records where record.stream == stream {
      partial += record.text
      if record.tag == "F" {
        lines.append(partial)
        partial = ""
      }
    }
    return lines
  }

  static func seconds(_ time: String) -> Date? {
    ISO8601DateFormatter().date(from: time.prefix(19) + "Z")
      .map { $0.addingTimeInterval(Double("0" + time.dropFirst(19).dropLast()) ?? 0) }
  }
}



