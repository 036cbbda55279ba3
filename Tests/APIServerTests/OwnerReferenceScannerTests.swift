// The owner index's scanner reads metadata.ownerReferences[*].uid as a full parse would, or says
// it cannot (so the index parses the object instead), on the shapes stored objects take.
@testable import APIServer
import ObjectModel
import XCTest

final class OwnerReferenceScannerTests: XCTestCase {
  /// What a full parse finds: the reference the scanner must match.
  private func parsedUIDs(_ document: String) throws -> [String] {
    let object = try JSON.parse(Array(document.utf8))
    return (object[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).compactMap { $0["uid"]?.stringValue }
  }

  private func scannedUIDs(_ document: String) -> [String]? {
    OwnerReferenceScanner.ownerUIDs(in: Array(document.utf8))
  }

  func testReadsTheUIDsOfAPodItsReplicaSetOwns() throws {
    let pod = #"""
      {"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-1","labels":{"app":"web","tier":"{not a brace}"},
      "annotations":{"note":"a \"quoted\" ] value, with: punctuation"},"ownerReferences":[
      {"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web","uid":"0b5e-1","controller":true,"blockOwnerDeletion":true},
      {"uid":"0b5e-2","kind":"Other","extra":[1,2.5e3,-3,null,false,{"uid":"nested, not an owner"}]}],
      "managedFields":[{"manager":"kubectl","fieldsV1":{"f:metadata":{"f:ownerReferences":{}}}}]},
      "spec":{"containers":[{"name":"c","image":"busybox","args":["sh","-c","echo }"]}]},"status":{}}
      """#
    XCTAssertEqual(scannedUIDs(pod), ["0b5e-1", "0b5e-2"])
    XCTAssertEqual(scannedUIDs(pod), try parsedUIDs(pod))
  }

  func testAgreesWithAFullParseWhereThereAreNoOwners() throws {
    for document in [
      #"{"metadata":{"name":"a"}}"#,
      #"{"metadata":{"ownerReferences":[]}}"#,
      #"{"metadata":{"ownerReferences":null}}"#,
      #"{"metadata":null,"spec":{"ownerReferences":[{"uid":"in spec, not metadata"}]}}"#,
      #"{"spec":{"metadata":{"ownerReferences":[{"uid":"deeper, not the object's"}]}}}"#,
      #"{"metadata":{"ownerReferences":[{"kind":"NoUID"},{"uid":42},"not an object"]}}"#,
      " { \"metadata\" : { \"ownerReferences\" : [ { \"uid\" : \"spaced\" } ] } , \"n\" : 1 } ",
      "{}",
    ] {
      XCTAssertEqual(scannedUIDs(document), try parsedUIDs(document), document)
    }
  }

  func testGivesUpOnEscapesItWouldHaveToDecodeAndOnTruncatedDocuments() {
    XCTAssertNil(scannedUIDs(#"{"metadata":{"ownerReferences":[{"uid":"a\u0062c"}]}}"#))
    XCTAssertNil(scannedUIDs(#"{"meta\u0064ata":{"ownerReferences":[{"uid":"x"}]}}"#))
    let whole = #"{"metadata":{"ownerReferences":[{"uid":"x"}],"labels":{"a":"b"}},"spec":{"n":[1,{"s":"\"}"}]}}"#
    XCTAssertEqual(scannedUIDs(whole), ["x"])
    for end in 0..<whole.utf8.count {
      // Never reads past the end, whatever it returns for a prefix.
      _ = OwnerReferenceScanner.ownerUIDs(in: Array(whole.utf8.prefix(end)))
    }
    XCTAssertNil(scannedUIDs(#"{"metadata":{"ownerReferences":[{"uid":"x"}"#))
  }
}
