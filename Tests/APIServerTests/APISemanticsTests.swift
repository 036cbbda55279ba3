// Kubernetes semantics over plain HTTP: bad input answered with a Status and nothing stored,
// generateName, paging, watches that replay and resume (or expire), finalizers, namespaces that
// empty themselves, and custom resources served once their CRD exists.
import Foundation
import SkiffTestSupport
import XCTest

final class APISemanticsTests: ServerTestCase {
  var api: String { server.url }
  private var configMaps: String { api + "/api/v1/namespaces/default/configmaps" }

  private func revision() throws -> String {
    let list = try HTTPClient.send("GET", configMaps).json
    return (list["metadata"] as? [String: Any])?["resourceVersion"] as? String ?? ""
  }

  private func status(_ reply: HTTPReply) -> (code: Int, reason: String, message: String) {
    let json = reply.json
    return (json["code"] as? Int ?? 0, json["reason"] as? String ?? "", json["message"] as? String ?? "")
  }

  func testBadInputGetsAStatusAndStoresNothing() throws {
    let before = try revision()
    let garbage = try HTTPClient.send("POST", configMaps, json: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"#)
    XCTAssertEqual(garbage.status, 400)
    XCTAssertEqual(status(garbage).reason, "BadRequest")
    XCTAssertTrue(status(garbage).message.contains("line 1, column"), status(garbage).message)

    let yaml = try HTTPClient.send("POST", configMaps, body: Data("metadata:\n  name: [x\n".utf8), contentType: "application/yaml")
    XCTAssertEqual(yaml.status, 400)
    XCTAssertTrue(status(yaml).message.contains("request body:"), status(yaml).message)

    let wrongVersion = try HTTPClient.send("POST", configMaps, json: #"{"apiVersion":"v2","kind":"ConfigMap","metadata":{"name":"x"}}"#)
    XCTAssertEqual(wrongVersion.status, 400)
    XCTAssertEqual(status(wrongVersion).message, "the API version in the data (v2) does not match the expected API version (v1)")

    let unknown = try HTTPClient.send("GET", api + "/api/v1/namespaces/default/widgets")
    XCTAssertEqual(unknown.status, 404)
    XCTAssertEqual(status(unknown).reason, "NotFound")

    let badName = try HTTPClient.send("POST", configMaps, json: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}"#)
    XCTAssertEqual(badName.status, 422)
    let causes = ((badName.json["details"] as? [String: Any])?["causes"] as? [[String: Any]]) ?? []
    XCTAssertEqual(causes.first?["field"] as? String, "metadata.name")
    XCTAssertTrue(status(badName).message.hasPrefix(#"ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain"#),
                  status(badName).message)

    let invalidPod = try HTTPClient.send("POST", api + "/api/v1/namespaces/default/pods",
                                         json: #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c"}],"restartPolicy":"Sometimes"}}"#)
    XCTAssertEqual(invalidPod.status, 422)
    let fields = (((invalidPod.json["details"] as? [String: Any])?["causes"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String }
    XCTAssertEqual(fields, ["spec.containers[0].image", "spec.restartPolicy"])

    let huge = try HTTPClient.send("POST", configMaps, body: Data(repeating: UInt8(ascii: " "), count: 4 << 20))
    XCTAssertEqual(huge.status, 413)

    XCTAssertEqual(try revision(), before, "a rejected request changed the store")
  }

  func testGenerateNamePagingAndSelectors() throws {
    for i in 0..<7 {
      let reply = try HTTPClient.send("POST", configMaps, json: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"generateName":"gen-","labels":{"n":"\#(i % 2)"}}}"#)
      XCTAssertEqual(reply.status, 201, reply.text)
      let name = (reply.json["metadata"] as? [String: Any])?["name"] as? String ?? ""
      XCTAssertTrue(name.hasPrefix("gen-") && name.count == 9, name)
    }
    var names: [String] = []
    var next: String? = ""
    var pages = 0
    while let token = next {
      let page = try HTTPClient.send("GET", configMaps + "?limit=3" + (token.isEmpty ? "" : "&continue=\(token)")).json
      names += (page["items"] as? [[String: Any]] ?? []).compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String }
      next = (page["metadata"] as? [String: Any])?["continue"] as? String
      pages += 1
    }
    XCTAssertEqual(names.count, 7)
    XCTAssertEqual(names, names.sorted())
    XCTAssertEqual(pages, 3)
    let odd = try HTTPClient.send("GET", configMaps + "?labelSelector=n%3D1").json["items"] as? [[String: Any]]
    XCTAssertEqual(odd?.count, 3)
    let byName = try HTTPClient.send("GET", configMaps + "?fieldSelector=metadata.name%3D\(names[0])").json["items"] as? [[String: Any]]
    XCTAssertEqual(byName?.count, 1)
  }

  func testWatchReplaysFromZeroResumesFromARevisionAndExpiresWhenCompacted() throws {
    let first = try HTTPClient.send("POST", configMaps, json: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"w1"}}"#)
    let firstVersion = (first.json["metadata"] as? [String: Any])?["resourceVersion"] as? String ?? ""
    _ = try HTTPClient.send("POST", configMaps, json: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"w2"}}"#)
    // resourceVersion=0 replays what exists; timeoutSeconds ends the stream.
    let replay = try HTTPClient.send("GET", configMaps + "?watch=true&resourceVersion=0&timeoutSeconds=1")
    XCTAssertEqual(replay.text.split(separator: "\n").map { $0.contains(#""type":"ADDED""#) }, [true, true], replay.text)
    // From w1's revision: only what came after it.
    let resumed = try HTTPClient.send("GET", configMaps + "?watch=true&resourceVersion=\(firstVersion)&timeoutSeconds=1")
    let events = resumed.text.split(separator: "\n")
    XCTAssertEqual(events.count, 1, resumed.text)
    XCTAssertTrue(events.first?.contains(#""name":"w2""#) ?? false, resumed.text)
  }

  func testWatchedObjectsAreWhatTheWritesAnsweredAndLeavingASelectorIsADelete() throws {
    let before = try HTTPClient.send("GET", configMaps)
    let listVersion = (before.json["metadata"] as? [String: Any])?["resourceVersion"] as? String ?? ""
    let created = try HTTPClient.send("POST", configMaps + "?fieldManager=tester",
                                      json: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"sel","labels":{"team":"a"}},"data":{"k":"v"}}"#)
    let moved = try HTTPClient.send("PATCH", configMaps + "/sel?fieldManager=mover", body: Data(#"{"metadata":{"labels":{"team":"b"}}}"#.utf8),
                                    contentType: "application/merge-patch+json")
    XCTAssertEqual([created.status, moved.status], [201, 200])
    let watched = try HTTPClient.send("GET", configMaps + "?watch=true&labelSelector=team%3Da&resourceVersion=\(listVersion)&timeoutSeconds=1")
    let events = try watched.text.split(separator: "\n").map {
      try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
    }
    XCTAssertEqual(events.map { $0["type"] as? String }, ["ADDED", "DELETED"], watched.text)
    // Each object is whole, field ownership and resourceVersion included, as the write answered it.
    XCTAssertEqual(events.first?["object"] as? NSDictionary, created.json as NSDictionary)
    XCTAssertEqual(events.last?["object"] as? NSDictionary, moved.json as NSDictionary)
    let managers = ((events.last?["object"] as? [String: Any])?["metadata"] as? [String: Any])?["managedFields"] as? [[String: Any]]
    XCTAssertEqual(managers?.compactMap { $0["manager"] as? String }, ["tester", "mover"])
  }

  func testABindingSetsTheNodeAndPodScheduledOnceAndKeepsTheRest() throws {
    let pods = api + "/api/v1/namespaces/default/pods"
    // A scheduler name no profile serves: nothing but this test writes these pods.
    func pod(_ name: String) -> String {
      #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"\#(name)","labels":{"app":"b"}},"#
        + #""spec":{"schedulerName":"elsewhere","containers":[{"name":"c","image":"busybox"}]}}"#
    }
    func binding(_ name: String, _ node: String) throws -> HTTPReply {
      try HTTPClient.send("POST", pods + "/\(name)/binding",
                          json: #"{"apiVersion":"v1","kind":"Binding","metadata":{"name":"\#(name)"},"target":{"kind":"Node","name":"\#(node)"}}"#)
    }
    func conditions(_ object: [String: Any]) -> [String: String] {
      let list = (object["status"] as? [String: Any])?["conditions"] as? [[String: Any]] ?? []
      return Dictionary(uniqueKeysWithValues: list.map { ($0["type"] as? String ?? "", $0["status"] as? String ?? "") })
    }
    // A fresh pod, as the scheduler finds it.
    let created = try HTTPClient.send("POST", pods + "?fieldManager=maker", json: pod("fresh")).json
    XCTAssertEqual(try binding("fresh", "n1").status, 201)
    let fresh = try HTTPClient.send("GET", pods + "/fresh").json
    XCTAssertEqual((fresh["spec"] as? [String: Any])?["nodeName"] as? String, "n1")
    XCTAssertEqual(conditions(fresh), ["PodScheduled": "True"])
    var expected = created
    expected["spec"] = fresh["spec"]
    expected["status"] = fresh["status"]
    var metadata = expected["metadata"] as? [String: Any] ?? [:]
    metadata["resourceVersion"] = (fresh["metadata"] as? [String: Any])?["resourceVersion"]
    expected["metadata"] = metadata
    XCTAssertEqual(fresh as NSDictionary, expected as NSDictionary, "only the node, the condition and the version changed")
    XCTAssertEqual(try binding("fresh", "n2").status, 409, "bound once")
    // A pod that already has conditions keeps them, and PodScheduled is set among them.
    let other = try HTTPClient.send("POST", pods, json: pod("held")).json
    var withConditions = other
    withConditions["status"] = ["phase": "Pending", "conditions": [["type": "Custom", "status": "False"]]]
    let status = try HTTPClient.send("PUT", pods + "/held/status",
                                     body: try JSONSerialization.data(withJSONObject: withConditions))
    XCTAssertEqual(status.status, 200, status.text)
    XCTAssertEqual(try binding("held", "n3").status, 201)
    let held = try HTTPClient.send("GET", pods + "/held").json
    XCTAssertEqual((held["spec"] as? [String: Any])?["nodeName"] as? String, "n3")
    XCTAssertEqual(conditions(held), ["Custom": "False", "PodScheduled": "True"])
  }

  func testWatchFromACompactedRevisionExpires() throws {
    server.stop()
    server = try SkiffServer(dataDir: dir.appendingPathComponent("compacting"),
                             arguments: ["--compaction-interval", "1", "--compaction-retain", "1"])
    for name in ["c1", "c2", "c3"] {
      XCTAssertEqual(try HTTPClient.send("POST", configMaps, json: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"\#(name)"}}"#).status, 201)
    }
    var expired = try HTTPClient.send("GET", configMaps + "?watch=true&resourceVersion=1&timeoutSeconds=1")
    let deadline = Date().addingTimeInterval(5)
    while !expired.text.contains(#""type":"ERROR""#), Date() < deadline {
      usleep(200_000)  // until the next compaction has run
      expired = try HTTPClient.send("GET", configMaps + "?watch=true&resourceVersion=1&timeoutSeconds=1")
    }
    XCTAssertTrue(expired.text.contains(#""type":"ERROR""#), expired.text)
    XCTAssertTrue(expired.text.contains(#""code":410"#) && expired.text.contains(#""reason":"Expired""#), expired.text)
  }

  func testServiceAddressesAreExclusiveAndFreedOnDelete() throws {
    let services = api + "/api/v1/namespaces/default/services"
    func service(_ name: String) -> String {
      #"{"apiVersion":"v1","kind":"Service","metadata":{"name":"\#(name)"},"spec":{"type":"NodePort","clusterIP":"10.96.7.7","ports":[{"port":80,"nodePort":30777}]}}"#
    }
    XCTAssertEqual(try HTTPClient.send("POST", services, json: service("first")).status, 201)
    let taken = try HTTPClient.send("POST", services, json: service("second"))
    XCTAssertEqual(taken.status, 422)
    XCTAssertTrue(status(taken).message.contains("failed to allocate IP 10.96.7.7: provided IP is already allocated"),
                  status(taken).message)
    XCTAssertEqual(try HTTPClient.send("DELETE", services + "/first").status, 200)
    XCTAssertEqual(try HTTPClient.send("POST", services, json: service("second")).status, 201,
                   "a deleted Service's IP and node port may be taken again")
  }

  func testFinalizersHoldDeletionUntilRemoved() throws {
    _ = try HTTPClient.send("POST", configMaps, json: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"held","finalizers":["example.com/hold"]}}"#)
    let deleted = try HTTPClient.send("DELETE", configMaps + "/held")
    XCTAssertEqual(deleted.status, 200)
    XCTAssertNotNil((deleted.json["metadata"] as? [String: Any])?["deletionTimestamp"], deleted.text)
    XCTAssertEqual(try HTTPClient.send("GET", configMaps + "/held").status, 200, "still there while the finalizer holds")
    let released = try HTTPClient.send("PATCH", configMaps + "/held", body: Data(#"{"metadata":{"finalizers":null}}"#.utf8),
                                       contentType: "application/merge-patch+json")
    XCTAssertEqual(released.status, 200, released.text)
    XCTAssertEqual(try HTTPClient.send("GET", configMaps + "/held").status, 404)
  }

  func testDeletingANamespaceDeletesItsContents() throws {
    XCTAssertEqual(try HTTPClient.send("POST", api + "/api/v1/namespaces", json: #"{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"doomed"}}"#).status, 201)
    XCTAssertEqual(try HTTPClient.send("POST", api + "/api/v1/namespaces/doomed/configmaps",
                                       json: #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"inside"}}"#).status, 201)
    let deleting = try HTTPClient.send("DELETE", api + "/api/v1/namespaces/doomed")
    XCTAssertEqual((deleting.json["status"] as? [String: Any])?["phase"] as? String, "Terminating")
    let deadline = Date().addingTimeInterval(5)
    while Date() < deadline, try HTTPClient.send("GET", api + "/api/v1/namespaces/doomed").status != 404 { usleep(50_000) }
    XCTAssertEqual(try HTTPClient.send("GET", api + "/api/v1/namespaces/doomed").status, 404)
    XCTAssertEqual(try HTTPClient.send("GET", api + "/api/v1/namespaces/doomed/configmaps/inside").status, 404)
  }

  func testCustomResourcesAreServedWhileTheirDefinitionExists() throws {
    let crd = #"""
      {"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"tfjobs.kubeflow.org"},
       "spec":{"group":"kubeflow.org","scope":"Namespaced","names":{"plural":"tfjobs","singular":"tfjob","kind":"TFJob"},
               "versions":[{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},
                            "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}
      """#
    XCTAssertEqual(try HTTPClient.send("POST", api + "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json: crd).status, 201)
    let jobs = api + "/apis/kubeflow.org/v1/namespaces/default/tfjobs"
    let created = try HTTPClient.send("POST", jobs, json: #"{"apiVersion":"kubeflow.org/v1","kind":"TFJob","metadata":{"name":"mnist"},"spec":{"anything":[1,2,3]}}"#)
    XCTAssertEqual(created.status, 201, created.text)
    XCTAssertEqual(((try HTTPClient.send("GET", jobs + "/mnist").json["spec"] as? [String: Any])?["anything"] as? [Int]), [1, 2, 3])
    let groups = try HTTPClient.send("GET", api + "/apis").text
    XCTAssertTrue(groups.contains(#""name":"kubeflow.org""#), groups)
    XCTAssertEqual(try HTTPClient.send("DELETE", api + "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/tfjobs.kubeflow.org").status, 200)
    XCTAssertEqual(try HTTPClient.send("GET", jobs).status, 404)
  }
}
