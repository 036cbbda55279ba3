// The messages Skiff can read from protobuf bodies, as data: for each message, its fields by
// number with their JSON names and types, transcribed from Kubernetes' generated.proto files.

/// What a field holds, and so how its bytes turn into JSON.
enum ProtobufType: Sendable {
  case string, int32, int64, bool
  /// Base64 in JSON, as Go's encoding/json writes a []byte.
  case bytes
  /// resource.Quantity, `{string string = 1}` on the wire, "500m" in JSON.
  case quantity
  /// intstr.IntOrString, `{type, intVal, strVal}` on the wire, 80 or "http" in JSON.
  case intOrString
  /// metav1.Time, `{seconds, nanos}` on the wire, RFC 3339 to the second in JSON.
  case time
  /// metav1.FieldsV1, `{bytes Raw = 1}` on the wire holding the JSON itself.
  case fieldsV1
  /// Another message in the table; a name without dots is in the referring message's package.
  case message(String)
}

/// One field of a message: its JSON name, its type, and when JSON shows it.
struct ProtobufField: Sendable {
  enum Shape: Sendable {
    /// `keepsZero` for Go pointers and fields without `omitempty`, where a zero is a value the
    /// sender chose. Otherwise a zero is dropped: Kubernetes' Go clients put every non-pointer
    /// field on the wire, and its JSON leaves their zeros out.
    case single(keepsZero: Bool)
    case repeated
    /// `map<string, T>`: repeated entries `{key = 1, value = 2}` on the wire.
    case map
    /// An embedded Go struct (`json:",inline"`): its fields appear in this message's object.
    case inline
  }

  let name: String
  let type: ProtobufType
  let shape: Shape

  /// A singular field whose zero value is left out, as Go's `omitempty` does; a message is
  /// shown whenever it was sent, even empty (`"strategy": {}`), as Go shows a struct.
  static func field(_ name: String, _ type: ProtobufType) -> ProtobufField {
    ProtobufField(name: name, type: type, shape: .single(keepsZero: false))
  }

  /// A singular field shown whenever it was sent, zero or not (`replicas: 0`).
  static func pointer(_ name: String, _ type: ProtobufType) -> ProtobufField {
    ProtobufField(name: name, type: type, shape: .single(keepsZero: true))
  }

  static func list(_ name: String, _ type: ProtobufType) -> ProtobufField {
    ProtobufField(name: name, type: type, shape: .repeated)
  }

  static func map(_ name: String, _ type: ProtobufType) -> ProtobufField {
    ProtobufField(name: name, type: type, shape: .map)
  }

  static func inline(_ message: String) -> ProtobufField {
    ProtobufField(name: "", type: .message(message), shape: .inline)
  }

  /// Every object's `metadata`.
  static let metadata = field("metadata", .message("meta.v1.ObjectMeta"))
}

struct ProtobufMessage: Sendable {
  /// "<group>.<version>.<Kind>", e.g. "apps.v1.DeploymentSpec"; the core group is "core".
  let name: String
  /// In declaration order, which is the Go struct's order and so the order JSON shows them in.
  let fields: [(number: Int, field: ProtobufField)]
  private let indexByNumber: [Int: Int]

  init(_ name: String, _ fields: KeyValuePairs<Int, ProtobufField>) {
    let package = name[..<(name.lastIndex(of: ".") ?? name.startIndex)]
    self.name = name
    self.fields = fields.map { number, field in
      guard case .message(let type) = field.type, !type.contains(".") else { return (number, field) }
      return (number, ProtobufField(name: field.name, type: .message("\(package).\(type)"), shape: field.shape))
    }
    self.indexByNumber = Dictionary(self.fields.enumerated().map { ($1.number, $0) }) { first, _ in first }
  }

  /// Where field `number` is in `fields`; nil for a field this table does not know.
  func index(of number: Int) -> Int? { indexByNumber[number] }
}

enum ProtobufSchema {
  static let messages: [String: ProtobufMessage] = Dictionary(
    uniqueKeysWithValues: (meta + core + volumes + workloads + autoscaling + access + cluster).map { ($0.name, $0) })

  /// The message for a top-level object, from the envelope's apiVersion and kind: "apps/v1"
  /// Deployment is "apps.v1.Deployment", "rbac.authorization.k8s.io/v1" Role is "rbac.v1.Role"
  /// (proto packages use the group's first label), "v1" Namespace is "core.v1.Namespace".
  static func message(apiVersion: String, kind: String) -> ProtobufMessage? {
    let parts = apiVersion.split(separator: "/")
    let (group, version) = parts.count == 2 ? (parts[0], parts[1]) : ("core", parts.first ?? "")
    let package = group.split(separator: ".").first ?? group
    return messages["\(package).\(version).\(kind)"]
  }

  static func message(_ name: String, _ fields: KeyValuePairs<Int, ProtobufField>) -> ProtobufMessage {
    ProtobufMessage(name, fields)
  }
}
