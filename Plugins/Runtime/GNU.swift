// glibc functions that Swift's Glibc module leaves out (they need _GNU_SOURCE or are newer than
// it), looked up by name once.
import FoundationEssentials
import Glibc

enum GNU {
  typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32
  typealias CloseRange = @convention(c) (UInt32, UInt32, Int32) -> Int32

  /// pipe2(2): a pipe created close-on-exec, so that no child forked meanwhile inherits it.
  static let pipe2: Pipe2 = unsafeBitCast(symbol("pipe2")!, to: Pipe2.self)

  /// close_range(2), glibc 2.34 and later; without it (older glibc) a no-op, and descriptors
  /// others opened without O_CLOEXEC reach containers.
  static let closeRange: CloseRange =
    symbol("close_range").map { unsafeBitCast($0, to: CloseRange.self) } ?? { _, _, _ in 0 }
  /// CLOSE_RANGE_CLOEXEC from <linux/close_range.h>: mark close-on-exec instead of closing now.
  static let closeRangeCloexec: Int32 = 4

  /// ioctl(2) with an integer argument (TIOCSCTTY) or a pointer (TIOCSWINSZ): variadic in C,
  /// which Swift cannot call.
  typealias IoctlValue = @convention(c) (Int32, UInt, UInt) -> Int32
  typealias IoctlPointer = @convention(c) (Int32, UInt, UnsafeMutableRawPointer?) -> Int32
  static let ioctlValue: IoctlValue = unsafeBitCast(symbol("ioctl")!, to: IoctlValue.self)
  static let ioctlPointer: IoctlPointer = unsafeBitCast(symbol("ioctl")!, to: IoctlPointer.self)
  /// openpty(3): in libc itself since glibc 2.34 (libutil before), declared in <pty.h> only.
  typealias OpenPTY = @convention(c) (UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?,
                                      UnsafeMutablePointer<CChar>?, UnsafeRawPointer?, UnsafeRawPointer?) -> Int32
  static let openpty: OpenPTY? = symbol("openpty").map { unsafeBitCast($0, to: OpenPTY.self) }
  /// From <asm-generic/ioctls.h>.
  static let tiocsctty: UInt = 0x540E
  static let tiocswinsz: UInt = 0x5414

  private static func symbol(_ name: String) -> UnsafeMutableRawPointer? {
    dlsym(UnsafeMutableRawPointer(bitPattern: 0), name)  // RTLD_DEFAULT
  }
}
