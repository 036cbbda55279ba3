// The bridge network plugin loaded by a kernel and called through the ABI: host-local address
// management over its state folder, and pods in real network namespaces that reach each other
// across the bridge. Traffic goes only between the namespaces these tests create.
import Foundation
import Kernel
import SkiffABI
import SkiffTestSupport
import XCTest

final class BridgeNetworkTests: XCTestCase {
  var dir: URL!
  var running: RunningKernel!
  /// Unique per test (XCTest makes an instance per test), within Linux's 15 characters.
  let bridge = "skt" + BridgeNetworkTests.uniqueSuffix()
  var namespaces: [String] = []
  var sandboxProcesses: [Process] = []

  override func setUpWithError() throws {
    dir = try Fixtures.temporaryDirectory()
    running = RunningKernel()
  }

  override func tearDown() {
    running.stop()
    for process in sandboxProcesses where process.isRunning {
      process.terminate()
      process.waitUntilExit()
    }
    for name in namespaces { _ = try? Fixtures.run(["ip", "netns", "delete", name]) }
    _ = try? Fixtures.run(["ip", "link", "delete", bridge])
    try? FileManager.default.removeItem(at: dir)
  }

  // MARK: Address management

  func testAddressesComeInSequenceAndRepeatForTheSameSandbox() throws {
    let network = try boot(subnet: "10.199.1.0/24")
    let first = try attach(network, "sandbox-a")
    XCTAssertEqual(first.status, SKIFF_OK, first.json)
    XCTAssertEqual(first.object["ips"] as? [String], ["10.199.1.2"])
    XCTAssertEqual(first.object["gateway"] as? String, "10.199.1.1")
    XCTAssertEqual(first.object["interface"] as? String, "eth0")
    XCTAssertEqual(first.object["prefixLength"] as? Int, 24)
    XCTAssertEqual(try address(network, "sandbox-b"), "10.199.1.3")
    XCTAssertEqual(try address(network, "sandbox-a"), "10.199.1.2", "attach is idempotent")
    XCTAssertEqual(try address(network, "sandbox-c"), "10.199.1.4")

    // One file per address, naming its sandbox.
    let record = dir.appendingPathComponent("ipam/10.199.1.3")
    XCTAssertEqual(try String(contentsOf: record, encoding: .utf8), "sandbox-b")
    // Without a netns nothing is plumbed: the host keeps its interfaces as they were.
    XCTAssertNotEqual(try Fixtures.run(["ip", "link", "show", "dev", bridge]).status, 0)
  }

  func testReleasedAddressesAreReusedOnlyAfterTheRangeWraps() throws {
    // Pods get .2 to .6: .0 is the network, .1 the gateway, .7 the broadcast address.
    let network = try boot(subnet: "10.199.2.0/29")
    XCTAssertEqual(try address(network, "a"), "10.199.2.2")
    XCTAssertEqual(try address(network, "b"), "10.199.2.3")
    let released = try detach(network, "a")
    XCTAssertEqual(released.status, SKIFF_OK, released.json)
    XCTAssertEqual(released.object["released"] as? [String], ["10.199.2.2"])
    XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("ipam/10.199.2.2").path))

    XCTAssertEqual(try address(network, "c"), "10.199.2.4", "the search continues after the last one")
    XCTAssertEqual(try address(network, "d"), "10.199.2.5")
    XCTAssertEqual(try address(network, "e"), "10.199.2.6")
    XCTAssertEqual(try address(network, "f"), "10.199.2.2", "wrapped, and a's address is free again")
    XCTAssertEqual(try detach(network, "c").status, SKIFF_OK)
    XCTAssertEqual(try address(network, "g"), "10.199.2.4", "b's .3 is skipped")
  }

  func testDetachingAnUnknownSandboxSucceeds() throws {
    let network = try boot(subnet: "10.199.3.0/24")
    let result = try detach(network, "never-attached")
    XCTAssertEqual(result.status, SKIFF_OK, result.json)
    XCTAssertEqual(result.object["released"] as? [String], [])
  }

  func testAnExhaustedSubnetIsAClearError() throws {
    // A /30 has a single pod address.
    let network = try boot(subnet: "10.199.4.0/30")
    XCTAssertEqual(try address(network, "a"), "10.199.4.2")
    let refused = try attach(network, "b")
    XCTAssertEqual(refused.status, SKIFF_ERROR)
    XCTAssertEqual(refused.reason, "AddressesExhausted")
    XCTAssertEqual(refused.message, "subnet 10.199.4.0/30 has no free pod address (1 in use); "
                     + "detach unused sandboxes or configure a larger subnet")
    XCTAssertEqual(try detach(network, "a").status, SKIFF_OK)
    XCTAssertEqual(try address(network, "b"), "10.199.4.2")
  }

  func testAllocationsSurviveAKernelRestart() throws {
    let network = try boot(subnet: "10.199.5.0/24")
    XCTAssertEqual(try address(network, "a"), "10.199.5.2")
    XCTAssertEqual(try address(network, "b"), "10.199.5.3")
    running.stop()

    running = RunningKernel()
    let restarted = try boot(subnet: "10.199.5.0/24")
    XCTAssertEqual(try address(restarted, "b"), "10.199.5.3")
    XCTAssertEqual(try address(restarted, "c"), "10.199.5.4", "after the last allocation, not in a's place")
    XCTAssertEqual(try address(restarted, "a"), "10.199.5.2")
  }

  func testConfigurationErrorsStopTheStart() throws {
    XCTAssertThrowsError(try running.boot(profile(["bridge": bridge]), in: dir)) { error in
      XCTAssertTrue("\(error)".hasSuffix("start returned INVALID: config.stateDir is required: "
                                         + "the folder where address allocations persist"), "\(error)")
    }
    let another = RunningKernel()
    defer { another.stop() }
    let hostBits = profile(["stateDir": "\(dir.path)/ipam", "subnet": "10.199.6.1/24"])
    XCTAssertThrowsError(try another.boot(hostBits, in: dir)) { error in
      XCTAssertTrue("\(error)".hasSuffix("config.subnet 10.199.6.1/24 has host bits set; "
                                         + "did you mean 10.199.6.0/24?"), "\(error)")
    }
  }

  func testServicesAndPoliciesAreNotOfferedYet() throws {
    let network = try boot(subnet: "10.199.7.0/24")
    let service = try running.call { done in
      "{}".withCString { network.program_service(network.`self`, $0, 2, done) }
    }
    XCTAssertEqual(service.status, SKIFF_UNSUPPORTED)
    let policy = try running.call { done in
      "[]".withCString { network.apply_policy(network.`self`, $0, 2, done) }
    }
    XCTAssertEqual(policy.status, SKIFF_UNSUPPORTED)
  }

  // MARK: Real namespaces

  func testPodsInNamespacesReachEachOtherOverTheBridge() throws {
    XCTAssertTrue(Self.hasPing, "this test needs ping: apt-get install iputils-ping")
    let network = try boot(subnet: "10.199.8.0/24")
    // One pod in a named namespace, one in a process's own, as runtimes hand them over.
    let named = try namedNamespace()
    let processNetns = try processNamespace()

    let a = try attach(network, "pod-a", netns: "/var/run/netns/\(named)")
    XCTAssertEqual(a.status, SKIFF_OK, a.json)
    XCTAssertEqual(a.object["ips"] as? [String], ["10.199.8.2"])
    let b = try attach(network, "pod-b", netns: processNetns)
    XCTAssertEqual(b.status, SKIFF_OK, b.json)
    XCTAssertEqual(b.object["ips"] as? [String], ["10.199.8.3"])

    let addresses = try Fixtures.run(["ip", "-n", named, "-o", "-4", "addr", "show", "dev", "eth0"])
    XCTAssertTrue(addresses.output.contains("inet 10.199.8.2/24"), addresses.output)
    let route = try Fixtures.run(["ip", "-n", named, "route", "show", "default"])
    XCTAssertTrue(route.output.contains("default via 10.199.8.1 dev eth0"), route.output)
    XCTAssertEqual(try ping(from: ["ip", "netns", "exec", named], "10.199.8.3"), 0, "a reaches b")
    XCTAssertEqual(try ping(from: ["nsenter", "--net=\(processNetns)"], "10.199.8.2"), 0, "b reaches a")

    let again = try attach(network, "pod-a", netns: "/var/run/netns/\(named)")
    XCTAssertEqual(again.status, SKIFF_OK, again.json)
    XCTAssertEqual(again.object["ips"] as? [String], ["10.199.8.2"])
    XCTAssertEqual(try bridgePorts(), 2, "attaching again plumbs nothing new")

    XCTAssertEqual(try detach(network, "pod-a").status, SKIFF_OK)
    let gone = try Fixtures.run(["ip", "-n", named, "link", "show", "dev", "eth0"])
    XCTAssertNotEqual(gone.status, 0, "the veth and its eth0 end are deleted: \(gone.output)")
    XCTAssertEqual(try bridgePorts(), 1)
    XCTAssertNotEqual(try ping(from: ["nsenter", "--net=\(processNetns)"], "10.199.8.2", attempts: 1), 0)
  }

  func testAttachingToAMissingNamespaceFailsAndKeepsNoAddress() throws {
    let network = try boot(subnet: "10.199.9.0/24")
    let missing = "/var/run/netns/skiff-absent-\(Self.uniqueSuffix())"
    let refused = try attach(network, "a", netns: missing)
    XCTAssertEqual(refused.status, SKIFF_NOT_FOUND)
    XCTAssertEqual(refused.message, "network namespace \(missing) does not exist; create the sandbox first")
    XCTAssertEqual(try allocatedAddresses(), [])
    XCTAssertEqual(try address(network, "b"), "10.199.9.2")
  }

  func testAFailedPlumbingKeepsNoAddress() throws {
    let network = try boot(subnet: "10.199.10.0/24")
    // A file, but not a namespace: the kernel refuses to make a veth end there.
    let notANamespace = dir.appendingPathComponent("not-a-netns").path
    XCTAssertTrue(FileManager.default.createFile(atPath: notANamespace, contents: Data()))
    let failed = try attach(network, "a", netns: notANamespace)
    XCTAssertEqual(failed.status, SKIFF_ERROR)
    XCTAssertEqual(failed.reason, "PlumbingFailed")
    XCTAssertTrue(failed.message?.contains("RTNETLINK answers: Invalid argument") == true, failed.json)
    XCTAssertEqual(try allocatedAddresses(), [], "the address went back to the pool")
    XCTAssertEqual(try bridgePorts(), 0, "no veth was left behind")
  }

  // MARK: Helpers

  func profile(_ config: [String: String]) -> String {
    let lines = config.sorted { $0.key < $1.key }.map { "      \($0.key): \"\($0.value)\"" }
    return """
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: network-test
      plugins:
        - name: network
          config:

      """ + lines.joined(separator: "\n") + "\n"
  }

  func boot(subnet: String) throws -> skiff_network_plugin {
    try running.boot(profile(["bridge": bridge, "subnet": subnet, "stateDir": "\(dir.path)/ipam"]), in: dir)
    return try XCTUnwrap(running.kernel.extensions.networks.first { $0.name == "bridge" }).vtable.pointee
  }

  func attach(_ network: skiff_network_plugin, _ sandbox: String, netns: String? = nil) throws -> SlotResult {
    try call(network.attach, network, sandbox, netns: netns)
  }

  func detach(_ network: skiff_network_plugin, _ sandbox: String) throws -> SlotResult {
    try call(network.detach, network, sandbox, netns: nil)
  }

  typealias Slot = @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, Int, skiff_done) -> skiff_status

  func call(_ slot: Slot, _ network: skiff_network_plugin, _ sandbox: String, netns: String?) throws -> SlotResult {
    let request: [String: Any] = ["sandboxId": sandbox, "netns": netns ?? NSNull(),
                                  "namespace": "default", "name": sandbox, "uid": UUID().uuidString]
    let json = String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self)
    return try running.call { done in
      json.withCString { slot(network.`self`, $0, strlen($0), done) }
    }
  }

  /// The address given to `sandbox`, failing the test if attach failed.
  func address(_ network: skiff_network_plugin, _ sandbox: String) throws -> String? {
    let result = try attach(network, sandbox)
    XCTAssertEqual(result.status, SKIFF_OK, result.json)
    return (result.object["ips"] as? [String])?.first
  }

  func namedNamespace() throws -> String {
    let name = "skiff-test-\(Self.uniqueSuffix())"
    let created = try Fixtures.run(["ip", "netns", "add", name])
    guard created.status == 0 else { throw SetupFailure(created.output) }
    namespaces.append(name)
    return name
  }

  /// A sleeping process in a network namespace of its own; its /proc path names the namespace.
  func processNamespace() throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/unshare")
    process.arguments = ["--net", "sleep", "60"]
    try process.run()
    sandboxProcesses.append(process)
    let path = "/proc/\(process.processIdentifier)/ns/net"
    let host = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
    // unshare(2) has happened once the process's namespace differs from ours.
    for _ in 0..<500 {
      if let own = try? FileManager.default.destinationOfSymbolicLink(atPath: path), own != host {
        return path
      }
      usleep(10_000)
    }
    throw SetupFailure("unshare --net did not make a namespace")
  }

  /// ping's exit status, retried: a veth's carrier comes up asynchronously.
  func ping(from prefix: [String], _ address: String, attempts: Int = 3) throws -> Int32 {
    var status: Int32 = -1
    for _ in 0..<attempts {
      status = try Fixtures.run(prefix + ["ping", "-c1", "-W1", address]).status
      if status == 0 { break }
    }
    return status
  }

  /// The address files in the state folder.
  func allocatedAddresses() throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("ipam").path)
      .filter { $0.first?.isNumber == true }.sorted()
  }

  func bridgePorts() throws -> Int {
    let ports = try Fixtures.run(["ip", "-o", "link", "show", "master", bridge])
    return ports.output.split(separator: "\n").count
  }

  static var hasPing: Bool {
    ["/usr/bin/ping", "/bin/ping"].contains { FileManager.default.isExecutableFile(atPath: $0) }
  }

  static func uniqueSuffix() -> String {
    String(UInt32.random(in: 0x1000_0000...UInt32.max), radix: 16)
  }
}

/// The host refused something a test needs before it can check anything.
struct SetupFailure: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
