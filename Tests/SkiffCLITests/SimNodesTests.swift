// `skiff sim nodes` against a real `skiff server`: hollow nodes registered from a template, their
// Leases renewed, and pods bound to them (and only to them) reported Running.
import Foundation
import SkiffTestSupport
import XCTest

final class SimNodesTests: XCTestCase {
  var dir: URL!
  var server: SkiffServer!
  var template: String!

  override func setUpWithError() throws {
    dir = try Fixtures.temporaryDirectory()
    // A fixed port, so that a restarted server is where the simulator left it.
    server = try SkiffServer(dataDir: dir.appendingPathComponent("data"), arguments: ["--listen", "127.0.0.1:\(try freePort())"])
    template = dir.appendingPathComponent("gpu-node.yaml").path
    try """
      apiVersion: v1
      kind: Node
      metadata:
        labels:
          node.kubernetes.io/instance-type: p5.48xlarge
          pool: gpu
      spec:
        taints:
        - {key: nvidia.com/gpu, value: present, effect: NoSchedule}
      status:
        capacity:
          cpu: "192"
          nvidia.com/gpu: "8"
      """.write(toFile: template, atomically: true, encoding: .utf8)
  }

  override func tearDown() {
    server.stop()
    try? FileManager.default.removeItem(at: dir)
  }

  func testOnceRegistersNodesFromTheTemplateAndExits() throws {
    let run = try Fixtures.run([Fixtures.buildDirectory + "/skiff", "sim", "nodes", "--server", server.url,
                                "--count", "20", "--template", template, "--once"])
    XCTAssertEqual(run.status, 0, run.output)
    XCTAssertTrue(run.output.contains("20 nodes registered"), run.output)
    XCTAssertTrue(run.output.contains("20 created, 0 adopted"), run.output)

    let list = try get("/api/v1/nodes?labelSelector=type%3Dskiff-sim")
    XCTAssertEqual((list["items"] as? [[String: Any]])?.count, 20)
    let node = try get("/api/v1/nodes/sim-node-3")
    let labels = try XCTUnwrap(value(node, "metadata", "labels") as? [String: String])
    XCTAssertEqual(labels["kubernetes.io/hostname"], "sim-node-3")
    XCTAssertEqual(labels["type"], "skiff-sim")
    XCTAssertEqual(labels["node.kubernetes.io/instance-type"], "p5.48xlarge")
    XCTAssertEqual(labels["pool"], "gpu")
    let taints = try XCTUnwrap(value(node, "spec", "taints") as? [[String: String]])
    XCTAssertEqual(taints, [["key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"]])
    let capacity = try XCTUnwrap(value(node, "status", "capacity") as? [String: String])
    XCTAssertEqual(capacity, ["cpu": "192", "nvidia.com/gpu": "8", "memory": "256Gi", "ephemeral-storage": "1Ti",
                              "pods": "110"])
    XCTAssertEqual(value(node, "status", "allocatable") as? [String: String], capacity)
    let conditions = try XCTUnwrap(value(node, "status", "conditions") as? [[String: Any]])
    let ready = try XCTUnwrap(conditions.first { $0["type"] as? String == "Ready" })
    XCTAssertEqual(ready["status"] as? String, "True")
    XCTAssertNotNil(ready["lastHeartbeatTime"] as? String)
    let addresses = try XCTUnwrap(value(node, "status", "addresses") as? [[String: String]])
    XCTAssertTrue(addresses.contains { $0["type"] == "InternalIP" && $0["address"]!.hasPrefix("10.244.") }, "\(addresses)")

    let table = try server.kubectl(["get", "nodes"])
    XCTAssertEqual(table.status, 0, table.output)
    let row = try XCTUnwrap(table.output.split(separator: "\n").first { $0.hasPrefix("sim-node-3 ") }, table.output)
    XCTAssertTrue(row.contains(" Ready ") && row.contains("v1.32.0-skiff-sim"), String(row))

    // Registering again adopts the nodes instead of failing on them.
    let again = try Fixtures.run([Fixtures.buildDirectory + "/skiff", "sim", "nodes", "--server", server.url,
                                  "--count", "20", "--template", template, "--once"])
    XCTAssertEqual(again.status, 0, again.output)
    XCTAssertTrue(again.output.contains("0 created, 20 adopted"), again.output)
  }

  func testLeasesAreRenewedAndSIGTERMExitsCleanly() throws {
    let sim = try startSim(["--heartbeat-seconds", "1"])
    let leases = try get("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases")
    let names = Set((leases["items"] as? [[String: Any]] ?? []).compactMap { value($0, "metadata", "name") as? String })
    XCTAssertEqual(names, Set((0..<20).map { "sim-node-\($0)" }))
    let path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/sim-node-5"
    let first = try XCTUnwrap(value(try get(path), "spec", "renewTime") as? String)
    XCTAssertEqual(value(try get(path), "spec", "holderIdentity") as? String, "sim-node-5")
    let renewed = try poll(seconds: 10) { () -> String? in
      let renewTime = try value(get(path), "spec", "renewTime") as? String
      return renewTime.flatMap { $0 > first ? $0 : nil }
    }
    XCTAssertNotNil(renewed, "the Lease of sim-node-5 was not renewed after \(first)")

    sim.terminate()
    sim.waitUntilExit()
    XCTAssertEqual(sim.terminationReason, .exit)
    XCTAssertEqual(sim.terminationStatus, 0)
  }

  func testPodsBoundToSimulatedNodesRunAndOthersStayPending() throws {
    let sim = try startSim([])
    defer { sim.terminate(); sim.waitUntilExit() }
    let pods = server.url + "/api/v1/namespaces/default/pods"
    // Created first: by the time the later pods run, the hollow kubelet has seen this one.
    XCTAssertEqual(try HTTPClient.send("POST", pods, json: pod("elsewhere", nodeName: "real-node-1")).status, 201)
    XCTAssertEqual(try HTTPClient.send("POST", pods, json: pod("direct", nodeName: "sim-node-3")).status, 201)
    XCTAssertEqual(try HTTPClient.send("POST", pods, json: pod("scheduled", nodeName: nil)).status, 201)
    let binding = #"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"scheduled"},"target":{"kind":"Node","name":"sim-node-7"}}"#
    XCTAssertEqual(try HTTPClient.send("POST", pods + "/scheduled/binding", json: binding).status, 201)

    for (name, node) in [("direct", 3), ("scheduled", 7)] {
      let running = try poll(seconds: 10) { () -> [String: Any]? in
        let pod = try get("/api/v1/namespaces/default/pods/\(name)")
        return value(pod, "status", "phase") as? String == "Running" ? pod : nil
      }
      let pod = try XCTUnwrap(running, "pod \(name) did not become Running")
      let conditions = value(pod, "status", "conditions") as? [[String: Any]] ?? []
      for type in ["Initialized", "ContainersReady", "Ready", "PodScheduled"] {
        XCTAssertTrue(conditions.contains { $0["type"] as? String == type && $0["status"] as? String == "True" },
                      "\(name) lacks \(type)=True: \(conditions)")
      }
      XCTAssertTrue((value(pod, "status", "podIP") as? String)?.hasPrefix("10.128.\(node).") == true, "\(pod)")
      XCTAssertEqual(value(pod, "status", "hostIP") as? String, "10.244.0.\(node + 1)")
      let containers = value(pod, "status", "containerStatuses") as? [[String: Any]] ?? []
      XCTAssertEqual(containers.count, 1)
      XCTAssertEqual(containers.first?["ready"] as? Bool, true)
      XCTAssertEqual(containers.first?["image"] as? String, "busybox:1.36")
      XCTAssertNotNil(value(containers.first ?? [:], "state", "running", "startedAt"))
    }
    let elsewhere = try get("/api/v1/namespaces/default/pods/elsewhere")
    XCTAssertEqual(value(elsewhere, "status", "phase") as? String, "Pending")
    XCTAssertNil(value(elsewhere, "status", "podIP"))
  }

  func testThePodWatchResumesAfterTheServerRestarts() throws {
    let sim = try startSim([])
    defer { sim.terminate(); sim.waitUntilExit() }
    let port = server.port
    server.kill(SIGKILL)
    try server.start()
    XCTAssertEqual(server.port, port)
    let pods = server.url + "/api/v1/namespaces/default/pods"
    XCTAssertEqual(try HTTPClient.send("POST", pods, json: pod("after-restart", nodeName: "sim-node-2")).status, 201)
    let running = try poll(seconds: 20) { () -> Bool? in
      try value(get("/api/v1/namespaces/default/pods/after-restart"), "status", "phase") as? String == "Running" ? true : nil
    }
    XCTAssertEqual(running, true, "a pod created after the server restarted did not become Running")
    XCTAssertTrue(sim.isRunning)
  }

  // MARK: Helpers

  /// A port nothing listens on now, from the kernel's ephemeral range.
  private func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let found = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
      }
    }
    guard found else { throw Fixtures.FixtureError(message: "no free port: \(String(cString: strerror(errno)))") }
    return Int(UInt16(bigEndian: address.sin_port))
  }

  /// `skiff sim nodes` on 20 nodes from the template, once it has said they are registered.
  private func startSim(_ arguments: [String]) throws -> Process {
    let output = dir.appendingPathComponent("sim-\(UUID()).out")
    _ = FileManager.default.createFile(atPath: output.path, contents: nil)
    let sim = Process()
    sim.executableURL = URL(fileURLWithPath: Fixtures.buildDirectory + "/skiff")
    sim.arguments = ["sim", "nodes", "--server", server.url, "--count", "20", "--template", template] + arguments
    // A file, not a pipe: nobody reads it while the simulator runs.
    sim.standardOutput = try FileHandle(forWritingTo: output)
    sim.standardError = sim.standardOutput
    try sim.run()
    let registered = try poll(seconds: 20) { () -> Bool? in
      let text = try String(contentsOf: output, encoding: .utf8)
      return text.contains("nodes registered") ? true : (sim.isRunning ? nil : false)
    }
    guard registered == true else {
      sim.terminate()
      throw Fixtures.FixtureError(message: "skiff sim nodes did not register: "
        + ((try? String(contentsOf: output, encoding: .utf8)) ?? ""))
    }
    return sim
  }

  /// A pod with no nodeName names another scheduler, so that only the test's binding places it.
  private func pod(_ name: String, nodeName: String?) -> String {
    let node = nodeName.map { #""nodeName":"\#($0)","# } ?? #""schedulerName":"test-binder","#
    return #"{"metadata":{"name":"\#(name)"},"spec":{\#(node)"tolerations":[{"operator":"Exists"}],"#
      + #""containers":[{"name":"main","image":"busybox:1.36"}]}}"#
  }

  private func get(_ path: String) throws -> [String: Any] {
    let reply = try HTTPClient.send("GET", server.url + path)
    guard reply.status == 200 else { throw Fixtures.FixtureError(message: "GET \(path): \(reply.status) \(reply.text)") }
    return reply.json
  }

  private func value(_ object: [String: Any], _ path: String...) -> Any? {
    var current: Any? = object
    for key in path { current = (current as? [String: Any])?[key] }
    return current
  }

  /// What `check` returns first that is not nil, trying every 50 ms for up to `seconds`.
  private func poll<T>(seconds: Double, _ check: () throws -> T?) throws -> T? {
    let deadline = Date().addingTimeInterval(seconds)
    repeat {
      if let found = try check() { return found }
      usleep(50_000)
    } while Date() < deadline
    return nil
  }
}
