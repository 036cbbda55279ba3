// What tests of real containers look at on the host, and how they clean up after themselves:
// cgroup v1 controllers, processes by command line, and whatever a failed test left behind.
import Foundation

public enum Cgroups {
  /// Mount points of the memory, cpu and pids v1 controllers that this host has.
  public static let mounts: [String: String] = {
    var found: [String: String] = [:]
    let text = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: " ")
      guard fields.count >= 4, fields[2] == "cgroup" else { continue }
      for option in fields[3].split(separator: ",") where ["memory", "cpu", "pids"].contains(option) {
        found[String(option)] = String(fields[1])
      }
    }
    return found
  }()

  public static func read(_ path: String) -> String? {
    (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// Kills what is in a cgroup and removes it; anything but a cgroup folder is left alone.
  public static func destroy(_ path: String) {
    for _ in 0..<100 {
      if rmdir(path) == 0 || errno != EBUSY { return }
      for pid in (read("\(path)/cgroup.procs") ?? "").split(separator: "\n") {
        if let pid = pid_t(pid) { kill(pid, SIGKILL) }
      }
      usleep(20_000)
    }
  }

  /// Kills and removes a test's cgroup parent, in every controller, with its children.
  public static func destroyParent(_ name: String) {
    for mount in mounts.values {
      let parent = "\(mount)/\(name)"
      for child in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] {
        destroy("\(parent)/\(child)")
      }
      destroy(parent)
    }
  }
}

public enum Processes {
  /// Exists and has not exited (a zombie has).
  public static func isAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let end = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(end, offsetBy: 2)]
    return state != "Z" && state != "X"
  }

  /// Live processes other than this one whose command line holds `text` (a test's own marker).
  public static func withCommandLine(containing text: String) -> [Int32] {
    let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap(Int32.init) ?? []
    return pids.filter { pid in
      guard pid != getpid(), isAlive(pid), let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else {
        return false
      }
      return String(decoding: data, as: UTF8.self).contains(text)
    }.sorted()
  }
}

public enum Leftovers {
  /// Whatever a failed test of the oci runtime left: runc containers under `runcRoot`, and mounts
  /// under `folder` (overlay root filesystems).
  public static func removeContainers(runcRoot: String, mountsUnder folder: String) {
    if FileManager.default.fileExists(atPath: runcRoot), let list = try? Fixtures.run(["runc", "--root", runcRoot, "list", "-q"]) {
      for id in list.output.split(separator: "\n") { _ = try? Fixtures.run(["runc", "--root", runcRoot, "delete", "--force", String(id)]) }
    }
    let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
    for line in mounts.split(separator: "\n") where line.contains(folder) {
      umount2(String(line.split(separator: " ")[1]), Int32(MNT_DETACH))
    }
  }
}
