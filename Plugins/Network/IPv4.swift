// IPv4 addresses and subnets: just the arithmetic address management needs.
import PluginKit
import SkiffABI

struct IPv4Address: Hashable, Comparable, CustomStringConvertible, Sendable {
  let value: UInt32

  init(_ value: UInt32) { self.value = value }

  /// Dotted quad only ("10.88.0.2"): no shorthand forms, no leading zeros that read as octal.
  init?(_ text: some StringProtocol) {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4 else { return nil }
    var value: UInt32 = 0
    for part in parts {
      guard (1...3).contains(part.count), part.allSatisfy(\.isASCII),
            part == "0" || !part.hasPrefix("0"), let octet = UInt8(part) else { return nil }
      value = value << 8 | UInt32(octet)
    }
    self.value = value
  }

  var description: String {
    [24, 16, 8, 0].map { String(value >> $0 & 0xff) }.joined(separator: ".")
  }

  static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.value < b.value }
}

/// A subnet such as 10.88.0.0/16. The first host address is the gateway; pods get the rest.
struct IPv4Subnet: CustomStringConvertible, Sendable {
  let network: IPv4Address
  let prefixLength: Int

  /// Parses "a.b.c.d/n". Refuses host bits and subnets too small to hold a gateway and a pod.
  init(parsing text: String) throws(PluginFailure) {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, let address = IPv4Address(parts[0]), let prefix = Int(parts[1]),
          (0...32).contains(prefix)
    else {
      throw PluginFailure(SKIFF_INVALID, reason: "InvalidConfig",
                           "config.subnet \"\(text)\" is not an IPv4 CIDR such as 10.88.0.0/16")
    }
    let mask: UInt32 = prefix == 0 ? 0 : ~0 << (32 - prefix)
    guard address.value & ~mask == 0 else {
      throw PluginFailure(SKIFF_INVALID, reason: "InvalidConfig",
                           "config.subnet \(text) has host bits set; did you mean "
                             + "\(IPv4Address(address.value & mask))/\(prefix)?")
    }
    guard (1...30).contains(prefix) else {
      throw PluginFailure(SKIFF_INVALID, reason: "InvalidConfig",
                           "config.subnet \(text) must have a prefix from /1 to /30, to leave room "
                             + "for a gateway and at least one pod")
    }
    network = address
    prefixLength = prefix
  }

  var broadcast: IPv4Address { IPv4Address(network.value | (UInt32.max >> prefixLength)) }
  var gateway: IPv4Address { IPv4Address(network.value + 1) }
  /// The addresses pods may have: all but the network, gateway and broadcast addresses.
  var podAddresses: ClosedRange<UInt32> { (gateway.value + 1)...(broadcast.value - 1) }

  var description: String { "\(network)/\(prefixLength)" }
}
