// Objects as the store keeps them and as clients see them: stored JSON carries no
// resourceVersion (the store's modRevision is the truth), which is set on every read.
import FoundationEssentials
import Glibc
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

  /// A stored object without its field ownership (no resourceVersion), for readers that never
  /// look at managedFields.
  static func decodeWithoutFieldOwnership(_ kv: KeyValue) -> JSON {
    (try? JSON.parse(kv.value, omitting: [("metadata", "managedFields")])) ?? [:]
  }

  /// Enough of a stored object for label and field selectors: all but its field ownership, and
  /// for a pod all but the lists no selector can read (a field selector reads scalars; a path
  /// never leads into a list), which are most of its bytes.
  static func decodeForSelection(_ kv: KeyValue, of type: ResourceType) -> JSON {
    guard type.kind == "Pod", type.group.isEmpty else { return decodeWithoutFieldOwnership(kv) }
    return (try? JSON.parse(kv.value, omitting: unselectableOfPods)) ?? [:]
  }
  static let unselectableOfPods = [("metadata", "managedFields"), ("spec", "containers"), ("spec", "initContainers"),
                                   ("spec", "volumes"), ("spec", "tolerations"), ("status", "conditions"),
                                   ("status", "containerStatuses")]

  /// The stored bytes with the resourceVersion spliced into metadata: what `decode` gives,
  /// printed, without parsing and printing. nil for bytes that hold no metadata object.
  static func withVersion(_ kv: KeyValue) -> [UInt8]? {
    JSON.splicing("resourceVersion", .string(String(kv.modRevision)), into: "metadata", of: kv.value)
  }

  /// What a client sees of `object` once stored at `revision`: the same as decoding what
  /// `encode(object)` stored, without parsing those bytes back.
  static func stored(_ object: JSON, revision: Int64) -> JSON {
    var object = object
    object[path: ["metadata", "resourceVersion"]] = .string(String(revision))
    return object
  }

  /// False when the stored object certainly has no deletionTimestamp: the serializer writes keys
  /// verbatim, so bytes without that key cannot hold it. Spares parsing a namespace on every create
  /// in it; true only means the object must be parsed to know.
  static func mayBeTerminating(_ kv: KeyValue) -> Bool {
    let key = Array(#""deletionTimestamp""#.utf8)
    let bytes = kv.value
    guard bytes.count >= key.count else { return false }
    for start in 0...(bytes.count - key.count) where bytes[start] == key[0] {
      if bytes[start..<(start + key.count)].elementsEqual(key) { return true }
    }
    return false
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

  /// A random (version 4) UUID in lowercase. Not Foundation's `UUID()`: on Linux it opens, reads
  /// and closes /dev/urandom on every call, three system calls on every create.
  static func newUID() -> String {
    var bytes = [UInt8](repeating: 0, count: 16)
    // All sixteen bytes at once (glibc's arc4random_buf): the generator asks getrandom for eight
    // at a time, two system calls on every create.
    bytes.withUnsafeMutableBytes { arc4random_buf($0.baseAddress!, 16) }
    bytes[6] = bytes[6] & 0x0f | 0x40  // version 4
    bytes[8] = bytes[8] & 0x3f | 0x80  // the RFC 4122 variant
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(36)
    for (index, byte) in bytes.enumerated() {
      if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
      text.append(digits[Int(byte >> 4)])
      text.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: text, as: UTF8.self)
  }
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
