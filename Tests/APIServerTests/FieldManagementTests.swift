// Server-side apply and field ownership over plain HTTP: managedFields after each kind of write
// (exact FieldsV1), appliers that share or split an object, conflicts and forcing, fields an
// applier stops applying; and fieldValidation (Ignore, Warn, Strict) for built-in kinds and CRDs.
import Foundation
import SkiffTestSupport
import XCTest

final class FieldManagementTests: ServerTestCase {
  private var configMaps: String { server.url + "/api/v1/namespaces/default/configmaps" }
  private var deployments: String { server.url + "/apis/apps/v1/namespaces/default/deployments" }

  private func send(_ method: String, _ url: String, _ body: String, contentType: String = "application/json",
                    headers: [String: String] = [:], file: StaticString = #filePath, line: UInt = #line,
                    expect: Int? = nil) throws -> HTTPReply {
    let reply = try HTTPClient.send(method, url, body: Data(body.utf8), contentType: contentType, headers: headers)
    if let expect { XCTAssertEqual(reply.status, expect, reply.text, file: file, line: line) }
    return reply
  }

  private func apply(_ url: String, _ body: String, manager: String, force: Bool = false) throws -> HTTPReply {
    try send("PATCH", url + "?fieldManager=\(manager)" + (force ? "&force=true" : ""), body,
             contentType: "application/apply-patch+yaml")
  }

  private func entries(_ object: [String: Any]) -> [[String: Any]] {
    (object["metadata"] as? [String: Any])?["managedFields"] as? [[String: Any]] ?? []
  }

  /// The entry of `manager` (and `operation`), its fieldsV1 printed with sorted keys.
  private func fields(_ object: [String: Any], _ manager: String, _ operation: String? = nil) -> String? {
    guard let entry = entries(object).first(where: {
      $0["manager"] as? String == manager && (operation == nil || $0["operation"] as? String == operation)
    }), let fields = entry["fieldsV1"],
      let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])
    else { return nil }
    return String(decoding: data, as: UTF8.self)
  }

  private func get(_ url: String) throws -> [String: Any] { try HTTPClient.send("GET", url).json }

  func testManagedFieldsAfterCreateUpdatePatchAndApply() throws {
    let created = try send("POST", configMaps + "?fieldManager=creator",
                           #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"a":"1"}}"#, expect: 201).json
    let entry = try XCTUnwrap(entries(created).first)
    XCTAssertEqual(entry["manager"] as? String, "creator")
    XCTAssertEqual(entry["operation"] as? String, "Update")
    XCTAssertEqual(entry["apiVersion"] as? String, "v1")
    XCTAssertEqual(entry["fieldsType"] as? String, "FieldsV1")
    XCTAssertNotNil(entry["time"] as? String)
    XCTAssertNil(entry["subresource"])
    XCTAssertEqual(fields(created, "creator"), #"{"f:data":{".":{},"f:a":{}}}"#)

    // A replace that changes a and adds b: the editor owns both; the creator keeps only the map.
    let replaced = try send("PUT", configMaps + "/cfg?fieldManager=editor",
                            #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"a":"2","b":"1"}}"#,
                            expect: 200).json
    XCTAssertEqual(fields(replaced, "editor"), #"{"f:data":{"f:a":{},"f:b":{}}}"#)
    XCTAssertEqual(fields(replaced, "creator"), #"{"f:data":{}}"#)

    let patched = try send("PATCH", configMaps + "/cfg?fieldManager=labeler", #"{"metadata":{"labels":{"tier":"web"}}}"#,
                           contentType: "application/merge-patch+json", expect: 200).json
    XCTAssertEqual(fields(patched, "labeler"), #"{"f:metadata":{"f:labels":{".":{},"f:tier":{}}}}"#)

    let applied = try apply(configMaps + "/cfg", #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"c":"3"}}"#,
                            manager: "applier")
    XCTAssertEqual(applied.status, 200, applied.text)
    XCTAssertEqual(fields(applied.json, "applier", "Apply"), #"{"f:data":{"f:c":{}}}"#)
    XCTAssertEqual(entries(applied.json).first?["manager"] as? String, "applier", "appliers are listed first")
    XCTAssertEqual(entries(applied.json).count, 4)

    // Without ?fieldManager the User-Agent's product names the manager, as Kubernetes derives it.
    let byAgent = try send("POST", configMaps, #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"ua"},"data":{"k":"v"}}"#,
                           headers: ["User-Agent": "my-tool/1.2 (linux/amd64)"], expect: 201).json
    XCTAssertEqual(entries(byAgent).first?["manager"] as? String, "my-tool")

    // An apply must name its manager.
    let anonymous = try send("PATCH", configMaps + "/cfg", #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"}}"#,
                             contentType: "application/apply-patch+yaml")
    XCTAssertEqual(anonymous.status, 400, anonymous.text)

    // A write that changes nothing keeps the entries as they were (same resourceVersion).
    let before = try get(configMaps + "/cfg")
    let again = try apply(configMaps + "/cfg", #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"c":"3"}}"#,
                          manager: "applier").json
    XCTAssertEqual((again["metadata"] as? [String: Any])?["resourceVersion"] as? String,
                   (before["metadata"] as? [String: Any])?["resourceVersion"] as? String)

    // One empty entry clears them all.
    let cleared = try send("PATCH", configMaps + "/cfg", #"{"metadata":{"managedFields":[{}]}}"#,
                           contentType: "application/merge-patch+json", expect: 200).json
    XCTAssertEqual(entries(cleared).count, 0, "\(cleared)")
  }

  func testDeploymentFieldsV1ForCreateApplyScaleAndStatus() throws {
    let deployment = #"""
      {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"app":"web"}},
       "spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
       "spec":{"containers":[{"name":"nginx","image":"nginx:1","ports":[{"containerPort":80}]}]}}}}
      """#
    let applied = try apply(deployments + "/web", deployment, manager: "ssa")
    XCTAssertEqual(applied.status, 201, applied.text)
    // What Kubernetes records: leaves, keyed list items (ports keyed with their defaulted
    // protocol), the atomic selector as one field; the defaults the server filled in are nobody's.
    XCTAssertEqual(fields(applied.json, "ssa", "Apply"),
                   #"{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"#
                   + #""f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":"#
                   + #"{".":{},"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":"#
                   + #"{".":{},"f:containerPort":{}}}}}}}}}"#)

    let created = try send("POST", deployments + "?fieldManager=kubectl-create",
                           deployment.replacingOccurrences(of: #""name":"web""#, with: #""name":"made""#), expect: 201).json
    let createFields = try XCTUnwrap(fields(created, "kubectl-create", "Update"))
    // An update owns what it added, defaults included; new maps and items are members themselves.
    for owned in [#""f:labels":{".":{},"f:app":{}}"#, #""f:imagePullPolicy":{}"#, #""f:dnsPolicy":{}"#,
                  #""f:strategy":{"f:rollingUpdate":{".":{},"f:maxSurge":{},"f:maxUnavailable":{}},"f:type":{}}"#,
                  #""f:ports":{".":{},"k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:protocol":{}}}"#,
                  #""f:selector":{}"#] {
      XCTAssertTrue(createFields.contains(owned), "\(owned) missing from \(createFields)")
    }
    XCTAssertFalse(createFields.contains(#""f:spec":{".""#), createFields)

    let scaled = try send("PATCH", deployments + "/web/scale?fieldManager=scaler", #"{"spec":{"replicas":5}}"#,
                          contentType: "application/merge-patch+json", expect: 200)
    XCTAssertEqual(scaled.json["kind"] as? String, "Scale")
    let afterScale = try get(deployments + "/web")
    let scaleEntry = try XCTUnwrap(entries(afterScale).first { $0["manager"] as? String == "scaler" })
    XCTAssertEqual(scaleEntry["subresource"] as? String, "scale")
    XCTAssertEqual(fields(afterScale, "scaler"), #"{"f:spec":{"f:replicas":{}}}"#)
    // The scaler took .spec.replicas from the applier.
    XCTAssertFalse(fields(afterScale, "ssa", "Apply")?.contains("f:replicas") ?? true)

    let status = try send("PATCH", deployments + "/web/status?fieldManager=controller",
                          #"{"status":{"replicas":5,"readyReplicas":1}}"#, contentType: "application/merge-patch+json",
                          expect: 200).json
    let statusEntry = try XCTUnwrap(entries(status).first { $0["manager"] as? String == "controller" })
    XCTAssertEqual(statusEntry["subresource"] as? String, "status")
    XCTAssertEqual(fields(status, "controller"), #"{"f:status":{"f:readyReplicas":{},"f:replicas":{}}}"#)
  }

  func testAppliersOfDisjointFieldsKeepTheirsAndDroppedFieldsGo() throws {
    let url = configMaps + "/shared"
    XCTAssertEqual(try apply(url, #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"shared"},"data":{"a":"1","common":"x"}}"#,
                             manager: "alice").status, 201)
    let both = try apply(url, #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"shared"},"data":{"b":"2","common":"x"}}"#,
                         manager: "bob")
    XCTAssertEqual(both.status, 200, "the same value is no conflict: \(both.text)")
    XCTAssertEqual((both.json["data"] as? [String: String]), ["a": "1", "b": "2", "common": "x"])
    XCTAssertEqual(fields(both.json, "alice"), #"{"f:data":{"f:a":{},"f:common":{}}}"#)
    XCTAssertEqual(fields(both.json, "bob"), #"{"f:data":{"f:b":{},"f:common":{}}}"#)

    // Alice stops applying a (only hers: removed) and common (Bob's too: kept).
    let dropped = try apply(url, #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"shared"},"data":{"a2":"1"}}"#,
                            manager: "alice")
    XCTAssertEqual(dropped.status, 200, dropped.text)
    XCTAssertEqual((dropped.json["data"] as? [String: String]), ["a2": "1", "b": "2", "common": "x"])
    XCTAssertEqual(fields(dropped.json, "alice"), #"{"f:data":{"f:a2":{}}}"#)

    // A keyed list: each applier keeps its own container.
    let pods = server.url + "/api/v1/namespaces/default/pods/p"
    XCTAssertEqual(try apply(pods, #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"main","image":"a"}]}}"#,
                             manager: "alice").status, 201)
    let sidecar = try apply(pods, #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"side","image":"b"}]}}"#,
                            manager: "bob")
    XCTAssertEqual(sidecar.status, 200, sidecar.text)
    let names = ((sidecar.json["spec"] as? [String: Any])?["containers"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
    XCTAssertEqual(Set(names ?? []), ["main", "side"])
    let alone = try apply(pods, #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"side","image":"b"}]}}"#,
                          manager: "bob")
    XCTAssertEqual(alone.status, 200)
  }

  func testConflictingApplyIs409WithFieldCausesAndForceTakesOver() throws {
    XCTAssertEqual(try send("POST", deployments + "?fieldManager=kubectl-client-side-apply", #"""
      {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":2,
       "selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
       "spec":{"containers":[{"name":"nginx","image":"nginx:1"}]}}}}
      """#).status, 201)
    let config = #"""
      {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":3,
       "selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
       "spec":{"containers":[{"name":"nginx","image":"nginx:2"}]}}}}
      """#
    let conflict = try apply(deployments + "/web", config, manager: "ssa")
    XCTAssertEqual(conflict.status, 409, conflict.text)
    XCTAssertEqual(conflict.json["reason"] as? String, "Conflict")
    XCTAssertEqual(conflict.json["message"] as? String, """
      Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using apps/v1:
      - .spec.replicas
      - .spec.template.spec.containers[name="nginx"].image
      """)
    let causes = ((conflict.json["details"] as? [String: Any])?["causes"] as? [[String: String]]) ?? []
    XCTAssertEqual(causes, [
      ["reason": "FieldManagerConflict", "message": #"conflict with "kubectl-client-side-apply" using apps/v1"#,
       "field": ".spec.replicas"],
      ["reason": "FieldManagerConflict", "message": #"conflict with "kubectl-client-side-apply" using apps/v1"#,
       "field": #".spec.template.spec.containers[name="nginx"].image"#],
    ])
    XCTAssertEqual(((try get(deployments + "/web"))["spec"] as? [String: Any])?["replicas"] as? Int, 2,
                   "a refused apply changed the object")

    let forced = try apply(deployments + "/web", config, manager: "ssa", force: true)
    XCTAssertEqual(forced.status, 200, forced.text)
    XCTAssertEqual((forced.json["spec"] as? [String: Any])?["replicas"] as? Int, 3)
    let previous = try XCTUnwrap(fields(forced.json, "kubectl-client-side-apply"))
    XCTAssertFalse(previous.contains("f:replicas"), previous)
    XCTAssertFalse(previous.contains(#""f:image":"#), previous)
    XCTAssertTrue(fields(forced.json, "ssa", "Apply")?.contains("f:replicas") ?? false)

    // force on any other patch is refused, as Kubernetes does.
    XCTAssertEqual(try send("PATCH", deployments + "/web?force=true", #"{"spec":{"replicas":1}}"#,
                            contentType: "application/merge-patch+json").status, 400)

    // The applier drops replicas, which only it owns now: the field goes and its default returns.
    let dropped = try apply(deployments + "/web", config.replacingOccurrences(of: #""replicas":3,"#, with: ""), manager: "ssa")
    XCTAssertEqual(dropped.status, 200, dropped.text)
    XCTAssertEqual((dropped.json["spec"] as? [String: Any])?["replicas"] as? Int, 1)
  }

  func testFieldValidationIgnoreWarnAndStrict() throws {
    let body = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"NAME","colour":"red"},"data":{"a":"1"},"extra":1}"#
    func create(_ name: String, _ query: String) throws -> HTTPReply {
      try send("POST", configMaps + query, body.replacingOccurrences(of: "NAME", with: name))
    }
    let strict = try create("strict", "?fieldValidation=Strict")
    XCTAssertEqual(strict.status, 400, strict.text)
    XCTAssertEqual(strict.json["reason"] as? String, "BadRequest")
    XCTAssertEqual(strict.json["message"] as? String, #"ConfigMap in version "v1" cannot be handled as a ConfigMap: "#
      + #"strict decoding error: unknown field "metadata.colour", unknown field "extra""#)
    XCTAssertEqual(try HTTPClient.send("GET", configMaps + "/strict").status, 404)

    // Warn is the default: stored without the unknown fields, one Warning header per field.
    let warned = try create("warned", "")
    XCTAssertEqual(warned.status, 201, warned.text)
    let warning = warned.headers.first { ($0.key as? String)?.lowercased() == "warning" }?.value as? String ?? ""
    XCTAssertTrue(warning.contains(#"299 - "unknown field \"extra\"""#), warning)
    XCTAssertNil(try get(configMaps + "/warned")["extra"])

    let ignored = try create("ignored", "?fieldValidation=Ignore")
    XCTAssertEqual(ignored.status, 201)
    XCTAssertFalse(ignored.headers.keys.contains { ($0 as? String)?.lowercased() == "warning" })
    XCTAssertNil(ignored.json["extra"])

    XCTAssertEqual(try create("bad", "?fieldValidation=Sometimes").status, 400)

    // A field given twice: the last value wins, and it is reported like an unknown one.
    let twice = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"twice"},"data":{"a":"1","a":"2"}}"#
    let refused = try send("POST", configMaps + "?fieldValidation=Strict", twice)
    XCTAssertEqual(refused.status, 400)
    XCTAssertEqual(refused.json["message"] as? String,
                   #"ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: duplicate field "data.a""#)
    let accepted = try send("POST", configMaps, twice)
    XCTAssertEqual(accepted.status, 201)
    XCTAssertEqual(accepted.json["data"] as? [String: String], ["a": "2"])
    let duplicateWarning = accepted.headers.first { ($0.key as? String)?.lowercased() == "warning" }?.value as? String ?? ""
    XCTAssertTrue(duplicateWarning.contains(#"duplicate field \"data.a\""#), duplicateWarning)

    // Patches are checked on the object they produce; deep paths name list indexes.
    XCTAssertEqual(try send("POST", server.url + "/api/v1/namespaces/default/pods",
                            #"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i"}]}}"#).status, 201)
    let patch = try send("PATCH", server.url + "/api/v1/namespaces/default/pods/p?fieldValidation=Strict",
                         #"{"spec":{"containers":[{"name":"c","imagePullPolicyy":"Always"}]}}"#,
                         contentType: "application/strategic-merge-patch+json")
    XCTAssertEqual(patch.status, 400)
    XCTAssertTrue((patch.json["message"] as? String ?? "").hasSuffix(
      #"strict decoding error: unknown field "spec.containers[0].imagePullPolicyy""#), patch.text)
  }

  func testCustomResourcesAreValidatedByTheirCRDSchema() throws {
    let crds = server.url + "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    for (plural, kind, schema) in [
      ("widgets", "Widget", #"{"type":"object","properties":{"spec":{"type":"object","properties":{"size":{"type":"integer"},"#
        + #""labels":{"type":"object","additionalProperties":{"type":"string"}},"#
        + #""parts":{"type":"array","items":{"type":"object","properties":{"name":{"type":"string"}}}},"#
        + #""free":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}}}"#),
      ("gadgets", "Gadget", #"{"type":"object","x-kubernetes-preserve-unknown-fields":true}"#),
    ] {
      XCTAssertEqual(try send("POST", crds, #"""
        {"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition","metadata":{"name":"\#(plural).example.com"},
         "spec":{"group":"example.com","scope":"Namespaced","names":{"plural":"\#(plural)","kind":"\#(kind)"},
         "versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":\#(schema)}}]}}
        """#).status, 201)
    }
    let widgets = server.url + "/apis/example.com/v1/namespaces/default/widgets?fieldValidation=Strict"
    let good = #"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"size":1,"#
      + #""labels":{"any":"x"},"parts":[{"name":"a"}],"free":{"anything":{"goes":1}}}}"#
    XCTAssertEqual(try send("POST", widgets, good).status, 201)
    let bad = try send("POST", widgets, #"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"x"},"#
      + #""spec":{"sise":1,"parts":[{"name":"a","nmae":"b"}]}}"#)
    XCTAssertEqual(bad.status, 400)
    XCTAssertEqual(bad.json["message"] as? String, #"Widget in version "v1" cannot be handled as a Widget: strict decoding "#
      + #"error: unknown field "spec.sise", unknown field "spec.parts[0].nmae""#)
    let gadgets = server.url + "/apis/example.com/v1/namespaces/default/gadgets?fieldValidation=Strict"
    XCTAssertEqual(try send("POST", gadgets, #"{"apiVersion":"example.com/v1","kind":"Gadget","metadata":{"name":"g"},"#
      + #""spec":{"whatever":1},"top":true}"#).status, 201)
  }

  // MARK: With kubectl

  @discardableResult
  private func kubectl(_ arguments: String..., stdin: String? = nil, succeeds: Bool = true,
                       file: StaticString = #filePath, line: UInt = #line) throws -> String {
    let result = try server.kubectl(arguments, stdin: stdin)
    XCTAssertEqual(result.status == 0, succeeds, "kubectl \(arguments.joined(separator: " ")): \(result.output)",
                   file: file, line: line)
    return result.output
  }

  private static let deployment = """
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
    spec:
      replicas: 2
      selector:
        matchLabels: {app: web}
      template:
        metadata:
          labels: {app: web}
        spec:
          containers:
          - name: nginx
            image: nginx:1
    """

  func testKubectlServerSideApplyConflictForceAndManagedFieldsOutput() throws {
    XCTAssertEqual(try kubectl("apply", "-f", "-", stdin: Self.deployment), "deployment.apps/web created\n")
    let scaled = Self.deployment.replacingOccurrences(of: "replicas: 2", with: "replicas: 4")
    let refused = try kubectl("apply", "--server-side", "-f", "-", stdin: scaled, succeeds: false)
    XCTAssertTrue(refused.contains(#"error: Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas"#),
                  refused)
    XCTAssertTrue(refused.contains("--force-conflicts"), refused)
    XCTAssertEqual(try kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"), "2")

    XCTAssertEqual(try kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", stdin: scaled),
                   "deployment.apps/web serverside-applied\n")
    XCTAssertEqual(try kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"), "4")

    // kubectl hides managedFields unless asked.
    XCTAssertFalse(try kubectl("get", "deploy", "web", "-o", "yaml").contains("managedFields"))
    let shown = try kubectl("get", "deploy", "web", "-o", "yaml", "--show-managed-fields")
    XCTAssertTrue(shown.contains("managedFields:"), shown)
    XCTAssertTrue(shown.contains("manager: kubectl\n    operation: Apply"), shown)
    XCTAssertTrue(shown.contains("manager: kubectl-client-side-apply\n    operation: Update"), shown)

    // Other kubectl writes record their own managers.
    try kubectl("label", "deploy", "web", "tier=front")
    try kubectl("scale", "deploy", "web", "--replicas=5")
    let managers = try kubectl("get", "deploy", "web", "-o", "jsonpath={.metadata.managedFields[*].manager}",
                               "--show-managed-fields")
    XCTAssertTrue(Set(managers.split(separator: " ")).isSuperset(of: ["kubectl", "kubectl-client-side-apply", "kubectl-label"]),
                  managers)
    // kubectl scale names no manager: the User-Agent's "kubectl" owns replicas through the subresource.
    XCTAssertEqual(try kubectl("get", "deploy", "web", "-o",
                               #"jsonpath={.metadata.managedFields[?(@.subresource=="scale")].manager}"#,
                               "--show-managed-fields"), "kubectl")

    // A field the applier no longer lists, and nobody else owns, is removed.
    let labelled = scaled.replacingOccurrences(of: "  name: web\n", with: "  name: web\n  labels: {team: ml}\n")
    try kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", stdin: labelled)
    XCTAssertEqual(try kubectl("get", "deploy", "web", "-o", "jsonpath={.metadata.labels.team}"), "ml")
    try kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", stdin: scaled)
    XCTAssertEqual(try kubectl("get", "deploy", "web", "-o", "jsonpath={.metadata.labels}"), #"{"tier":"front"}"#)
  }

  func testKubectlValidationStrictWarnAndIgnore() throws {
    let typo = Self.deployment.replacingOccurrences(of: "  replicas: 2\n", with: "  replicas: 2\n  replica: 3\n")
      .replacingOccurrences(of: "image: nginx:1", with: "image: nginx:1\n        imagePullPolicyy: Always")
    let refused = try kubectl("create", "-f", "-", stdin: typo, succeeds: false)
    XCTAssertEqual(refused, #"Error from server (BadRequest): error when creating "STDIN": Deployment in version "v1" "#
      + #"cannot be handled as a Deployment: strict decoding error: unknown field "spec.replica", "#
      + #"unknown field "spec.template.spec.containers[0].imagePullPolicyy""# + "\n")
    XCTAssertTrue(try kubectl("get", "deploy").contains("No resources found"))

    let warned = try kubectl("create", "--validate=warn", "-f", "-", stdin: typo)
    XCTAssertEqual(warned, #"Warning: unknown field "spec.replica""# + "\n"
      + #"Warning: unknown field "spec.template.spec.containers[0].imagePullPolicyy""# + "\n"
      + "deployment.apps/web created\n")
    XCTAssertEqual(try kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"), "2")
    try kubectl("delete", "deploy", "web")

    XCTAssertEqual(try kubectl("create", "--validate=false", "-f", "-", stdin: typo), "deployment.apps/web created\n")
    XCTAssertFalse(try kubectl("get", "deploy", "web", "-o", "json").contains("imagePullPolicyy"))

    // The seed's manifests have no unknown fields: they apply under Strict, client- and server-side.
    let seed = Fixtures.repository.appendingPathComponent("examples/seed")
    for file in ["ml-deployment.yaml", "hpa.yaml"] {
      let path = seed.appendingPathComponent(file).path
      XCTAssertFalse(try kubectl("apply", "-f", path).contains("Warning"))
      XCTAssertFalse(try kubectl("apply", "--server-side", "--force-conflicts", "-f", path).contains("Warning"))
    }
  }
}
