// The node agent on a simulated node (`agent: {runtime: sim}`): pods run as records only.
import Foundation
import SkiffTestSupport
import XCTest

extension NodeAgentTests {
  func testPodOnASimulatedNodeRunsWithoutAProcessAndExitsAsItsEnvSays() throws {
    server = try SkiffServer(dataDir: dir.appendingPathComponent("data"), plugins: ["scheduler", "runtime"],
                             configs: ["runtime": runtimeConfig],
                             profileTail: "agent:\n  nodeName: agent-node\n  runtime: sim\n")
    // Were the command run, the file would appear.
    let marker = dir.appendingPathComponent("ran").path
    try apply("""
      apiVersion: v1
      kind: Pod
      metadata: {name: hollow}
      spec:
        restartPolicy: Never
        containers:
          - name: app
            image: busybox
            command: ["touch", "\(marker)"]
            env:
              - {name: SKIFF_SIM_EXIT_AFTER_SECONDS, value: "1"}
              - {name: SKIFF_SIM_EXIT_CODE, value: "4"}
      """)
    try waitForPod("hollow", "Running") { phase($0) == "Running" }
    XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "the sim runtime ran the command")
    let failed = try waitForPod("hollow", "Failed") { phase($0) == "Failed" }
    let terminated = (containerStatus(failed)["state"] as? [String: Any])?["terminated"] as? [String: Any]
    XCTAssertEqual(terminated?["exitCode"] as? Int, 4)
    XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "the sim runtime ran the command")
  }
}
