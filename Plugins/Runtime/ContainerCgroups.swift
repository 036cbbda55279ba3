// A container's cgroups, one under each cgroup v1 controller the host mounts (memory, cpu, pids),
// or one in the v2 unified hierarchy (CgroupHierarchy.swift): created with the container's limits
// before its process runs, read for OOM kills when it exits, removed with the container.
import FoundationEssentials
import Glibc
import SystemKit

struct ContainerCgroups {
  /// The v1 controllers whose limits a container's resources set.
  enum Controller: String, CaseIterable, Sendable {
    case memory, cpu, pids
  }

  /// `<mount>/<parent>/<id>` for each mounted controller (v2: the one cgroup, for each).
  let directories: [Controller: String]
  let hierarchy: CgroupHierarchy
  /// Controllers this host does not mount; the container runs without them.
  var missing: [Controller] { Controller.allCases.filter { directories[$0] == nil } }

  init(parent: String, id: String, hierarchy: CgroupHierarchy = CgroupHierarchy.active) {
    let relative = parent.split(separator: "/").joined(separator: "/")
    let path = { (mount: String) in relative.isEmpty ? "\(mount)/\(id)" : "\(mount)/\(relative)/\(id)" }
    self.hierarchy = hierarchy
    switch hierarchy {
    case .v1(let mounts): directories = mounts.mapValues(path)
    case .v2(let root, let controllers):
      directories = Dictionary(uniqueKeysWithValues: controllers.map { ($0, path(root)) })
    }
  }

  /// Each cgroup once (v2 has one for every controller).
  private var distinctDirectories: [String] { Array(Set(directories.values)).sorted() }

  /// Where each controller's hierarchy is mounted, from /proc/self/mounts: `cpu` may share a
  /// mount with `cpuacct` (`/sys/fs/cgroup/cpu,cpuacct`), so the mount options decide, not names.
  static let mounts: [Controller: String] = {
    var found: [Controller: String] = [:]
    for line in (KernelFiles.read("/proc/self/mounts") ?? "").split(separator: "\n") {
      let fields = line.split(separator: " ")
      guard fields.count >= 4, fields[2] == "cgroup" else { continue }
      for option in fields[3].split(separator: ",") {
        if let controller = Controller(rawValue: String(option)), found[controller] == nil {
          found[controller] = String(fields[1])
        }
      }
    }
    return found
  }()

  /// Creates the cgroups and writes the limits; a limit a controller cannot take is an error,
  /// since running without it would silently break the container's contract.
  func create(applying resources: LinuxResources) throws(SystemError) {
    if case .v2(let root, let controllers) = hierarchy, let directory = distinctDirectories.first {
      try CgroupV2.delegate(controllers, root: root, down: directory)
      for controller in controllers {
        for (file, value) in CgroupV2.settings(for: controller, from: resources, in: directory) {
          try CgroupV2.write(value, to: "\(directory)/\(file)")
        }
      }
      return
    }
    for (controller, directory) in directories {
      // Parents too: they are shared by every container under the same cgroupParent.
      try KernelFiles.makeDirectory(directory)
      for (file, value) in Self.settings(for: controller, from: resources) {
        try KernelFiles.write(value, to: "\(directory)/\(file)")
      }
    }
  }

  /// The control files to write for `controller`, in the order the kernel accepts them.
  static func settings(for controller: Controller, from resources: LinuxResources)
    -> [(file: String, value: String)] {
    var settings: [(file: String, value: String)] = []
    switch controller {
    case .memory:
      guard let limit = resources.memoryLimitInBytes, limit > 0 else { break }
      settings.append(("memory.limit_in_bytes", "\(limit)"))
      // memsw counts memory plus swap and must not be below the memory limit; it exists only
      // where swap accounting is on, and without swap there is nothing to limit.
      let swap = max(resources.memorySwapLimitInBytes ?? limit, limit)
      if let mount = mounts[.memory], access("\(mount)/memory.memsw.limit_in_bytes", F_OK) == 0 {
        settings.append(("memory.memsw.limit_in_bytes", "\(swap)"))
      }
    case .cpu:
      if let period = resources.cpuPeriod, period > 0 {
        settings.append(("cpu.cfs_period_us", "\(period)"))
      }
      if let quota = resources.cpuQuota, quota > 0 || quota == -1 {
        settings.append(("cpu.cfs_quota_us", "\(quota)"))
      }
      if let shares = resources.cpuShares, shares > 0 { settings.append(("cpu.shares", "\(shares)")) }
    case .pids:
      if let limit = resources.pidsLimit, limit > 0 { settings.append(("pids.max", "\(limit)")) }
    }
    return settings
  }

  /// What `resources` asks of a controller this host lacks, for the warning that it is lost.
  static func lostLimits(_ controller: Controller, _ resources: LinuxResources) -> [String] {
    let asked: [(String, Int64?)]
    switch controller {
    case .memory: asked = [("memoryLimitInBytes", resources.memoryLimitInBytes)]
    case .cpu: asked = [("cpuQuota", resources.cpuQuota), ("cpuPeriod", resources.cpuPeriod),
                        ("cpuShares", resources.cpuShares)]
    case .pids: asked = [("pidsLimit", resources.pidsLimit)]
    }
    return asked.filter { $0.1 != nil }.map(\.0)
  }

  /// Moves a process into every cgroup.
  func place(_ pid: pid_t) throws(SystemError) {
    for directory in distinctDirectories {
      if case .v2 = hierarchy {
        try CgroupV2.write("\(pid)", to: "\(directory)/cgroup.procs")
        continue
      }
      try KernelFiles.write("\(pid)", to: "\(directory)/cgroup.procs")
    }
  }

  /// True when the kernel's OOM killer killed a process in the memory cgroup. memory.oom_control
  /// counts kills as `oom_kill` since Linux 4.13; before that, memory.failcnt (the limit was hit)
  /// is the best evidence there is.
  var sawOOMKill: Bool {
    guard let directory = directories[.memory] else { return false }
    if case .v2 = hierarchy { return CgroupV2.sawOOMKill(in: directory) }
    let control = KernelFiles.read("\(directory)/memory.oom_control") ?? ""
    for line in control.split(separator: "\n") where line.hasPrefix("oom_kill ") {
      return (Int(line.dropFirst("oom_kill ".count)) ?? 0) > 0
    }
    let failures = KernelFiles.read("\(directory)/memory.failcnt") ?? ""
    return (Int(failures.trimmingWhitespace()) ?? 0) > 0
  }

  /// Kills whatever is left in the cgroups (descendants that left the container's process group)
  /// and removes them. A cgroup that is already gone is fine.
  func remove() throws(SystemError) {
    for directory in distinctDirectories {
      var attempts = 0
      while rmdir(directory) != 0 {
        guard errno == EBUSY, attempts < 100 else {
          if errno == ENOENT { break }
          throw SystemError("removing cgroup \(directory)")
        }
        for pid in (KernelFiles.read("\(directory)/cgroup.procs") ?? "").split(separator: "\n") {
          if let pid = pid_t(pid) { kill(pid, SIGKILL) }
        }
        attempts += 1
        usleep(20_000)  // killed processes leave the cgroup once the kernel has torn them down
      }
    }
  }
}
