// The config.json of a container's bundle (OCI runtime spec 1.0): its process from the image
// config and the ContainerConfig, the namespaces, the mounts a Linux program expects, and its
// limits in linux.resources, which the OCI runtime writes to the container's cgroups.
import FoundationEssentials

struct OCISpec: Encodable {
  var ociVersion = "1.0.2"
  var process: Process
  var root = Root()
  var hostname: String
  var mounts: [Mount]
  var linux: Linux

  struct Process: Encodable {
    var terminal = false
    var user: User
    var args: [String]
    var env: [String]
    var cwd: String
    var capabilities: Capabilities
    /// None set: the container inherits the node's limits (raising them may be refused here).
    var rlimits: [Rlimit] = []
    var noNewPrivileges = false
  }

  struct User: Codable, Equatable {
    var uid: UInt32
    var gid: UInt32
    var additionalGids: [UInt32]?
  }

  /// Docker's default set: what a container process may do as root inside its namespaces.
  struct Capabilities: Encodable {
    static let defaults = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
                           "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
                           "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]
    var bounding = defaults
    var effective = defaults
    var permitted = defaults
  }

  struct Rlimit: Encodable {
    var type: String
    var hard: UInt64
    var soft: UInt64
  }

  struct Root: Encodable {
    var path = "rootfs"
    var readonly = false
  }

  struct Mount: Encodable {
    var destination: String
    var type: String
    var source: String
    var options: [String]
  }

  struct Linux: Encodable {
    var resources: Resources
    var cgroupsPath: String
    var namespaces: [Namespace]
    var maskedPaths = ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                       "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                       "/sys/firmware"]
    var readonlyPaths = ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                         "/proc/sysrq-trigger"]
  }

  struct Namespace: Encodable {
    var type: String
    var path: String?
  }

  struct Resources: Encodable {
    var devices = [DeviceRule(allow: false, access: "rwm")]
    var memory: Memory?
    var cpu: CPU?
    var pids: Pids?

    struct DeviceRule: Encodable {
      var allow: Bool
      var access: String
    }
    struct Memory: Encodable {
      var limit: Int64?
      /// Memory plus swap, as cgroup v1's memsw.
      var swap: Int64?
    }
    struct CPU: Encodable {
      var shares: UInt64?
      var quota: Int64?
      var period: UInt64?
    }
    struct Pids: Encodable {
      var limit: Int64
    }
  }

  /// linux.resources from CRI's LinuxContainerResources; absent or non-positive values leave
  /// the kernel's defaults, as the process runtime does.
  static func resources(_ limits: LinuxResources, swapAccounting: Bool) -> Resources {
    var resources = Resources()
    if let limit = limits.memoryLimitInBytes, limit > 0 {
      // Without swap accounting there is no memsw file, and runc refuses a swap limit.
      resources.memory = Resources.Memory(
        limit: limit, swap: swapAccounting ? max(limits.memorySwapLimitInBytes ?? limit, limit) : nil)
    }
    var cpu = Resources.CPU()
    if let shares = limits.cpuShares, shares > 0 { cpu.shares = UInt64(shares) }
    if let quota = limits.cpuQuota, quota > 0 { cpu.quota = quota }
    if let period = limits.cpuPeriod, period > 0 { cpu.period = UInt64(period) }
    if cpu.shares != nil || cpu.quota != nil || cpu.period != nil { resources.cpu = cpu }
    if let pids = limits.pidsLimit, pids > 0 { resources.pids = Resources.Pids(limit: pids) }
    return resources
  }

  /// The mounts every container gets, and the sandbox's hosts, hostname and resolv.conf.
  static func mounts(sandboxFiles: String) -> [Mount] {
    [
      Mount(destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"]),
      Mount(destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"]),
      Mount(destination: "/dev/pts", type: "devpts", source: "devpts",
            options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]),
      Mount(destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]),
      Mount(destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"]),
      Mount(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"]),
      Mount(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"]),
    ] + ["hosts", "hostname", "resolv.conf"].map {
      Mount(destination: "/etc/\($0)", type: "bind", source: "\(sandboxFiles)/\($0)", options: ["rbind", "rprivate"])
    }
  }

  /// The image's `User` (`uid`, `uid:gid`, `name`, `name:group`), names looked up in the root
  /// filesystem's /etc/passwd and /etc/group as the OCI runtime would see them.
  static func user(_ text: String?, rootfs: String) throws(ImageError) -> User {
    guard let text, !text.isEmpty else { return User(uid: 0, gid: 0) }
    let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
    let passwd = (KernelFiles.read("\(rootfs)/etc/passwd") ?? "").split(separator: "\n")
      .map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
    var uid: UInt32
    var gid: UInt32 = 0
    if let number = UInt32(parts[0]) {
      uid = number
      if let entry = passwd.first(where: { $0.count > 3 && $0[2] == parts[0] }) { gid = UInt32(entry[3]) ?? 0 }
    } else if let entry = passwd.first(where: { $0.count > 3 && $0[0] == parts[0] }),
              let found = UInt32(entry[2]) {
      uid = found
      gid = UInt32(entry[3]) ?? 0
    } else {
      throw ImageError("the image's user \"\(parts[0])\" is not in its /etc/passwd")
    }
    if parts.count == 2 {
      if let number = UInt32(parts[1]) {
        gid = number
      } else {
        let groups = (KernelFiles.read("\(rootfs)/etc/group") ?? "").split(separator: "\n")
          .map { $0.split(separator: ":", omittingEmptySubsequences: false).map(String.init) }
        guard let entry = groups.first(where: { $0.count > 2 && $0[0] == parts[1] }),
              let found = UInt32(entry[2]) else {
          throw ImageError("the image's group \"\(parts[1])\" is not in its /etc/group")
        }
        gid = found
      }
    }
    return User(uid: uid, gid: gid)
  }
}
