// Service addresses. Cluster IPs from 10.96.0.0/12, as kube-apiserver's default service range; the first
// address (10.96.0.1) is the `kubernetes` service's.
import ObjectModel
import Store

struct ClusterIPAllocator {
  private var taken: Set<UInt32> = []
  private var next: UInt32 = 2
  private static let base: UInt32 = (10 << 24) | (96 << 16)
  private static let size: UInt32 = 1 << 20

  /// Marks the addresses existing Services hold.
  mutating func load(from store: KeyValueStore) {
    for kv in store.list(prefix: "/registry/core/services/", limit: 0).items {
      let service = StoredObject.decode(kv)
      if let ip = service[path: ["spec", "clusterIP"]]?.stringValue, let value = Self.parse(ip) { taken.insert(value) }
    }
  }

  /// Fills spec.clusterIP(s) unless the Service asks for none ("None": headless) or names its own;
  /// an address another Service holds is refused, as Kubernetes does.
  mutating func assign(_ service: inout JSON) -> APIError.Cause? {
    if service[path: ["spec", "type"]]?.stringValue == "ExternalName" { return nil }
    if let requested = service[path: ["spec", "clusterIP"]]?.stringValue, !requested.isEmpty {
      if let value = Self.parse(requested), !taken.insert(value).inserted {
        return APIError.Cause(reason: "FieldValueInvalid", field: "spec.clusterIPs",
                              message: "Invalid value: []string{\"\(requested)\"}: failed to allocate IP \(requested): provided IP is already allocated")
      }
      service[path: ["spec", "clusterIPs"]] = [.string(requested)]
      return nil
    }
    for _ in 0..<Self.size {
      let candidate = Self.base + next
      next = next + 1 >= Self.size - 1 ? 2 : next + 1
      if taken.insert(candidate).inserted {
        let ip = Self.format(candidate)
        service[path: ["spec", "clusterIP"]] = .string(ip)
        service[path: ["spec", "clusterIPs"]] = [.string(ip)]
        return nil
      }
    }
    return nil
  }

  /// A deleted Service's addresses may be handed out again.
  mutating func release(_ service: JSON) {
    for ip in service[path: ["spec", "clusterIPs"]]?.arrayValue ?? [] {
      if let text = ip.stringValue, let value = Self.parse(text) { taken.remove(value) }
    }
  }

  private static func parse(_ text: String) -> UInt32? {
    let parts = text.split(separator: ".").compactMap { UInt32($0) }
    guard parts.count == 4, parts.allSatisfy({ $0 < 256 }) else { return nil }
    return parts.reduce(0) { $0 << 8 | $1 }
  }

  private static func format(_ value: UInt32) -> String {
    [24, 16, 8, 0].map { String((value >> UInt32($0)) & 255) }.joined(separator: ".")
  }
}

/// Node ports from 30000–32767 for NodePort and LoadBalancer Services, as kube-apiserver's default.
struct NodePortAllocator {
  private var taken: Set<Int64> = []
  private var next: Int64 = 30000
  static let range: ClosedRange<Int64> = 30000...32767

  mutating func load(from store: KeyValueStore) {
    for kv in store.list(prefix: "/registry/core/services/", limit: 0).items {
      for port in StoredObject.decode(kv)[path: ["spec", "ports"]]?.arrayValue ?? [] {
        if let nodePort = port["nodePort"]?.intValue { taken.insert(nodePort) }
      }
    }
  }

  /// Gives each port of a NodePort or LoadBalancer Service a node port unless it names one; a port
  /// another Service holds is refused.
  mutating func assign(_ service: inout JSON) -> APIError.Cause? {
    let type = service[path: ["spec", "type"]]?.stringValue
    guard type == "NodePort" || type == "LoadBalancer",
          var ports = service[path: ["spec", "ports"]]?.arrayValue else { return nil }
    var added: [Int64] = []
    for i in ports.indices {
      if let requested = ports[i]["nodePort"]?.intValue {
        guard taken.insert(requested).inserted else {
          for port in added { taken.remove(port) }
          return APIError.Cause(reason: "FieldValueInvalid", field: "spec.ports[\(i)].nodePort",
                                message: "Invalid value: \(requested): provided port is already allocated")
        }
        added.append(requested)
        continue
      }
      for _ in Self.range {
        let candidate = next
        next = next == Self.range.upperBound ? Self.range.lowerBound : next + 1
        if taken.insert(candidate).inserted {
          ports[i]["nodePort"] = .int(candidate)
          added.append(candidate)
          break
        }
      }
    }
    service[path: ["spec", "ports"]] = .array(ports)
    return nil
  }

  mutating func release(_ service: JSON) {
    for port in service[path: ["spec", "ports"]]?.arrayValue ?? [] {
      if let nodePort = port["nodePort"]?.intValue { taken.remove(nodePort) }
    }
  }
}
