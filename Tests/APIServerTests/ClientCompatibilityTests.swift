// Users' clients differ: every kubectl from 1.27 to 1.33 that the machine has, and the official
// Python client, against the same server.
import Foundation
import SkiffTestSupport
import XCTest

final class ClientCompatibilityTests: ServerTestCase {
  static let kubectls: [String] = {
    let folder = "/usr/lib/google-cloud-sdk/bin"
    return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
      .filter { $0.hasPrefix("kubectl.1.") }.sorted().map { "\(folder)/\($0)" }
  }()

  func testCoreCommandsWithEveryKubectlVersion() throws {
    try XCTSkipIf(Self.kubectls.isEmpty, "no versioned kubectl binaries on this machine")
    for kubectl in Self.kubectls {
      let minor = Int(kubectl.split(separator: ".").last ?? "") ?? 0
      let name = "cm-1-\(minor)"
      func run(_ arguments: String..., stdin: String? = nil) throws -> String {
        let result = try server.kubectl(arguments, binary: kubectl, stdin: stdin)
        XCTAssertEqual(result.status, 0, "\(kubectl) \(arguments.joined(separator: " ")): \(result.output)")
        return result.output
      }
      XCTAssertTrue(try run("get", "namespaces").contains("kube-system"), kubectl)
      let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \(name)\ndata:\n  k: v\n"
      // 1.27 and 1.28 validate against OpenAPI v2, 1.29 and later against v3.
      let validate = "--validate=strict"
      XCTAssertEqual(try run("apply", validate, "-f", "-", stdin: manifest), "configmap/\(name) created\n", kubectl)
      XCTAssertEqual(try run("apply", validate, "-f", "-", stdin: manifest.replacingOccurrences(of: "k: v", with: "k: w")),
                     "configmap/\(name) configured\n", kubectl)
      XCTAssertEqual(try run("label", "configmap", name, "v=\(minor)"), "configmap/\(name) labeled\n", kubectl)
      XCTAssertEqual(try run("get", "configmap", "-l", "v=\(minor)", "-o", "jsonpath={.items[0].data.k}"), "w", kubectl)
      XCTAssertEqual(try run("patch", "configmap", name, "--type=merge", "-p", #"{"data":{"p":"1"}}"#),
                     "configmap/\(name) patched\n", kubectl)
      XCTAssertTrue(try run("get", "configmaps").contains(name), kubectl)
      XCTAssertEqual(try run("delete", "configmap", name), "configmap \"\(name)\" deleted\n", kubectl)
    }
  }

  func testOfficialPythonClient() throws {
    let probe = try Fixtures.run(["python3", "-c", "import kubernetes"])
    guard probe.status == 0 else {
      return XCTFail("the kubernetes Python package is missing: `make test` installs it (pip install kubernetes)")
    }
    let script = Fixtures.repository.appendingPathComponent("Tests/APIServerTests/Clients/python_client_check.py").path
    let result = try Fixtures.run(["python3", script, server.kubeconfig])
    XCTAssertEqual(result.status, 0, result.output)
    XCTAssertTrue(result.output.hasSuffix("all python client checks passed\n"), result.output)
  }
}
