// The gpu plugin loaded for real and called through skiff_device_plugin: fake devices, health,
// allocation, NUMA packing, and the nvml backend with no driver and with a scripted one.
import Foundation
import Kernel
import SkiffABI
import SkiffTestSupport
import XCTest

final class DevicePluginTests: XCTestCase {
  var dir: URL!
  var running: RunningKernel!

  override func setUpWithError() throws {
    dir = try Fixtures.temporaryDirectory()
    running = RunningKernel()
  }

  override func tearDown() {
    running.stop()
    try? FileManager.default.removeItem(at: dir)
  }

  /// Boots the gpu plugin with `config` (YAML flow mapping) and returns its device vtable.
  private func boot(_ config: String) throws -> skiff_device_plugin {
    try running.boot("""
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: gpu
      plugins:
        - name: gpu
          config: \(config)
      """, in: dir)
    let device = try XCTUnwrap(running.kernel.extensions.devices.first { $0.name == "nvidia" })
    XCTAssertEqual(device.owner, "gpu")
    return device.vtable.pointee
  }

  private func bootEightOnTwoNodes() throws -> skiff_device_plugin {
    try boot("{backend: fake, count: 8, model: H200, memoryMiB: 143771, numaNodes: 2}")
  }

  private func list(_ vtable: skiff_device_plugin) throws -> [[String: Any]] {
    let sink = BytesSink()
    let status = try running.loop.submit { vtable.list!(vtable.`self`, sink.callback, sink.arg) }
    XCTAssertEqual(status, SKIFF_OK)
    XCTAssertEqual(sink.all.count, 1, "list answers exactly once")
    return jsonObject(sink.last)["devices"] as? [[String: Any]] ?? []
  }

  private func allocate(_ vtable: skiff_device_plugin, _ request: String) throws
    -> (status: skiff_status, json: [String: Any])
  {
    let recorder = CompletionRecorder()
    let status = try running.loop.submit {
      request.withCString { vtable.allocate!(vtable.`self`, $0, strlen($0), recorder.done) }
    }
    XCTAssertEqual(status, SKIFF_OK, "allocate takes `done` and answers through it")
    let result = try XCTUnwrap(recorder.wait(), "allocate never completed")
    XCTAssertEqual(recorder.count, 1)
    return (result.status, jsonObject(result.json))
  }

  private func preferred(_ vtable: skiff_device_plugin, _ request: String) throws
    -> (status: skiff_status, json: [String: Any])
  {
    let sink = BytesSink()
    let status = try running.loop.submit {
      request.withCString { vtable.preferred_allocation!(vtable.`self`, $0, strlen($0), sink.callback, sink.arg) }
    }
    XCTAssertEqual(sink.all.count, 1, "preferred_allocation answers exactly once")
    return (status, jsonObject(sink.last))
  }

  private func setHealth(_ id: String, _ healthy: Int32) throws -> ServiceValue {
    try running.kernel.services.call("gpu.set_health", [.string(id), .int32(healthy)])
  }

  /// Waits for everything already posted to the loop: health announcements go through
  /// host->post, and the loop runs posted work in order.
  private func drainLoop() throws {
    try running.loop.submit {}
  }

  // MARK: Listing

  func testListsFakeDevicesWithTheirNUMANodes() throws {
    let vtable = try bootEightOnTwoNodes()
    XCTAssertEqual(String(cString: vtable.resource_name), "nvidia.com/gpu")
    let devices = try list(vtable)
    XCTAssertEqual(devices.compactMap { $0["id"] as? String }, (0..<8).map { "fake-gpu-\($0)" })
    // index * numaNodes / count: 0…3 → 0, 4…7 → 1.
    XCTAssertEqual(devices.compactMap { $0["numaNode"] as? Int }, [0, 0, 0, 0, 1, 1, 1, 1])
    XCTAssertEqual(Set(devices.compactMap { $0["health"] as? String }), ["Healthy"])
    XCTAssertEqual(Set(devices.compactMap { $0["model"] as? String }), ["H200"])
    XCTAssertEqual(Set(devices.compactMap { $0["memoryMiB"] as? Int }), [143_771])
    XCTAssertEqual(devices[3]["uuid"] as? String, "GPU-fa4e0000-0000-4000-8000-000000000003")
    XCTAssertEqual(Set(devices.compactMap { $0["uuid"] as? String }).count, 8)

    // The CLI's view is the same list.
    guard case .string(let cli) = try running.kernel.services.call("gpu.list_json", []) else {
      return XCTFail("gpu.list_json should return a string")
    }
    XCTAssertEqual(jsonObject(cli)["devices"] as? NSArray, devices as NSArray)
  }

  func testUnevenNUMASpread() throws {
    let vtable = try boot("{backend: fake, count: 4, numaNodes: 3}")
    // 0*3/4=0, 1*3/4=0, 2*3/4=1, 3*3/4=2.
    XCTAssertEqual(try list(vtable).compactMap { $0["numaNode"] as? Int }, [0, 0, 1, 2])
  }

  // MARK: Health

  func testHealthFlipThroughTheServiceReachesWatchers() throws {
    let vtable = try bootEightOnTwoNodes()
    let sink = BytesSink()
    let handle = try running.loop.submit { () -> UnsafeMutableRawPointer? in
      var handle: UnsafeMutableRawPointer?
      XCTAssertEqual(vtable.watch!(vtable.`self`, sink.callback, sink.arg, &handle), SKIFF_OK)
      return handle
    }
    XCTAssertNotNil(handle)

    XCTAssertEqual(try setHealth("fake-gpu-2", 0), .int32(0))
    XCTAssertTrue(running.wait { sink.all.count == 1 }, "the watcher heard nothing")
    let unhealthy = (jsonObject(sink.last)["devices"] as? [[String: Any]] ?? [])
      .filter { $0["health"] as? String == "Unhealthy" }.compactMap { $0["id"] as? String }
    XCTAssertEqual(unhealthy, ["fake-gpu-2"])
    XCTAssertEqual(try list(vtable)[2]["health"] as? String, "Unhealthy")

    // No change, no news.
    XCTAssertEqual(try setHealth("fake-gpu-2", 0), .int32(0))
    try drainLoop()
    XCTAssertEqual(sink.all.count, 1)

    XCTAssertEqual(try setHealth("fake-gpu-2", 1), .int32(0))
    XCTAssertTrue(running.wait { sink.all.count == 2 })
    XCTAssertFalse(sink.last!.contains("Unhealthy"))

    try running.loop.submit { vtable.unwatch!(vtable.`self`, handle) }
    XCTAssertEqual(try setHealth("fake-gpu-5", 0), .int32(0))
    try drainLoop()
    XCTAssertEqual(sink.all.count, 2, "an unwatched watcher still heard a change")

    XCTAssertEqual(try setHealth("fake-gpu-8", 0), .int32(Int32(SKIFF_NOT_FOUND.rawValue)))
    XCTAssertEqual(try setHealth("fake-gpu-1", 2), .int32(Int32(SKIFF_INVALID.rawValue)))
  }

  // MARK: Allocation

  func testAllocateGivesEnvironmentAndDeviceNodes() throws {
    let vtable = try bootEightOnTwoNodes()
    let (status, spec) = try allocate(vtable, #"{"deviceIds": ["fake-gpu-1", "fake-gpu-3"]}"#)
    XCTAssertEqual(status, SKIFF_OK)
    XCTAssertEqual(spec["env"] as? [String: String], [
      "NVIDIA_VISIBLE_DEVICES": "GPU-fa4e0000-0000-4000-8000-000000000001,GPU-fa4e0000-0000-4000-8000-000000000003",
      "CUDA_VISIBLE_DEVICES": "0,1",
    ])
    let nodes = ["/dev/nvidia1", "/dev/nvidia3", "/dev/nvidiactl", "/dev/nvidia-uvm"]
    XCTAssertEqual(spec["devices"] as? [[String: String]],
                   nodes.map { ["hostPath": $0, "containerPath": $0, "permissions": "rw"] })
    XCTAssertEqual((spec["mounts"] as? [Any])?.count, 0)
    XCTAssertEqual((spec["annotations"] as? [String: Any])?.count, 0)
  }

  func testAllocateRefusesUnhealthyUnknownAndMalformedRequests() throws {
    let vtable = try bootEightOnTwoNodes()
    XCTAssertEqual(try setHealth("fake-gpu-1", 0), .int32(0))

    let sick = try allocate(vtable, #"{"deviceIds": ["fake-gpu-0", "fake-gpu-1"]}"#)
    XCTAssertEqual(sick.status, SKIFF_ERROR)
    XCTAssertEqual(sick.json["reason"] as? String, "UnhealthyDevice")
    XCTAssertEqual(sick.json["message"] as? String, "device fake-gpu-1 is unhealthy and cannot be allocated")

    let unknown = try allocate(vtable, #"{"deviceIds": ["fake-gpu-0", "fake-gpu-9"]}"#)
    XCTAssertEqual(unknown.status, SKIFF_NOT_FOUND)
    XCTAssertEqual(unknown.json["reason"] as? String, "UnknownDevice")
    XCTAssertEqual(unknown.json["message"] as? String, "no device fake-gpu-9 on this node")

    let malformed = try allocate(vtable, #"{"deviceIds": "fake-gpu-0"}"#)
    XCTAssertEqual(malformed.status, SKIFF_INVALID)
    XCTAssertEqual(malformed.json["message"] as? String, "deviceIds must be an array of strings")

    let twice = try allocate(vtable, #"{"deviceIds": ["fake-gpu-0", "fake-gpu-0"]}"#)
    XCTAssertEqual(twice.status, SKIFF_INVALID)

    // Healthy again, allocatable again.
    XCTAssertEqual(try setHealth("fake-gpu-1", 1), .int32(0))
    XCTAssertEqual(try allocate(vtable, #"{"deviceIds": ["fake-gpu-0", "fake-gpu-1"]}"#).status, SKIFF_OK)
  }

  // MARK: Preferred allocation (8 GPUs: 0…3 on NUMA node 0, 4…7 on node 1)

  private func preferredIds(_ vtable: skiff_device_plugin, available: [Int], mustInclude: [Int] = [],
                            size: Int) throws -> [String]? {
    let ids = { (indexes: [Int]) in indexes.map { "\"fake-gpu-\($0)\"" }.joined(separator: ",") }
    let (status, json) = try preferred(vtable, """
      {"available": [\(ids(available))], "mustInclude": [\(ids(mustInclude))], "size": \(size)}
      """)
    XCTAssertEqual(status, SKIFF_OK, "\(json)")
    return json["deviceIds"] as? [String]
  }

  func testPreferredAllocationPacksNUMANodes() throws {
    let vtable = try bootEightOnTwoNodes()
    func gpus(_ indexes: Int...) -> [String] { indexes.map { "fake-gpu-\($0)" } }

    // Both nodes have 4 available: the tie goes to node 0.
    XCTAssertEqual(try preferredIds(vtable, available: Array(0..<8), size: 4), gpus(0, 1, 2, 3))
    // Node 1 has 3 available, node 0 has 2: node 1.
    XCTAssertEqual(try preferredIds(vtable, available: [0, 1, 4, 5, 6], size: 2), gpus(4, 5))
    // 3 fit on node 1 (3 available) but not on node 0 (2): one node, not two.
    XCTAssertEqual(try preferredIds(vtable, available: [0, 1, 4, 5, 6], size: 3), gpus(4, 5, 6))
    // mustInclude's node costs nothing, so it fills first even though node 0 has more available.
    XCTAssertEqual(try preferredIds(vtable, available: [0, 1, 2, 4, 5], mustInclude: [4], size: 2),
                   gpus(4, 5))
    // mustInclude first, in its order; then its node; then the fullest other node.
    XCTAssertEqual(try preferredIds(vtable, available: [0, 1, 2, 5, 6], mustInclude: [6], size: 4),
                   gpus(6, 5, 0, 1))
    // Five cannot fit one node: all of node 0 (the tie), then the first of node 1.
    XCTAssertEqual(try preferredIds(vtable, available: Array(0..<8), size: 5), gpus(0, 1, 2, 3, 4))
    // The caller's order does not matter.
    XCTAssertEqual(try preferredIds(vtable, available: [7, 6, 5, 4, 3], size: 2), gpus(4, 5))
  }

  func testPreferredAllocationRefusesImpossibleRequests() throws {
    let vtable = try bootEightOnTwoNodes()
    let cases: [(String, skiff_status, String)] = [
      (#"{"available": ["fake-gpu-0", "fake-gpu-1"], "mustInclude": ["fake-gpu-0", "fake-gpu-1"], "size": 1}"#,
       SKIFF_INVALID, "size 1 is smaller than mustInclude's 2 devices"),
      (#"{"available": ["fake-gpu-0", "fake-gpu-1"], "size": 3}"#,
       SKIFF_INVALID, "size 3 is more than the 2 available devices"),
      (#"{"available": ["fake-gpu-0"], "mustInclude": ["fake-gpu-1"], "size": 1}"#,
       SKIFF_INVALID, "mustInclude device fake-gpu-1 is not in available"),
      (#"{"available": ["fake-gpu-0", "gpu-x"], "size": 1}"#,
       SKIFF_NOT_FOUND, "no device gpu-x on this node"),
      (#"{"available": ["fake-gpu-0"]}"#, SKIFF_INVALID, "size is required"),
    ]
    for (request, status, message) in cases {
      let answer = try preferred(vtable, request)
      XCTAssertEqual(answer.status, status, request)
      XCTAssertEqual(answer.json["message"] as? String, message, request)
      XCTAssertNotNil(answer.json["reason"] as? String, request)
    }
  }

  // MARK: Configuration and the nvml backend

  func testConfigurationErrorsFailStartWithTheirReason() throws {
    for (config, message) in [
      ("{backend: cuda}", #"config: backend must be "nvml", "auto" or "fake", not "cuda""#),
      ("{backend: nvml, count: 2}",
       "config: unknown key 'count' for backend nvml (allowed: backend, healthIntervalSeconds)"),
      ("{backend: fake, count: 4, numaNodes: 5}", "config: numaNodes must be 1…count (4), not 5"),
      ("{backend: fake, count: four}", "config: count must be an integer"),
    ] {
      XCTAssertThrowsError(try boot(config), config) { error in
        XCTAssertEqual((error as? PluginLoadError)?.cause, .startFailed, config)
        XCTAssertTrue("\(error)".hasSuffix("start returned INVALID: \(message)"), "\(error)")
      }
      running.stop()
      running = RunningKernel()
    }
  }

  private var machineHasNVML: Bool {
    guard let handle = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL) else { return false }
    dlclose(handle)
    return true
  }

  func testNVMLBackendFailsStartWithoutTheDriver() throws {
    try XCTSkipIf(machineHasNVML, "this machine has NVML; testNVMLBackendListsRealGPUs covers it")
    // nvml is the default backend, so an empty config asks for it too.
    for config in ["{backend: nvml}", "{}"] {
      XCTAssertThrowsError(try boot(config), config) { error in
        XCTAssertEqual((error as? PluginLoadError)?.cause, .startFailed)
        let text = "\(error)"
        XCTAssertTrue(text.contains("start returned ERROR: cannot load libnvidia-ml.so.1 (libnvidia-ml.so.1: "),
                      text)
        XCTAssertTrue(text.contains("set `backend: fake`"), text)
      }
      XCTAssertFalse(running.recorder.matching("[gpu] cannot load libnvidia-ml.so.1").isEmpty,
                     "no log line names the library")
      running.stop()
      running = RunningKernel()
    }
  }

  func testAutoBackendWithoutTheDriverAdvertisesNoGPUs() throws {
    try XCTSkipIf(machineHasNVML, "this machine has NVML; the auto backend would list real GPUs")
    _ = try boot("{backend: auto}")
    XCTAssertEqual(try running.kernel.services.call("gpu.list_json", []), .string(#"{"devices":[]}"#))
    XCTAssertEqual(running.recorder.matching("[gpu] auto backend: no NVIDIA driver").count, 1)
  }

  func testAutoBackendUsesTheDriverWhenPresent() throws {
    let profile = try scriptedNVMLProfile(healthIntervalSeconds: 600, backend: "auto")
    let result = try Fixtures.run(["LD_LIBRARY_PATH=\(dir.path)", skiffBinary, "call", "--profile",
                                   profile, "gpu.list_json"])
    XCTAssertEqual(result.status, 0, result.output)
    let listing = result.output.split(separator: "\n").first { $0.hasPrefix("{") }.map(String.init)
    XCTAssertEqual((jsonObject(listing)["devices"] as? [[String: Any]])?.count, 4, result.output)
  }

  // MARK: The nvml backend against a scripted driver library (Tests/Fixtures/FakeNVML)

  /// Builds the scripted libnvidia-ml.so.1 into `dir` and a profile loading the nvml backend;
  /// returns the profile's path. A `skiff` started with LD_LIBRARY_PATH=dir loads that library.
  private func scriptedNVMLProfile(healthIntervalSeconds: Double, backend: String = "nvml") throws -> String {
    let library = dir.appendingPathComponent("libnvidia-ml.so.1").path
    let source = Fixtures.repository.appendingPathComponent("Tests/Fixtures/FakeNVML/fake_nvml.c").path
    let built = try Fixtures.run(["cc", "-shared", "-fPIC", "-std=c11", "-Wall", "-Werror",
                                  "-Wl,-soname,libnvidia-ml.so.1", "-o", library, source])
    XCTAssertEqual(built.status, 0, built.output)
    let profile = dir.appendingPathComponent("nvml.yaml")
    try """
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: scripted-nvml
      plugins:
        - name: gpu
          config: {backend: \(backend), healthIntervalSeconds: \(healthIntervalSeconds)}
      """.write(to: profile, atomically: true, encoding: .utf8)
    return profile.path
  }

  private var skiffBinary: String { Fixtures.buildDirectory + "/skiff" }

  func testNVMLBackendDescribesGPUsAsTheDriverReportsThem() throws {
    // Long enough that no health check runs while the command lives.
    let profile = try scriptedNVMLProfile(healthIntervalSeconds: 600)
    let result = try Fixtures.run(["LD_LIBRARY_PATH=\(dir.path)", skiffBinary, "call", "--profile",
                                   profile, "gpu.list_json"])
    XCTAssertEqual(result.status, 0, result.output)
    let listing = result.output.split(separator: "\n").first { $0.hasPrefix("{") }.map(String.init)
    let devices = jsonObject(listing)["devices"] as? [[String: Any]] ?? []
    let uuids = (0..<4).map { "GPU-5eed0000-0000-4000-8000-00000000000\($0)" }
    XCTAssertEqual(devices.compactMap { $0["id"] as? String }, uuids, result.output)
    XCTAssertEqual(devices.compactMap { $0["uuid"] as? String }, uuids)
    XCTAssertEqual(Set(devices.compactMap { $0["model"] as? String }), ["NVIDIA H200"])
    XCTAssertEqual(Set(devices.compactMap { $0["memoryMiB"] as? Int }), [143_771])
    // Bus 0x19 + 0x10 × index, in sysfs' spelling.
    XCTAssertEqual(devices.compactMap { $0["pciBusId"] as? String },
                   ["0000:19:00.0", "0000:29:00.0", "0000:39:00.0", "0000:49:00.0"])
    XCTAssertEqual(devices.first?["links"] as? [String: String],
                   [uuids[1]: "NODE", uuids[2]: "SYS", uuids[3]: "SYS"])
    XCTAssertEqual(Set(devices.compactMap { $0["health"] as? String }), ["Healthy"])
    XCTAssertTrue(result.output.contains("fake nvml: shutdown"), "stop did not shut NVML down")
  }

  func testNVMLHealthChecksMarkLostAndXIDFailedGPUsUnhealthy() throws {
    let profile = try scriptedNVMLProfile(healthIntervalSeconds: 0.1)
    let server = Process()
    server.executableURL = URL(fileURLWithPath: skiffBinary)
    server.arguments = ["server", "--profile", profile, "--log-level", "info",
                        "--data-dir", dir.appendingPathComponent("data").path]
    server.environment = ProcessInfo.processInfo.environment.merging(["LD_LIBRARY_PATH": dir.path]) { $1 }
    let errors = Pipe()
    server.standardError = errors
    server.standardOutput = FileHandle.nullDevice
    let log = BytesSink()
    errors.fileHandleForReading.readabilityHandler = { handle in
      let data = handle.availableData
      data.withUnsafeBytes { bytes in
        log.callback(log.arg, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
      }
    }
    try server.run()
    defer { if server.isRunning { server.terminate() } }

    let lost = "[gpu] GPU GPU-5eed0000-0000-4000-8000-000000000001 is unhealthy: "
      + "nvmlDeviceGetMemoryInfo: GPU is lost"
    let xid = "[gpu] GPU GPU-5eed0000-0000-4000-8000-000000000002 is unhealthy: critical XID 79"
    let deadline = Date().addingTimeInterval(10)
    while Date() < deadline && !(log.all.joined().contains(lost) && log.all.joined().contains(xid)) {
      usleep(20_000)
    }
    server.terminate()
    server.waitUntilExit()
    errors.fileHandleForReading.readabilityHandler = nil
    let text = log.all.joined()
    XCTAssertTrue(text.contains(lost), text)
    XCTAssertTrue(text.contains(xid), text)
    // XID 13 is the application's fault; GPU 0 never had a problem.
    XCTAssertFalse(text.contains("GPU-5eed0000-0000-4000-8000-000000000003 is unhealthy"), text)
    XCTAssertFalse(text.contains("GPU-5eed0000-0000-4000-8000-000000000000 is unhealthy"), text)
    XCTAssertTrue(text.contains("fake nvml: shutdown"), "stop did not shut NVML down: \(text)")
  }

  func testNVMLBackendListsRealGPUs() throws {
    try XCTSkipUnless(machineHasNVML, "no NVIDIA driver here")
    let devices = try list(try boot("{backend: nvml}"))
    XCTAssertFalse(devices.isEmpty)
    for device in devices {
      XCTAssertEqual(device["id"] as? String, device["uuid"] as? String)
      XCTAssertTrue((device["uuid"] as? String)?.hasPrefix("GPU-") == true, "\(device)")
      XCTAssertEqual(device["health"] as? String, "Healthy")
      XCTAssertGreaterThan(device["memoryMiB"] as? Int ?? 0, 0)
    }
  }
}
