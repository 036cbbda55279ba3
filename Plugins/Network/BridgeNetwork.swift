// Pod networking as CNI's bridge plugin does it: a Linux bridge holding the gateway address and,
// per pod, a veth pair whose inner end is the pod's eth0, addressed from an AddressPool.
import FoundationEssentials
import Glibc
import PluginKit
import SkiffABI
import SystemKit

struct BridgeConfig: Decodable {
  var bridge: String?
  var subnet: String?
  var stateDir: String?
}

/// attach and detach take the same request. `netns` null means the sandbox shares the host's
/// network (as the process runtime's do): it gets an address and nothing is plumbed.
struct SandboxRequest: Decodable {
  let sandboxId: String
  let netns: String?
  let namespace: String?
  let name: String?
}

struct AttachResult: Encodable {
  let ips: [String]
  let gateway: String
  let interface: String
  let prefixLength: Int
}

struct DetachResult: Encodable {
  let released: [String]
}

final class BridgeNetwork: @unchecked Sendable {
  let bridge: String
  let subnet: IPv4Subnet
  private let ip: Command
  private let nsenter: Command
  /// Serialises every attach and detach: the pool's state and the bridge's setup are shared.
  private let lock = Lock()
  private var pool: AddressPool

  static let podInterface = "eth0"

  init(config: BridgeConfig) throws(PluginFailure) {
    func invalid(_ message: String) -> PluginFailure {
      PluginFailure(SKIFF_INVALID, reason: "InvalidConfig", message)
    }
    guard let stateDir = config.stateDir, !stateDir.isEmpty else {
      throw invalid("config.stateDir is required: the folder where address allocations persist")
    }
    bridge = config.bridge ?? "skiff0"
    // Linux's limit (IFNAMSIZ less the NUL); "/" and spaces cannot appear in interface names.
    guard (1...15).contains(bridge.utf8.count), !bridge.contains("/"),
          !bridge.contains(where: \.isWhitespace), bridge != ".", bridge != ".."
    else {
      throw invalid("config.bridge \"\(bridge)\" is not an interface name "
                      + "(1-15 characters, no \"/\" or spaces)")
    }
    subnet = try IPv4Subnet(parsing: config.subnet ?? "10.88.0.0/16")
    guard let ip = Command("ip") else { throw invalid("`ip` not found: install iproute2") }
    guard let nsenter = Command("nsenter") else { throw invalid("`nsenter` not found: install util-linux") }
    self.ip = ip
    self.nsenter = nsenter
    do {
      pool = try AddressPool(subnet: subnet, directory: URL(fileURLWithPath: stateDir))
    } catch let failure as PluginFailure {
      throw failure
    } catch {
      throw invalid("config.stateDir \(stateDir) cannot be used: \(describeError(error))")
    }
  }

  static func from(_ pointer: UnsafeMutableRawPointer?) -> BridgeNetwork {
    Unmanaged<BridgeNetwork>.fromOpaque(pointer!).takeUnretainedValue()
  }

  /// Gives the sandbox its address (the same one again if it has one) and, given a netns, plugs
  /// an eth0 holding that address into the bridge.
  func attach(_ request: SandboxRequest) throws -> AttachResult {
    guard !request.sandboxId.isEmpty else {
      throw PluginFailure(SKIFF_INVALID, reason: "InvalidRequest", "request.sandboxId is empty")
    }
    if let netns = request.netns, access(netns, F_OK) != 0 {
      throw PluginFailure(SKIFF_NOT_FOUND, reason: "NetnsNotFound",
                           "network namespace \(netns) does not exist; create the sandbox first")
    }
    return try lock.withLock {
      let existing = pool.address(of: request.sandboxId)
      let address = try existing ?? pool.allocate(for: request.sandboxId)
      if let netns = request.netns {
        do {
          try plumb(request.sandboxId, address, into: netns)
        } catch {
          if existing == nil { _ = try? pool.release(request.sandboxId) }
          throw error
        }
      }
      if existing == nil {
        PluginHost.info("\(Self.describe(request)) has \(address) on \(request.netns ?? "the host network")")
      }
      return AttachResult(ips: [address.description], gateway: subnet.gateway.description,
                          interface: Self.podInterface, prefixLength: subnet.prefixLength)
    }
  }

  /// Unplugs the sandbox and frees its addresses. An unknown sandbox is already detached.
  func detach(_ request: SandboxRequest) throws -> DetachResult {
    try lock.withLock {
      let hostEnd = Self.hostInterface(for: request.sandboxId)
      // Deleting the host end deletes its peer, the pod's eth0, with it.
      if try linkExists(hostEnd) {
        try ip.check(["link", "del", hostEnd], tolerating: "Cannot find device")
      }
      let released = try pool.release(request.sandboxId).map(\.description)
      if !released.isEmpty {
        PluginHost.info("\(Self.describe(request)) released \(released.joined(separator: ", "))")
      }
      return DetachResult(released: released)
    }
  }

  // MARK: Plumbing

  private func plumb(_ sandbox: String, _ address: IPv4Address, into netns: String) throws {
    try ensureBridge()
    let hostEnd = Self.hostInterface(for: sandbox)
    // The host end exists only once a previous attach finished (a failed one removes it).
    if try linkExists(hostEnd) { return }
    try ip.check(["link", "add", hostEnd, "type", "veth", "peer", "name", Self.podInterface,
                  "netns", netns])
    do {
      let inPod = ["--net=\(netns)", ip.path]
      try nsenter.check(inPod + ["addr", "add", "\(address)/\(subnet.prefixLength)",
                                 "dev", Self.podInterface])
      try nsenter.check(inPod + ["link", "set", Self.podInterface, "up"])
      try nsenter.check(inPod + ["link", "set", "lo", "up"])
      try nsenter.check(inPod + ["route", "replace", "default", "via", "\(subnet.gateway)",
                                 "dev", Self.podInterface])
      try ip.check(["link", "set", hostEnd, "master", bridge, "up"])
    } catch {
      _ = try? ip.run(["link", "del", hostEnd])
      throw error
    }
  }

  /// Creates the bridge with the gateway address if need be. Checked on every attach, since
  /// anyone with root may have removed it since.
  private func ensureBridge() throws {
    if try !linkExists(bridge) {
      try ip.check(["link", "add", "name", bridge, "type", "bridge"], tolerating: "File exists")
    }
    try ip.check(["addr", "replace", "\(subnet.gateway)/\(subnet.prefixLength)", "dev", bridge])
    try ip.check(["link", "set", bridge, "up"])
  }

  private func linkExists(_ name: String) throws -> Bool {
    try ip.check(["link", "show", "dev", name], tolerating: "does not exist").status == 0
  }

  /// "default/web-0 (sandbox 1f2e…)" for the log, or just the sandbox when the pod is not named.
  private static func describe(_ request: SandboxRequest) -> String {
    guard let name = request.name else { return "sandbox \(request.sandboxId)" }
    return "\(request.namespace.map { "\($0)/" } ?? "")\(name) (sandbox \(request.sandboxId))"
  }

  /// A stable host-side name per sandbox, so detach finds the veth without keeping state:
  /// "veth" and 44 bits of an FNV-1a hash of the sandbox id, within the 15-character limit.
  static func hostInterface(for sandbox: String) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in sandbox.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    let hex = String(hash >> 20, radix: 16)
    return "veth" + String(repeating: "0", count: 11 - hex.count) + hex
  }
}
