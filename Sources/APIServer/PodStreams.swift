// pods/NAME/exec and pods/NAME/portforward (GET with a WebSocket upgrade; POST for SPDY clients):
// check the pod (and exec's container), find the pod's node as pods/log does, and pass the
// upgraded connection through to that node's agent at the kubelet's path (/exec/NS/POD/CONTAINER,
// /portForward/NS/POD) byte for byte. The agent answers the handshake and speaks the streaming
// protocol; the API server only copies.
import HTTP
import Kernel
import ObjectModel

extension APIServer {
  /// Request headers the agent needs to answer the upgrade itself.
  static let upgradeHeaders: Set<String> = [
    "upgrade", "sec-websocket-key", "sec-websocket-version", "sec-websocket-protocol", "x-stream-protocol-version",
  ]

  func podExec(_ request: HTTPRequest, _ target: ResourceRequest, _ responder: HTTPResponder) throws(APIError) {
    let (_, pod) = try current(target)
    let name = target.name ?? ""
    let container = try Self.logContainer(pod, requested: request.queryValue("container"))
    let phase = pod[path: ["status", "phase"]]?.stringValue ?? "Pending"
    if phase == "Succeeded" || phase == "Failed" {
      throw APIError.badRequest("cannot exec into a container in a completed pod; current phase is \(phase)")
    }
    guard phase == "Running" else {
      throw APIError.badRequest("unable to upgrade connection: pod \(name) is \(phase), not Running: container not found (\"\(container)\")")
    }
    let query = request.query.filter { $0.0 != "container" }.map { "\($0.0)=\(Self.percentEncoded($0.1))" }
    try relayUpgrade(request, of: pod, to: "/exec/\(target.namespace ?? "default")/\(name)/\(container)"
      + (query.isEmpty ? "" : "?" + query.joined(separator: "&")), responder)
  }

  func podPortForward(_ request: HTTPRequest, _ target: ResourceRequest, _ responder: HTTPResponder) throws(APIError) {
    let (_, pod) = try current(target)
    let name = target.name ?? ""
    let phase = pod[path: ["status", "phase"]]?.stringValue ?? "Pending"
    guard phase == "Running" else {
      throw APIError.badRequest("unable to forward port because pod is not running. Current status=\(phase)")
    }
    try relayUpgrade(request, of: pod, to: "/portForward/\(target.namespace ?? "default")/\(name)", responder)
  }

  private func relayUpgrade(_ request: HTTPRequest, of pod: JSON, to path: String, _ responder: HTTPResponder) throws(APIError) {
    guard request.headers["Upgrade"] != nil else {
      throw APIError.badRequest("this subresource needs a connection upgrade: Upgrade: websocket (or SPDY/3.1)")
    }
    let (host, port) = try nodeAgentEndpoint(of: pod)
    var head = "\(request.method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: Upgrade\r\n"
    for (field, value) in request.headers where Self.upgradeHeaders.contains(field.lowercased()) {
      head += "\(field): \(value)\r\n"
    }
    head += "\r\n"
    TCPConnection.connect(loop: loop, host: host, port: port) { [self] result in
      switch result {
      case .success(let agent):
        guard responder.isOpen else { return agent.close() }
        agent.write(Array(head.utf8))
        ConnectionSplice.join(responder.takeOverConnection(), agent)
      case .failure(let error):
        if responder.isOpen { fail(responder, APIError(503, "ServiceUnavailable", "cannot reach the node agent: \(error)")) }
      }
    }
  }
}
