// Which cgroup interface this host speaks, found once: v1 (a hierarchy per controller, as on
// these Debian machines) or v2 (the unified hierarchy most users' machines mount at
// /sys/fs/cgroup), and the v2 control files that a container's limits become.
import FoundationEssentials
import Glibc

enum CgroupHierarchy: Sendable, Equatable {
  /// v1: where each controller's hierarchy is mounted.
  case v1([ContainerCgroups.Controller: String])
  /// v2: the unified hierarchy's root, and which of our controllers it offers.
  case v2(root: String, controllers: Set<ContainerCgroups.Controller>)

  /// The hierarchy containers' cgroups go in. The host's, unless the profile's `cgroupRoot` names
  /// another (a node agent that sees the host's cgroups mounted elsewhere). The cgroup mount is
  /// a fact of the machine, so one value serves every runtime in the process.
  nonisolated(unsafe) static var active: CgroupHierarchy = host

  /// v2 when /sys/fs/cgroup is the unified hierarchy (it has cgroup.controllers), else v1.
  static let host: CgroupHierarchy = {
    if let unified = at("/sys/fs/cgroup"), case .v2 = unified { return unified }
    return .v1(ContainerCgroups.mounts)
  }()

  /// The hierarchy rooted at `root`: v2 if it has cgroup.controllers, v1 if it holds controller
  /// folders (memory, cpu, pids), nil if neither.
  static func at(_ root: String) -> CgroupHierarchy? {
    if let offered = KernelFiles.read("\(root)/cgroup.controllers") {
      let names = Set(offered.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
      return .v2(root: root, controllers: Set(ContainerCgroups.Controller.allCases.filter { names.contains($0.rawValue) }))
    }
    var mounts: [ContainerCgroups.Controller: String] = [:]
    for controller in ContainerCgroups.Controller.allCases where access("\(root)/\(controller)", F_OK) == 0 {
      mounts[controller] = "\(root)/\(controller)"
    }
    return mounts.isEmpty ? nil : .v1(mounts)
  }
}

/// cgroup v2's control files for CRI's limits, as runc and the kubelet write them.
enum CgroupV2 {
  static func settings(for controller: ContainerCgroups.Controller, from resources: LinuxResources,
                       in directory: String) -> [(file: String, value: String)] {
    switch controller {
    case .memory:
      guard let limit = resources.memoryLimitInBytes, limit > 0 else { return [] }
      var settings = [("memory.max", "\(limit)")]
      // CRI's swap limit counts memory plus swap (v1's memsw); v2 limits swap alone. The file
      // exists only where swap accounting is on.
      if access("\(directory)/memory.swap.max", F_OK) == 0 {
        settings.append(("memory.swap.max", "\(max((resources.memorySwapLimitInBytes ?? limit) - limit, 0))"))
      }
      return settings
    case .cpu:
      var settings: [(file: String, value: String)] = []
      let quota = resources.cpuQuota.flatMap { $0 > 0 ? "\($0)" : nil } ?? "max"
      if resources.cpuQuota.map({ $0 > 0 || $0 == -1 }) == true || resources.cpuPeriod.map({ $0 > 0 }) == true {
        settings.append(("cpu.max", "\(quota) \(resources.cpuPeriod.flatMap { $0 > 0 ? $0 : nil } ?? 100_000)"))
      }
      if let shares = resources.cpuShares, shares > 0 { settings.append(("cpu.weight", "\(weight(shares: shares))")) }
      return settings
    case .pids:
      guard let limit = resources.pidsLimit, limit > 0 else { return [] }
      return [("pids.max", "\(limit)")]
    }
  }

  /// cpu.shares (2…262144) mapped onto cpu.weight (1…10000), the formula runc and the kubelet use.
  static func weight(shares: Int64) -> Int64 {
    let clamped = min(max(shares, 2), 262_144)
    return 1 + (clamped - 2) * 9999 / 262_142
  }

  /// True when memory.events counts an OOM kill.
  static func sawOOMKill(in directory: String) -> Bool {
    for line in (KernelFiles.read("\(directory)/memory.events") ?? "").split(separator: "\n")
    where line.hasPrefix("oom_kill ") {
      return (Int(line.dropFirst("oom_kill ".count)) ?? 0) > 0
    }
    return false
  }

  /// Lets each cgroup from the root down to `directory`'s parent hand `controllers` to its
  /// children (cgroup.subtree_control), creating the cgroups on the way.
  static func delegate(_ controllers: Set<ContainerCgroups.Controller>, root: String,
                       down to: String) throws(SystemError) {
    let enable = controllers.map { "+\($0.rawValue)" }.sorted().joined(separator: " ")
    var current = root
    for component in to.dropFirst(root.count).split(separator: "/") {
      if !enable.isEmpty { try write(enable, to: "\(current)/cgroup.subtree_control") }
      current += "/\(component)"
      guard mkdir(current, 0o755) == 0 || errno == EEXIST else { throw SystemError("creating cgroup \(current)") }
    }
  }

  /// One write(2), as control files need; creating the file is refused by cgroupfs, so a control
  /// file the kernel lacks still fails.
  static func write(_ value: String, to path: String) throws(SystemError) {
    let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw SystemError("opening \(path)") }
    defer { close(fd) }
    let written = value.utf8CString.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count - 1) }
    guard written == value.utf8.count else { throw SystemError("writing \(value) to \(path)") }
  }
}
