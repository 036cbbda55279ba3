// GET pods/NAME/log: finds the pod's node, and relays what that node's agent serves at
// /containerLogs (the kubelet's endpoint, at the Node's InternalIP and kubeletEndpoint port).
// The relay reads on a thread of its own; the loop only writes what arrives.
import HTTP
import Kernel
import ObjectModel
import SystemKit

extension APIServer {
  func podLog(_ request: HTTPRequest, _ target: ResourceRequest, _ responder: HTTPResponder) throws(APIError) {
    let (_, pod) = try current(target)
    let name = target.name ?? ""
    let container = try Self.logContainer(pod, requested: request.queryValue("container"))
    let (address, port) = try nodeAgentEndpoint(of: pod)
    let passed = ["follow", "tailLines", "previous", "timestamps", "limitBytes", "sinceSeconds", "sinceTime"]
    let query = request.query.filter { passed.contains($0.0) }.map { "\($0.0)=\(Self.percentEncoded($0.1))" }
    let path = "/containerLogs/\(target.namespace ?? "default")/\(name)/\(container)"
      + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
    relayLog(from: address, port: port, path: path, to: responder)
  }

  /// Where the agent of the pod's node serves the kubelet's endpoints: the Node's InternalIP and
  /// kubeletEndpoint port.
  func nodeAgentEndpoint(of pod: JSON) throws(APIError) -> (host: String, port: Int) {
    let name = pod[path: ["metadata", "name"]]?.stringValue ?? ""
    guard let nodeName = pod[path: ["spec", "nodeName"]]?.stringValue, !nodeName.isEmpty else {
      throw APIError.badRequest("pod \(name) does not have a host assigned")
    }
    guard let nodes = catalog.lookup(group: "", version: "v1", resource: "nodes"),
          let kv = store.get(nodes.key(namespace: nil, name: nodeName)) else {
      throw APIError(404, "NotFound", "node \"\(nodeName)\" of pod \(name) not found: no agent serves it")
    }
    let node = StoredObject.decode(kv)
    let address = (node[path: ["status", "addresses"]]?.arrayValue ?? [])
      .first { $0["type"]?.stringValue == "InternalIP" }?["address"]?.stringValue
    guard let address, let port = node[path: ["status", "daemonEndpoints", "kubeletEndpoint", "Port"]]?.intValue, port > 0 else {
      throw APIError.badRequest("node \(nodeName) reports no InternalIP and kubelet port: is its node agent running?")
    }
    return (address, Int(port))
  }

  /// The container a log request means: the one asked for, the pod's default-container
  /// annotation, or its only container.
  static func logContainer(_ pod: JSON, requested: String?) throws(APIError) -> String {
    let name = pod[path: ["metadata", "name"]]?.stringValue ?? ""
    let containers = (pod[path: ["spec", "containers"]]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
    let initContainers = (pod[path: ["spec", "initContainers"]]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
    if let requested, !requested.isEmpty {
      guard containers.contains(requested) || initContainers.contains(requested) else {
        throw APIError.badRequest("container \(requested) is not valid for pod \(name)")
      }
      return requested
    }
    if let chosen = pod[path: ["metadata", "annotations", "kubectl.kubernetes.io/default-container"]]?.stringValue,
       containers.contains(chosen) {
      return chosen
    }
    guard containers.count == 1 else {
      throw APIError.badRequest("a container name must be specified for pod \(name), choose one of: [\(containers.joined(separator: " "))]"
        + (initContainers.isEmpty ? "" : " or one of the init containers: [\(initContainers.joined(separator: " "))]"))
    }
    return containers[0]
  }

  /// Streams the agent's answer through: its status, then its body chunk by chunk, until it ends
  /// or the client leaves (which ends the agent connection too).
  private func relayLog(from host: String, port: Int, path: String, to responder: HTTPResponder) {
    let loop = self.loop
    nonisolated(unsafe) var upstream: BlockingHTTPConnection?
    responder.onClose { upstream?.shutdown() }
    startThread {
      do throws(ConnectionError) {
        let connection = try BlockingHTTPConnection(host: host, port: port, receiveTimeoutSeconds: 3600)
        loop.execute { if responder.isOpen { upstream = connection } else { connection.shutdown() } }
        try connection.send("GET", path)
        let head = try connection.readHead()
        let contentType = head.headers.first { $0.name == "content-type" }?.value ?? "text/plain"
        guard head.status == 200 else {
          let body = head.contentLength != nil || head.chunked ? (try? Self.rest(connection, head)) ?? [] : []
          return loop.execute {
            responder.respond(status: head.status, headers: [("Content-Type", contentType)], body: body)
          }
        }
        loop.execute { responder.beginStream(status: 200, headers: [("Content-Type", contentType)]) }
        if let length = head.contentLength {
          let body = try connection.readResponseBody(length: length)
          loop.execute { responder.write(chunk: body) }
        } else {
          while case let chunk = try connection.readChunk(), !chunk.isEmpty {
            loop.execute { responder.write(chunk: chunk) }
          }
        }
        loop.execute { if responder.isOpen { responder.end() } }
      } catch {
        let message = "cannot reach the node agent at \(host):\(port): \(error)"
        loop.execute {
          guard responder.isOpen else { return }
          if responder.isStreaming { responder.end() } else {
            self.fail(responder, APIError(502, "ServiceUnavailable", message))
          }
        }
      }
    }
  }

  private static func rest(_ connection: BlockingHTTPConnection, _ head: (status: Int, contentLength: Int?, chunked: Bool,
                                                                      headers: [(name: String, value: String)])) throws -> [UInt8] {
    if let length = head.contentLength { return try connection.readResponseBody(length: length) }
    var body: [UInt8] = []
    while case let chunk = try connection.readChunk(), !chunk.isEmpty { body += chunk }
    return body
  }

  static func percentEncoded(_ value: String) -> String {
    var output = ""
    for byte in value.utf8 {
      let char = Character(Unicode.Scalar(byte))
      if char.isLetter || char.isNumber || "-._~".contains(char) { output.append(char) } else {
        output += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 15, radix: 16, uppercase: true)
      }
    }
    return output
  }
}
