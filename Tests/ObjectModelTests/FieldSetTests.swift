// Field sets in Kubernetes' FieldsV1 encoding: the sets of an applied configuration and of an
// update, set algebra, removal that keeps list items' keys, and the create fast path agreeing
// with the general comparison.
import XCTest

@testable import ObjectModel

final class FieldSetTests: XCTestCase {
  private let deployment = try! JSON.parse(#"""
    {"metadata":{"labels":{"app":"web"}},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},
     "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"nginx","image":"nginx:1",
     "args":["-v"],"ports":[{"containerPort":80},{"containerPort":53,"protocol":"UDP"}]}],
     "tolerations":[{"key":"gpu"}]}}}}
    """#)

  func testAppliedSetAsKubernetesEncodesIt() {
    let set = FieldLayout(kind: "Deployment").applied(deployment)
    XCTAssertEqual(set.fieldsV1.description, #"{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:replicas":{},"#
      + #""f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"#
      + #""k:{\"name\":\"nginx\"}":{".":{},"f:args":{},"f:image":{},"f:name":{},"f:ports":{"#
      + #""k:{\"containerPort\":53,\"protocol\":\"UDP\"}":{".":{},"f:containerPort":{},"f:protocol":{}},"#
      + #""k:{\"containerPort\":80,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{}}}}},"f:tolerations":{}}}}}"#)
    XCTAssertEqual(FieldSet(fieldsV1: set.fieldsV1), set, "FieldsV1 decodes to the set it encodes")
  }

  func testSetsOfPrimitivesUseValues() {
    let set = FieldLayout(kind: "ConfigMap").applied(try! JSON.parse(#"{"metadata":{"finalizers":["a/b","c"]}}"#))
    XCTAssertEqual(set.fieldsV1.description, #"{"f:metadata":{"f:finalizers":{"v:\"a/b\"":{},"v:\"c\"":{}}}}"#)
  }

  func testCreateFastPathAgreesWithComparison() throws {
    let layout = FieldLayout(kind: "Deployment")
    let zero = try JSON.parse(#"{"metadata":{},"spec":{"template":{"metadata":{},"spec":{"containers":[]}}}}"#)
    XCTAssertEqual(layout.createdFieldsV1(deployment, zeroValue: zero), layout.compare(zero, deployment).changed.fieldsV1)
    let custom = FieldLayout(kind: "Widget")
    let widget = try JSON.parse(#"{"metadata":{"labels":{"a":"b"}},"spec":{"list":[1,2],"nested":{"x":null}}}"#)
    let empty = try JSON.parse(#"{"metadata":{}}"#)
    XCTAssertEqual(custom.createdFieldsV1(widget, zeroValue: empty), custom.compare(empty, widget).changed.fieldsV1)
    XCTAssertEqual(custom.createdFieldsV1(widget, zeroValue: empty).description,
                   #"{"f:metadata":{"f:labels":{".":{},"f:a":{}}},"f:spec":{".":{},"f:list":{},"f:nested":{".":{},"f:x":{}}}}"#)
  }

  func testComparisonAndAlgebra() throws {
    let layout = FieldLayout(kind: "Deployment")
    var changed = deployment
    changed[path: ["spec", "replicas"]] = 3
    changed[path: ["metadata", "labels"]] = nil
    let comparison = layout.compare(deployment, changed)
    XCTAssertEqual(comparison.changed.fieldsV1.description, #"{"f:spec":{"f:replicas":{}}}"#)
    XCTAssertEqual(comparison.removed.fieldsV1.description, #"{"f:metadata":{"f:labels":{}}}"#)

    let owned = layout.applied(deployment)
    XCTAssertEqual(owned.subtracting(comparison.changed).members.count, owned.members.count - 1)
    XCTAssertNil(owned.removingSubtrees(comparison.removed).children["f:metadata"])
    XCTAssertEqual(owned.intersection(comparison.changed).members.map(FieldSet.describe), [".spec.replicas"])
    XCTAssertEqual(FieldSet.describe(["f:spec", #"k:{"containerPort":80,"protocol":"TCP"}"#, "f:name"]),
                   #".spec[containerPort=80,protocol="TCP"].name"#)
  }

  func testRemovalKeepsKeysWhileTheItemStays() throws {
    let layout = FieldLayout(kind: "Pod")
    let pod = try JSON.parse(#"{"spec":{"containers":[{"name":"a","image":"x","tty":true},{"name":"b","image":"y"}]}}"#)
    // Someone else still owns a's tty: a stays with its name; b, wholly dropped, goes.
    let dropped = FieldSet(fieldsV1: try JSON.parse(#"""
      {"f:spec":{"f:containers":{"k:{\"name\":\"a\"}":{".":{},"f:name":{},"f:image":{}},
                                 "k:{\"name\":\"b\"}":{".":{},"f:name":{},"f:image":{}}}}}
      """#))
    XCTAssertEqual(layout.removing(dropped, from: pod).description, #"{"spec":{"containers":[{"name":"a","tty":true}]}}"#)
  }
}
