// Strategic merge patch as the API server applies it: the bodies kubectl sends, each directive,
// list merging by key, the order of merged lists, and refusals.
import XCTest

@testable import ObjectModel

final class StrategicMergePatchTests: XCTestCase {
  let deployment = try! JSON.parse(Fixtures.deployment)
  let pod = try! JSON.parse(Fixtures.pod)

  private func patch(_ original: JSON, kind: String, _ patch: String) throws -> JSON {
    try StrategicMergePatch.apply(JSON.parse(patch), to: original, kind: kind)
  }

  private func assertInvalid(
    _ original: JSON, kind: String, _ patchText: String, path: String, message: String,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertThrowsError(try patch(original, kind: kind, patchText), file: file, line: line) {
      XCTAssertEqual(
        $0 as? StrategicMergePatchError, .invalidPatch(path: path, message: message),
        file: file, line: line)
    }
  }

  private func names(_ list: JSON?) -> [String] {
    (list?.arrayValue ?? []).map { $0["name"]?.stringValue ?? "?" }
  }

  private let containersPath = ["spec", "template", "spec", "containers"]

  // MARK: What kubectl sends

  func testKubectlApplyChangesOnlyWhatItNames() throws {
    // The body `kubectl apply` sent after the manifest's image and replicas changed.
    let lastApplied = #"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\"}\n"#
    let result = try patch(deployment, kind: "Deployment", #"""
      {"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"\#(lastApplied)"}},
       "spec":{"replicas":4,"template":{"spec":{"$setElementOrder/containers":[{"name":"ml-model"}],
       "containers":[{"image":"your-registry/ml-model:v1.1.0","name":"ml-model"}]}}}}
      """#)

    var expected = deployment
    expected[path: ["metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration"]] =
      .string("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\"}\n")
    expected[path: ["spec", "replicas"]] = 4
    try expected.replaceValue(
      at: JSONPointer("/spec/template/spec/containers/0/image"),
      with: "your-registry/ml-model:v1.1.0")
    // Byte for byte: every other field, and the order of every key, is as it was.
    XCTAssertEqual(result.description, expected.description)
  }

  func testKubectlRolloutRestart() throws {
    let result = try patch(deployment, kind: "Deployment", #"""
      {"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2025-01-02T00:00:00Z"}}}}}
      """#)
    XCTAssertEqual(
      result[path: ["spec", "template", "metadata"]]?.description,
      #"{"creationTimestamp":null,"labels":{"app":"ml-model"},"#
        + #""annotations":{"kubectl.kubernetes.io/restartedAt":"2025-01-02T00:00:00Z"}}"#)
  }

  func testKubectlLabelRemoval() throws {
    let result = try patch(pod, kind: "Pod", #"{"metadata":{"labels":{"app":null,"tier":"web"}}}"#)
    XCTAssertEqual(result[path: ["metadata", "labels"]]?.description,
                   #"{"pod-template-hash":"7d4b9c6f8d","tier":"web"}"#)
  }

  // MARK: Lists merged by key

  func testNewContainerMergesInByName() throws {
    // Without $setElementOrder, new items come before the server's, as in Kubernetes.
    let result = try patch(deployment, kind: "Deployment", #"""
      {"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox"}]}}}}
      """#)
    let containers = result[path: containersPath]
    XCTAssertEqual(names(containers), ["sidecar", "ml-model"])
    XCTAssertEqual(containers?[1], deployment[path: containersPath]?[0])
    XCTAssertEqual(containers?[0], ["name": "sidecar", "image": "busybox"])

    let ordered = try patch(deployment, kind: "Deployment", #"""
      {"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"ml-model"},{"name":"sidecar"}],
       "containers":[{"name":"sidecar","image":"busybox"}]}}}}
      """#)
    XCTAssertEqual(names(ordered[path: containersPath]), ["ml-model", "sidecar"])
  }

  func testSetElementOrderAloneReordersTheServersList() throws {
    let twoContainers = try patch(pod, kind: "Pod", #"""
      {"spec":{"$setElementOrder/containers":[{"name":"ml-model"},{"name":"b"}],
       "containers":[{"name":"b","image":"b"}]}}
      """#)
    let reordered = try patch(twoContainers, kind: "Pod", #"""
      {"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"ml-model"}]}}
      """#)
    XCTAssertEqual(names(reordered[path: ["spec", "containers"]]), ["b", "ml-model"])
  }

  func testDeleteDirectiveRemovesAnItemByKey() throws {
    let twoContainers = try patch(pod, kind: "Pod", #"{"spec":{"containers":[{"name":"b","image":"b"}]}}"#)
    XCTAssertEqual(names(twoContainers[path: ["spec", "containers"]]), ["b", "ml-model"])
    let result = try patch(twoContainers, kind: "Pod", #"""
      {"spec":{"containers":[{"name":"ml-model","$patch":"delete"}]}}
      """#)
    XCTAssertEqual(result[path: ["spec", "containers"]], [["name": "b", "image": "b"]])
  }

  func testReplaceDirectiveReplacesAList() throws {
    let result = try patch(pod, kind: "Pod", #"""
      {"spec":{"containers":[{"name":"only","image":"x","$setElementOrder/env":[{"name":"A"}],
       "env":[{"name":"A","value":"1"}]},{"$patch":"replace"}]}}
      """#)
    XCTAssertEqual(
      result[path: ["spec", "containers"]]?.description,
      #"[{"name":"only","image":"x","env":[{"name":"A","value":"1"}]}]"#)
  }

  func testEnvMergesByName() throws {
    let result = try patch(deployment, kind: "Deployment", #"""
      {"spec":{"template":{"spec":{"containers":[{"name":"ml-model",
       "env":[{"name":"LOG_LEVEL","value":"DEBUG"},{"name":"WORKERS","value":"4"},
              {"name":"MODEL_PATH","$patch":"delete"}]}]}}}}
      """#)
    XCTAssertEqual(
      result[path: containersPath]?[0]?["env"]?.description,
      #"[{"name":"LOG_LEVEL","value":"DEBUG"},{"name":"WORKERS","value":"4"}]"#)
    // The server's items keep their places among the patch's.
    let added = try patch(deployment, kind: "Deployment", #"""
      {"spec":{"template":{"spec":{"containers":[{"name":"ml-model",
       "env":[{"name":"LOG_LEVEL","value":"DEBUG"},{"name":"WORKERS","value":"4"}]}]}}}}
      """#)
    XCTAssertEqual(
      names(added[path: containersPath]?[0]?["env"]), ["MODEL_PATH", "LOG_LEVEL", "WORKERS"])
  }

  func testPortsMergeByContainerPort() throws {
    let result = try patch(deployment, kind: "Deployment", #"""
      {"spec":{"template":{"spec":{"containers":[{"name":"ml-model",
       "ports":[{"containerPort":5000,"name":"http"},{"containerPort":9090,"name":"metrics"}]}]}}}}
      """#)
    XCTAssertEqual(
      result[path: containersPath]?[0]?["ports"]?.description,
      #"[{"containerPort":5000,"protocol":"TCP","name":"http"},{"containerPort":9090,"name":"metrics"}]"#)
  }

  func testServicePortsMergeByPort() throws {
    let service = try JSON.parse(#"""
      {"kind":"Service","metadata":{"name":"ml-model"},"spec":{"ports":[{"port":80,"targetPort":5000,"protocol":"TCP"}]}}
      """#)
    let result = try patch(service, kind: "Service", #"{"spec":{"ports":[{"port":80,"targetPort":8080}]}}"#)
    XCTAssertEqual(
      result[path: ["spec", "ports"]]?.description,
      #"[{"port":80,"targetPort":8080,"protocol":"TCP"}]"#)
  }

  func testUntaggedListsReplace() throws {
    // Tolerations, args and resizePolicy have no patch strategy in Kubernetes: they replace.
    let result = try patch(pod, kind: "Pod", #"""
      {"spec":{"tolerations":[{"key":"gpu","operator":"Exists"}],
       "containers":[{"name":"ml-model","args":["--serve"]}]}}
      """#)
    XCTAssertEqual(result[path: ["spec", "tolerations"]], [["key": "gpu", "operator": "Exists"]])
    let replaced = try patch(result, kind: "Pod", #"""
      {"spec":{"containers":[{"name":"ml-model","args":["--train"]}]}}
      """#)
    XCTAssertEqual(replaced[path: ["spec", "containers"]]?[0]?["args"], ["--train"])
  }

  func testStatusConditionsMergeByType() throws {
    let result = try patch(pod, kind: "Pod", #"""
      {"status":{"conditions":[{"type":"Ready","status":"False","reason":"ContainersNotReady"}]}}
      """#)
    let conditions = try XCTUnwrap(result[path: ["status", "conditions"]]?.arrayValue)
    XCTAssertEqual(conditions.map { $0["type"]?.stringValue }, ["Initialized", "Ready", "PodScheduled"])
    XCTAssertEqual(conditions[1]["status"], "False")
    XCTAssertEqual(conditions[1]["lastTransitionTime"], "2025-01-01T00:00:04Z")
  }

  // MARK: Primitive lists

  func testFinalizersMergeAsASet() throws {
    let added = try patch(pod, kind: "Pod", #"{"metadata":{"finalizers":["a","example.com/cleanup"]}}"#)
    XCTAssertEqual(added[path: ["metadata", "finalizers"]], ["a", "example.com/cleanup"])
    let ordered = try patch(pod, kind: "Pod", #"""
      {"metadata":{"$setElementOrder/finalizers":["example.com/cleanup","a"],"finalizers":["a"]}}
      """#)
    XCTAssertEqual(ordered[path: ["metadata", "finalizers"]], ["example.com/cleanup", "a"])
  }

  func testDeleteFromPrimitiveList() throws {
    let three = try patch(pod, kind: "Pod", #"""
      {"metadata":{"$setElementOrder/finalizers":["example.com/cleanup","b","c"],"finalizers":["b","c"]}}
      """#)
    XCTAssertEqual(three[path: ["metadata", "finalizers"]], ["example.com/cleanup", "b", "c"])
    let result = try patch(three, kind: "Pod", #"""
      {"metadata":{"$deleteFromPrimitiveList/finalizers":["b","not-there"]}}
      """#)
    XCTAssertEqual(result[path: ["metadata", "finalizers"]], ["example.com/cleanup", "c"])
    // Naming a list the object does not have changes nothing.
    let unchanged = try patch(pod, kind: "Pod", #"{"spec":{"$deleteFromPrimitiveList/nothing":["x"]}}"#)
    XCTAssertEqual(unchanged.description, pod.description)
  }

  // MARK: Maps

  func testReplaceAndDeleteDirectivesOnMaps() throws {
    let replaced = try patch(deployment, kind: "Deployment", #"""
      {"spec":{"template":{"metadata":{"labels":{"$patch":"replace","tier":"web"}}}}}
      """#)
    XCTAssertEqual(replaced[path: ["spec", "template", "metadata", "labels"]], ["tier": "web"])
    let deleted = try patch(deployment, kind: "Deployment", #"{"spec":{"strategy":{"$patch":"delete"}}}"#)
    XCTAssertEqual(deleted[path: ["spec", "strategy"]], [:])
  }

  func testRetainKeys() throws {
    // Switching a deployment to Recreate must clear rollingUpdate, which only $retainKeys can.
    let result = try patch(deployment, kind: "Deployment", #"""
      {"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}
      """#)
    XCTAssertEqual(result[path: ["spec", "strategy"]], ["type": "Recreate"])

    // A volume changing its source, as kubectl apply sends it for a list item.
    let volume = try patch(deployment, kind: "Deployment", #"""
      {"spec":{"template":{"spec":{"volumes":[{"$retainKeys":["emptyDir","name"],"emptyDir":{},"name":"model-storage"}]}}}}
      """#)
    XCTAssertEqual(
      volume[path: ["spec", "template", "spec", "volumes"]]?.description,
      #"[{"name":"model-storage","emptyDir":{}}]"#)

    assertInvalid(
      deployment, kind: "Deployment",
      #"{"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":{"maxSurge":1}}}}"#,
      path: "spec.strategy",
      message: "invalid patch format of retainKeys: 'rollingUpdate' is set but not retained")
  }

  func testNullsAndDirectivesNeverReachTheResult() throws {
    let result = try patch(pod, kind: "Pod", #"""
      {"spec":{"nodeSelector":{"gpu":"a100","zone":null},
       "containers":[{"name":"new","image":"x","$setElementOrder/env":[{"name":"A"}],
        "env":[{"name":"A","value":"1","valueFrom":null}],"resources":{"limits":null}}]}}
      """#)
    XCTAssertEqual(result[path: ["spec", "nodeSelector"]], ["gpu": "a100"])
    XCTAssertEqual(
      result[path: ["spec", "containers"]]?[0]?.description,
      #"{"name":"new","image":"x","env":[{"name":"A","value":"1"}],"resources":{}}"#)
  }

  func testUnknownFieldsMergeLikeAMergePatch() throws {
    let result = try patch(pod, kind: "Pod", #"""
      {"spec":{"futureList":[1,2],"futureMap":{"a":{"b":1}}}}
      """#)
    let again = try patch(result, kind: "Pod", #"{"spec":{"futureList":[3],"futureMap":{"a":{"c":2}}}}"#)
    XCTAssertEqual(again[path: ["spec", "futureList"]], [3])
    XCTAssertEqual(again[path: ["spec", "futureMap"]], ["a": ["b": 1, "c": 2]])
  }

  // MARK: Refusals

  func testCustomResourcesAreRefused() {
    XCTAssertThrowsError(try patch(["spec": [:]], kind: "TrainingJob", #"{"spec":{"x":1}}"#)) {
      XCTAssertEqual($0 as? StrategicMergePatchError, .unsupportedKind("TrainingJob"))
      XCTAssertTrue("\($0)".hasPrefix("strategic merge patch is not supported for TrainingJob"))
    }
  }

  func testMalformedPatches() {
    let spec = "spec.template.spec.containers"
    assertInvalid(
      deployment, kind: "Deployment", #"{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}"#,
      path: spec, message: #"list item {"image":"x"} does not contain declared merge key 'name'"#)
    assertInvalid(
      deployment, kind: "Deployment",
      #"{"spec":{"template":{"spec":{"containers":[{"$patch":"merge"}]}}}}"#,
      path: spec, message: "merging lists cannot yet be specified in the patch")
    assertInvalid(
      deployment, kind: "Deployment",
      #"{"spec":{"template":{"spec":{"containers":[{"$patch":"delete"}]}}}}"#,
      path: spec, message: #"$patch: delete item {"$patch":"delete"} has no merge key 'name'"#)
    assertInvalid(
      deployment, kind: "Deployment", #"{"spec":{"strategy":{"$patch":"merge"}}}"#,
      path: "spec.strategy", message: #"unknown patch type "merge" in map (expected replace or delete)"#)
    assertInvalid(
      deployment, kind: "Deployment",
      #"{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"a"}],"containers":[{"name":"b"}]}}}}"#,
      path: spec,
      message: #"the order in the patch list [{"name":"b"}] doesn't match $setElementOrder list [{"name":"a"}]"#)
    assertInvalid(
      pod, kind: "Pod", #"{"metadata":{"finalizers":[{"a":1}]}}"#, path: "metadata.finalizers",
      message: "list element types are not identical: objects and primitives are mixed")
    assertInvalid(
      pod, kind: "Pod", #"{"metadata":{"finalizers":[["x"]]}}"#, path: "metadata.finalizers",
      message: "lists of lists cannot be merged")
    XCTAssertThrowsError(try patch(pod, kind: "Pod", "[]")) {
      XCTAssertEqual(
        $0 as? StrategicMergePatchError,
        .invalidPatch(path: "", message: "a strategic merge patch must be an object, not an array"))
    }
  }

  // MARK: Schemas

  func testCustomSchema() throws {
    let schema = PatchSchema(rules: ["items": .merge(by: "id"), "items.tags": .mergePrimitives])
    let original: JSON = ["items": [["id": 1, "tags": ["a"]], ["id": 2]]]
    let result = try StrategicMergePatch.apply(
      JSON.parse(#"{"items":[{"id":1,"tags":["b"]}]}"#), to: original, schema: schema)
    XCTAssertEqual(result.description, #"{"items":[{"id":1,"tags":["b","a"]},{"id":2}]}"#)
  }
}
