// Volumes as directories under one root, like rancher's local-path provisioner: each volume is
// `<root>/volumes/<id>`, and its record `<root>/volumes/<id>.json` holds what it was created with.
// Capacity is checked against the free space when asked for, not enforced afterwards: a plain
// directory has no size limit.
import FoundationEssentials
import Glibc
import PluginKit
import SkiffABI
import SystemKit

struct StorageConfig: Decodable {
  var root: String?
}

struct CreateRequest: Decodable {
  let name: String
  let capacityBytes: Int64?
  let parameters: [String: String]?
  let accessModes: [String]?
}

struct ExpandRequest: Decodable {
  let volumeId: String
  let capacityBytes: Int64
}

struct VolumeRecord: Codable, Equatable {
  let name: String
  var capacityBytes: Int64
  let accessModes: [String]
  let parameters: [String: String]
}

struct CreatedVolume: Encodable {
  let volumeId: String
  let capacityBytes: Int64
  let context: [String: String]
}

struct Capacity: Encodable {
  let availableBytes: Int64
  let totalBytes: Int64
}

struct ExpandedVolume: Encodable {
  let capacityBytes: Int64
}

struct Nothing: Encodable {}

final class LocalVolumes: @unchecked Sendable {
  let root: URL
  let volumes: URL
  /// Serialises every operation, so that checking for a volume and creating it is one step.
  let lock = Lock()

  init(config: StorageConfig) throws(PluginFailure) {
    guard let root = config.root, root.hasPrefix("/") else {
      throw PluginFailure(SKIFF_INVALID, reason: "InvalidConfig",
                           "config.root is required: the absolute path of the folder volumes live in")
    }
    self.root = URL(fileURLWithPath: root)
    volumes = self.root.appendingPathComponent("volumes")
    do {
      try FileManager.default.createDirectory(at: volumes, withIntermediateDirectories: true)
    } catch {
      throw PluginFailure(SKIFF_INVALID, reason: "InvalidConfig",
                           "config.root \(root) cannot be used: \(describeError(error))")
    }
  }

  static func from(_ pointer: UnsafeMutableRawPointer?) -> LocalVolumes {
    Unmanaged<LocalVolumes>.fromOpaque(pointer!).takeUnretainedValue()
  }

  /// Where a volume's data lives. Ids are validated first: they become path components.
  func directory(of id: String) throws -> URL {
    try Self.validate(id, field: "volumeId")
    return volumes.appendingPathComponent(id)
  }

  // MARK: Controller side

  /// The volume's id is its name, so a retried create finds the volume it made before.
  func create(_ request: CreateRequest) throws -> CreatedVolume {
    try Self.validate(request.name, field: "name")
    let requested = request.capacityBytes ?? 0
    guard requested >= 0 else {
      throw PluginFailure(SKIFF_INVALID, reason: "InvalidRequest",
                           "request.capacityBytes must not be negative (got \(requested))")
    }
    return try lock.withLock {
      let directory = volumes.appendingPathComponent(request.name)
      let existing = try record(of: request.name)
      if let existing {
        guard existing.capacityBytes == requested else {
          throw PluginFailure(SKIFF_CONFLICT, reason: "AlreadyExists",
                               "volume \(request.name) exists with capacityBytes "
                                 + "\(existing.capacityBytes), not \(requested); expand it instead")
        }
      } else {
        let space = try capacity()
        guard requested <= space.availableBytes else {
          throw PluginFailure(reason: "InsufficientCapacity",
                               "volume \(request.name) asks for \(requested) bytes but \(root.path) "
                                 + "has \(space.availableBytes) available")
        }
        // The record comes last: it is what makes the volume exist. A create interrupted before
        // it leaves a folder that the retry adopts.
        try makeDirectory(directory)
        try write(VolumeRecord(name: request.name, capacityBytes: requested,
                               accessModes: request.accessModes ?? [],
                               parameters: request.parameters ?? [:]), id: request.name)
      }
      return CreatedVolume(volumeId: request.name, capacityBytes: requested,
                           context: ["path": directory.path])
    }
  }

  /// Removes the volume's data, then its record; an unknown id is already deleted. A volume
  /// still mounted for a pod is kept: deleting it would pull the data from under the pod.
  func delete(_ id: String) throws -> Nothing {
    let directory = try directory(of: id)
    return try lock.withLock {
      let mounted = try MountTable.read().mountPoints(ofVolume: id)
      guard mounted.isEmpty else {
        throw PluginFailure(reason: "VolumeInUse",
                             "volume \(id) is still mounted at \(mounted.joined(separator: ", ")); "
                               + "unpublish and unstage it first")
      }
      do {
        if FileManager.default.fileExists(atPath: directory.path) {
          try FileManager.default.removeItem(at: directory)
        }
        if FileManager.default.fileExists(atPath: recordFile(of: id).path) {
          try FileManager.default.removeItem(at: recordFile(of: id))
        }
      } catch {
        throw PluginFailure(reason: "DeleteFailed",
                             "cannot delete volume \(id): \(describeError(error))")
      }
      return Nothing()
    }
  }

  /// Grows the recorded capacity, if the free space allows the growth.
  func expand(_ request: ExpandRequest) throws -> ExpandedVolume {
    try Self.validate(request.volumeId, field: "volumeId")
    return try lock.withLock {
      guard var record = try record(of: request.volumeId) else {
        throw PluginFailure(SKIFF_NOT_FOUND, reason: "VolumeNotFound",
                             "volume \(request.volumeId) does not exist")
      }
      let growth = request.capacityBytes - record.capacityBytes
      guard growth >= 0 else {
        throw PluginFailure(SKIFF_INVALID, reason: "ShrinkNotSupported",
                             "volume \(request.volumeId) has \(record.capacityBytes) bytes; "
                               + "volumes grow but never shrink (asked for \(request.capacityBytes))")
      }
      let space = try capacity()
      guard growth <= space.availableBytes else {
        throw PluginFailure(reason: "InsufficientCapacity",
                             "volume \(request.volumeId) would grow by \(growth) bytes but "
                               + "\(root.path) has \(space.availableBytes) available")
      }
      record.capacityBytes = request.capacityBytes
      try write(record, id: request.volumeId)
      return ExpandedVolume(capacityBytes: record.capacityBytes)
    }
  }

  /// The root's filesystem as statvfs sees it; "available" is what an unprivileged writer gets.
  func capacity() throws -> Capacity {
    var stats = statvfs()
    guard statvfs(root.path, &stats) == 0 else {
      throw PluginFailure(reason: "CapacityUnknown",
                           "statvfs \(root.path): \(String(cString: strerror(errno)))")
    }
    return Capacity(availableBytes: Int64(stats.f_bavail) * Int64(stats.f_frsize),
                    totalBytes: Int64(stats.f_blocks) * Int64(stats.f_frsize))
  }

  // MARK: Records

  private func recordFile(of id: String) -> URL { volumes.appendingPathComponent("\(id).json") }

  private func record(of id: String) throws -> VolumeRecord? {
    let file = recordFile(of: id)
    guard let data = FileManager.default.contents(atPath: file.path) else { return nil }
    guard let record = try? JSONDecoder().decode(VolumeRecord.self, from: data) else {
      throw PluginFailure(reason: "CorruptRecord",
                           "\(file.path) is not a volume record; restore or remove it")
    }
    return record
  }

  /// Written to a temporary file and renamed over the old one, so a record is never half written.
  private func write(_ record: VolumeRecord, id: String) throws {
    do {
      try JSONEncoder().encode(record).write(to: recordFile(of: id), options: .atomic)
    } catch {
      throw PluginFailure(reason: "RecordWriteFailed",
                           "cannot write the record of volume \(id): \(describeError(error))")
    }
  }

  private func makeDirectory(_ directory: URL) throws {
    // World-writable, as local-path's are: the pods using it may run as any user.
    guard mkdir(directory.path, 0o777) == 0 || errno == EEXIST, chmod(directory.path, 0o777) == 0 else {
      throw PluginFailure(reason: "CreateFailed",
                           "cannot create \(directory.path): \(String(cString: strerror(errno)))")
    }
  }

  /// Names and ids become file names, so they are held to what Kubernetes object names allow.
  static func validate(_ id: String, field: String) throws {
    let allowed = id.utf8.allSatisfy { byte in
      (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39)
        || byte == 0x2d || byte == 0x2e || byte == 0x5f
    }
    guard allowed, (1...200).contains(id.utf8.count), !id.hasPrefix(".") else {
      throw PluginFailure(SKIFF_INVALID, reason: "InvalidRequest",
                           "request.\(field) \"\(id)\" must be 1-200 letters, digits, \"-\", \"_\" "
                             + "or \".\", not starting with \".\"")
    }
  }
}
