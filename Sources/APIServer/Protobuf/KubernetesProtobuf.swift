// Request bodies in Kubernetes' protobuf encoding, which kubectl 1.32 and later sends for
// `create <kind>`, `autoscale` and `auth can-i`, read into the JSON the rest of the server speaks.
import ObjectModel

enum KubernetesProtobuf {
  /// "k8s" and a zero byte, before every protobuf body.
  static let magic: [UInt8] = [0x6B, 0x38, 0x73, 0x00]

  /// The object in `body` as JSON, with the apiVersion and kind its envelope names.
  static func decode(_ body: [UInt8]) throws(APIError) -> JSON {
    guard body.starts(with: magic) else {
      throw APIError.badRequest("the body of the request is not Kubernetes protobuf: it does not start with "
        + "the bytes \"k8s\\0\"")
    }
    let envelope: Envelope
    do {
      envelope = try Envelope(WireReader(body, from: magic.count))
    } catch {
      throw APIError.badRequest("the protobuf envelope of the request could not be read: \(error.message)")
    }
    guard envelope.contentEncoding.isEmpty else {
      throw APIError(415, "UnsupportedMediaType", "the protobuf body is \(envelope.contentEncoding)-encoded, "
        + "which Skiff does not read; send it unencoded or as JSON")
    }
    guard let message = ProtobufSchema.message(apiVersion: envelope.apiVersion, kind: envelope.kind) else {
      let what = envelope.kind.isEmpty ? "an object without a kind" : "\(envelope.kind) (\(envelope.apiVersion))"
      throw APIError(415, "UnsupportedMediaType", "Skiff cannot read \(what) as protobuf; send it as JSON "
        + "instead, for example from a manifest with kubectl create -f")
    }
    do {
      var object: JSONObject = ["apiVersion": .string(envelope.apiVersion), "kind": .string(envelope.kind)]
      for (key, value) in try MessageDecoder.object(message, envelope.raw) { object[key] = value }
      return .object(object)
    } catch {
      throw APIError.badRequest("the protobuf body of the \(envelope.kind) could not be read: \(error.message)")
    }
  }

  /// runtime.Unknown: `{TypeMeta typeMeta = 1; bytes raw = 2; string contentEncoding = 3;
  /// string contentType = 4}`, with TypeMeta `{string apiVersion = 1; string kind = 2}`.
  private struct Envelope {
    let apiVersion: String
    let kind: String
    let raw: WireReader
    let contentEncoding: String

    init(_ reader: WireReader) throws(ProtobufError) {
      var reader = reader
      let fields = try reader.fields()
      var typeMeta: [Int: WireValue] = [:]
      if case .bytes(var meta)? = fields[1] { typeMeta = try meta.fields() }
      apiVersion = typeMeta.string(1) ?? ""
      kind = typeMeta.string(2) ?? ""
      guard case .bytes(let raw)? = fields[2] else {
        throw ProtobufError(message: "it carries no object (field 2, raw, is missing)")
      }
      self.raw = raw
      contentEncoding = fields.string(3) ?? ""
    }
  }
}
