// The cgroup v2 writer, through the process runtime, against a folder laid out like a cgroup2
// mount (cgroup.controllers at its root). These machines mount v1, so the kernel's own v2 files
// are out of reach here; what is checked is which files get which values, and that memory.events
// decides OOMKilled.
import Foundation
import Kernel
import SkiffABI
import SkiffTestSupport
import XCTest

final class CgroupV2Tests: XCTestCase {
  var dir: URL!
  var root: String { dir.appendingPathComponent("cgroup2").path }
  var kernel: RunningKernel?
  var runtime: RuntimeDriver!

  override func setUpWithError() throws {
    dir = try Fixtures.temporaryDirectory()
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    try "cpuset cpu io memory hugetlb pids rdma misc\n".write(toFile: "\(root)/cgroup.controllers", atomically: true, encoding: .utf8)
    try "".write(toFile: "\(root)/cgroup.subtree_control", atomically: true, encoding: .utf8)
  }

  override func tearDown() {
    if let runtime, let all = try? runtime.statusOfAll() {
      for container in all where container["state"] as? String == "CONTAINER_RUNNING" {
        _ = try? runtime.stop(container["id"] as! String, grace: 0)
      }
    }
    kernel?.stop()
    try? FileManager.default.removeItem(at: dir)
  }

  func boot(cgroupRoot: String) throws {
    let kernel = RunningKernel()
    self.kernel = kernel
    try kernel.boot("""
      apiVersion: skiff.dev/v1alpha1
      kind: Profile
      name: cgroup2-test
      plugins:
        - name: runtime
          config: {stateDir: "\(dir.appendingPathComponent("state").path)", cgroupParent: pods/burstable, cgroupRoot: "\(cgroupRoot)", oci: {enabled: false}}
      """, in: dir)
    runtime = try RuntimeDriver(kernel)
  }

  func read(_ path: String) -> String? {
    (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  func testLimitsGoToV2FilesAndMemoryEventsReportTheOOMKill() throws {
    try boot(cgroupRoot: root)
    let go = dir.appendingPathComponent("go").path
    let sandbox = try runtime.createSandbox()
    let id = try runtime.createContainer(in: sandbox, [
      "metadata": ["name": "main"],
      "command": ["sh", "-c", "while [ ! -f '\(go)' ]; do sleep 0.05; done; kill -9 $$"],
      "linux": ["resources": ["memoryLimitInBytes": 32 << 20, "memorySwapLimitInBytes": 64 << 20,
                              "cpuQuota": 50_000, "cpuPeriod": 100_000, "cpuShares": 512, "pidsLimit": 64]],
    ])
    let pid = try runtime.start(id)
    let cgroup = "\(root)/pods/burstable/\(id)"
    XCTAssertEqual(read("\(cgroup)/memory.max"), "\(32 << 20)")
    // Swap is limited only where the kernel accounts it (memory.swap.max exists); not here.
    XCTAssertNil(read("\(cgroup)/memory.swap.max"))
    XCTAssertEqual(read("\(cgroup)/cpu.max"), "50000 100000")
    XCTAssertEqual(read("\(cgroup)/cpu.weight"), "20", "cpu.shares 512 on the runc/kubelet scale")
    XCTAssertEqual(read("\(cgroup)/pids.max"), "64")
    XCTAssertEqual(read("\(cgroup)/cgroup.procs"), "\(pid)")
    // Every level above the container hands the controllers down.
    for level in [root, "\(root)/pods", "\(root)/pods/burstable"] {
      XCTAssertEqual(read("\(level)/cgroup.subtree_control"), "+cpu +memory +pids", level)
    }
    try "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n".write(toFile: "\(cgroup)/memory.events", atomically: true, encoding: .utf8)
    FileManager.default.createFile(atPath: go, contents: nil)
    let deadline = Date().addingTimeInterval(20)
    var status: [String: Any] = [:]
    while Date() < deadline {
      status = try runtime.status(of: id)
      if status["state"] as? String == "CONTAINER_EXITED" { break }
      usleep(20_000)
    }
    XCTAssertEqual(status["exitCode"] as? Int, 137)
    XCTAssertEqual(status["reason"] as? String, "OOMKilled")
  }

  func testAQuotaOfMinusOneIsNoQuotaAndNoMemoryEventsIsNoOOMKill() throws {
    try boot(cgroupRoot: root)
    let sandbox = try runtime.createSandbox()
    let id = try runtime.createContainer(in: sandbox, [
      "metadata": ["name": "main"], "command": ["sh", "-c", "kill -9 $$"],
      "linux": ["resources": ["cpuQuota": -1, "cpuShares": 2]],
    ])
    _ = try runtime.start(id)
    let cgroup = "\(root)/pods/burstable/\(id)"
    XCTAssertEqual(read("\(cgroup)/cpu.max"), "max 100000")
    XCTAssertEqual(read("\(cgroup)/cpu.weight"), "1")
    XCTAssertNil(read("\(cgroup)/memory.max"))
    let deadline = Date().addingTimeInterval(20)
    var status: [String: Any] = [:]
    while Date() < deadline {
      status = try runtime.status(of: id)
      if status["state"] as? String == "CONTAINER_EXITED" { break }
      usleep(20_000)
    }
    XCTAssertEqual(status["exitCode"] as? Int, 137)
    XCTAssertEqual(status["reason"] as? String, "Error")
  }

  func testACgroupRootThatIsNoHierarchyIsRefused() throws {
    XCTAssertThrowsError(try boot(cgroupRoot: dir.path)) { error in
      XCTAssertTrue("\(error)".contains("config.cgroupRoot: \(dir.path) holds neither cgroup.controllers"), "\(error)")
    }
  }
}
