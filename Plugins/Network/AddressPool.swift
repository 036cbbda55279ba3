// Pod addresses the way CNI's host-local IPAM keeps them: one file per allocated address, named
// by the address and holding the sandbox id, so that a restarted plugin keeps every allocation.
import FoundationEssentials
import Glibc
import PluginKit
import SkiffABI
import SystemKit

/// Not thread-safe: BridgeNetwork serialises every use.
struct AddressPool {
  let subnet: IPv4Subnet
  let directory: URL
  private var owners: [IPv4Address: String] = [:]
  /// Where the next search starts, so a released address is not handed out again at once.
  private var lastAllocated: IPv4Address?

  private static let lastAllocatedFile = "last_reserved_ip"

  /// Reads the allocations already under `directory`, creating it if need be.
  init(subnet: IPv4Subnet, directory: URL) throws {
    self.subnet = subnet
    self.directory = directory
    let files = FileManager.default
    try files.createDirectory(at: directory, withIntermediateDirectories: true)
    for name in try files.contentsOfDirectory(atPath: directory.path) {
      // Files outside the subnet belong to an earlier configuration: kept on disk, not honoured.
      guard let address = IPv4Address(name), subnet.podAddresses.contains(address.value) else {
        continue
      }
      let owner = (try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8))
      // An unreadable record still reserves its address: better unused than handed out twice.
      owners[address] = owner?.trimmingWhitespace() ?? ""
    }
    let last = try? String(contentsOf: directory.appendingPathComponent(Self.lastAllocatedFile),
                           encoding: .utf8)
    lastAllocated = last.flatMap { IPv4Address($0.trimmingWhitespace()) }
  }

  func address(of sandbox: String) -> IPv4Address? {
    owners.first { $0.value == sandbox }?.key
  }

  /// The next free address after the last one handed out, wrapping at the end of the subnet.
  mutating func allocate(for sandbox: String) throws -> IPv4Address {
    let range = subnet.podAddresses
    let start = lastAllocated.map(\.value).flatMap { range.contains($0) ? $0 : nil }
      ?? range.upperBound
    var candidate = start
    repeat {
      candidate = candidate == range.upperBound ? range.lowerBound : candidate + 1
      let address = IPv4Address(candidate)
      if owners[address] == nil, try reserve(address, for: sandbox) {
        owners[address] = sandbox
        lastAllocated = address
        // Only where the next search starts: losing it would cost nothing, so neither does failing.
        try? Data(address.description.utf8)
          .write(to: directory.appendingPathComponent(Self.lastAllocatedFile), options: .atomic)
        return address
      }
    } while candidate != start
    throw PluginFailure(reason: "AddressesExhausted",
                         "subnet \(subnet) has no free pod address (\(owners.count) in use); "
                           + "detach unused sandboxes or configure a larger subnet")
  }

  /// Frees the sandbox's addresses; none is fine.
  mutating func release(_ sandbox: String) throws -> [IPv4Address] {
    let held = owners.filter { $0.value == sandbox }.keys.sorted()
    for address in held {
      let file = directory.appendingPathComponent(address.description)
      if unlink(file.path) != 0 && errno != ENOENT {
        throw stateError("cannot remove \(file.path)", errno)
      }
      owners[address] = nil
    }
    return held
  }

  /// Writes the address's file atomically and exclusively: the record is written and synced under
  /// a temporary name, then hard-linked into place, which fails if another process got there first.
  private func reserve(_ address: IPv4Address, for sandbox: String) throws -> Bool {
    let file = directory.appendingPathComponent(address.description).path
    let temporary = directory.appendingPathComponent(".\(address).\(getpid()).tmp").path
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw stateError("cannot create \(temporary)", errno) }
    defer { unlink(temporary) }
    let bytes = Array(sandbox.utf8)
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    var failure: Int32 = 0
    if written != bytes.count { failure = written < 0 ? errno : EIO } else if fsync(fd) != 0 { failure = errno }
    close(fd)
    guard failure == 0 else { throw stateError("cannot write \(temporary)", failure) }
    if link(temporary, file) == 0 { return true }
    if errno == EEXIST { return false }
    throw stateError("cannot create \(file)", errno)
  }

  private func stateError(_ what: String, _ code: Int32) -> PluginFailure {
    PluginFailure(reason: "StateWriteFailed",
                   "\(what): \(String(cString: strerror(code))); check config.stateDir")
  }
}
