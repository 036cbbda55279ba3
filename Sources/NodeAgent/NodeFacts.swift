// What the agent reports about its machine: the Node object's capacity, addresses and nodeInfo,
// read from the machine itself (cpu count, /proc/meminfo, statvfs of the data directory).
import Glibc
import ObjectModel

struct NodeFacts: Sendable {
  let name: String
  let internalIP: String
  let hostname: String
  let cpus: Int
  let memoryBytes: Int64
  let storageBytes: Int64
  let pods = 110
  let kubeletPort: Int

  init(name: String, internalIP: String, kubeletPort: Int, dataDir: String) {
    self.name = name
    self.internalIP = internalIP
    self.kubeletPort = kubeletPort
    hostname = Self.hostname()
    cpus = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    memoryBytes = Self.memoryTotal()
    var stats = statvfs()
    storageBytes = statvfs(dataDir, &stats) == 0 ? Int64(stats.f_blocks) * Int64(stats.f_frsize) : 0
  }

  static func hostname() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    gethostname(&buffer, buffer.count - 1)
    return String(cString: buffer)
  }

  /// MemTotal from /proc/meminfo, in bytes.
  static func memoryTotal() -> Int64 {
    guard let file = fopen("/proc/meminfo", "r") else { return 0 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {
      let text = String(cString: line)
      if text.hasPrefix("MemTotal:") {
        let kilobytes = text.split(separator: " ").dropFirst().first.flatMap { Int64($0) } ?? 0
        return kilobytes * 1024
      }
    }
    return 0
  }

  /// The first non-loopback IPv4 address, for an agent listening on every interface.
  static func primaryIPv4() -> String {
    var list: UnsafeMutablePointer<ifaddrs>?
    guard getifaddrs(&list) == 0 else { return "127.0.0.1" }
    defer { freeifaddrs(list) }
    var entry = list
    while let current = entry {
      defer { entry = current.pointee.ifa_next }
      guard let address = current.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) else { continue }
      var ipv4 = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
      var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
      inet_ntop(AF_INET, &ipv4, &text, socklen_t(text.count))
      let string = String(cString: text)
      if !string.hasPrefix("127.") { return string }
    }
    return "127.0.0.1"
  }

  /// The Node as the agent registers it.
  func node(runtime: String) -> JSON {
    let resources: JSON = ["cpu": .string("\(cpus)"), "memory": .string("\(memoryBytes / 1024)Ki"),
                           "ephemeral-storage": .string("\(storageBytes / 1024)Ki"), "pods": .string("\(pods)")]
    return [
      "apiVersion": "v1", "kind": "Node",
      "metadata": ["name": .string(name), "labels": [
        "kubernetes.io/hostname": .string(name), "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64"]],
      "spec": [:],
      "status": status(runtime: runtime, capacity: resources),
    ]
  }

  func status(runtime: String, capacity: JSON? = nil) -> JSON {
    let resources = capacity ?? ["cpu": .string("\(cpus)"), "memory": .string("\(memoryBytes / 1024)Ki"),
                                 "ephemeral-storage": .string("\(storageBytes / 1024)Ki"), "pods": .string("\(pods)")]
    let now = JSON.string(Clock.rfc3339(Clock.now()))
    var uname = utsname()
    Glibc.uname(&uname)
    let kernel = withUnsafeBytes(of: uname.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    return [
      "capacity": resources, "allocatable": resources,
      "conditions": [["type": "Ready", "status": "True", "reason": "KubeletReady",
                      "message": "skiff agent is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now]],
      "addresses": [["type": "InternalIP", "address": .string(internalIP)], ["type": "Hostname", "address": .string(hostname)]],
      "daemonEndpoints": ["kubeletEndpoint": ["Port": .int(Int64(kubeletPort))]],
      "nodeInfo": ["machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": .string(kernel),
                   "osImage": "Linux", "containerRuntimeVersion": .string("\(runtime)://skiff"),
                   "kubeletVersion": "v1.32.0-skiff", "kubeProxyVersion": "", "operatingSystem": "linux",
                   "architecture": "amd64"],
    ]
  }
}

/// Wall-clock times as Kubernetes writes them, without Foundation's formatters.
enum Clock {
  /// Seconds since the epoch, with fractions.
  static func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_REALTIME, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
  }

  /// "2006-01-02T15:04:05Z"; with `fraction`, "2006-01-02T15:04:05.000000Z" (MicroTime, for Leases).
  static func rfc3339(_ seconds: Double, fraction: Bool = false) -> String {
    var whole = time_t(seconds.rounded(.down))
    var parts = tm()
    gmtime_r(&whole, &parts)
    func pad(_ value: Int32, _ width: Int = 2) -> String {
      let text = String(value)
      return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    var text = "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday))T"
      + "\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec))"
    if fraction { text += "." + pad(Int32((seconds - seconds.rounded(.down)) * 1e6), 6) }
    return text + "Z"
  }
}
