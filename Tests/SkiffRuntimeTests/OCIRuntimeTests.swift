// The `oci` runtime driven through the ABI as the node agent will drive it: images the test builds
// from busybox-static, imported and pulled from a real registry, run by real runc with real
// cgroups, and re-adopted by a second kernel over the same stateDir.
import Foundation
import Kernel
import SkiffABI
import SkiffTestSupport
import XCTest

final class OCIRuntimeTests: XCTestCase {
  var dir: URL!
  var stateDir: String { dir.appendingPathComponent("state").path }
  var cgroupParent = ""
  var kernels: [RunningKernel] = []
  var runtime: RuntimeDriver!
  var image: TestImages.Built!
  var registry: Process?

  override func setUpWithError() throws {
    guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/runc") else {
      throw XCTSkip("runc is not installed (apt-get install runc)")
    }
    dir = try Fixtures.temporaryDirectory()
    cgroupParent = "skiff-oci-test-\(UInt64.random(in: 0 ... .max))"
    image = try TestImages.build(in: dir.appendingPathComponent("image"))
  }

  override func tearDown() {
    // Every container through the runtime: runc's state, the rootfs mount, cgroups, bundle.
    if let runtime, let all = try? runtime.statusOfAll() {
      for container in all {
        let id = container["id"] as! String
        if container["state"] as? String == "CONTAINER_RUNNING" { _ = try? runtime.stop(id, grace: 0) }
        _ = try? runtime.remove(id)
      }
    }
    kernels.forEach { $0.stop() }
    registry?.terminate()
    registry?.waitUntilExit()
    // Whatever a failed test left: runc containers, overlay mounts, cgroups.
    if let dir { Leftovers.removeContainers(runcRoot: "\(stateDir)/oci/runc", mountsUnder: dir.path) }
    Cgroups.destroyParent(cgroupParent)
    if let dir { try? FileManager.default.removeItem(at: dir) }
  }

  // MARK: Helpers

  @discardableResult
  func boot(oci: String = "{}") throws -> RuntimeDriver {
    let kernel = RunningKernel()
    kernels.append(kernel)
    try kernel.boot("""
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: oci-test
      plugins:
        - name: runtime
          config: {stateDir: "\(stateDir)", cgroupParent: \(cgroupParent), oci: \(oci)}
      """, in: dir)
    runtime = try RuntimeDriver(kernel, named: "oci")
    return runtime
  }

  func stopKernel() {
    kernels.removeLast().stop()
    runtime = nil
  }

  func pull(_ reference: String) throws -> Outcome {
    try runtime.pullImage(reference)
  }

  func importLayout() throws {
    let result = try pull("oci:\(image.layout)")
    XCTAssertEqual(result.status, SKIFF_OK, result.text)
  }

  func run(_ config: [String: Any], image name: String = TestImages.Built.layoutTag) throws -> String {
    let sandbox = try runtime.createSandbox()
    let id = try runtime.createContainer(in: sandbox, ["metadata": ["name": "main"], "image": ["image": name]]
      .merging(config) { $1 })
    XCTAssertGreaterThan(try runtime.start(id), 0)
    return id
  }

  func waitForExit(_ id: String, seconds: Double = 30) throws -> [String: Any] {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      let status = try runtime.status(of: id)
      if status["state"] as? String == "CONTAINER_EXITED" { return status }
      usleep(20_000)
    }
    throw TestFailure("container \(id) did not exit within \(seconds)s")
  }

  func stdout(_ id: String) throws -> [String] {
    CRILog.lines(CRILog.records(try runtime.logPath(of: id)), stream: "stdout")
  }

  func waitForLog(_ id: String, line: String, seconds: Double = 10) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if try stdout(id).contains(line) { return }
      usleep(20_000)
    }
    throw TestFailure("container \(id) never logged \"\(line)\"")
  }

  // MARK: Images

  func testImportedLayoutRunsWithTheImageConfigAndLogsIt() throws {
    try boot()
    try importLayout()
    let images = try runtime.listImages()
    XCTAssertEqual(images.count, 1)
    XCTAssertEqual(images.first?["repoTags"] as? [String], ["skiff.test/busybox:1"])
    let id = try run([:])
    let status = try waitForExit(id)
    XCTAssertEqual(status["exitCode"] as? Int, 0)
    XCTAssertEqual(status["reason"] as? String, "Completed")
    XCTAssertEqual(status["imageRef"] as? String, images.first?["id"] as? String)
    // Entrypoint + Cmd, Env and WorkingDir from the image.
    XCTAssertEqual(try stdout(id), ["image-default from-image", "/data"])
  }

  func testContainerConfigOverridesTheImagesArgsEnvAndWorkingDir() throws {
    try boot()
    try importLayout()
    let args = try run(["args": [#"echo "$GREETING $0"; pwd; exit 7"#, "zero"],
                        "envs": [["key": "GREETING", "value": "from-config"]], "workingDir": "/tmp"])
    let status = try waitForExit(args)
    XCTAssertEqual(status["exitCode"] as? Int, 7)
    XCTAssertEqual(status["reason"] as? String, "Error")
    XCTAssertEqual(try stdout(args), ["from-config zero", "/tmp"])
    // command replaces the entrypoint, and the image's Cmd with it.
    let command = try runtime.createContainer(in: try runtime.createSandbox("pod2"), [
      "metadata": ["name": "main"], "image": ["image": "skiff.test/busybox:1"], "command": ["echo", "only", "this"]])
    _ = try runtime.start(command)
    XCTAssertEqual(try waitForExit(command)["exitCode"] as? Int, 0)
    XCTAssertEqual(try stdout(command), ["only this"])
  }

  func testTheImagesUserRunsTheProcessAndAnUnknownUserIsRefused() throws {
    try boot()
    for (user, expected) in [("nobody", "65534 65534"), ("1000:nogroup", "1000 65534"), ("root", "0 0")] {
      let built = try TestImages.build(in: dir.appendingPathComponent("user-\(user)"), user: user)
      XCTAssertEqual(try pull("oci:\(built.layout)").status, SKIFF_OK)
      let id = try run(["command": ["sh", "-c", "echo $(id -u) $(id -g)"]])
      XCTAssertEqual(try waitForExit(id)["exitCode"] as? Int, 0, user)
      XCTAssertEqual(try stdout(id), [expected], user)
    }
    let unknown = try TestImages.build(in: dir.appendingPathComponent("user-ghost"), user: "ghost")
    XCTAssertEqual(try pull("oci:\(unknown.layout)").status, SKIFF_OK)
    let result = try runtime.call(sandbox: try runtime.createSandbox("ghost"), [
      "metadata": ["name": "main"], "image": ["image": TestImages.Built.layoutTag]])
    XCTAssertEqual(result.status, SKIFF_ERROR)
    XCTAssertTrue((result.json["message"] as? String ?? "").contains("the image's user \"ghost\" is not in its /etc/passwd"), result.text)
  }

  func testWhiteoutsAndOpaqueDirectoriesHideLowerLayers() throws {
    for rootfs in ["overlay", "copy"] {
      try boot(oci: "{rootfs: \(rootfs)}")
      try importLayout()
      let id = try run(["command": ["sh", "-c", "ls /data; ls /opq; cat /data/keep /data/keep-linked /deep/d*"]])
      XCTAssertEqual(try waitForExit(id)["exitCode"] as? Int, 0, rootfs)
      XCTAssertEqual(try stdout(id), ["keep", "keep-linked", "new", "kept", "kept", "long name"], rootfs)
      XCTAssertEqual(try runtime.remove(id).status, SKIFF_OK)
      stopKernel()
    }
  }

  func testDockerSaveArchiveImportsAndRuns() throws {
    try boot()
    XCTAssertEqual(try pull("docker-archive:\(image.dockerArchive)").status, SKIFF_OK)
    XCTAssertEqual(try pull("oci-archive:\(image.layoutArchive)").status, SKIFF_OK)
    // The same config, so the same image id, now with both tags.
    let images = try runtime.listImages()
    XCTAssertEqual(images.count, 1)
    XCTAssertEqual(Set(images.first?["repoTags"] as? [String] ?? []),
                   ["skiff.test/busybox:docker", "skiff.test/busybox:1"])
    let id = try run(["command": ["cat", "/data/keep"]], image: "skiff.test/busybox:docker")
    XCTAssertEqual(try waitForExit(id)["exitCode"] as? Int, 0)
    XCTAssertEqual(try stdout(id), ["kept"])
  }

  func testABlobWhoseContentDoesNotMatchItsDigestIsRefused() throws {
    try boot()
    // Flip the last byte of the largest blob (the busybox layer).
    let blobs = URL(fileURLWithPath: image.layout).appendingPathComponent("blobs/sha256")
    let largest = try FileManager.default.contentsOfDirectory(at: blobs, includingPropertiesForKeys: [.fileSizeKey])
      .max { try! $0.resourceValues(forKeys: [.fileSizeKey]).fileSize! < $1.resourceValues(forKeys: [.fileSizeKey]).fileSize! }!
    var bytes = try Data(contentsOf: largest)
    bytes[bytes.count - 1] ^= 0xff
    try bytes.write(to: largest)
    let result = try pull("oci:\(image.layout)")
    XCTAssertEqual(result.status, SKIFF_ERROR)
    XCTAssertTrue(result.json["message"] as? String ?? "" ~= "digest mismatch", result.text)
    XCTAssertEqual(try runtime.listImages().count, 0)
  }

  func testAContainerOfAnImageNotPresentFailsClearly() throws {
    try boot()
    let sandbox = try runtime.createSandbox()
    let result = try runtime.call(sandbox: sandbox, ["metadata": ["name": "main"], "image": ["image": "nothere:1"]])
    XCTAssertEqual(result.status, SKIFF_NOT_FOUND)
    XCTAssertEqual(result.json["reason"] as? String, "ImageNotFound")
    XCTAssertTrue((result.json["message"] as? String ?? "").contains("docker.io/library/nothere:1"), result.text)
  }

  // MARK: Running

  func testTheContainerHasItsOwnNamespacesAndTheSandboxsNetwork() throws {
    let netns = "skiff-oci-\(UInt32.random(in: 0 ... .max))"
    let added = try Fixtures.run(["ip", "netns", "add", netns])
    guard added.status == 0 else { throw XCTSkip("no network namespaces here: \(added.output)") }
    defer { _ = try? Fixtures.run(["ip", "netns", "delete", netns]) }
    try boot()
    try importLayout()
    let config = String(decoding: try JSONSerialization.data(withJSONObject: [
      "metadata": ["name": "web-0", "namespace": "default", "uid": UUID().uuidString],
      "linux": ["netns": "/run/netns/\(netns)"]]), as: UTF8.self)
    let sandbox = try runtime.expectOK(runtime.call { vtable, done in
      config.withCString { vtable.sandbox_create(vtable.`self`, $0, strlen($0), done) }
    })["id"] as! String
    let id = try runtime.createContainer(in: sandbox, [
      "metadata": ["name": "main"], "image": ["image": TestImages.Built.layoutTag],
      "command": ["sh", "-c", "echo pid $$; hostname; grep -c web-0 /etc/hosts; cut -d: -f1 /proc/net/dev | grep -v '|'"]])
    _ = try runtime.start(id)
    XCTAssertEqual(try waitForExit(id)["exitCode"] as? Int, 0)
    // pid namespace: the command is init; uts: the pod's hostname; network: the sandbox's netns,
    // which has only its loopback.
    XCTAssertEqual(try stdout(id).map { $0.trimmingCharacters(in: .whitespaces) }, ["pid 1", "web-0", "1", "lo"])
  }

  func testAnUnknownNetworkNamespaceIsRefused() throws {
    try boot()
    let config = String(decoding: try JSONSerialization.data(withJSONObject: [
      "metadata": ["name": "web-0", "namespace": "default", "uid": "u1"], "linux": ["netns": "/run/netns/absent"]]),
                        as: UTF8.self)
    let result = try runtime.call { vtable, done in
      config.withCString { vtable.sandbox_create(vtable.`self`, $0, strlen($0), done) }
    }
    XCTAssertEqual(result.status, SKIFF_INVALID)
    XCTAssertEqual(result.json["message"] as? String, "sandbox config: linux.netns /run/netns/absent does not exist")
  }

  func testMemoryLimitEndsInOOMKilled() throws {
    guard Cgroups.mounts["memory"] != nil else { throw XCTSkip("no cgroup v1 memory controller on this host") }
    try boot()
    try importLayout()
    let id = try run(["command": ["tail", "/dev/zero"], "linux": ["resources": ["memoryLimitInBytes": 32 << 20]]])
    let limit = Cgroups.read("\(Cgroups.mounts["memory"]!)/\(cgroupParent)/\(id)/memory.limit_in_bytes")
    XCTAssertEqual(limit, "\(32 << 20)")
    let status = try waitForExit(id, seconds: 60)
    XCTAssertEqual(status["reason"] as? String, "OOMKilled")
    XCTAssertEqual(status["exitCode"] as? Int, 137)
  }

  func testExecReturnsTheCommandsExitCodeAndOutput() throws {
    try boot()
    try importLayout()
    let id = try run(["command": ["sh", "-c", "echo ready; exec sleep 1000"], "envs": [["key": "WHO", "value": "exec"]]])
    try waitForLog(id, line: "ready")
    let result = try runtime.exec(id, ["cmd": ["sh", "-c", "echo hello $WHO; pwd; echo oops >&2; exit 5"]])
    XCTAssertEqual(result.status, SKIFF_OK, result.text)
    XCTAssertEqual(result.json["exitCode"] as? Int, 5)
    XCTAssertEqual(result.json["stdout"] as? String, "hello exec\n/data\n")
    XCTAssertEqual(result.json["stderr"] as? String, "oops\n")
  }

  func testStreamingExecRelaysStdinAndTheExitCode() throws {
    try boot()
    try importLayout()
    let id = try run(["command": ["sh", "-c", "echo ready; exec sleep 1000"], "envs": [["key": "WHO", "value": "exec"]]])
    try waitForLog(id, line: "ready")
    let answer = try runtime.exec(id, ["cmd": ["sh", "-c", "cat; echo $WHO >&2; exit 4"], "stdin": true])
    XCTAssertEqual(answer.status, SKIFF_OK, answer.text)
    let stream = try ExecStreamClient(answer.json)
    stream.stdin("piped\n")
    stream.closeStdin()
    let result = stream.readToEnd()
    XCTAssertEqual(result.stdout, "piped\n")
    XCTAssertEqual(result.stderr, "exec\n")
    XCTAssertEqual(result.exitCode, 4)
  }

  func testHangingUpAStreamKillsTheCommandInTheContainer() throws {
    try boot()
    try importLayout()
    let id = try run(["command": ["sh", "-c", "echo ready; exec sleep 1000"]])
    try waitForLog(id, line: "ready")
    // The sleep's argument marks its process on the host; runc cannot pass SIGKILL on, so the
    // runtime kills the command by the pid runc recorded.
    for tty in [false, true] {
      let marker = "9\(Int.random(in: 100_000...999_999))"
      let answer = try runtime.exec(id, ["cmd": ["sh", "-c", "echo started; exec sleep \(marker)"], "stream": true, "tty": tty])
      XCTAssertEqual(answer.status, SKIFF_OK, answer.text)
      let stream = try ExecStreamClient(answer.json)
      let first = try XCTUnwrap(stream.frame())
      XCTAssertTrue(String(decoding: first.payload, as: UTF8.self).hasPrefix("started"))
      XCTAssertTrue(eventually { hostProcesses(containing: "sleep \(marker)") > 0 }, "tty \(tty): the command never ran")
      stream.hangUp()
      XCTAssertTrue(eventually { hostProcesses(containing: "sleep \(marker)") == 0 }, "tty \(tty): the command outlived its caller")
    }
  }

  /// Live (not zombie) host processes whose command line contains `text`.
  private func hostProcesses(containing text: String) -> Int {
    let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap(Int32.init) ?? []
    return pids.filter { pid in
      guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let end = stat.lastIndex(of: ")"),
            !"ZX".contains(stat[stat.index(end, offsetBy: 2)]),
            let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
      return String(decoding: data.map { $0 == 0 ? 32 : $0 }, as: UTF8.self).contains(text)
    }.count
  }

  func testStreamingExecOnATerminalInsideTheContainer() throws {
    try boot()
    try importLayout()
    let id = try run(["command": ["sh", "-c", "echo ready; exec sleep 1000"]])
    try waitForLog(id, line: "ready")
    let answer = try runtime.exec(id, ["cmd": ["sh"], "tty": true, "stdin": true])
    XCTAssertEqual(answer.status, SKIFF_OK, answer.text)
    let stream = try ExecStreamClient(answer.json)
    stream.resize(width: 91, height: 13)
    // Output written just before the exit arrives whole.
    stream.stdin("stty size; tty; seq 1 3000; exit 6\n")
    let result = stream.readToEnd()
    XCTAssertTrue(result.stdout.contains("13 91"), result.stdout)
    XCTAssertTrue(result.stdout.contains("/dev/pts/0"), "not the container's own terminal: \(result.stdout)")
    XCTAssertTrue(result.stdout.hasSuffix("2999\r\n3000\r\n"), String(result.stdout.suffix(200)))
    XCTAssertEqual(result.exitCode, 6)
  }

  func testStopWithGraceLetsTheProcessHandleSIGTERM() throws {
    try boot()
    try importLayout()
    let id = try run(["command": ["sh", "-c", #"trap "echo bye; exit 0" TERM; echo ready; while :; do sleep 0.1; done"#]])
    try waitForLog(id, line: "ready")
    XCTAssertEqual(try runtime.stop(id, grace: 30).status, SKIFF_OK)
    let status = try runtime.status(of: id)
    XCTAssertEqual(status["state"] as? String, "CONTAINER_EXITED")
    XCTAssertEqual(status["exitCode"] as? Int, 0)
    XCTAssertEqual(try stdout(id), ["ready", "bye"])
  }

  func testStopEscalatesToSIGKILLAfterTheGrace() throws {
    try boot()
    try importLayout()
    let id = try run(["command": ["sh", "-c", #"trap "" TERM; echo ready; while :; do sleep 0.1; done"#]])
    try waitForLog(id, line: "ready")
    XCTAssertEqual(try runtime.stop(id, grace: 1).status, SKIFF_OK)
    XCTAssertEqual(try runtime.status(of: id)["exitCode"] as? Int, 137)
  }

  func testARestartedPluginReadoptsRunningContainers() throws {
    try boot()
    try importLayout()
    let id = try run(["command": ["sh", "-c", #"trap "exit 3" TERM; echo one; read line < /proc/self/fd/0; while :; do sleep 0.1; done"#]])
    try waitForLog(id, line: "one")
    let pid = try runtime.status(of: id)["pid"] as? Int
    stopKernel()
    try boot()
    let status = try runtime.status(of: id)
    XCTAssertEqual(status["state"] as? String, "CONTAINER_RUNNING")
    XCTAssertEqual(status["pid"] as? Int, pid)
    XCTAssertEqual(try runtime.statusOfAll().count, 1, "no duplicate")
    XCTAssertEqual(try runtime.exec(id, ["cmd": ["true"]]).json["exitCode"] as? Int, 0)
    XCTAssertEqual(try runtime.stop(id, grace: 10).status, SKIFF_OK)
    let exited = try runtime.status(of: id)
    XCTAssertEqual(exited["state"] as? String, "CONTAINER_EXITED")
    // Still this process's child (the subreaper's), so the exit code survived the restart.
    XCTAssertEqual(exited["exitCode"] as? Int, 3)
  }

  func testRemovingAContainerUnmountsItsRootAndDeletesItsCgroups() throws {
    try boot()
    try importLayout()
    let id = try run(["command": ["true"], "linux": ["resources": ["pidsLimit": 50]]])
    _ = try waitForExit(id)
    let bundle = try XCTUnwrap(FileManager.default.subpaths(atPath: stateDir)?.first { $0.hasSuffix(id) })
    XCTAssertEqual(try runtime.remove(id).status, SKIFF_OK)
    XCTAssertFalse(FileManager.default.fileExists(atPath: "\(stateDir)/\(bundle)"))
    let mounts = try String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)
    XCTAssertFalse(mounts.contains(id), "the root filesystem is still mounted")
    if let pids = Cgroups.mounts["pids"] {
      XCTAssertFalse(FileManager.default.fileExists(atPath: "\(pids)/\(cgroupParent)/\(id)"))
    }
    let list = try Fixtures.run(["runc", "--root", "\(stateDir)/oci/runc", "list", "-q"])
    XCTAssertEqual(list.output.trimmingCharacters(in: .whitespacesAndNewlines), "")
  }

  func testRemovingASandboxKillsAndRemovesItsContainers() throws {
    try boot()
    try importLayout()
    let sandbox = try runtime.createSandbox()
    let ids = try (0..<2).map { index in
      try runtime.createContainer(in: sandbox, ["metadata": ["name": "c\(index)"], "image": ["image": TestImages.Built.layoutTag],
                                                "command": ["sleep", "1000"]])
    }
    for id in ids { _ = try runtime.start(id) }
    let removed = try runtime.call { vtable, done in vtable.sandbox_remove(vtable.`self`, sandbox, done) }
    XCTAssertEqual(removed.status, SKIFF_OK, removed.text)
    XCTAssertEqual(try runtime.statusOfAll().count, 0)
    XCTAssertFalse(FileManager.default.fileExists(atPath: "\(stateDir)/oci/sandboxes/\(sandbox)"))
    let list = try Fixtures.run(["runc", "--root", "\(stateDir)/oci/runc", "list", "-q"])
    XCTAssertEqual(list.output.trimmingCharacters(in: .whitespacesAndNewlines), "")
    let mounts = try String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)
    XCTAssertFalse(ids.contains { mounts.contains($0) }, "a root filesystem is still mounted")
  }

  // MARK: Pulling

  /// docker-registry on a free loopback port, with the test image pushed by skopeo.
  func startRegistry(certificate: (cert: String, key: String)? = nil) throws -> String {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/docker-registry"),
          FileManager.default.isExecutableFile(atPath: "/usr/bin/skopeo") else {
      throw XCTSkip("docker-registry and skopeo are not installed")
    }
    let port = try freeLoopbackPort()
    let config = dir.appendingPathComponent("registry.yml")
    try """
      version: 0.1
      storage:
        filesystem:
          rootdirectory: \(dir.appendingPathComponent("registry").path)
      http:
        addr: 127.0.0.1:\(port)
      """.appending(certificate.map { "\n  tls:\n    certificate: \($0.cert)\n    key: \($0.key)\n" } ?? "")
      .write(to: config, atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
    process.arguments = ["serve", config.path]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    registry = process
    let address = "127.0.0.1:\(port)"
    var pushed: (status: Int32, output: String) = (1, "")
    for _ in 0..<50 {
      pushed = try Fixtures.run(["skopeo", "copy", "--dest-tls-verify=false", "oci:\(image.layout)",
                                 "docker://\(address)/test/busybox:1"])
      if pushed.status == 0 { return address }
      usleep(100_000)
    }
    throw TestFailure("pushing to the registry: \(pushed.output)")
  }

  func testAnImagePulledFromARegistryRuns() throws {
    let address = try startRegistry()
    try boot()
    let result = try pull("\(address)/test/busybox:1")
    XCTAssertEqual(result.status, SKIFF_OK, result.text)
    let images = try runtime.listImages()
    XCTAssertEqual(images.first?["repoTags"] as? [String], ["\(address)/test/busybox:1"])
    XCTAssertEqual(result.json["imageRef"] as? String, images.first?["id"] as? String)
    let id = try run(["command": ["sh", "-c", "ls /opq; echo $GREETING"]], image: "\(address)/test/busybox:1")
    XCTAssertEqual(try waitForExit(id)["exitCode"] as? Int, 0)
    XCTAssertEqual(try stdout(id), ["new", "from-image"])
    // Pulled again: every blob is already present.
    XCTAssertEqual(try pull("\(address)/test/busybox:1").status, SKIFF_OK)
  }

  func testAMirrorServesAnotherRegistrysImages() throws {
    let address = try startRegistry()
    try boot(oci: "{registries: {\"registry.invalid\": {mirrors: [\"http://\(address)\"]}}}")
    XCTAssertEqual(try pull("registry.invalid/test/busybox:1").status, SKIFF_OK)
    XCTAssertEqual(try runtime.listImages().first?["repoTags"] as? [String], ["registry.invalid/test/busybox:1"])
    let missing = try pull("\(address)/test/absent:1")
    XCTAssertEqual(missing.status, SKIFF_ERROR)
    XCTAssertTrue((missing.json["message"] as? String ?? "").contains("404"), missing.text)
  }

  /// A registry of the test's own (Python's http.server) that demands a bearer token from its
  /// token endpoint, as Docker Hub does, and serves `tampered/img` with a layer whose bytes do
  /// not match its digest.
  func startTokenRegistry() throws -> String {
    let script = dir.appendingPathComponent("token-registry.py")
    try #"""
    import http.server, json, os, sys, urllib.parse
    layout = sys.argv[1]
    index = json.load(open(os.path.join(layout, "index.json")))
    top = index["manifests"][0]["digest"]
    def blob(d): return open(os.path.join(layout, "blobs", "sha256", d[7:]), "rb").read()
    layers = json.loads(blob(top))["layers"]
    class Handler(http.server.BaseHTTPRequestHandler):
        def reply(self, code, body=b"", headers={}):
            self.send_response(code)
            for k, v in headers.items(): self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            if url.path == "/token":
                q = urllib.parse.parse_qs(url.query)
                ok = q.get("service") == ["fake"] and q.get("scope", [""])[0].startswith("repository:")
                return self.reply(200 if ok else 400, json.dumps({"token": "good-token"}).encode())
            if self.headers.get("Authorization") != "Bearer good-token":
                realm = "http://%s/token" % self.headers["Host"]
                repo = url.path.split("/")[2] + "/" + url.path.split("/")[3]
                return self.reply(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"token needed"}]}',
                    {"WWW-Authenticate": 'Bearer realm="%s",service="fake",scope="repository:%s:pull"' % (realm, repo)})
            parts = url.path.split("/")
            repo, kind, ref = parts[2] + "/" + parts[3], parts[4], parts[5]
            if kind == "manifests":
                return self.reply(200, blob(top), {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
            body = blob(ref)
            if repo == "tampered/img" and ref == layers[0]["digest"]:
                body = body[:-1] + bytes([body[-1] ^ 0xff])
            self.reply(200, body)
        def log_message(self, *args): pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()
    """#.write(to: script, atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments = [script.path, image.layout]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    registry = process
    var port = ""
    while !port.hasSuffix("\n") {
      let byte = output.fileHandleForReading.readData(ofLength: 1)
      guard !byte.isEmpty else { throw TestFailure("the token registry did not start") }
      port += String(decoding: byte, as: UTF8.self)
    }
    return "127.0.0.1:\(port.trimmingCharacters(in: .whitespacesAndNewlines))"
  }

  func testARegistryAskingForABearerTokenGetsOne() throws {
    let address = try startTokenRegistry()
    try boot()
    let result = try pull("\(address)/test/img:1")
    XCTAssertEqual(result.status, SKIFF_OK, result.text)
    let id = try run(["command": ["cat", "/opq/new"]], image: "\(address)/test/img:1")
    XCTAssertEqual(try waitForExit(id)["exitCode"] as? Int, 0)
    XCTAssertEqual(try stdout(id), ["new"])
  }

  func testAPulledLayerWhoseBytesDoNotMatchItsDigestIsRefused() throws {
    let address = try startTokenRegistry()
    try boot()
    let result = try pull("\(address)/tampered/img:1")
    XCTAssertEqual(result.status, SKIFF_ERROR)
    XCTAssertTrue((result.json["message"] as? String ?? "").contains("digest mismatch"), result.text)
    XCTAssertEqual(try runtime.listImages().count, 0)
    let blobs = try FileManager.default.contentsOfDirectory(atPath: "\(stateDir)/images/blobs/sha256")
    XCTAssertEqual(blobs.count, 2, "only the manifest and config, which matched: \(blobs)")
  }

  /// A self-signed certificate for 127.0.0.1, made with the openssl command.
  func makeCertificate() throws -> (cert: String, key: String) {
    let cert = dir.appendingPathComponent("registry.pem").path, key = dir.appendingPathComponent("registry.key").path
    let made = try Fixtures.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                                 "-subj", "/CN=skiff test registry", "-addext", "subjectAltName=IP:127.0.0.1",
                                 "-keyout", key, "-out", cert])
    guard made.status == 0 else { throw TestFailure("openssl: \(made.output)") }
    return (cert, key)
  }

  func testAnHTTPSRegistryIsTrustedThroughItsConfiguredCAOnly() throws {
    let certificate = try makeCertificate()
    let address = try startRegistry(certificate: certificate)
    // https:// although loopback, and its self-signed certificate is not among the system's CAs.
    try boot(oci: "{registries: {\"\(address)\": {insecure: false}}}")
    let untrusted = try pull("\(address)/test/busybox:1")
    XCTAssertEqual(untrusted.status, SKIFF_ERROR)
    XCTAssertTrue((untrusted.json["message"] as? String ?? "").contains("the certificate is not trusted: self-signed certificate"),
                  untrusted.text)
    stopKernel()
    try boot(oci: "{registries: {\"\(address)\": {ca: \"\(certificate.cert)\"}}}")
    let pulled = try pull("\(address)/test/busybox:1")
    XCTAssertEqual(pulled.status, SKIFF_OK, pulled.text)
    let id = try run(["command": ["cat", "/data/keep"]], image: "\(address)/test/busybox:1")
    XCTAssertEqual(try waitForExit(id)["exitCode"] as? Int, 0)
    XCTAssertEqual(try stdout(id), ["kept"])
  }

  // MARK: The `skiff image` command

  func testImageCommandImportsPullsWithProgressAndLists() throws {
    let address = try startRegistry()
    let profile = dir.appendingPathComponent("images.yaml")
    try """
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: images
      plugins:
        - name: runtime
          config: {stateDir: "${dataDir}/runtime", cgroupParent: \(cgroupParent)}
      """.write(to: profile, atomically: true, encoding: .utf8)
    let skiff = "\(Fixtures.buildDirectory)/skiff"
    let common = ["--profile", profile.path, "--data-dir", dir.appendingPathComponent("data").path]
    let imported = try Fixtures.run([skiff, "image", "import", image.dockerArchive] + common)
    XCTAssertEqual(imported.status, 0, imported.output)
    XCTAssertTrue(imported.output.hasPrefix("imported sha256:"), imported.output)
    let pulled = try Fixtures.run([skiff, "image", "pull", "\(address)/test/busybox:1"] + common)
    XCTAssertEqual(pulled.status, 0, pulled.output)
    XCTAssertTrue(pulled.output.contains("verified"), "no progress lines: \(pulled.output)")
    let listed = try Fixtures.run([skiff, "image", "ls"] + common)
    XCTAssertEqual(listed.status, 0, listed.output)
    XCTAssertTrue(listed.output.contains("skiff.test/busybox:docker"), listed.output)
    XCTAssertTrue(listed.output.contains("\(address)/test/busybox:1"), listed.output)
    let missing = try Fixtures.run([skiff, "image", "import", dir.appendingPathComponent("none.tar").path] + common)
    XCTAssertEqual(missing.status, 1)
    XCTAssertTrue(missing.output.contains("none.tar: No such file or directory"), missing.output)
  }
}

private func ~= (text: String, part: String) -> Bool { text.contains(part) }

/// A port no one listens on now: bound to 0, read back, released.
private func freeLoopbackPort() throws -> Int {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  let bound = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
    }
  }
  guard bound else { throw TestFailure("no free loopback port") }
  return Int(UInt16(bigEndian: address.sin_port))
}

extension RuntimeDriver {
  func pullImage(_ reference: String) throws -> Outcome {
    let text = String(decoding: try JSONSerialization.data(withJSONObject: ["image": reference]), as: UTF8.self)
    return try call(seconds: 120) { vtable, done in
      text.withCString { vtable.image_pull(vtable.`self`, $0, strlen($0), done) }
    }
  }

  func listImages() throws -> [[String: Any]] {
    try expectOK(call { $0.image_list($0.`self`, $1) })["images"] as? [[String: Any]] ?? []
  }
}
