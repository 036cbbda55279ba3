// `skiff explain pod NAME`: why a pod is pending, or why it went where it went — per scheduler
// plugin, how many nodes it rejected and why, and for a scheduled pod the best nodes' scores.
import ArgumentParser
import FoundationEssentials
import Glibc
import HTTP
import ObjectModel

struct Explain: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Explain the scheduler's last decision about a pod.")

  @Argument(help: "What to explain: pod.")
  var kind: String

  @Argument(help: "The pod's name.")
  var name: String

  @Option(name: [.short, .long], help: "The pod's namespace.")
  var namespace: String = "default"

  @Option(help: "The API server, e.g. http://127.0.0.1:6443 (default: the kubeconfig's).")
  var server: String?

  @Option(help: "The kubeconfig to read the server from.")
  var kubeconfig: String = ProcessInfo.processInfo.environment["KUBECONFIG"] ?? "skiff-data/kubeconfig"

  func run() throws {
    guard ["pod", "pods", "po"].contains(kind) else { fail("only pods can be explained, not \(kind)") }
    let address: ServerAddress
    do {
      // Spelled out: `server.map { try ServerAddress($0) } ?? ...` crashes the 6.3 optimizer
      // (a typed throw through Optional.map, "swifterror value can only be loaded and stored").
      if let server {
        address = try ServerAddress(server)
      } else {
        address = try ServerAddress.fromKubeconfig(kubeconfig)
      }
    } catch {
      fail("cannot find the API server: \(error)")
    }
    let response: BlockingHTTPConnection.Response
    do {
      response = try address.connect().request("GET", "/debug/scheduler/namespaces/\(namespace)/pods/\(name)")
    } catch {
      fail("cannot reach \(address.host):\(address.port): \(error)")
    }
    guard response.status == 200,
          let json = (try? JSON.parse(response.body))?.untyped as? [String: Any] else {
      let message = ((try? JSON.parse(response.body))?.untyped as? [String: Any])?["message"]
      fail(message as? String ?? "the server answered \(response.status)")
    }
    print(Self.render(json, pod: "\(namespace)/\(name)"))
  }

  static func render(_ json: [String: Any], pod: String) -> String {
    let nodes = json["nodes"] as? Int ?? 0
    let rejected = json["rejected"] as? [String: [String: Int]] ?? [:]
    var lines: [String] = []
    if let chosen = json["chosen"] as? String {
      lines.append("pod \(pod): scheduled to \(chosen)")
    } else {
      lines.append("pod \(pod): pending; 0/\(nodes) nodes are available")
    }
    for (plugin, reasons) in rejected.sorted(by: { $0.key < $1.key }) {
      let count = reasons.values.reduce(0, +)
      lines.append("  \(plugin) rejected \(count) node\(count == 1 ? "" : "s"):")
      for (reason, n) in reasons.sorted(by: { $0.value > $1.value }) { lines.append("    \(n) \(reason)") }
    }
    let top = json["top"] as? [[String: Any]] ?? []
    if !top.isEmpty {
      let plugins = Set(top.flatMap { ($0["scores"] as? [String: Int] ?? [:]).keys }).sorted()
      lines.append("  best nodes (weighted total, then each plugin's normalized score):")
      lines.append("    " + (["NODE", "TOTAL"] + plugins).joined(separator: "  "))
      for entry in top {
        let scores = entry["scores"] as? [String: Int] ?? [:]
        lines.append("    " + ([entry["node"] as? String ?? "?", "\(entry["total"] as? Int ?? 0)"]
          + plugins.map { "\(scores[$0] ?? 0)" }).joined(separator: "  "))
      }
    }
    return lines.joined(separator: "\n")
  }
}

extension JSON {
  /// As Swift values ([String: Any], [Any], String, Int, Double, Bool) for render's casts.
  fileprivate var untyped: Any {
    switch self {
    case .null: return Optional<Any>.none as Any
    case .bool(let value): return value
    case .int(let value): return Int(value)
    case .double(let value): return value
    case .string(let value): return value
    case .array(let values): return values.map(\.untyped)
    case .object(let members): return Dictionary(members.map { ($0.key, $0.value.untyped) }) { first, _ in first }
    }
  }
}
