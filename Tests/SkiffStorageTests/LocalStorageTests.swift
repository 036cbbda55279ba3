// The local storage plugin loaded by a kernel and called through the ABI: volumes as folders under
// a root (a small tmpfs of its own, so that sizes are exact and nothing else writes there), and
// bind mounts made for pods, read-only ones included.
import Foundation
import Kernel
import SkiffABI
import SkiffTestSupport
import XCTest

final class LocalStorageTests: XCTestCase {
  var dir: URL!
  var root: URL!
  var running: RunningKernel!
  var storage: skiff_storage_plugin!

  static let rootSize: Int64 = 16 << 20
  static let mebibyte: Int64 = 1 << 20

  override func setUpWithError() throws {
    running = RunningKernel()
    dir = try Fixtures.temporaryDirectory().resolvingSymlinksInPath()
    root = dir.appendingPathComponent("root")
    try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    // nosuid and nodev, as /tmp and /var often are: a read-only publish must keep them.
    guard mount("tmpfs", root.path, "tmpfs", UInt(MS_NOSUID | MS_NODEV), "size=\(Self.rootSize)") == 0 else {
      throw SetupFailure("mount tmpfs: \(String(cString: strerror(errno)))")
    }
    try running.boot(profile(config: "{root: \"\(root.path)\"}"), in: dir)
    storage = try XCTUnwrap(running.kernel.extensions.storages.first { $0.name == "skiff.dev/local" })
      .vtable.pointee
  }

  override func tearDown() {
    running.stop()
    // Whatever a failed test left mounted under its folder, innermost first.
    for _ in 0..<8 {
      let left = mountPoints().sorted { $0.count > $1.count }
      if left.isEmpty { break }
      for path in left { umount2(path, Int32(MNT_DETACH)) }
    }
    if let dir { try? FileManager.default.removeItem(at: dir) }
  }

  // MARK: Controller side

  func testCreateIsIdempotentByName() throws {
    let created = try create("pvc-1", capacity: Self.mebibyte)
    XCTAssertEqual(created.status, SKIFF_OK, created.json)
    let path = root.appendingPathComponent("volumes/pvc-1").path
    XCTAssertEqual(created.object["volumeId"] as? String, "pvc-1")
    XCTAssertEqual(created.object["capacityBytes"] as? Int64, Self.mebibyte)
    XCTAssertEqual((created.object["context"] as? [String: String])?["path"], path)
    var isDirectory: ObjCBool = false
    XCTAssertTrue(FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue)
    let record = try XCTUnwrap(FileManager.default.contents(atPath: path + ".json"))
    let recorded = try XCTUnwrap(JSONSerialization.jsonObject(with: record) as? [String: Any])
    XCTAssertEqual(recorded["capacityBytes"] as? Int64, Self.mebibyte)
    XCTAssertEqual(recorded["accessModes"] as? [String], ["ReadWriteOnce"])

    let again = try create("pvc-1", capacity: Self.mebibyte)
    XCTAssertEqual(again.status, SKIFF_OK, again.json)
    XCTAssertEqual(again.json, created.json)

    let different = try create("pvc-1", capacity: 2 * Self.mebibyte)
    XCTAssertEqual(different.status, SKIFF_CONFLICT)
    XCTAssertEqual(different.reason, "AlreadyExists")
    XCTAssertEqual(different.message, "volume pvc-1 exists with capacityBytes 1048576, not 2097152; expand it instead")
  }

  func testExpandGrowsTheRecordedCapacityAndNeverShrinks() throws {
    XCTAssertEqual(try create("pvc-1", capacity: Self.mebibyte).status, SKIFF_OK)
    let grown = try expand("pvc-1", to: 4 * Self.mebibyte)
    XCTAssertEqual(grown.status, SKIFF_OK, grown.json)
    XCTAssertEqual(grown.json, #"{"capacityBytes":4194304}"#)
    XCTAssertEqual(try create("pvc-1", capacity: 4 * Self.mebibyte).status, SKIFF_OK, "the record grew")

    let shrunk = try expand("pvc-1", to: 2 * Self.mebibyte)
    XCTAssertEqual(shrunk.status, SKIFF_INVALID)
    XCTAssertEqual(shrunk.reason, "ShrinkNotSupported")
    let beyond = try expand("pvc-1", to: 2 * Self.rootSize)
    XCTAssertEqual(beyond.status, SKIFF_ERROR)
    XCTAssertEqual(beyond.reason, "InsufficientCapacity")
    XCTAssertEqual(try expand("pvc-missing", to: Self.mebibyte).status, SKIFF_NOT_FOUND)
  }

  func testDeleteRemovesTheVolumeAndIsIdempotent() throws {
    XCTAssertEqual(try create("pvc-1", capacity: Self.mebibyte).status, SKIFF_OK)
    let path = root.appendingPathComponent("volumes/pvc-1").path
    try Data("data".utf8).write(to: URL(fileURLWithPath: path + "/file"))

    XCTAssertEqual(try delete("pvc-1").status, SKIFF_OK)
    XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".json"))
    XCTAssertEqual(try delete("pvc-1").status, SKIFF_OK, "deleting again is not an error")
    XCTAssertEqual(try delete("never-created").status, SKIFF_OK)

    let escape = try delete("../volumes")
    XCTAssertEqual(escape.status, SKIFF_INVALID)
    XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent("volumes").path))
  }

  func testCapacityIsWhatStatvfsSaysOfTheRoot() throws {
    let result = try running.call { [storage] done in storage!.capacity(storage!.`self`, nil, 0, done) }
    XCTAssertEqual(result.status, SKIFF_OK, result.json)
    var stats = statvfs()
    XCTAssertEqual(statvfs(root.path, &stats), 0)
    XCTAssertEqual(result.object["totalBytes"] as? Int64, Int64(stats.f_blocks) * Int64(stats.f_frsize))
    XCTAssertEqual(result.object["availableBytes"] as? Int64, Int64(stats.f_bavail) * Int64(stats.f_frsize))
    XCTAssertEqual(result.object["totalBytes"] as? Int64, Self.rootSize)
  }

  func testAVolumeLargerThanTheDiskIsRefused() throws {
    let refused = try create("pvc-huge", capacity: 2 * Self.rootSize)
    XCTAssertEqual(refused.status, SKIFF_ERROR)
    XCTAssertEqual(refused.reason, "InsufficientCapacity")
    XCTAssertTrue(refused.message?.hasPrefix("volume pvc-huge asks for 33554432 bytes but \(root.path) has ") == true,
                  refused.json)
    XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("volumes/pvc-huge").path))
  }

  // MARK: Node side

  func testAStagedAndPublishedVolumeIsTheVolumesFolder() throws {
    XCTAssertEqual(try create("pvc-1", capacity: Self.mebibyte).status, SKIFF_OK)
    let staging = dir.appendingPathComponent("plugins/staging/pvc-1").path
    let target = dir.appendingPathComponent("pods/uid-1/volumes/data").path

    XCTAssertEqual(try stage("pvc-1", at: staging).status, SKIFF_OK)
    let published = try publish("pvc-1", staging: staging, target: target, readOnly: false)
    XCTAssertEqual(published.status, SKIFF_OK, published.json)
    XCTAssertEqual(mountPoints().filter { $0 == staging || $0 == target }.sorted(), [staging, target].sorted())

    try Data("written by a pod".utf8).write(to: URL(fileURLWithPath: target + "/greeting"))
    let stored = root.appendingPathComponent("volumes/pvc-1/greeting")
    XCTAssertEqual(try String(contentsOf: stored, encoding: .utf8), "written by a pod")

    let inUse = try delete("pvc-1")
    XCTAssertEqual(inUse.status, SKIFF_ERROR)
    XCTAssertEqual(inUse.message, "volume pvc-1 is still mounted at \(staging), \(target); unpublish and unstage it first")

    XCTAssertEqual(try stage("pvc-1", at: staging).status, SKIFF_OK, "staging again changes nothing")
    XCTAssertEqual(try publish("pvc-1", staging: staging, target: target, readOnly: false).status, SKIFF_OK)
    XCTAssertEqual(mountPoints().filter { $0 == target }.count, 1, "publishing again mounts nothing more")

    XCTAssertEqual(try unpublish("pvc-1", target: target).status, SKIFF_OK)
    XCTAssertFalse(mountPoints().contains(target))
    XCTAssertFalse(FileManager.default.fileExists(atPath: target), "the target folder it made is removed")
    XCTAssertEqual(try unpublish("pvc-1", target: target).status, SKIFF_OK, "unpublishing again is not an error")

    XCTAssertEqual(try unstage("pvc-1", at: staging).status, SKIFF_OK)
    XCTAssertFalse(mountPoints().contains(staging))
    XCTAssertEqual(try unstage("pvc-1", at: staging).status, SKIFF_OK, "unstaging again is not an error")
    XCTAssertTrue(FileManager.default.fileExists(atPath: stored.path), "the data stays with the volume")
    XCTAssertEqual(try delete("pvc-1").status, SKIFF_OK, "unmounted, it can go")
  }

  func testAReadOnlyPublishRefusesWrites() throws {
    XCTAssertEqual(try create("pvc-1", capacity: Self.mebibyte).status, SKIFF_OK)
    try Data("seed".utf8).write(to: root.appendingPathComponent("volumes/pvc-1/seed"))
    let staging = dir.appendingPathComponent("staging/pvc-1").path
    let target = dir.appendingPathComponent("pods/uid-2/volumes/data").path
    XCTAssertEqual(try stage("pvc-1", at: staging).status, SKIFF_OK)
    let published = try publish("pvc-1", staging: staging, target: target, readOnly: true)
    XCTAssertEqual(published.status, SKIFF_OK, published.json)

    XCTAssertEqual(mountOptions(at: target).intersection(["ro", "rw", "nosuid", "nodev"]), ["ro", "nosuid", "nodev"])
    XCTAssertEqual(try String(contentsOfFile: target + "/seed", encoding: .utf8), "seed")
    let fd = open(target + "/new", O_WRONLY | O_CREAT, 0o644)
    let failure = errno
    if fd >= 0 { close(fd) }
    XCTAssertEqual(fd, -1)
    XCTAssertEqual(failure, EROFS)
    XCTAssertTrue(FileManager.default.createFile(atPath: staging + "/new", contents: Data()),
                  "the staging mount stays writable")

    let readWrite = try publish("pvc-1", staging: staging, target: target, readOnly: false)
    XCTAssertEqual(readWrite.status, SKIFF_CONFLICT)
    XCTAssertEqual(readWrite.message, "\(target) is already published read-only")
    XCTAssertEqual(try unpublish("pvc-1", target: target).status, SKIFF_OK)
    XCTAssertEqual(try unstage("pvc-1", at: staging).status, SKIFF_OK)
    XCTAssertEqual(mountPoints(), [root.path])
  }

  func testNodeCallsCheckTheirRequests() throws {
    let staging = dir.appendingPathComponent("staging/x").path
    let unknown = try stage("pvc-missing", at: staging)
    XCTAssertEqual(unknown.status, SKIFF_NOT_FOUND)
    XCTAssertEqual(unknown.message, "volume pvc-missing does not exist")

    XCTAssertEqual(try create("pvc-1", capacity: Self.mebibyte).status, SKIFF_OK)
    let unstaged = try publish("pvc-1", staging: staging, target: dir.appendingPathComponent("t").path,
                               readOnly: false)
    XCTAssertEqual(unstaged.status, SKIFF_ERROR)
    XCTAssertEqual(unstaged.reason, "NotStaged")

    let relative = try stage("pvc-1", at: "staging/x")
    XCTAssertEqual(relative.status, SKIFF_INVALID)
    XCTAssertEqual(relative.message, "request.stagingPath \"staging/x\" must be an absolute path")
    let incomplete = try send(storage.stage, ["volumeId": "pvc-1"])
    XCTAssertEqual(incomplete.status, SKIFF_INVALID)
    XCTAssertEqual(incomplete.message, "request.stagingPath is required")
    XCTAssertEqual(mountPoints(), [root.path], "nothing was mounted")
  }

  func testAConfigWithoutRootStopsTheStart() throws {
    let another = RunningKernel()
    defer { another.stop() }
    XCTAssertThrowsError(try another.boot(profile(config: "{}"), in: dir)) { error in
      XCTAssertTrue("\(error)".hasSuffix("start returned INVALID: config.root is required: "
                                         + "the absolute path of the folder volumes live in"), "\(error)")
    }
  }

  // MARK: Helpers

  func profile(config: String) -> String {
    """
    apiVersion: skiff.dev/v1alpha1
    kind: Profile
    name: storage-test
    plugins:
      - name: storage
        config: \(config)
    """
  }

  typealias Slot = @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, Int, skiff_done) -> skiff_status

  func send(_ slot: Slot, _ request: [String: Any]) throws -> SlotResult {
    let json = String(decoding: try JSONSerialization.data(withJSONObject: request), as: UTF8.self)
    return try running.call { [storage] done in
      json.withCString { slot(storage!.`self`, $0, strlen($0), done) }
    }
  }

  func create(_ name: String, capacity: Int64) throws -> SlotResult {
    try send(storage.create_volume, ["name": name, "capacityBytes": capacity, "parameters": [:],
                                     "accessModes": ["ReadWriteOnce"]])
  }

  func expand(_ id: String, to capacity: Int64) throws -> SlotResult {
    try send(storage.expand_volume, ["volumeId": id, "capacityBytes": capacity])
  }

  func delete(_ id: String) throws -> SlotResult {
    try running.call { [storage] done in
      id.withCString { storage!.delete_volume(storage!.`self`, $0, done) }
    }
  }

  func stage(_ id: String, at staging: String) throws -> SlotResult {
    try send(storage.stage, ["volumeId": id, "stagingPath": staging, "context": [:]])
  }

  func unstage(_ id: String, at staging: String) throws -> SlotResult {
    try send(storage.unstage, ["volumeId": id, "stagingPath": staging])
  }

  func publish(_ id: String, staging: String, target: String, readOnly: Bool) throws -> SlotResult {
    try send(storage.publish, ["volumeId": id, "stagingPath": staging, "targetPath": target,
                               "readOnly": readOnly, "context": [:]])
  }

  func unpublish(_ id: String, target: String) throws -> SlotResult {
    try send(storage.unpublish, ["volumeId": id, "targetPath": target])
  }

  /// Mount points under this test's folder, from the kernel's own table.
  func mountPoints() -> [String] {
    guard let dir else { return [] }
    return mountTable().map(\.point).filter { $0.hasPrefix(dir.path + "/") }
  }

  /// The options of the mount visible at `path`.
  func mountOptions(at path: String) -> Set<String> {
    mountTable().last { $0.point == path }?.options ?? []
  }

  /// /proc/self/mountinfo's mount point (field 5) and per-mount options (field 6).
  func mountTable() -> [(point: String, options: Set<String>)] {
    let table = (try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)) ?? ""
    return table.split(separator: "\n").compactMap { line in
      let fields = line.split(separator: " ")
      guard fields.count > 5 else { return nil }
      return (String(fields[4]), Set(fields[5].split(separator: ",").map(String.init)))
    }
  }
}

/// The host refused something a test needs before it can check anything.
struct SetupFailure: Error, CustomStringConvertible {
  let description: String
  init(_ description: String) { self.description = description }
}
