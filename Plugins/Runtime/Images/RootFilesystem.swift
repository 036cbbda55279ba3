// A container's root filesystem from its image's unpacked layers: an overlay mount (the shared
// layers read-only below, a private upper directory taking the writes) where the kernel allows
// it, else a private copy with the layers applied in order, whiteouts removing what they hide.
import FoundationEssentials
import Glibc

enum RootFilesystem {
  enum Mode: String, Codable, Sendable {
    /// Overlay if a mount succeeds, copy otherwise.
    case auto, overlay, copy
  }

  /// Assembles `<folder>/rootfs` (with `upper` and `work` beside it for overlay); returns how.
  static func assemble(layers: [String], in folder: String, mode: Mode) throws(ImageError) -> Mode {
    let rootfs = "\(folder)/rootfs"
    for path in [rootfs, "\(folder)/upper", "\(folder)/work"] {
      guard mkdir(path, 0o755) == 0 || errno == EEXIST else { throw ImageError("\(SystemError("creating \(path)"))") }
    }
    if mode != .copy {
      // Overlay lists the top layer first; an image of one layer still gets an upper directory.
      let lower = layers.reversed().joined(separator: ":")
      let options = "lowerdir=\(lower),upperdir=\(folder)/upper,workdir=\(folder)/work"
      if mount("overlay", rootfs, "overlay", 0, options) == 0 { return .overlay }
      let failure = SystemError("mounting overlay at \(rootfs)")
      if mode == .overlay { throw ImageError("\(failure) (config.oci.rootfs: overlay)") }
    }
    for layer in layers { try apply(layer, onto: rootfs) }
    return .copy
  }

  /// Unmounts and removes what `assemble` made. Safe to call for a folder never assembled.
  static func release(in folder: String) throws(ImageError) {
    let rootfs = "\(folder)/rootfs"
    if umount2(rootfs, 0) != 0 && errno != EINVAL && errno != ENOENT {
      // Busy (a process still holds it): detach it now, the kernel frees it when it is let go.
      guard umount2(rootfs, Int32(MNT_DETACH)) == 0 else {
        throw ImageError("\(SystemError("unmounting \(rootfs)"))")
      }
    }
    for path in [rootfs, "\(folder)/upper", "\(folder)/work"] { TarExtractor.removeTree(path) }
  }

  /// Copies one unpacked layer over `target`, honouring its whiteouts and opaque directories.
  static func apply(_ layer: String, onto target: String) throws(ImageError) {
    for name in TarExtractor.directoryEntries(layer) {
      let source = "\(layer)/\(name)", destination = "\(target)/\(name)"
      var info = stat()
      guard lstat(source, &info) == 0 else { continue }
      let failed = { (what: String) in ImageError("\(SystemError("\(what) \(destination)"))") }
      switch info.st_mode & S_IFMT {
      case S_IFCHR where info.st_rdev == 0:
        TarExtractor.removeTree(destination)  // a whiteout hides what lower layers had
      case S_IFDIR:
        var existing = stat()
        if lstat(destination, &existing) == 0 && existing.st_mode & S_IFMT != S_IFDIR {
          TarExtractor.removeTree(destination)
        }
        if isOpaque(source) {
          for child in TarExtractor.directoryEntries(destination) {
            TarExtractor.removeTree("\(destination)/\(child)")
          }
        }
        guard mkdir(destination, 0o700) == 0 || errno == EEXIST else { throw failed("creating") }
        try apply(source, onto: destination)
        lchown(destination, info.st_uid, info.st_gid)
        chmod(destination, info.st_mode & 0o7777)
      case S_IFREG:
        TarExtractor.removeTree(destination)
        try copyFile(source, to: destination, mode: info.st_mode & 0o7777)
        lchown(destination, info.st_uid, info.st_gid)
        chmod(destination, info.st_mode & 0o7777)
      case S_IFLNK:
        TarExtractor.removeTree(destination)
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink(source, &buffer, buffer.count - 1)
        guard length >= 0 else { throw failed("reading the link for") }
        buffer[length] = 0
        guard symlink(buffer, destination) == 0 else { throw failed("creating symlink") }
        lchown(destination, info.st_uid, info.st_gid)
      default:
        TarExtractor.removeTree(destination)
        guard mknod(destination, info.st_mode, info.st_rdev) == 0 else { throw failed("creating") }
        lchown(destination, info.st_uid, info.st_gid)
      }
    }
  }

  static func isOpaque(_ directory: String) -> Bool {
    var value: [CChar] = [0, 0]
    return Xattr.get(directory, TarExtractor.opaqueXattr, &value, 1) == 1 && value[0] == CChar(UInt8(ascii: "y"))
  }

  private static func copyFile(_ source: String, to destination: String, mode: mode_t) throws(ImageError) {
    let input = open(source, O_RDONLY | O_CLOEXEC)
    guard input >= 0 else { throw ImageError("\(SystemError("opening \(source)"))") }
    defer { close(input) }
    let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode | 0o200)
    guard output >= 0 else { throw ImageError("\(SystemError("creating \(destination)"))") }
    defer { close(output) }
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    while true {
      let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
      if count < 0 && errno == EINTR { continue }
      guard count >= 0 else { throw ImageError("\(SystemError("reading \(source)"))") }
      if count == 0 { return }
      var offset = 0
      while offset < count {
        let written = buffer[offset..<count].withUnsafeBytes { write(output, $0.baseAddress, $0.count) }
        guard written > 0 else { throw ImageError("\(SystemError("writing \(destination)"))") }
        offset += written
      }
    }
  }
}
