// `kubectl create` and `kubectl autoscale` against the real `skiff server`: kubectl 1.32 and 1.33
// send these bodies as protobuf, and `kubectl get -o json` must then show what was asked for.
import Foundation
import ObjectModel
import SkiffTestSupport
import XCTest

final class KubectlProtobufTests: ServerTestCase {
  func testCreateDeployment() throws {
    try server.create(["deployment", "web", "--image=nginx:1.27", "--replicas=3", "--port=80"])
    let deployment = try server.get("deployment/web")
    XCTAssertEqual(deployment[path: ["spec", "replicas"]], 3)
    XCTAssertEqual(deployment[path: ["spec", "selector", "matchLabels"]], ["app": "web"])
    let container = deployment[path: ["spec", "template", "spec", "containers"]]?[0]
    XCTAssertEqual(container?["image"], "nginx:1.27")
    XCTAssertEqual(container?["ports"]?[0]?["containerPort"], 80)
  }

  func testCreateNamespace() throws {
    try server.create(["namespace", "team-a"])
    XCTAssertEqual(try server.get("namespace/team-a")[path: ["metadata", "name"]], "team-a")
  }

  func testCreateConfigMap() throws {
    try server.create(["configmap", "cfg", "--from-literal=a=b", "--from-literal=c=d"])
    XCTAssertEqual(try server.get("configmap/cfg")["data"], ["a": "b", "c": "d"])
  }

  func testCreateSecretKeepsItsBytesBase64() throws {
    try server.create(["secret", "generic", "s", "--from-literal=password=hunter2"])
    let secret = try server.get("secret/s")
    XCTAssertEqual(secret["data"], ["password": "aHVudGVyMg=="])
    XCTAssertEqual(secret["type"], "Opaque")
  }

  func testCreateService() throws {
    try server.create(["service", "clusterip", "svc", "--tcp=80:8080"])
    let service = try server.get("service/svc")
    XCTAssertEqual(service[path: ["spec", "type"]], "ClusterIP")
    XCTAssertEqual(service[path: ["spec", "ports"]]?[0], ["name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080])
  }

  func testCreateJob() throws {
    try server.create(["job", "j", "--image=busybox", "--", "echo", "hi"])
    let pod = try server.get("job/j")[path: ["spec", "template", "spec"]]
    XCTAssertEqual(pod?["containers"]?[0]?["command"], ["echo", "hi"])
    XCTAssertEqual(pod?["containers"]?[0]?["image"], "busybox")
    XCTAssertEqual(pod?["restartPolicy"], "Never")
  }

  func testCreateCronJob() throws {
    try server.create(["cronjob", "cj", "--image=busybox", "--schedule=*/5 * * * *", "--", "echo", "hi"])
    let cronJob = try server.get("cronjob/cj")
    XCTAssertEqual(cronJob[path: ["spec", "schedule"]], "*/5 * * * *")
    XCTAssertEqual(cronJob[path: ["spec", "jobTemplate", "spec", "template", "spec", "containers"]]?[0]?["command"],
                   ["echo", "hi"])
  }

  func testCreateQuota() throws {
    try server.create(["quota", "q", "--hard=pods=10"])
    XCTAssertEqual(try server.get("resourcequota/q")[path: ["spec", "hard"]], ["pods": "10"])
  }

  func testCreatePriorityClass() throws {
    try server.create(["priorityclass", "high", "--value=1000"])
    XCTAssertEqual(try server.get("priorityclass/high")["value"], 1000)
  }

  /// kubectl 1.33 posts an autoscaling/v2 HorizontalPodAutoscaler as protobuf (1.32's v1 body is
  /// covered by KubectlTests).
  func testAutoscaleWithKubectl133() throws {
    try server.create(["deployment", "web", "--image=nginx:1.27"])
    try server.sendsProtobuf(["autoscale", "deployment", "web", "--min=2", "--max=5", "--cpu-percent=80"],
                             kubectl: "/usr/lib/google-cloud-sdk/bin/kubectl.1.33")
    let spec = try server.get("hpa/web")["spec"]
    XCTAssertEqual(spec?["scaleTargetRef"], ["apiVersion": "apps/v1", "kind": "Deployment", "name": "web"])
    XCTAssertEqual(spec?["minReplicas"], 2)
    XCTAssertEqual(spec?["maxReplicas"], 5)
    XCTAssertEqual(spec?["metrics"],
                   [["type": "Resource", "resource": ["name": "cpu", "target": ["type": "Utilization", "averageUtilization": 80]]]])
  }
}

extension SkiffServer {
  /// `kubectl create <arguments>`, which must succeed with a protobuf body.
  func create(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws {
    try sendsProtobuf(["create"] + arguments, file: file, line: line)
  }

  /// Runs a kubectl command that writes, at -v=8 so that kubectl logs its request headers, and
  /// checks that it succeeded and that what it sent was protobuf.
  func sendsProtobuf(_ arguments: [String], kubectl: String = "kubectl", file: StaticString = #filePath,
                     line: UInt = #line) throws {
    let result = try self.kubectl(["-v=8"] + arguments, binary: kubectl)
    XCTAssertEqual(result.status, 0, result.output, file: file, line: line)
    XCTAssertTrue(result.output.contains("Content-Type: application/vnd.kubernetes.protobuf"),
                  "kubectl \(arguments.joined(separator: " ")) did not send protobuf:\n\(result.output)", file: file, line: line)
  }

  func get(_ resource: String) throws -> JSON {
    let result = try kubectl(["get", resource, "-o", "json"])
    guard result.status == 0 else { throw Fixtures.FixtureError(message: "kubectl get \(resource): \(result.output)") }
    return try JSON.parse(result.output)
  }
}
