// The strategic-merge table against the tags in k8s.io/api that it transcribes.
import XCTest

@testable import ObjectModel

final class PatchSchemaTests: XCTestCase {
  func testPodTemplateFieldsInEveryWorkload() throws {
    let templates = [
      ("Pod", "spec"), ("PodTemplate", "template.spec"), ("Deployment", "spec.template.spec"),
      ("ReplicaSet", "spec.template.spec"), ("StatefulSet", "spec.template.spec"),
      ("DaemonSet", "spec.template.spec"), ("Job", "spec.template.spec"),
      ("ReplicationController", "spec.template.spec"),
      ("CronJob", "spec.jobTemplate.spec.template.spec"),
    ]
    let expected: [(String, PatchRule?)] = [
      ("containers", .merge(by: "name")), ("initContainers", .merge(by: "name")),
      ("ephemeralContainers", .merge(by: "name")), ("volumes", .mergeRetainingKeys(by: "name")),
      ("imagePullSecrets", .merge(by: "name")), ("hostAliases", .merge(by: "ip")),
      ("topologySpreadConstraints", .merge(by: "topologyKey")),
      ("schedulingGates", .merge(by: "name")), ("resourceClaims", .mergeRetainingKeys(by: "name")),
      ("containers.ports", .merge(by: "containerPort")), ("containers.env", .merge(by: "name")),
      ("initContainers.volumeMounts", .merge(by: "mountPath")),
      ("ephemeralContainers.volumeDevices", .merge(by: "devicePath")),
      ("tolerations", nil), ("readinessGates", nil), ("containers.args", nil),
      ("containers.resizePolicy", nil), ("containers.envFrom", nil),
    ]
    for (kind, prefix) in templates {
      let schema = try XCTUnwrap(PatchSchema.forKind(kind), kind)
      for (field, rule) in expected {
        XCTAssertEqual(schema.rule(at: "\(prefix).\(field)"), rule, "\(kind) \(prefix).\(field)")
      }
    }
  }

  func testMetadataEverywhere() throws {
    for kind in PatchSchema.kinds {
      let schema = try XCTUnwrap(PatchSchema.forKind(kind))
      XCTAssertEqual(schema.rule(at: "metadata.finalizers"), .mergePrimitives, kind)
      XCTAssertEqual(schema.rule(at: "metadata.ownerReferences"), .merge(by: "uid"), kind)
      XCTAssertNil(schema.rule(at: "metadata.labels"), kind)
    }
    XCTAssertEqual(
      PatchSchema.forKind("Deployment")?.rule(at: "spec.template.metadata.finalizers"),
      .mergePrimitives)
  }

  func testOtherTaggedFields() {
    let cases: [(String, String, PatchRule?)] = [
      ("Deployment", "spec.strategy", .retainKeys),
      ("Deployment", "status.conditions", .merge(by: "type")),
      ("Job", "status.conditions", .merge(by: "type")),
      ("Pod", "status.conditions", .merge(by: "type")),
      ("Pod", "status.podIPs", .merge(by: "ip")),
      ("Pod", "status.hostIPs", .merge(by: "ip")),
      ("Pod", "status.containerStatuses", nil),
      ("Service", "spec.ports", .merge(by: "port")),
      ("Node", "spec.podCIDRs", .mergePrimitives),
      ("Node", "spec.taints", nil),
      ("Node", "status.addresses", .merge(by: "type")),
      ("ServiceAccount", "secrets", .merge(by: "name")),
      ("Endpoints", "subsets", nil),
      ("StatefulSet", "spec.volumeClaimTemplates", nil),
    ]
    for (kind, path, rule) in cases {
      XCTAssertEqual(PatchSchema.forKind(kind)?.rule(at: path), rule, "\(kind) \(path)")
    }
  }

  func testUnknownKindsHaveNoSchema() {
    XCTAssertNil(PatchSchema.forKind("TrainingJob"))
    XCTAssertNil(PatchSchema.forKind("pod"))
    XCTAssertTrue(PatchSchema.kinds.contains("ConfigMap"))
  }
}
