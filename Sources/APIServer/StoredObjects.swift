// Objects as the store keeps them and as clients see them: stored JSON carries no
// resourceVersion (the store's modRevision is the truth), which is set on every read.
import Foundation
import ObjectModel
import Store

extension JSON {
  var name: String { self[path: ["metadata", "name"]]?.stringValue ?? "" }
  var namespace: String? { self[path: ["metadata", "namespace"]]?.stringValue }
  var labels: JSONObject? { self[path: ["metadata", "labels"]]?.objectValue }
  var uid: String? { self[path: ["metadata", "uid"]]?.stringValue }
  var finalizers: [String] { (self[path: ["metadata", "finalizers"]]?.arrayValue ?? []).compactMap(\.stringValue) }
  var isTerminating: Bool { self[path: ["metadata", "deletionTimestamp"]] != nil }
}

enum StoredObject {
  /// The object a client sees: the stored document with its resourceVersion.
  static func decode(_ kv: KeyValue) -> JSON {
    guard var object = try? JSON.parse(kv.value) else {
      return ["kind": "Status", "status": "Failure", "message": .string("corrupt object at \(kv.key)")]
    }
    object[path: ["metadata", "resourceVersion"]] = .string(String(kv.modRevision))
    return object
  }

  /// The bytes the store keeps.
  static func encode(_ object: JSON) -> [UInt8] {
    var object = object
    object[path: ["metadata", "resourceVersion"]] = nil
    return object.serialized()
  }

  /// Random lowercase letters and digits, as generateName and uids need.
  static func randomSuffix(_ count: Int = 5) -> String {
    let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
    return String((0..<count).map { _ in alphabet.randomElement()! })
  }

  static func newUID() -> String { UUID().uuidString.lowercased() }
}

/// `continue` tokens: the last key a page returned, base64 in JSON as Kubernetes' own are.
enum ContinueToken {
  static func make(after key: String, revision: Int64) -> String {
    let json: JSON = ["v": "meta.k8s.io/v1", "rv": .int(revision), "start": .string(key)]
    return Data(json.serialized()).base64EncodedString()
  }

  static func parse(_ token: String) throws(APIError) -> String {
    guard let data = Data(base64Encoded: token), let json = try? JSON.parse(Array(data)),
          let start = json["start"]?.stringValue else {
      throw APIError.badRequest("invalid continue token")
    }
    return start
  }
}
