// The API server as users meet it: the real kubectl against a real `skiff server`, for the
// commands the issue names, with the output kubectl prints against Kubernetes.
import Foundation
import SkiffTestSupport
import XCTest

final class KubectlTests: ServerTestCase {
  /// kubectl's output, failing the test when it exits non-zero.
  @discardableResult
  private func kubectl(_ arguments: String..., stdin: String? = nil, file: StaticString = #filePath,
                       line: UInt = #line) throws -> String {
    let result = try server.kubectl(arguments, stdin: stdin)
    XCTAssertEqual(result.status, 0, "kubectl \(arguments.joined(separator: " ")): \(result.output)", file: file, line: line)
    return result.output
  }

  private func kubectlFailing(_ arguments: String...) throws -> String {
    let result = try server.kubectl(arguments)
    XCTAssertNotEqual(result.status, 0, "kubectl \(arguments.joined(separator: " ")) should fail: \(result.output)")
    return result.output
  }

  /// The seed's manifests, copied verbatim into examples/seed.
  private func seedFile(_ name: String) -> String {
    Fixtures.repository.appendingPathComponent("examples/seed/\(name)").path
  }

  private func json(_ text: String) throws -> [String: Any] {
    try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
  }

  func testSeedManifestsApplyUnchangedThenChangeAndReapply() throws {
    let deployment = seedFile("ml-deployment.yaml")
    XCTAssertEqual(try kubectl("apply", "-f", deployment), "deployment.apps/ml-model created\nservice/ml-model created\n")
    XCTAssertEqual(try kubectl("apply", "-f", seedFile("hpa.yaml")),
                   "horizontalpodautoscaler.autoscaling/ml-model-hpa created\n")
    XCTAssertEqual(try kubectl("apply", "-f", deployment), "deployment.apps/ml-model unchanged\nservice/ml-model unchanged\n")
    let changed = dir.appendingPathComponent("changed.yaml")
    try String(contentsOfFile: deployment, encoding: .utf8).replacingOccurrences(of: "replicas: 3", with: "replicas: 4")
      .write(to: changed, atomically: true, encoding: .utf8)
    XCTAssertEqual(try kubectl("apply", "-f", changed.path),
                   "deployment.apps/ml-model configured\nservice/ml-model unchanged\n")
    XCTAssertEqual(try kubectl("get", "deploy", "ml-model", "-o", "jsonpath={.spec.replicas} {.metadata.generation}"), "4 2")
    // A LoadBalancer Service gets a cluster IP and a node port, as on Kubernetes.
    let ports = try kubectl("get", "svc", "ml-model", "-o", "jsonpath={.spec.clusterIP} {.spec.ports[0].nodePort}")
    XCTAssertTrue(ports.hasPrefix("10.96.0."), ports)
    XCTAssertTrue((30000...32767).contains(Int(ports.split(separator: " ").last ?? "") ?? 0), ports)
    // Defaults the real server applies, which describe relies on.
    XCTAssertEqual(try kubectl("get", "deploy", "ml-model", "-o",
                               "jsonpath={.spec.template.spec.containers[0].ports[0].protocol} {.spec.strategy.type}"),
                   "TCP RollingUpdate")
  }

  func testGetInEveryFormat() throws {
    try kubectl("create", "-f", "-", stdin: Self.pods(["web-0": "web", "web-1": "web", "db-0": "db"]))
    let table = try kubectl("get", "pods")
    XCTAssertTrue(table.hasPrefix("NAME    READY   STATUS    RESTARTS   AGE\n"), table)
    XCTAssertTrue(table.contains("web-0   0/1     Pending   0   "), table)
    let wide = try kubectl("get", "pods", "-o", "wide")
    XCTAssertTrue(wide.hasPrefix("NAME    READY   STATUS    RESTARTS   AGE   IP       NODE     NOMINATED NODE   READINESS GATES\n"), wide)
    XCTAssertEqual(try kubectl("get", "pods", "-l", "app=web", "-o", "name"), "pod/web-0\npod/web-1\n")
    let object = try json(try kubectl("get", "pod", "db-0", "-o", "json"))
    XCTAssertEqual((object["metadata"] as? [String: Any])?["name"] as? String, "db-0")
    XCTAssertEqual((object["spec"] as? [String: Any])?["restartPolicy"] as? String, "Always")
    let yaml = try kubectl("get", "pod", "db-0", "-o", "yaml")
    XCTAssertTrue(yaml.contains("kind: Pod\n") && yaml.contains("  name: db-0\n"), yaml)
    let missing = try kubectlFailing("get", "pod", "nope")
    XCTAssertEqual(missing, "Error from server (NotFound): pods \"nope\" not found\n")
    XCTAssertTrue(try kubectl("get", "pods", "-A").hasPrefix("NAMESPACE   NAME    READY"), "-A adds the namespace column")
  }

  func testWatchReceivesAddedModifiedDeleted() throws {
    let watcher = Process()
    watcher.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    watcher.arguments = ["KUBECONFIG=\(server.kubeconfig)", "kubectl", "--cache-dir", dir.appendingPathComponent("wc").path,
                         "get", "configmaps", "-w", "--output-watch-events", "--request-timeout=20s"]
    let output = Pipe()
    watcher.standardOutput = output
    try watcher.run()
    defer { watcher.terminate() }
    Thread.sleep(forTimeInterval: 1)
    // ConfigMaps, which no controller touches, so every event below is ours.
    try kubectl("create", "-f", "-", stdin: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"watched"}}"#)
    try kubectl("label", "configmap", "watched", "seen=yes")
    try kubectl("delete", "configmap", "watched")
    var text = ""
    let deadline = Date().addingTimeInterval(10)
    while Date() < deadline, !text.contains("DELETED") {
      text += String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
    }
    let events = text.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
    XCTAssertEqual(events, ["EVENT", "ADDED", "MODIFIED", "DELETED"], text)
  }

  func testDescribeLabelAnnotatePatchAndScale() throws {
    try kubectl("apply", "-f", seedFile("ml-deployment.yaml"))
    XCTAssertEqual(try kubectl("label", "deploy", "ml-model", "tier=gpu"), "deployment.apps/ml-model labeled\n")
    XCTAssertEqual(try kubectl("label", "deploy", "ml-model", "tier=gpu"), "deployment.apps/ml-model not labeled\n")
    XCTAssertEqual(try kubectl("annotate", "deploy", "ml-model", "owner=ml-team"), "deployment.apps/ml-model annotated\n")
    XCTAssertEqual(try kubectl("patch", "deploy", "ml-model", "-p", #"{"spec":{"template":{"spec":{"containers":[{"name":"ml-model","image":"r/ml:v2"}]}}}}"#),
                   "deployment.apps/ml-model patched\n")
    XCTAssertEqual(try kubectl("patch", "deploy", "ml-model", "--type=merge", "-p", #"{"metadata":{"labels":{"tier":null}}}"#),
                   "deployment.apps/ml-model patched\n")
    XCTAssertEqual(try kubectl("patch", "deploy", "ml-model", "--type=json", "-p",
                               #"[{"op":"add","path":"/spec/minReadySeconds","value":5}]"#),
                   "deployment.apps/ml-model patched\n")
    XCTAssertEqual(try kubectl("scale", "deploy", "ml-model", "--replicas=7"), "deployment.apps/ml-model scaled\n")
    let fields = try kubectl("get", "deploy", "ml-model", "-o",
                             "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].ports[0].containerPort} {.metadata.labels.tier} {.spec.minReadySeconds} {.spec.replicas}")
    // The strategic merge kept the container's port while replacing its image; the merge patch removed the label.
    XCTAssertEqual(fields, "r/ml:v2 5000  5 7")
    let described = try kubectl("describe", "deploy", "ml-model")
    XCTAssertTrue(described.contains("Replicas:               7 desired"), described)
    XCTAssertTrue(described.contains("Annotations:            owner: ml-team"), described)
    let invalid = try kubectlFailing("patch", "deploy", "ml-model", "--type=json", "-p",
                                     #"[{"op":"remove","path":"/spec/nonexistent"}]"#)
    XCTAssertTrue(invalid.hasPrefix("The request is invalid: "), invalid)
    XCTAssertTrue(invalid.contains("remove /spec/nonexistent"), invalid)
  }

  func testDeleteByFileAndCascadePolicies() throws {
    try kubectl("apply", "-f", seedFile("ml-deployment.yaml"))
    XCTAssertEqual(try kubectl("delete", "-f", seedFile("ml-deployment.yaml")),
                   "deployment.apps \"ml-model\" deleted\nservice \"ml-model\" deleted\n")
    XCTAssertEqual(try kubectl("get", "deploy,svc", "-o", "name"), "")

    // An owner and its dependent, as a controller would create them.
    for policy in ["foreground", "background", "orphan"] {
      try kubectl("create", "-f", "-", stdin: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"owner-\#(policy)"}}"#)
      let uid = try kubectl("get", "configmap", "owner-\(policy)", "-o", "jsonpath={.metadata.uid}")
      try kubectl("create", "-f", "-", stdin: """
        {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dependent-\(policy)","ownerReferences":[
          {"apiVersion":"v1","kind":"ConfigMap","name":"owner-\(policy)","uid":"\(uid)"}]}}
        """)
      if policy == "background" {
        // The owner index is rebuilt from the store at start: a restart must not lose dependents.
        server.stop()
        try server.start()
      }
      try kubectl("delete", "configmap", "owner-\(policy)", "--cascade=\(policy)")
      let remaining = try server.kubectl(["get", "configmap", "dependent-\(policy)", "-o", "jsonpath={.metadata.ownerReferences}"])
      if policy == "orphan" {
        XCTAssertEqual(remaining.status, 0, remaining.output)
        XCTAssertEqual(remaining.output, "", "orphaned dependents lose the owner reference")
      } else {
        XCTAssertTrue(remaining.output.contains("NotFound"), "\(policy): \(remaining.output)")
      }
    }
  }

  func testAutoscaleThroughAutoscalingV1IsStoredAsV2() throws {
    try kubectl("apply", "-f", seedFile("ml-deployment.yaml"))
    // kubectl 1.32 (what the dispatcher runs for this server) sends autoscaling/v1, as protobuf.
    XCTAssertEqual(try kubectl("autoscale", "deployment", "ml-model", "--min=2", "--max=5", "--cpu-percent=80"),
                   "horizontalpodautoscaler.autoscaling/ml-model autoscaled\n")
    let v2 = try json(try kubectl("get", "--raw", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/ml-model"))
    let metric = ((v2["spec"] as? [String: Any])?["metrics"] as? [[String: Any]])?.first
    XCTAssertEqual(((metric?["resource"] as? [String: Any])?["target"] as? [String: Any])?["averageUtilization"] as? Int, 80)
    let v1 = try json(try kubectl("get", "--raw", "/apis/autoscaling/v1/namespaces/default/horizontalpodautoscalers/ml-model"))
    XCTAssertEqual(v1["apiVersion"] as? String, "autoscaling/v1")
    XCTAssertEqual((v1["spec"] as? [String: Any])?["targetCPUUtilizationPercentage"] as? Int, 80)
    XCTAssertEqual((v1["spec"] as? [String: Any])?["minReplicas"] as? Int, 2)
  }

  func testServerSideApplyCreatesThenUpdates() throws {
    XCTAssertEqual(try kubectl("apply", "--server-side", "-f", seedFile("hpa.yaml")),
                   "horizontalpodautoscaler.autoscaling/ml-model-hpa serverside-applied\n")
    let changed = try String(contentsOfFile: seedFile("hpa.yaml"), encoding: .utf8)
      .replacingOccurrences(of: "maxReplicas: 20", with: "maxReplicas: 30")
    XCTAssertEqual(try kubectl("apply", "--server-side", "-f", "-", stdin: changed),
                   "horizontalpodautoscaler.autoscaling/ml-model-hpa serverside-applied\n")
    XCTAssertEqual(try kubectl("get", "hpa", "ml-model-hpa", "-o", "jsonpath={.spec.maxReplicas}"), "30")
  }

  func testAPIResourcesAndWait() throws {
    let resources = try kubectl("api-resources")
    for line in ["pods                                po           v1                                true         Pod",
                 "deployments                         deploy       apps/v1                           true         Deployment"] {
      XCTAssertTrue(resources.split(separator: "\n").contains { $0.split(separator: " ", omittingEmptySubsequences: true)
        == line.split(separator: " ", omittingEmptySubsequences: true) }, "missing: \(line)\n\(resources)")
    }
    try kubectl("run", "ready-pod", "--image=busybox")
    try kubectl("patch", "pod", "ready-pod", "--subresource=status", "--type=merge", "-p",
                #"{"status":{"conditions":[{"type":"Ready","status":"True"}]}}"#)
    XCTAssertEqual(try kubectl("wait", "--for=condition=Ready", "pod/ready-pod", "--timeout=10s"), "pod/ready-pod condition met\n")
  }

  func testErrorsComeBackAsKubernetesStatus() throws {
    try kubectl("create", "namespace", "team")
    try kubectl("create", "configmap", "dup", "-n", "team")
    XCTAssertEqual(try kubectlFailing("create", "configmap", "dup", "-n", "team"),
                   "error: failed to create configmap: configmaps \"dup\" already exists\n")
    let invalid = try kubectlFailing("create", "-f", "-") // nothing on stdin is no object: kubectl says so itself
    XCTAssertFalse(invalid.isEmpty)
    let mismatch = try server.kubectl(["apply", "-f", "-"], stdin: """
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: bad}
      spec:
        selector: {matchLabels: {app: one}}
        template:
          metadata: {labels: {app: two}}
          spec: {containers: [{name: c, image: busybox}]}
      """)
    XCTAssertNotEqual(mismatch.status, 0)
    XCTAssertTrue(mismatch.output.contains(#"The Deployment "bad" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"two"}: `selector` does not match template `labels`"#),
                  mismatch.output)
    let noNamespace = try kubectlFailing("create", "configmap", "x", "-n", "ghost")
    XCTAssertTrue(noNamespace.contains(#"namespaces "ghost" not found"#), noNamespace)
  }

  /// Pods as a multi-document YAML stream, one document per pod.
  static func pods(_ pods: [String: String]) -> String {
    pods.keys.sorted().map { name in
      "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \(name)\n  labels: {app: \(pods[name]!)}\n"
        + "spec:\n  containers: [{name: c, image: busybox}]\n"
    }.joined(separator: "---\n")
  }
}
