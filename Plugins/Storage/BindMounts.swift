// The node side of a local volume: bind mounts, the way CSI's hostpath driver does it. Staging
// binds the volume's folder at the staging path; publishing binds the staging path at the pod's
// target path, read-only if asked. Every step is idempotent, judged by /proc/self/mountinfo.
import FoundationEssentials
import Glibc
import PluginKit
import SkiffABI
import SystemKit

struct StageRequest: Decodable {
  let volumeId: String
  let stagingPath: String
}

struct PublishRequest: Decodable {
  let volumeId: String
  let stagingPath: String
  let targetPath: String
  let readOnly: Bool?
}

struct UnpublishRequest: Decodable {
  let volumeId: String
  let targetPath: String
}

extension LocalVolumes {
  func stage(_ request: StageRequest) throws -> Nothing {
    let source = try directory(of: request.volumeId)
    let staging = try absolute(request.stagingPath, field: "stagingPath")
    return try lock.withLock {
      guard FileManager.default.fileExists(atPath: source.path) else {
        throw PluginFailure(SKIFF_NOT_FOUND, reason: "VolumeNotFound",
                             "volume \(request.volumeId) does not exist")
      }
      if let mount = try MountTable.read().top(at: staging) {
        try expect(mount, holds: request.volumeId, at: staging)
        return Nothing()
      }
      try bind(source.path, at: staging)
      return Nothing()
    }
  }

  func unstage(_ request: StageRequest) throws -> Nothing {
    try unbind(absolute(request.stagingPath, field: "stagingPath"), volumeId: request.volumeId)
  }

  func publish(_ request: PublishRequest) throws -> Nothing {
    try Self.validate(request.volumeId, field: "volumeId")
    let staging = try absolute(request.stagingPath, field: "stagingPath")
    let target = try absolute(request.targetPath, field: "targetPath")
    let readOnly = request.readOnly ?? false
    return try lock.withLock {
      let mounts = try MountTable.read()
      guard let staged = mounts.top(at: staging) else {
        throw PluginFailure(reason: "NotStaged",
                             "volume \(request.volumeId) is not staged at \(staging); stage it first")
      }
      try expect(staged, holds: request.volumeId, at: staging)
      if let mount = mounts.top(at: target) {
        try expect(mount, holds: request.volumeId, at: target)
        guard mount.readOnly == readOnly else {
          throw PluginFailure(SKIFF_CONFLICT, reason: "AlreadyExists",
                               "\(target) is already published \(mount.readOnly ? "read-only" : "read-write")")
        }
        return Nothing()
      }
      try bind(staging, at: target)
      if readOnly { try makeReadOnly(target) }
      return Nothing()
    }
  }

  func unpublish(_ request: UnpublishRequest) throws -> Nothing {
    try unbind(absolute(request.targetPath, field: "targetPath"), volumeId: request.volumeId)
  }

  // MARK: Mounts

  private func bind(_ source: String, at target: String) throws {
    do {
      try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
    } catch {
      throw PluginFailure(reason: "MountFailed",
                           "cannot create \(target): \(describeError(error))")
    }
    guard mount(source, target, nil, UInt(MS_BIND), nil) == 0 else {
      throw PluginFailure(reason: "MountFailed",
                           "cannot bind \(source) at \(target): \(String(cString: strerror(errno)))")
    }
  }

  /// A bind mount takes the flags of its source, so read-only needs a second, remounting call.
  /// That call keeps the nosuid, nodev and noexec the bind inherited: inside a user namespace
  /// (an agent in a container) the kernel refuses to drop them.
  private func makeReadOnly(_ target: String) throws {
    var stats = statvfs()
    var flags = UInt(MS_BIND | MS_REMOUNT | MS_RDONLY)
    if statvfs(target, &stats) == 0 {
      // statvfs(3)'s ST_NOSUID, ST_NODEV and ST_NOEXEC; Glibc's Swift module lacks the last two,
      // which glibc defines only for _GNU_SOURCE.
      for (kept, flag) in [(2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC)]
      where stats.f_flag & UInt(kept) != 0 {
        flags |= UInt(flag)
      }
    }
    guard mount(nil, target, nil, flags, nil) == 0 else {
      let failure = PluginFailure(reason: "MountFailed",
                                   "cannot make \(target) read-only: \(String(cString: strerror(errno)))")
      umount2(target, 0)
      throw failure
    }
  }

  /// Unmounts the volume from `path` if it is mounted there, then removes the folder bind created
  /// for it. A folder that holds anything is left alone: it was never ours.
  private func unbind(_ path: String, volumeId: String) throws -> Nothing {
    try Self.validate(volumeId, field: "volumeId")
    return try lock.withLock {
      if let mount = try MountTable.read().top(at: path) {
        try expect(mount, holds: volumeId, at: path)
        guard umount2(path, 0) == 0 else {
          throw PluginFailure(reason: "UnmountFailed",
                               "cannot unmount \(path): \(String(cString: strerror(errno)))")
        }
      }
      rmdir(path)
      return Nothing()
    }
  }

  /// A mount the kernel found at `path` must be of this volume's folder, wherever it came from.
  private func expect(_ mount: MountTable.Entry, holds volumeId: String, at path: String) throws {
    guard mount.root.hasSuffix("/volumes/\(volumeId)") else {
      throw PluginFailure(SKIFF_CONFLICT, reason: "AlreadyExists",
                           "\(path) already has something else mounted (\(mount.root))")
    }
  }

  private func absolute(_ path: String, field: String) throws -> String {
    guard path.hasPrefix("/") else {
      throw PluginFailure(SKIFF_INVALID, reason: "InvalidRequest",
                           "request.\(field) \"\(path)\" must be an absolute path")
    }
    return MountTable.canonical(path)
  }
}

/// The calling process's mounts, from /proc/self/mountinfo.
struct MountTable {
  struct Entry {
    /// The folder of the mounted filesystem that appears at the mount point.
    let root: String
    let mountPoint: String
    let readOnly: Bool
  }

  let entries: [Entry]

  static func read() throws -> MountTable {
    guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else {
      throw PluginFailure(reason: "MountTableUnreadable", "cannot read /proc/self/mountinfo")
    }
    // "36 35 98:0 /root /mnt rw,noatime master:1 - ext3 /dev/root rw": root is field 4, the
    // mount point field 5, the mount's own options field 6.
    let entries = text.split(separator: "\n").compactMap { line -> Entry? in
      let fields = line.split(separator: " ")
      guard fields.count > 5 else { return nil }
      return Entry(root: unescape(fields[3]), mountPoint: unescape(fields[4]),
                   readOnly: fields[5].split(separator: ",").contains("ro"))
    }
    return MountTable(entries: entries)
  }

  /// Where the folder of volume `id` is mounted, directly or through another bind.
  func mountPoints(ofVolume id: String) -> [String] {
    entries.filter { $0.root.hasSuffix("/volumes/\(id)") }.map(\.mountPoint)
  }

  /// What is visible at `path`: the last mount there hides the ones before.
  func top(at path: String) -> Entry? {
    entries.last { $0.mountPoint == path }
  }

  /// The path as mountinfo spells it: symbolic links resolved, when it exists.
  static func canonical(_ path: String) -> String {
    guard let resolved = realpath(path, nil) else { return URL(fileURLWithPath: path).standardizedFileURL.path }
    defer { free(resolved) }
    return String(cString: resolved)
  }

  /// mountinfo writes space, tab, newline and backslash as three octal digits after a backslash.
  private static func unescape(_ field: Substring) -> String {
    guard field.contains("\\") else { return String(field) }
    var bytes: [UInt8] = []
    var rest = Array(field.utf8)[...]
    while let byte = rest.popFirst() {
      let digits = rest.prefix(3)
      if byte == UInt8(ascii: "\\"), digits.count == 3,
         let value = UInt8(String(decoding: digits, as: UTF8.self), radix: 8) {
        bytes.append(value)
        rest = rest.dropFirst(3)
      } else {
        bytes.append(byte)
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }
}
