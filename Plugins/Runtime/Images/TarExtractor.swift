// Unpacks a tar stream (ustar, GNU long names, PAX paths) into a directory. A layer's whiteouts
// become overlayfs's own form — `.wh.NAME` a 0/0 character device NAME, `.wh..wh..opq` the
// directory's trusted.overlay.opaque xattr — so that the unpacked layer is usable as an overlay
// lower directory as it is, and the copy fallback reads the same marks.
import FoundationEssentials
import Glibc

struct TarExtractor {
  enum Mode {
    /// An image layer: whiteouts translated, owners kept.
    case layer
    /// An archive of files (an OCI layout or docker-save tarball): entries as they are.
    case plain
  }

  static let opaqueXattr = "trusted.overlay.opaque"
  static let whiteoutPrefix = ".wh."
  static let opaqueMarker = ".wh..wh..opq"

  let root: String
  let mode: Mode

  /// Unpacks every entry of `stream` under `root`, which must exist.
  func extract(_ stream: LayerStream) throws(ImageError) {
    var longName: String?
    var longLink: String?
    var pax: [String: String] = [:]
    var directories: [(path: String, mode: mode_t)] = []
    while true {
      let header = try stream.read(512)
      guard header.count == 512 else {
        throw ImageError("\(root): the tar stream ends inside a header")
      }
      if header.allSatisfy({ $0 == 0 }) { break }
      guard Self.checksumMatches(header) else {
        throw ImageError("\(root): a tar header fails its checksum (not a tar stream, or corrupt)")
      }
      let size = try Self.number(header[124..<136])
      let type = header[156]
      let content = { () throws(ImageError) -> [UInt8] in
        let bytes = try stream.read(Int(size))
        guard bytes.count == Int(size) else { throw ImageError("\(root): the tar stream is truncated") }
        _ = try stream.read(Int((512 - size % 512) % 512))
        return bytes
      }
      switch type {
      case UInt8(ascii: "L"):
        longName = Self.string(try content()[...])
        continue
      case UInt8(ascii: "K"):
        longLink = Self.string(try content()[...])
        continue
      case UInt8(ascii: "x"):
        pax = Self.paxRecords(try content())
        continue
      case UInt8(ascii: "g"):
        _ = try content()
        continue
      default: break
      }
      var name = Self.string(header[0..<100])
      let prefix = Self.string(header[345..<500])
      if header[257..<262].elementsEqual("ustar".utf8), !prefix.isEmpty { name = prefix + "/" + name }
      name = pax["path"] ?? longName ?? name
      let link = pax["linkpath"] ?? longLink ?? Self.string(header[157..<257])
      let entry = Entry(
        path: name, type: type, link: link, mode: mode_t(try Self.number(header[100..<108]) & 0o7777),
        uid: uid_t(try Self.number(header[108..<116])), gid: gid_t(try Self.number(header[116..<124])),
        major: UInt32(try Self.number(header[329..<337])), minor: UInt32(try Self.number(header[337..<345])))
      longName = nil
      longLink = nil
      pax = [:]
      // Only regular files carry content that is kept; anything else's is skipped.
      let data = size > 0 ? try content() : []
      let isFile = type == UInt8(ascii: "0") || type == 0 || type == UInt8(ascii: "7")
      if let directory = try write(entry, isFile ? data : []) { directories.append(directory) }
    }
    try stream.drain()
    // Directory modes last: a read-only directory must still take the files inside it.
    for directory in directories.reversed() { chmod(directory.path, directory.mode) }
  }

  private struct Entry {
    var path: String
    var type: UInt8
    var link: String
    var mode: mode_t
    var uid: uid_t
    var gid: gid_t
    var major: UInt32
    var minor: UInt32
  }

  /// Creates one entry; returns a directory whose mode is set at the end.
  private func write(_ entry: Entry, _ data: [UInt8]) throws(ImageError) -> (String, mode_t)? {
    let relative = try Self.clean(entry.path)
    if relative.isEmpty { return nil }  // "./" itself
    let components = relative.split(separator: "/").map(String.init)
    let parent = components.dropLast().joined(separator: "/")
    try makeParents(parent, of: entry.path)
    let base = components.last!
    let parentPath = parent.isEmpty ? root : "\(root)/\(parent)"
    let target = "\(parentPath)/\(base)"
    if mode == .layer && base == Self.opaqueMarker {
      let value = "y"
      guard Xattr.set(parentPath, Self.opaqueXattr, value, 1, 0) == 0 else {
        throw ImageError("\(SystemError("marking \(parentPath) opaque (\(entry.path))"))")
      }
      return nil
    }
    if mode == .layer && base.hasPrefix(Self.whiteoutPrefix) {
      let hidden = "\(parentPath)/\(base.dropFirst(Self.whiteoutPrefix.count))"
      Self.removeTree(hidden)
      guard mknod(hidden, S_IFCHR | 0o600, 0) == 0 else {
        throw ImageError("\(SystemError("creating whiteout \(hidden) (\(entry.path))"))")
      }
      return nil
    }
    var existing = stat()
    let exists = lstat(target, &existing) == 0
    let isDirectory = entry.type == UInt8(ascii: "5")
    if exists && !(isDirectory && existing.st_mode & S_IFMT == S_IFDIR) { Self.removeTree(target) }
    let failed = { (what: String) in ImageError("\(SystemError("\(what) \(target) (tar entry \(entry.path))"))") }
    switch entry.type {
    case UInt8(ascii: "0"), 0, UInt8(ascii: "7"):
      let fd = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
      guard fd >= 0 else { throw failed("creating") }
      defer { close(fd) }
      var offset = 0
      while offset < data.count {
        let written = data[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { throw failed("writing") }
        offset += written
      }
      fchown(fd, entry.uid, entry.gid)
      guard fchmod(fd, entry.mode) == 0 else { throw failed("setting the mode of") }
    case UInt8(ascii: "5"):
      guard exists || mkdir(target, 0o755) == 0 else { throw failed("creating") }
      lchown(target, entry.uid, entry.gid)
      return (target, entry.mode)
    case UInt8(ascii: "2"):
      guard symlink(entry.link, target) == 0 else { throw failed("creating symlink") }
      lchown(target, entry.uid, entry.gid)
    case UInt8(ascii: "1"):
      let source = try Self.clean(entry.link)
      try refuseSymlinks(in: source, of: entry.path)
      guard link("\(root)/\(source)", target) == 0 else { throw failed("creating hard link") }
    case UInt8(ascii: "3"), UInt8(ascii: "4"), UInt8(ascii: "6"):
      let kind: mode_t = entry.type == UInt8(ascii: "3") ? S_IFCHR : entry.type == UInt8(ascii: "4") ? S_IFBLK : S_IFIFO
      guard mknod(target, kind | entry.mode, Self.device(entry.major, entry.minor)) == 0 else {
        throw failed("creating device")
      }
      lchown(target, entry.uid, entry.gid)
    default:
      break  // unknown types (sparse files, volume labels) carry nothing a root filesystem needs
    }
    return nil
  }

  /// Creates missing parents; refuses a parent that is a symlink, which would let a layer write
  /// outside its directory.
  private func makeParents(_ parent: String, of path: String) throws(ImageError) {
    var current = root
    for component in parent.split(separator: "/") {
      current += "/\(component)"
      var info = stat()
      if lstat(current, &info) == 0 {
        if info.st_mode & S_IFMT == S_IFDIR { continue }
        if info.st_mode & S_IFMT == S_IFLNK {
          throw ImageError("\(root): tar entry \(path) goes through the symlink \(current)")
        }
        Self.removeTree(current)
      }
      guard mkdir(current, 0o755) == 0 else {
        throw ImageError("\(SystemError("creating \(current) (tar entry \(path))"))")
      }
    }
  }

  private func refuseSymlinks(in relative: String, of path: String) throws(ImageError) {
    var current = root
    for component in relative.split(separator: "/").dropLast() {
      current += "/\(component)"
      var info = stat()
      if lstat(current, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK {
        throw ImageError("\(root): tar entry \(path) links through the symlink \(current)")
      }
    }
  }

  /// The entry's path relative to the root: no leading "/" or "./", and never "..".
  static func clean(_ path: String) throws(ImageError) -> String {
    var parts: [Substring] = []
    for part in path.split(separator: "/") where part != "." && !part.isEmpty {
      guard part != ".." else { throw ImageError("tar entry \(path) climbs out of its directory") }
      parts.append(part)
    }
    return parts.joined(separator: "/")
  }

  /// rm -rf, without following symlinks.
  static func removeTree(_ path: String) {
    var info = stat()
    guard lstat(path, &info) == 0 else { return }
    if info.st_mode & S_IFMT == S_IFDIR {
      for name in directoryEntries(path) { removeTree("\(path)/\(name)") }
      rmdir(path)
    } else {
      unlink(path)
    }
  }

  /// Names in a directory, without "." and "..".
  static func directoryEntries(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names
  }

  /// glibc's makedev.
  static func device(_ major: UInt32, _ minor: UInt32) -> dev_t {
    let major = UInt64(major), minor = UInt64(minor)
    return dev_t((major & 0xfff) << 8 | (major & ~0xfff) << 32 | (minor & 0xff) | (minor & ~0xff) << 12)
  }

  private static func string(_ bytes: ArraySlice<UInt8>) -> String {
    String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
  }

  /// An octal field, or GNU's base-256 form (high bit set) for large values.
  private static func number(_ field: ArraySlice<UInt8>) throws(ImageError) -> UInt64 {
    if let first = field.first, first & 0x80 != 0 {
      return field.dropFirst().reduce(UInt64(first & 0x7f)) { $0 << 8 | UInt64($1) }
    }
    let text = String(string(field).filter { $0 != " " })
    if text.isEmpty { return 0 }
    guard let value = UInt64(text, radix: 8) else {
      throw ImageError("a tar header holds \"\(text)\" where a number belongs")
    }
    return value
  }

  private static func checksumMatches(_ header: [UInt8]) -> Bool {
    let stored = (try? number(header[148..<156])) ?? 0
    var sum: UInt64 = 0
    for (index, byte) in header.enumerated() { sum += (148..<156).contains(index) ? 32 : UInt64(byte) }
    return sum == stored
  }

  /// PAX records: "<length> <key>=<value>\n" each.
  private static func paxRecords(_ bytes: [UInt8]) -> [String: String] {
    var records: [String: String] = [:]
    var index = 0
    while index < bytes.count {
      guard let space = bytes[index...].firstIndex(of: UInt8(ascii: " ")),
            let length = Int(String(decoding: bytes[index..<space], as: UTF8.self)), length > 0,
            index + length <= bytes.count else { break }
      let record = bytes[(space + 1)..<(index + length - 1)]
      if let equals = record.firstIndex(of: UInt8(ascii: "=")) {
        records[String(decoding: record[..<equals], as: UTF8.self)] =
          String(decoding: record[(equals + 1)...], as: UTF8.self)
      }
      index += length
    }
    return records
  }
}

/// setxattr(2) and getxattr(2), which Swift's Glibc module leaves out (<sys/xattr.h>).
enum Xattr {
  typealias Set = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeRawPointer?, Int, Int32) -> Int32
  typealias Get = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int
  static let set: Set = unsafeBitCast(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setxattr")!, to: Set.self)
  static let get: Get = unsafeBitCast(dlsym(UnsafeMutableRawPointer(bitPattern: 0), "getxattr")!, to: Get.self)
}
